"""Verifiers by task kind, and the sandbox they run hostile code in.

`VERIFIERS` maps a task kind to "module:Class"; the class takes a `VerifyConfig` and implements
`Verifier`. Modules are imported only when their kind is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Protocol

from codekiln.config import VerifyConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict

VERIFIERS: dict[str, str] = {
    "python": "codekiln.verify.python:PythonVerifier",
    "sql": "codekiln.verify.sql:SqlVerifier",
    "pandas": "codekiln.verify.pandas:PandasVerifier",
    "html": "codekiln.verify.html:HtmlVerifier",
    "open": "codekiln.verify.judge:JudgeVerifier",
}


class Verifier(Protocol):
    """Checks samples of one task kind. Never raises on bad code: every job gets a Verdict with a status."""

    def __init__(self, cfg: VerifyConfig) -> None: ...

    def verify(
        self, jobs: Sequence[tuple[Task, Sample]], on_verdict: Callable[[Verdict], None] | None = None
    ) -> list[Verdict]:
        """One verdict per job, in job order; `on_verdict(verdict)` is called as each one finishes (in any order,
        one call at a time)."""
        ...

    def close(self) -> None:
        """Release worker pools, browsers, models."""
        ...


def get_verifier(kind: str, cfg: VerifyConfig) -> Verifier:
    if kind not in VERIFIERS:
        raise UserError(f"no verifier for task kind {kind!r}; choose from {sorted(VERIFIERS)}")
    module_name, _, class_name = VERIFIERS[kind].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            raise UserError(f"the {kind!r} verifier is not available in this installation") from None
        raise
    return getattr(module, class_name)(cfg)
