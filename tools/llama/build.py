"""Build llama-cpp-python for this host once, and install a build that is proven to work here.

Standard library only: setup.sh runs it with the virtualenv's Python, before and after codekiln is installed.

    python tools/llama/build.py ensure   build (or reuse) the wheel of each candidate build; install one if the
                                         installed llama.cpp is none of them
    python tools/llama/build.py check    self-test the candidates on the embedded model (tools: codekiln.sample.
                                         selftest), install the fastest that works, prove the installed one runs
    python tools/llama/build.py status   what is installed, what is cached
    python tools/llama/build.py build VARIANT   build (or reuse) one variant's wheel and print its folder

Why: pip builds llama-cpp-python from source with `-march=native`. On hosts whose CPU has AMX (Xeon Sapphire Rapids
and later) that build contains ggml's AMX kernels, and GCC 12 miscompiles their tile configuration (see
amx_tilecfg_fix.h): every sampling process died with a general protection fault. The candidates on such a host:

    native        -march=native with amx_tilecfg_fix.h force-included: the AMX kernels, compiled correctly
    native-noamx  -march=native without AMX (-mno-amx-*): ggml's AVX-512 kernels only

Elsewhere `native` alone (the fix header defines nothing without AMX). Each candidate is self-tested in a child
process (a crash is caught, not inherited); the candidates must agree on the greedy reply, and the fastest wins.
If every candidate fails, `portable` (-DGGML_NATIVE=OFF: AVX2/FMA/F16C, no AVX-512, no AMX) is built and tried.
CODEKILN_LLAMA_VARIANT=NAME forces one variant.

Wheels are cached in $CODEKILN_CACHE/llama (default ~/.cache/codekiln/llama), one folder per build key: the
llama-cpp-python version, the variant's flags, the compiler's version and (for native builds) the exact ISA
extensions `-march=native` enables on this CPU, so a cache shared between different machines never hands one a
build for another's CPU. A folder appears only when its build finished (built in a temporary folder, then renamed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

VERSION = "0.3.36"
"""The llama-cpp-python release built here (the one constraints.txt pins)."""

HERE = Path(__file__).resolve().parent
FIX_HEADER = HERE / "amx_tilecfg_fix.h"
CANDIDATE_ORDER = ("native", "native-noamx", "portable")
MARKER = Path(sys.prefix) / ".codekiln-llama.json"
"""What `check` installed and measured, in the virtualenv (a new venv starts without it)."""
SELFTEST_ROUNDS = 2
"""Self-tests per candidate, interleaved (A B A B): this machine's speed drifts by +-30% within minutes."""


def say(text: str) -> None:
    print(f"setup: {text}", flush=True)


def fail(text: str) -> None:
    print(f"setup: error: {text}", file=sys.stderr, flush=True)
    sys.exit(1)


def cache_root() -> Path:
    return Path(os.environ.get("CODEKILN_CACHE", Path.home() / ".cache" / "codekiln")) / "llama"


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def compiler() -> str:
    return os.environ.get("CC", "cc")


def native_isa() -> list[str]:
    """The target options `-march=native` turns on here (`-march=...` and every enabled `-mFEATURE`)."""
    out = _run([compiler(), "-march=native", "-Q", "--help=target"])
    enabled = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("-m") and parts[-1] == "[enabled]":
            enabled.append(parts[0])
        elif len(parts) >= 2 and parts[0] in ("-march=", "-mtune="):
            enabled.append(parts[0] + parts[1])
    return sorted(enabled)


def amx_flags(isa: list[str]) -> list[str]:
    """The AMX extensions -march=native enables here (empty on a CPU without AMX)."""
    return [flag for flag in isa if flag.startswith("-mamx")]


@dataclass(frozen=True)
class Variant:
    name: str
    cmake: tuple[str, ...]  # -D options for llama.cpp's CMake
    cflags: tuple[str, ...]  # C and C++ compiler flags
    native: bool  # whether the build depends on this CPU (-march=native)


def variant(name: str, isa: list[str]) -> Variant:
    amx = amx_flags(isa)
    if name == "native":
        return Variant(name, ("-DGGML_NATIVE=ON",), ("-include", "{fix}") if amx else (), True)
    if name == "native-noamx":
        return Variant(name, ("-DGGML_NATIVE=ON",), tuple("-mno-" + flag[2:] for flag in amx), True)
    if name == "portable":
        return Variant(name, ("-DGGML_NATIVE=OFF",), (), False)
    fail(f"unknown llama.cpp variant {name!r} (CODEKILN_LLAMA_VARIANT); choose from {list(CANDIDATE_ORDER)}")
    raise AssertionError


def candidates(isa: list[str]) -> list[str]:
    forced = os.environ.get("CODEKILN_LLAMA_VARIANT")
    if forced:
        variant(forced, isa)  # validates the name
        return [forced]
    return ["native", "native-noamx"] if amx_flags(isa) else ["native"]


def build_key(v: Variant, isa: list[str]) -> str:
    ident = {
        "llama-cpp-python": VERSION,
        "variant": v.name,
        "cmake": v.cmake,
        "cflags": [hashlib.sha256(FIX_HEADER.read_bytes()).hexdigest() if f == "{fix}" else f for f in v.cflags],
        "compiler": _run([compiler(), "--version"]).splitlines()[:1],
        "isa": isa if v.native else [],
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def build_dir(v: Variant, isa: list[str]) -> Path:
    return cache_root() / f"{v.name}-{build_key(v, isa)}"


def wheel_of(folder: Path) -> Path | None:
    wheels = sorted(folder.glob("*.whl"))
    return wheels[0] if wheels else None


def build(v: Variant, isa: list[str]) -> Path:
    """The folder holding the variant's wheel and its unpacked libraries (`lib/`), built if not cached yet."""
    folder = build_dir(v, isa)
    if wheel_of(folder) is not None and (folder / "lib" / "libllama.so").exists():
        return folder
    cache_root().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{v.name}-", dir=cache_root()))
    try:
        fix = work / "amx_tilecfg_fix.h"  # a copy at a path without spaces: CMake splits its flags on spaces
        shutil.copyfile(FIX_HEADER, fix)
        if " " in str(fix):
            fix = Path(tempfile.mkdtemp()) / "amx_tilecfg_fix.h"
            shutil.copyfile(FIX_HEADER, fix)
        flags = " ".join(str(fix) if f == "{fix}" else f for f in v.cflags)
        cmake = list(v.cmake) + ([f"-DCMAKE_C_FLAGS={flags}", f"-DCMAKE_CXX_FLAGS={flags}"] if flags else [])
        env = {**os.environ, "CMAKE_ARGS": shlex.join(cmake),
               "CMAKE_BUILD_PARALLEL_LEVEL": os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))}
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--no-binary",
               "llama-cpp-python", "--disable-pip-version-check", "-w", str(work), f"llama-cpp-python=={VERSION}"]
        say(f"building llama-cpp-python {VERSION} ({v.name}: {' '.join(cmake)}) for this CPU, once "
            f"(5-25 min on 2 cores); log: {work / 'build.log'}")
        started, noted = time.monotonic(), 0
        with open(work / "build.log", "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            while proc.poll() is None:
                time.sleep(1)
                minutes = int(time.monotonic() - started) // 60
                if minutes > noted:
                    noted = minutes
                    say(f"  still building {v.name} ({minutes} min)")
        wheel = wheel_of(work)
        if proc.returncode != 0 or wheel is None:
            tail = (work / "build.log").read_text(errors="replace").strip().splitlines()[-15:]
            fail(f"building llama-cpp-python ({v.name}) failed:\n  " + "\n  ".join(tail))
        assert wheel is not None
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith("llama_cpp/lib/") and not member.endswith("/"):
                    target = work / "lib" / Path(member).name
                    target.parent.mkdir(exist_ok=True)
                    target.write_bytes(zf.read(member))
        (work / "build.json").write_text(json.dumps({
            "variant": v.name, "cmake": cmake, "isa": isa if v.native else [], "seconds": round(time.monotonic() -
                                                                                           started),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=1))
        try:
            os.rename(work, folder)
        except OSError:  # another setup finished the same build first: use theirs
            shutil.rmtree(work, ignore_errors=True)
        say(f"built {v.name} in {int(time.monotonic() - started) // 60} min")
        return folder
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def installed_lib() -> Path | None:
    """The libllama.so the virtualenv's llama_cpp package loads, or None when the package is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return None
    lib = Path(spec.origin).parent / "lib" / "libllama.so"
    return lib if lib.exists() else None


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("libllama.so", "libggml-cpu.so", "libggml-base.so"):
        path = folder / name
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


def installed_is(folder: Path) -> bool:
    lib = installed_lib()
    return lib is not None and _digest(lib.parent) == _digest(folder / "lib")


def install(folder: Path) -> None:
    wheel = wheel_of(folder)
    assert wheel is not None
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
           "--disable-pip-version-check", str(wheel)]
    if subprocess.run(cmd, check=False).returncode != 0:
        fail(f"installing {wheel} failed")


def selftest(folder: Path | None) -> dict:
    """The self-test of the build in `folder` (None: the installed one), run in a child process."""
    env = {**os.environ}
    if folder is not None:
        env["LLAMA_CPP_LIB_PATH"] = str(folder / "lib")
    proc = subprocess.run([sys.executable, "-m", "codekiln.sample.selftest", "--json"], env=env,
                          capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": f"the self-test did not run: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"}
    return json.loads(lines[-1])


def choose(names: list[str], folders: dict[str, Path]) -> tuple[str | None, dict[str, list[dict]]]:
    """Self-test every candidate, interleaved; the fastest of those that work and agree on the greedy reply."""
    results: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(SELFTEST_ROUNDS if len(names) > 1 else 1):
        for name in names:
            if all(r.get("ok") for r in results[name]):
                results[name].append(selftest(folders[name]))
    working = [n for n in names if all(r.get("ok") for r in results[n])]
    for name in names:
        for r in results[name]:
            if not r.get("ok"):
                say(f"  {name}: fails here: {r.get('error')}")
                break
        else:
            first = [r["first_s"] for r in results[name]]
            decode = [r["decode_tok_s"] for r in results[name]]
            say(f"  {name}: works; prompt + {results[name][0]['tokens']} tokens in {statistics.median(first):.2f} s, "
                f"decoding {statistics.median(decode):.0f} tok/s (median of {len(first)})")
    texts = {results[n][0]["text"] for n in working}
    if len(texts) > 1:  # a kernel that computes different numbers: trust the plainer build
        say("  the candidates disagree on the greedy reply; keeping the build without AMX")
        working = [n for n in working if n != "native"] or working
    if not working:
        return None, results
    best = min(working, key=lambda n: statistics.median(r["first_s"] for r in results[n]))
    return best, results


def cmd_ensure() -> None:
    isa = native_isa()
    names = candidates(isa)
    folders = {name: build(variant(name, isa), isa) for name in names}
    if installed_lib() is None or not any(installed_is(f) for f in folders.values()):
        marker = _read_marker()
        preferred = marker.get("variant") if marker.get("variant") in folders else names[0]
        say(f"installing llama-cpp-python {VERSION} ({preferred})")
        install(folders[preferred])
        MARKER.unlink(missing_ok=True)  # not proven on this machine yet: `check` decides


def _read_marker() -> dict:
    try:
        return json.loads(MARKER.read_text())
    except (OSError, ValueError):
        return {}


def cmd_check() -> None:
    isa = native_isa()
    names = candidates(isa)
    folders = {name: build(variant(name, isa), isa) for name in names}
    marker = _read_marker()
    keys = {name: folders[name].name for name in names}
    decided = marker.get("candidates") == keys and marker.get("variant") in folders and installed_is(
        folders[marker["variant"]])
    if not decided:
        if len(names) > 1:
            say(f"this CPU has AMX ({' '.join(amx_flags(isa))}): self-testing each llama.cpp build on the embedded model")
        best, results = choose(names, folders)
        if best is None and "portable" not in names:
            say("no build works on this CPU; trying the portable build (no AVX-512, no AMX)")
            folders["portable"] = build(variant("portable", isa), isa)
            best, more = choose(["portable"], folders)
            results.update(more)
        if best is None:
            fail("llama.cpp crashes or fails on this machine with every build tried: "
                 + "; ".join(f"{n}: {r[-1].get('error')}" for n, r in results.items() if r)
                 + ". Rerun ./setup.sh with CODEKILN_LLAMA_VARIANT=portable, or report the line above.")
        assert best is not None
        if not installed_is(folders[best]):
            say(f"installing llama-cpp-python {VERSION} ({best})")
            install(folders[best])
        marker = {"variant": best, "candidates": keys, "selftests": results}
    final = selftest(None)  # the installed package, loaded the way the run loads it
    if not final.get("ok"):
        MARKER.unlink(missing_ok=True)
        fail(f"the embedded model cannot run here: {final.get('error')}. Rerun ./setup.sh (it retries the "
             "llama.cpp builds), or force one with CODEKILN_LLAMA_VARIANT=portable ./setup.sh")
    marker["installed_selftest"] = final
    MARKER.write_text(json.dumps(marker, indent=1))
    say(f"self-test: llama.cpp ({marker['variant']}) runs the embedded model here: {final['tokens']} tokens, "
        f"{final['decode_tok_s']:.0f} tok/s decoding")


def cmd_status() -> None:
    isa = native_isa()
    print(f"AMX extensions enabled by -march=native: {' '.join(amx_flags(isa)) or 'none'}")
    print(f"candidates here: {', '.join(candidates(isa))}")
    for name in CANDIDATE_ORDER:
        folder = build_dir(variant(name, isa), isa)
        state = "cached" if wheel_of(folder) else "not built"
        mark = " (installed)" if wheel_of(folder) and installed_is(folder) else ""
        print(f"  {name}: {state}{mark}  {folder}")
    marker = _read_marker()
    print(f"chosen: {marker.get('variant', 'not yet proven on this machine')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/llama/build.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ensure")
    sub.add_parser("check")
    sub.add_parser("status")
    one = sub.add_parser("build")
    one.add_argument("variant", choices=CANDIDATE_ORDER)
    args = parser.parse_args(argv)
    if args.cmd == "ensure":
        cmd_ensure()
    elif args.cmd == "check":
        cmd_check()
    elif args.cmd == "status":
        cmd_status()
    else:
        isa = native_isa()
        print(build(variant(args.variant, isa), isa))
    return 0


if __name__ == "__main__":
    sys.exit(main())
