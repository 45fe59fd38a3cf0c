"""Generation budgets by task kind: how many tokens a reply may take, and the context that holds it.

A SQL query fits in ~100 tokens; an HTML page needs ~600-1200. One limit for all kinds either cuts every page
(the old 256-token default ended each ui-basic page inside its `<style>`) or lets a SQL model ramble. So when
the user sets no `sample.max_tokens`, it comes from the task kind; with several kinds in one call, the largest
of theirs. `sample.context_size` left unset grows to hold the prompt and the reply.

A reply cut by the limit is told apart downstream: the sample's `meta.finish` is "length", and a verdict that
did not pass becomes `truncated` (`codekiln.verify.run`), never a `syntax_error`. Training's `max_length` left
unset follows the data's kinds the same way (`train_length`).
"""

from __future__ import annotations

from collections.abc import Iterable

from codekiln.config import SampleConfig
from codekiln.records import Task

KIND_MAX_TOKENS: dict[str, int] = {"sql": 256, "python": 384, "pandas": 384, "open": 512, "html": 1200}
DEFAULT_CONTEXT = 2048
# Training's longest example (prompt + reply) by kind: an html page cut at 512 tokens would teach the model pages
# without an end, which is how a page fails.
KIND_TRAIN_LENGTH: dict[str, int] = {"html": 1536}
DEFAULT_TRAIN_LENGTH = 512
# Curation's length filter by kind: a whole 1200-token page is ~4-5k characters.
KIND_MAX_CHARS: dict[str, int] = {"html": 12000}
DEFAULT_MAX_CHARS = 4000
PROMPT_ROOM = 1024  # tokens kept for the prompt (instructions, a description, a schema, shots)


def kind_max_tokens(kinds: Iterable[str]) -> int:
    """The reply budget for tasks of these kinds: the largest of theirs (python's for none)."""
    return max((KIND_MAX_TOKENS.get(k, KIND_MAX_TOKENS["python"]) for k in kinds),
               default=KIND_MAX_TOKENS["python"])


def train_length(kinds: Iterable[str | None]) -> int:
    """The training `max_length` for examples of these task kinds: the largest of theirs."""
    return max((KIND_TRAIN_LENGTH.get(k or "", DEFAULT_TRAIN_LENGTH) for k in kinds), default=DEFAULT_TRAIN_LENGTH)


def max_chars(kind: str) -> int:
    """The longest completion curation keeps for a task kind (when `curate.max_chars` is unset)."""
    return KIND_MAX_CHARS.get(kind, DEFAULT_MAX_CHARS)


def with_budget(cfg: SampleConfig, tasks: Iterable[Task]) -> SampleConfig:
    """`cfg` with `max_tokens` and `context_size` filled in for `tasks` where the user left them unset."""
    max_tokens = cfg.max_tokens if cfg.max_tokens is not None else kind_max_tokens({t.kind for t in tasks})
    context = cfg.context_size
    if context is None:
        needed = max_tokens + PROMPT_ROOM
        context = max(DEFAULT_CONTEXT, -(-needed // 256) * 256)
    if (max_tokens, context) == (cfg.max_tokens, cfg.context_size):
        return cfg
    return cfg.model_copy(update={"max_tokens": max_tokens, "context_size": context})
