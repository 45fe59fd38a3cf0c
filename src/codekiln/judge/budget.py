"""A budget on judge calls and tokens, with a clear stop.

Cached replies are free. When the next call would go over the budget, `BudgetExceeded` (a UserError, so
the CLI prints one line and exits 2) stops the batch; every judgement finished so far is already in the
cache and in the verdict stream, so a rerun with a larger budget continues where this one stopped.
"""

from __future__ import annotations

from codekiln.errors import UserError


class BudgetExceeded(UserError):
    """The judge budget (verify.judge.max_calls / max_total_tokens) is used up."""


class Budget:
    def __init__(self, max_calls: int | None = None, max_tokens: int | None = None) -> None:
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.calls = 0
        self.tokens = 0

    def check(self) -> None:
        """Raise BudgetExceeded if no further call is allowed."""
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise BudgetExceeded(
                f"judge budget reached: {self.calls} calls of verify.judge.max_calls={self.max_calls}; "
                "finished judgements are cached, rerun with a larger budget to continue"
            )
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExceeded(
                f"judge budget reached: {self.tokens} tokens of verify.judge.max_total_tokens={self.max_tokens}; "
                "finished judgements are cached, rerun with a larger budget to continue"
            )

    def charge(self, tokens: int) -> None:
        self.calls += 1
        self.tokens += tokens
