"""Security tests that need an isolation primitive this host may lack: skipped with the reason, or failed.

`needs_isolation("namespaces", "seccomp", "uid")` at the top of a test skips it (the reason names what is missing
and is printed by `-rs`) where a primitive is missing, and fails it instead when CODEKILN_REQUIRE_ISOLATION=1
(CI sets it in `.ci/run`): there, a sandbox test that cannot check what it guards is a failure, not a quiet skip.
What is "missing" is read from the same detection the sandbox itself uses (`isolation.detect`, `seccomp.filter_bpf`).
"""

from __future__ import annotations

import os

import pytest

from codekiln.verify import isolation, seccomp

REQUIRE_ENV = "CODEKILN_REQUIRE_ISOLATION"
PRIMITIVES = ("namespaces", "seccomp", "uid")


def missing(primitive: str) -> str | None:
    """Why `primitive` is not available to the sandbox here, or None when it is."""
    if primitive == "namespaces":
        iso = isolation.detect()
        return "; ".join(iso.missing) if iso.mode == "none" else None
    if primitive == "seccomp":
        return seccomp.missing_reason() if seccomp.filter_bpf() is None else None
    if primitive == "uid":
        if isolation.detect().drops_uid:
            return None
        return "not root: programs cannot run as their own unprivileged uid (RLIMIT_NPROC, signals to the worker)"
    raise ValueError(f"unknown isolation primitive {primitive!r}; choose from {PRIMITIVES}")


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") == "1"


def needs_isolation(*primitives: str) -> None:
    """Skip (or, under CODEKILN_REQUIRE_ISOLATION=1, fail) the calling test unless every primitive is available."""
    reasons = [reason for p in primitives if (reason := missing(p)) is not None]
    if not reasons:
        return
    text = f"missing isolation ({', '.join(p for p in primitives if missing(p))}): {'; '.join(reasons)}"
    if required():
        pytest.fail(f"{REQUIRE_ENV}=1 and the sandbox lacks what this test checks: {text}", pytrace=False)
    # Reported at the test's own line, as pytest reports a skipif mark's skip (not at this helper's line).
    raise pytest.skip.Exception(text, _use_item_location=True)
