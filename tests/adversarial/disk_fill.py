# ruff: noqa
# expect: runtime_error failed
# why: fills the disk (the private tmpfs has a size cap, files have RLIMIT_FSIZE)
import os
def add(a, b):
    i = 0
    while True:
        with open(f"fill{i}", "wb") as fh:
            for _ in range(1024):
                fh.write(b"\0" * (1 << 20))
        i += 1
