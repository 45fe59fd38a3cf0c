"""Predict the calls a task's check will make, so they can be sent to the candidate ahead of time.

A HumanEval check makes ~10 calls; one round trip each costs two process wake-ups, which dominate the time
of a check on a busy machine. So, once per task, the trusted check is dry-run against a recorder that returns
a `_Placeholder` (equal to everything, usable in arithmetic) and records each call's plain-data arguments.
The verifier then writes all predicted calls at once; the candidate answers them in order while the real
check runs against the real answers, consuming them one by one.

This changes no verdict logic: the real check still runs in the trusted process on plain values, in order,
and stops at the first failure. A call that differs from the prediction (its arguments depended on an earlier
answer) drops the rest of the prediction and goes back to one round trip a call. A check's `random` draws
from a generator seeded by its task (see `seeded_random`), so the dry run draws what the real check will;
checks that ask the OS for randomness are not predicted. The dry run is bounded in calls and traced lines.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from codekiln.verify.plain import Unplain, encode_plain

MAX_CALLS = 256
MAX_BYTES = 256 * 1024
MAX_LINES = 200_000
_UNREPEATABLE = ("SystemRandom", "urandom", "secrets", "uuid")  # randomness no seed repeats


class _Stop(BaseException):
    """Ends a dry run (a BaseException, so a check's `except Exception` does not swallow it)."""


class _Placeholder:
    """What the recorder returns: compares equal, is truthy, absorbs arithmetic, iterates as empty."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return True

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Any:
        return iter(())

    def __index__(self) -> int:
        return 0

    __int__ = __index__

    def __float__(self) -> float:
        return 0.0

    def __str__(self) -> str:
        return ""

    def _same(self, *args: Any, **kwargs: Any) -> _Placeholder:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __neg__ = __pos__ = _same
    __abs__ = __round__ = __getitem__ = __getattr__ = __call__ = _same


class _Recorder:
    def __init__(self, name: str) -> None:
        self.__name__ = name
        self.calls: list[str] = []
        self.size = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        trace = sys.gettrace()  # the encoder is codekiln's own code: not traced (tracing it tripled the cost)
        sys.settrace(None)
        try:
            payload = encode_plain((args, kwargs))
        except Unplain:
            raise _Stop from None
        finally:
            sys.settrace(trace)
        self.size += len(payload)
        if len(self.calls) >= MAX_CALLS or self.size > MAX_BYTES:
            raise _Stop
        self.calls.append(payload)
        return _Placeholder()


def predict_calls(make_check: Callable[[Any], Callable[[Any], Any]], name: str, test_source: str) -> list[str]:
    """The encoded arguments of the calls the check makes before it first depends on an answer."""
    if any(word in test_source for word in _UNREPEATABLE):
        return []
    recorder = _Recorder(name)
    lines = 0

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        nonlocal lines
        lines += 1
        if lines > MAX_LINES:
            raise _Stop
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        make_check(recorder)(recorder)
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: B036 - any end of the dry run is fine; what was recorded stands
        pass
    finally:
        sys.settrace(previous)
    return recorder.calls
