"""The llama.cpp build that setup installs: the AMX miscompile fix, the candidates per CPU, the self-test that catches
a crashing build in a child process, and setup's refusal to finish when no build runs the embedded model."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("llama_build", ROOT / "tools" / "llama" / "build.py")
assert spec is not None and spec.loader is not None
build = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = build  # dataclasses look their module up there
spec.loader.exec_module(build)

# ggml's ggml_tile_config_init (ggml-cpu/amx/mmq.cpp in llama-cpp-python 0.3.36), reduced to what the compiler sees.
TILE_CONFIG_INIT = r"""
#include <immintrin.h>
#include <stdint.h>
struct tile_config_t {
    uint8_t palette_id = 0;
    uint8_t start_row = 0;
    uint8_t reserved_0[14] = {0};
    uint16_t colsb[16] = {0};
    uint8_t rows[16] = {0};
};
void ggml_tile_config_init(void) {
    alignas(64) tile_config_t tc = {};
    tc.palette_id = 1;
    tc.rows[0] = 8;   tc.colsb[0] = 64;
    tc.rows[1] = 8;   tc.colsb[1] = 64;
    tc.rows[2] = 16;  tc.colsb[2] = 32;
    tc.rows[3] = 16;  tc.colsb[3] = 32;
    tc.rows[4] = 16;  tc.colsb[4] = 64;
    tc.rows[5] = 16;  tc.colsb[5] = 64;
    tc.rows[6] = 16;  tc.colsb[6] = 64;
    tc.rows[7] = 16;  tc.colsb[7] = 64;
    _tile_loadconfig(&tc);
}
"""
ROWS = bytes([8, 8, 16, 16, 16, 16, 16, 16])  # rows[0..7] as the configuration holds them
COLSB = (64).to_bytes(2, "little") * 2 + (32).to_bytes(2, "little") * 2  # colsb[0..3]


def _compile(tmp_path: Path, *flags: str) -> bytes:
    src = tmp_path / "tile.cpp"
    src.write_text(TILE_CONFIG_INIT)
    obj = tmp_path / f"tile{len(flags)}.o"
    subprocess.run(["c++", "-O2", "-march=sapphirerapids", *flags, "-c", str(src), "-o", str(obj)], check=True)
    return obj.read_bytes()


def test_fix_header_keeps_the_tile_configuration_that_gcc_drops(tmp_path):
    # Without the fix, GCC believes LDTILECFG reads 8 bytes and drops the stores of rows and colsb: the values are
    # nowhere in the object code. With it, they are stored (as immediates or a constant the code copies).
    plain = _compile(tmp_path)
    fixed = _compile(tmp_path, "-include", str(build.FIX_HEADER))
    assert ROWS in fixed and COLSB in fixed
    gcc_major = int(subprocess.run(["c++", "-dumpversion"], capture_output=True, text=True).stdout.split(".")[0])
    if gcc_major == 12:  # Debian 12's compiler, the one that miscompiled ggml: the bug the header exists for
        assert ROWS not in plain and COLSB not in plain


def test_fix_header_defines_nothing_without_amx(tmp_path):
    out = subprocess.run(["cc", "-O2", "-march=x86-64-v3", "-include", str(build.FIX_HEADER), "-dM", "-E", "-"],
                         input="", capture_output=True, text=True, check=True).stdout
    assert "_tile_loadconfig" not in out and "_AMXTILEINTRIN_H_INCLUDED" not in out


def test_candidates_follow_the_cpu():
    amx_cpu = ["-march=sapphirerapids", "-mamx-int8", "-mamx-tile", "-mavx512f"]
    plain_cpu = ["-march=znver4", "-mavx512f"]
    assert build.candidates(plain_cpu) == ["native"]
    assert build.candidates(amx_cpu) == ["native", "native-noamx"]
    assert build.variant("native-noamx", amx_cpu).cflags == ("-mno-amx-int8", "-mno-amx-tile")
    assert build.variant("native", amx_cpu).cflags == ("-include", "{fix}")
    assert build.variant("native", plain_cpu).cflags == ()  # without AMX: the upstream build, untouched
    isa = build.native_isa()
    assert any(flag.startswith("-march=") for flag in isa) and "-msse2" in isa


def test_forced_variant_and_unknown_name(monkeypatch):
    monkeypatch.setenv("CODEKILN_LLAMA_VARIANT", "portable")
    assert build.candidates(["-mamx-tile"]) == ["portable"]
    monkeypatch.setenv("CODEKILN_LLAMA_VARIANT", "fastest")
    with pytest.raises(SystemExit):
        build.candidates([])


def test_build_key_names_the_cpu_only_for_native_builds():
    a, b = ["-march=znver4", "-mavx512f"], ["-march=icelake-server", "-mavx512f"]
    native, portable = build.variant("native", a), build.variant("portable", a)
    assert build.build_key(native, a) != build.build_key(native, b)
    assert build.build_key(portable, a) == build.build_key(portable, b)
    assert build.build_key(native, a) != build.build_key(build.variant("native-noamx", a), a)


CRASHING_LIB = r"""
#include <signal.h>
__attribute__((constructor)) static void crash(void) { raise(SIGSEGV); }
int llama_backend_init(void) { return 0; }
"""


@pytest.fixture(scope="module")
def crashing_build(tmp_path_factory) -> Path:
    """A build folder whose libllama.so dies from SIGSEGV the moment it is loaded (as the AMX build did on use)."""
    folder = tmp_path_factory.mktemp("crashing")
    (folder / "lib").mkdir()
    src = folder / "crash.c"
    src.write_text(CRASHING_LIB)
    subprocess.run(["cc", "-shared", "-fPIC", str(src), "-o", str(folder / "lib" / "libllama.so")], check=True)
    (folder / "llama_cpp_python-0.0-py3-none-linux_x86_64.whl").write_bytes(b"")
    return folder


@pytest.mark.slow
def test_selftest_reports_a_crashing_build_by_signal_and_survives(crashing_build):
    from codekiln.sample.selftest import run_selftest

    result = run_selftest(tokens=4, env={"LLAMA_CPP_LIB_PATH": str(crashing_build / "lib")})
    assert not result.ok
    assert "SIGSEGV" in result.error and "signal 11" in result.error


@pytest.mark.slow
def test_choose_skips_the_crashing_build_and_keeps_the_working_one(crashing_build, tmp_path):
    installed = build.installed_lib()
    assert installed is not None
    good = tmp_path / "good"
    good.mkdir()
    (good / "lib").symlink_to(installed.parent)
    best, results = build.choose(["native", "native-noamx"], {"native": good, "native-noamx": crashing_build})
    assert best == "native"
    assert not results["native-noamx"][0]["ok"] and len(results["native-noamx"]) == 1  # a crash is not retried
    assert all(r["ok"] and r["tokens"] > 0 for r in results["native"])


@pytest.mark.slow
def test_setup_check_fails_with_one_message_when_no_build_runs(crashing_build, tmp_path):
    # Every build this host would try is cached as the crashing one: `check` must say so and exit non-zero.
    cache = tmp_path / "cache"
    isa = build.native_isa()
    for name in (*build.candidates(isa), "portable"):
        target = cache / "llama" / f"{name}-{build.build_key(build.variant(name, isa), isa)}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(crashing_build, target)
    proc = subprocess.run([sys.executable, str(build.HERE / "build.py"), "check"], capture_output=True, text=True,
                          env={**os.environ, "CODEKILN_CACHE": str(cache)}, timeout=600)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("setup: error:")]
    assert len(errors) == 1 and "SIGSEGV" in errors[0] and "CODEKILN_LLAMA_VARIANT=portable" in errors[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_the_installed_build_runs_the_embedded_model_as_the_run_loads_it():
    from codekiln.sample.selftest import run_selftest

    result = run_selftest(tokens=8)
    assert result.ok, result.error
    assert result.tokens > 0 and "Q8_0" in result.model and result.text.strip()
    assert result.batch_invariant  # what docs/stages.md says of this machine kind: samples do not depend on batching


def test_the_built_version_is_the_pinned_one():
    pins = dict(line.strip().split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins["llama_cpp_python"] == build.VERSION
    from importlib import metadata

    assert metadata.version("llama_cpp_python") == build.VERSION
