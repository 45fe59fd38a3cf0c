"""Training hands the memory its allocator keeps after each step back to the system."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("transformers")

# In a fresh process: 3000 blocks of 100 KiB (below glibc's mmap threshold, so on the heap) are written, then all
# but the last are freed; the last one pins the top of the heap, so glibc keeps the ~290 MiB below it resident.
SCRIPT = r"""
import ctypes, os, sys
from codekiln.train.callbacks import ReturnFreedMemory

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
blocks = [libc.malloc(100 << 10) for _ in range(3000)]
for block in blocks:
    ctypes.memset(block, 1, 100 << 10)
for block in blocks[:-1]:
    libc.free(block)
before = resident_mib()
ReturnFreedMemory().on_step_end(None, None, None)
print(before, resident_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc are Linux's")
def test_after_a_step_the_freed_heap_goes_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    before, after = map(float, out.split())
    assert before - after > 250, (before, after)
