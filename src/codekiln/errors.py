"""The one exception type for user mistakes, and the one for workers that died.

A `UserError` carries a single line that says what was wrong and how to fix it. The CLI prints it
and exits with code 2; anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import pickle
import signal
import traceback


class UserError(Exception):
    """Bad input from the user: a missing file, a bad record, an unknown name, an invalid setting."""


class ConfigError(UserError):
    """An invalid or unknown configuration key or value."""


class RecordError(UserError):
    """A JSONL line that is not a valid record; the message starts with FILE:LINE."""


class WorkerCrashed(UserError):
    """A worker process (a model process, a sandbox worker) died from a signal or exited without answering.

    The stage stops; what finished is kept in its file, so rerunning the same command resumes. The message
    names the stage, how the worker ended (`exit_text`), the task it was on, and what to do."""


def exit_text(code: int | None) -> str:
    """How a process ended, from its exit status as `subprocess`/`multiprocessing` give it (negative: the
    signal that killed it): "was killed by SIGSEGV (signal 11)", "exited with code 1"."""
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by {name} (signal {-code})"
    return f"exited with code {code}"


def portable(err: BaseException) -> tuple[BaseException, str]:
    """`err` as it can cross to a parent process (a copy that does not pickle becomes a RuntimeError), and its
    traceback as text."""
    text = "".join(traceback.format_exception(err))
    try:
        pickle.loads(pickle.dumps(err))
        return err, text
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}"), text
