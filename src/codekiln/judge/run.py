"""Judge a batch: each item's responses on its preferences, with shuffled positions, retries and a cache.

One judge call rates every response of an item on one preference, in one presentation order. Calls are
seeded from (judge.seed, item key, preference, order, attempt), so the same batch gives the same ratings
whatever the batching. The first attempt is greedy; an answer that cannot be parsed is retried with a new
seed at `retry_temperature`, and after `retries` more attempts the rating is `None` (the sample becomes
`invalid`); the batch never stops on a bad answer. Every call goes through the cache and the budget.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.config import JudgeConfig, SampleConfig
from codekiln.errors import UserError
from codekiln.judge.budget import Budget
from codekiln.judge.cache import JudgeCache, cache_key
from codekiln.judge.pairwise import mean_ratings, order_agreement, orderings, unshuffle
from codekiln.judge.parse import JudgeParseError, parse_judgement
from codekiln.judge.prompt import labels_for, render_judge_messages
from codekiln.judge.rubrics import PREFERENCES, RUBRIC_VERSION, get_rubric
from codekiln.progress import Bar, progress_bar
from codekiln.sample.base import Generation, GenParams, Request, Sampler

# The answer's JSON ends with "}}" (the last response's object, then the whole): stop there, no rambling after.
STOP = "}}"
SCALE = tuple(str(r) for r in range(1, 11))


def expected_rating(probs: Sequence[float]) -> float | None:
    """The mean rating under the judge's probabilities of "1".."10" (one per SCALE entry) right after the prefill.

    A rating's probability includes the longer ratings it begins ("1" includes "10"), so those are taken out first;
    None when the judge puts (almost) no mass on the scale.
    """
    own = list(probs)
    for i, option in enumerate(SCALE):
        own[i] -= sum(p for other, p in zip(SCALE, probs, strict=True) if other != option and other.startswith(option))
    own = [max(0.0, p) for p in own]
    total = sum(own)
    if total < 1e-6:
        return None
    return round(sum(int(r) * p for r, p in zip(SCALE, own, strict=True)) / total, 4)


@dataclass(frozen=True)
class JudgeItem:
    """Responses to one instruction, rated together on each of `preferences`. `key` seeds the calls."""

    key: str
    instruction: str
    responses: tuple[str, ...]
    preferences: tuple[str, ...]
    reference: str | None = None


@dataclass(frozen=True)
class Judgement:
    """One response's ratings (1-10, mean over orders; None = the judge never gave a usable answer)."""

    ratings: dict[str, float | None]
    rationales: dict[str, str] = field(default_factory=dict)
    agreement: dict[str, float | None] = field(default_factory=dict)  # both-order agreement of its group

    @property
    def invalid(self) -> bool:
        return all(r is None for r in self.ratings.values())

    def score(self, weights: dict[str, float] | None = None) -> float | None:
        """Weighted mean of the normalised ratings (rating-1)/9 over the preferences rated; None if none was."""
        weights = weights or {}
        rated = [(weights.get(p, 1.0), (r - 1) / 9) for p, r in self.ratings.items() if r is not None]
        total = sum(w for w, _ in rated)
        if not rated or total <= 0:
            return None
        return sum(w * x for w, x in rated) / total


def reply_text(generation: Generation) -> str:
    """The judge's answer: a reply cut at the stop string gets it back (it closes the answer's JSON)."""
    text = generation.text
    if generation.finish == "stop" and not text.rstrip().endswith(STOP):
        text += STOP
    return text


def call_seed(base: int, *parts: object) -> int:
    text = "\x1f".join(str(p) for p in (base, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % (2**31)


@dataclass
class _Call:
    item: int
    preference: str
    run: int  # index of the presentation order
    order: list[int]
    messages: list[dict[str, str]]
    ratings: list[float | None] | None = None  # by position, once parsed
    rationales: list[str] = field(default_factory=list)


class Judge:
    """Rates responses with a `Sampler` as the judge model. Use `Judge.from_config` to load the configured one."""

    def __init__(self, sampler: Sampler, cfg: JudgeConfig, cache: JudgeCache | None = None,
                 budget: Budget | None = None, block: int = 8) -> None:
        unknown = [p for p in [*cfg.preferences, *cfg.weights] if p not in PREFERENCES]
        if unknown:
            raise UserError(f"unknown judge preference(s) {unknown}; choose from {list(PREFERENCES)}")
        self.sampler = sampler
        self.cfg = cfg
        self.cache = cache
        self.budget = budget or Budget(cfg.max_calls, cfg.max_total_tokens)
        self.block = max(1, block)
        self.model_name = sampler.name
        self.calls = 0  # model calls made (cache misses)

    @classmethod
    def from_config(cls, cfg: JudgeConfig, sample_cfg: SampleConfig | None = None) -> Judge:
        """Load the judge model named by `cfg.model` through the sampling backends, with the on-disk cache."""
        from codekiln.sample.base import load_sampler
        from codekiln.sample.models import resolve_model

        base = sample_cfg or SampleConfig()
        scfg = base.model_copy(update={"model": cfg.model, "backend": cfg.backend, "context_size": cfg.context_size})
        sampler = load_sampler(resolve_model(cfg.model), scfg)
        cache = JudgeCache(Path(cfg.cache_dir).expanduser() / "judge.sqlite")
        return cls(sampler, cfg, cache)

    def close(self) -> None:
        self.sampler.close()
        if self.cache is not None:
            self.cache.close()

    # -- judging ---------------------------------------------------------------------------------------------

    def judge(self, items: Sequence[JudgeItem], quiet: bool = True,
              on_item: Callable[[int, list[Judgement]], None] | None = None) -> list[list[Judgement]]:
        """Per item, one Judgement per response (in the item's response order)."""
        out: list[list[Judgement]] = []
        n_calls = sum(len(it.preferences) * len(orderings(len(it.responses), 0, self.cfg.both_orders))
                      for it in items)
        with progress_bar("judge", n_calls, quiet) as bar:
            for start in range(0, len(items), self.block):
                block = items[start : start + self.block]
                calls = [c for i, it in enumerate(block, start) for c in self._calls_for(i, it)]
                self._run_calls(items, calls, bar)
                for i, it in enumerate(block, start):
                    judgements = self._combine(it, [c for c in calls if c.item == i])
                    out.append(judgements)
                    if on_item is not None:
                        on_item(i, judgements)
        return out

    def _calls_for(self, index: int, item: JudgeItem) -> list[_Call]:
        if not item.responses:
            raise ValueError(f"judge item {item.key!r} has no responses")
        labels_for(len(item.responses))  # checks the group size
        reference = item.reference if self.cfg.use_reference else None
        calls = []
        for preference in item.preferences:
            rubric = get_rubric(preference)
            runs = orderings(len(item.responses), call_seed(self.cfg.seed, item.key, "order"), self.cfg.both_orders)
            for run, order in enumerate(runs):
                shown = [item.responses[i] for i in order]
                messages = render_judge_messages(item.instruction, shown, rubric, reference, self.cfg.max_response_chars)
                calls.append(_Call(index, preference, run, order, messages))
        return calls

    def _prefill(self) -> str:
        return '{"A": {"rating": ' if self.cfg.prefill and getattr(self.sampler, "supports_prefill", False) else ""

    def _run_calls(self, items: Sequence[JudgeItem], calls: list[_Call], bar: Bar) -> None:
        pending = list(calls)
        for attempt in range(self.cfg.retries + 1):
            if not pending:
                break
            temperature = 0.0 if attempt == 0 else self.cfg.retry_temperature
            replies: dict[int, str] = {}
            # An answer rates every response shown: its token budget grows with their number (one batch per size,
            # so a call's budget, and its cache key, never depend on what it was batched with).
            for size in sorted({len(call.order) for call in pending}):
                group = [i for i, call in enumerate(pending) if len(call.order) == size]
                max_tokens = self.cfg.reply_tokens * size
                params = GenParams(temperature=temperature, top_p=0.95, max_tokens=max_tokens)
                settings = {"temperature": temperature, "max_tokens": max_tokens, "prefill": self._prefill(),
                            "stop": STOP}
                requests, keys = [], []
                for i in group:
                    call = pending[i]
                    seed = call_seed(self.cfg.seed, items[call.item].key, call.preference, call.run, attempt)
                    requests.append(Request(messages=call.messages, seed=seed, prefill=self._prefill(), stop=(STOP,)))
                    keys.append(cache_key(self.model_name, RUBRIC_VERSION, call.messages, seed, settings))
                replies.update(zip(group, self._generate(requests, keys, params), strict=True))
            still = []
            for i, call in enumerate(pending):
                reply = replies[i]
                labels = labels_for(len(call.order))
                try:
                    parsed = parse_judgement(reply, labels)
                except JudgeParseError:
                    still.append(call)
                    continue
                call.ratings = [float(parsed.ratings[label].rating) for label in labels]
                call.rationales = [parsed.ratings[label].rationale for label in labels]
                bar.advance()
            pending = still
        for _ in pending:
            bar.advance()
        self._expect(items, [c for c in calls if c.ratings is not None and len(c.order) == 1])

    def _expect(self, items: Sequence[JudgeItem], calls: list[_Call]) -> None:
        """Replace single-answer ratings by their expectation under the judge's rating distribution, when possible."""
        probe = getattr(self.sampler, "choice_probs", None)
        prefill = self._prefill()
        if not (self.cfg.expected_rating and probe and prefill and calls):
            return
        for call in calls:
            key = cache_key(self.model_name, RUBRIC_VERSION, call.messages, 0, {"choice_probs": SCALE, "prefill": prefill})
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                probs = json.loads(hit.text)
            else:
                self.budget.check()
                probs = probe(Request(messages=call.messages, seed=0, prefill=prefill), SCALE)
                self.budget.charge(sum(len(m["content"]) for m in call.messages) // 4)
                if self.cache is not None:
                    self.cache.put(key, json.dumps(probs), 0, self.model_name, RUBRIC_VERSION)
            expected = expected_rating(probs)
            if expected is not None and call.ratings is not None:
                call.ratings = [expected]

    def _generate(self, requests: list[Request], keys: list[str], params: GenParams) -> list[str]:
        """Replies for requests: from the cache, else from the model in batches, each reply cached at once."""
        replies: list[str | None] = [None] * len(requests)
        todo = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                replies[i] = hit.text
            else:
                todo.append(i)
        start = 0
        while start < len(todo):
            self.budget.check()
            size = len(todo) - start
            if self.budget.max_calls is not None:
                size = min(size, self.budget.max_calls - self.budget.calls)
            if self.budget.max_tokens is not None:
                size = 1
            chunk = todo[start : start + size]
            start += size
            try:
                generations = self.sampler.generate([requests[i] for i in chunk], params)
            except UserError:
                raise
            except Exception as err:  # a backend failure (HTTP error, ...) is an unusable answer, not a crash
                generations = None
                error = f"(judge backend error: {type(err).__name__}: {err})"
            for j, i in enumerate(chunk):
                if generations is None:
                    replies[i] = error
                    self.budget.charge(0)
                    continue
                text, n_tokens = reply_text(generations[j]), generations[j].n_tokens
                prompt_chars = sum(len(m["content"]) for m in requests[i].messages)
                self.budget.charge(n_tokens + prompt_chars // 4)  # prompt tokens estimated at 4 chars each
                self.calls += 1
                replies[i] = text
                if self.cache is not None:
                    self.cache.put(keys[i], text, n_tokens, self.model_name, RUBRIC_VERSION)
        return [r or "" for r in replies]

    def _combine(self, item: JudgeItem, calls: list[_Call]) -> list[Judgement]:
        n = len(item.responses)
        ratings: dict[str, list[float | None]] = {}
        rationales: dict[str, list[str]] = {}
        agreement: dict[str, float | None] = {}
        for preference in item.preferences:
            runs = sorted((c for c in calls if c.preference == preference), key=lambda c: c.run)
            by_response = [unshuffle(c.order, c.ratings or [None] * n) for c in runs]
            ratings[preference] = mean_ratings(by_response)
            texts = [""] * n
            for c in runs:
                if c.ratings is not None:
                    for position, index in enumerate(c.order):
                        texts[index] = texts[index] or c.rationales[position]
            rationales[preference] = texts
            agreement[preference] = order_agreement(by_response[0], by_response[1]) if len(by_response) > 1 else None
        return [
            Judgement(
                ratings={p: ratings[p][i] for p in item.preferences},
                rationales={p: rationales[p][i] for p in item.preferences},
                agreement=dict(agreement),
            )
            for i in range(n)
        ]
