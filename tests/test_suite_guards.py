"""The suite's own guards, checked on pytest runs in a subprocess with the project's configuration:

- a test that crashes its interpreter (a native segfault, as llama.cpp did on one host) is reported as that test's
  failure, by name, and the tests after it still run (pytest-xdist's worker, see `addopts` in pyproject.toml);
- CODEKILN_REQUIRE_ISOLATION=1 (set by `.ci/run`) turns a missing isolation primitive into failed sandbox tests,
  and without it they skip with the reason printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRASHING = '''
import os
import signal


def test_segfaults():
    os.kill(os.getpid(), signal.SIGSEGV)


def test_passes_after_the_crash():
    assert sum([1, 2]) == 3
'''


def _pytest(args: list[str], cwd: Path, tmp: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """pytest with the project's pyproject.toml options, its own temporary folder and no cache writes."""
    argv = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(cwd),
            "-p", "no:cacheprovider", "--basetemp", str(tmp / "basetemp"), "-q", *args]
    tmp.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})}
    for name in [n for n in full_env if n == "PYTEST_ADDOPTS" or n.startswith("PYTEST_XDIST_")]:
        full_env.pop(name)  # this run's own options and worker identity are not the inner run's
    return subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_a_segfaulting_test_fails_by_name_and_the_run_goes_on(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", suite / "conftest.py")  # the project's hooks (its fast exit too)
    (suite / "test_crashing.py").write_text(CRASHING)
    done = _pytest(["test_crashing.py"], suite, tmp_path)
    out = done.stdout
    assert done.returncode == 1, (done.returncode, out[-3000:], done.stderr[-3000:])
    assert "crashed while running 'test_crashing.py::test_segfaults'" in out, out[-3000:]
    assert re.search(r"^FAILED test_crashing\.py::test_segfaults\b", out, re.M), out[-3000:]
    assert re.search(r"^1 failed, 1 passed\b", out, re.M), out[-3000:]


def _sandbox_tests(tmp_path: Path, require: bool) -> subprocess.CompletedProcess:
    """Two sandbox tests on a host made to look like one without bubblewrap and without pyseccomp: a PATH with no
    `bwrap` on it, and a `pyseccomp` that fails to import ahead of the real one. Nothing runs in the sandbox:
    the tests stop before their first program."""
    hide = tmp_path / "hide"
    hide.mkdir(exist_ok=True)
    (hide / "pyseccomp.py").write_text("raise ImportError('hidden by test_suite_guards')\n")
    (tmp_path / "bin").mkdir(exist_ok=True)
    env = {"PATH": str(tmp_path / "bin"), "PYTHONPATH": str(hide), "CODEKILN_REQUIRE_ISOLATION": "1" if require else ""}
    select = "test_no_secrets_no_network_no_host_files or test_seccomp_denies_namespaces_and_keeps_threads"
    return _pytest(["tests/test_sandbox.py", "-k", select], ROOT, tmp_path / ("required" if require else "free"), env)


def _failure_section(out: str, name: str) -> str:
    """The FAILURES section of one test: from its `____ name ____` header to the next header."""
    found = re.search(rf"^_+ {name} _+\n(.*?)(?=^_+ \w+ _+$|^=+ )", out, re.M | re.S)
    return found.group(1) if found else ""


def test_missing_isolation_fails_under_the_switch_and_skips_with_a_reason_without(tmp_path):
    tests = {"test_no_secrets_no_network_no_host_files": "missing isolation (namespaces): bubblewrap (bwrap) is "
                                                         "not installed",
             "test_seccomp_denies_namespaces_and_keeps_threads": "missing isolation (seccomp): no seccomp filter"}
    required = _sandbox_tests(tmp_path, require=True)
    out = required.stdout
    assert required.returncode == 1, (required.returncode, out[-3000:], required.stderr[-3000:])
    assert re.search(r"^2 failed\b", out, re.M), out[-3000:]
    assert sorted(re.findall(r"^FAILED tests/test_sandbox\.py::(\w+)", out, re.M)) == sorted(tests), out[-3000:]
    for name, why in tests.items():
        section = _failure_section(out, name)
        assert "CODEKILN_REQUIRE_ISOLATION=1 and the sandbox lacks what this test checks" in section, out[-3000:]
        assert why in section, out[-3000:]

    free = _sandbox_tests(tmp_path, require=False)
    out = free.stdout
    assert free.returncode == 0, (free.returncode, out[-3000:], free.stderr[-3000:])
    assert re.search(r"^2 skipped\b", out, re.M), out[-3000:]
    skips = re.findall(r"^SKIPPED \[1\] tests/test_sandbox\.py:\d+: (.*)$", out, re.M)
    assert sorted(why for why in tests.values() if any(s.startswith(why) for s in skips)) == sorted(tests.values()), \
        out[-3000:]
