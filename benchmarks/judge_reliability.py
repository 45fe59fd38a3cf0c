"""Judge reliability on this machine: answer parsing, retries, position consistency, cache, agreement with tests.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/judge_reliability.py
    ... --judges smollm2-135m,qwen2.5-coder-0.5b --tasks 8 --pairs 4 --agreement-tasks 6 --agreement-judge smollm2-135m

1. Responses: the embedded model (SmolLM2-135M) answers `--tasks` open-basic test instructions.
2. Parsing, per judge model and with/without the JSON prefill: each response is judged on its task's
   preference. Anchor: strict JSON parsing of the first answer alone (json.loads + schema, no fallback,
   no retry: what a plain LLM-as-a-judge script gets), against codekiln's strict + tolerant parsing, and
   then with retries. Seconds per judge call.
3. Position consistency: `--pairs` pairs of responses judged together in both orders; agreement of the
   two orders (1.0 = position-blind) and how often the first-shown response was rated higher.
4. Cache: the same judging again through the on-disk cache: model calls and seconds.
5. Judge vs tests: SmolLM2 samples python-basic test tasks (n=2, T=0.8) and each task's reference solution
   joins as a third answer; the sandbox verifies them, the judge rates them on instruction following;
   concordance of the judge's order with pass/fail (anchor: 50% = chance).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from codekiln.config import JudgeConfig, SampleConfig, VerifyConfig
from codekiln.judge.agreement import format_agreement, judge_test_agreement
from codekiln.judge.cache import JudgeCache
from codekiln.judge.parse import JudgeParseError, _parse_strict, parse_judgement
from codekiln.judge.run import Judge, JudgeItem, reply_text
from codekiln.records import Sample
from codekiln.sample.base import load_sampler
from codekiln.sample.models import resolve_model
from codekiln.sample.prompts import reference_program
from codekiln.sample.run import sample_tasks
from codekiln.tasks import load_tasks
from codekiln.verify import get_verifier
from codekiln.verify.judge import JudgeVerifier


class Recording:
    """Wraps a Sampler and keeps (request, generation, seconds) of every call."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_prefill = inner.supports_prefill
        self.log: list[tuple] = []

    def generate(self, requests, params):
        start = time.perf_counter()
        out = self.inner.generate(requests, params)
        each = (time.perf_counter() - start) / max(1, len(requests))
        self.log.extend((r, g, each, params.temperature) for r, g in zip(requests, out, strict=True))
        return out

    def close(self) -> None:
        self.inner.close()


def spread_tasks(k: int):
    """k open-basic test tasks spread over the five preferences."""
    by_pref: dict[str, list] = {}
    for t in load_tasks("open-basic:test"):
        by_pref.setdefault(t.meta["preference"], []).append(t)
    out = []
    while len(out) < k and any(by_pref.values()):
        for tasks in by_pref.values():
            if tasks and len(out) < k:
                out.append(tasks.pop(0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judges", default="smollm2-135m,qwen2.5-coder-0.5b")
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--agreement-tasks", type=int, default=6)
    ap.add_argument("--agreement-judge", default="smollm2-135m")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="judge-bench-"))

    tasks = spread_tasks(args.tasks)
    scfg = SampleConfig(n=2, temperature=0.8, max_tokens=160)
    t0 = time.perf_counter()
    samples = sample_tasks(tasks, scfg, work / "open_samples.jsonl", quiet=True)
    print(f"responses: {len(samples)} from smollm2-135m on {len(tasks)} open-basic test tasks "
          f"({time.perf_counter() - t0:.0f} s)")
    first = {t.task_id: next(s for s in samples if s.task_id == t.task_id) for t in tasks}
    items = [JudgeItem(t.task_id, t.prompt, (first[t.task_id].raw,), (t.meta["preference"],)) for t in tasks]

    print("\n== answer parsing (one response per call, greedy first answer, up to 2 retries)")
    print(f"{'judge':<22} {'prefill':<7} {'strict only (anchor)':>20} {'+ tolerant':>10} {'+ retries':>9} "
          f"{'calls':>5} {'s/call':>6}")
    for spec in args.judges.split(","):
        try:
            ref = resolve_model(spec)
        except Exception as err:  # an alias whose packages are not installed
            print(f"{spec:<22} skipped: {err}")
            continue
        for prefill in (True, False):
            cfg = JudgeConfig(model=spec, prefill=prefill, both_orders=False, retries=2, reply_tokens=96)
            rec = Recording(load_sampler(ref, SampleConfig(model=spec, context_size=cfg.context_size)))
            cache_path = work / f"cache-{spec}-{prefill}.sqlite"
            judge = Judge(rec, cfg, JudgeCache(cache_path))
            out = judge.judge(items)
            firsts = [reply_text(g) for _, g, _, temp in rec.log if temp == 0]
            strict = sum(_parse_strict(text, ["A"]) is not None for text in firsts)
            tolerant = 0
            for text in firsts:
                try:
                    parse_judgement(text, ["A"])
                    tolerant += 1
                except JudgeParseError:
                    pass
            valid = sum(not j[0].invalid for j in out)
            secs = sum(e for _, _, e, _ in rec.log) / max(1, len(rec.log))
            n = len(items)
            print(f"{spec:<22} {str(prefill):<7} {strict:>12}/{n} {strict / n:>6.0%} {tolerant / n:>10.0%} "
                  f"{valid / n:>9.0%} {len(rec.log):>5} {secs:>6.1f}")
            ratings = [j[0].ratings[t.meta['preference']] for j, t in zip(out, tasks, strict=True)]
            print(f"{'':<22} ratings given: {ratings}")
            if prefill:
                # cache: the same judging again costs no model call
                rerun = Recording(rec.inner)
                t1 = time.perf_counter()
                again = Judge(rerun, cfg, JudgeCache(cache_path)).judge(items)
                print(f"{'':<22} rerun through the cache: {len(rerun.log)} model calls, "
                      f"{time.perf_counter() - t1:.2f} s, same ratings: {again == out}")
                # position consistency: two responses of one task judged together, both orders
                pairs = [JudgeItem(f"pair-{t.task_id}", t.prompt,
                                   tuple(s.raw for s in samples if s.task_id == t.task_id)[:2],
                                   (t.meta["preference"],)) for t in tasks[: args.pairs]]
                pcfg = cfg.model_copy(update={"both_orders": True})
                prec = Recording(rec.inner)
                pout = Judge(prec, pcfg, JudgeCache(work / f"pairs-{spec}.sqlite")).judge(pairs)
                agree = [j[0].agreement[p.preferences[0]] for j, p in zip(pout, pairs, strict=True)]
                agree = [a for a in agree if a is not None]
                first_wins = ties = shown = 0
                for _r, g, _, temp in prec.log:
                    if temp != 0:
                        continue
                    try:
                        parsed = parse_judgement(reply_text(g), ["A", "B"]).ratings
                    except JudgeParseError:
                        continue
                    shown += 1
                    first_wins += parsed["A"].rating > parsed["B"].rating
                    ties += parsed["A"].rating == parsed["B"].rating
                print(f"{'':<22} both orders on {len(pairs)} pairs: order agreement "
                      f"{(sum(agree) / len(agree)) if agree else float('nan'):.2f} over {len(agree)} pairs; "
                      f"first-shown rated higher {first_wins}/{shown}, ties {ties}/{shown}")
            rec.close()

    print(f"\n== judge vs tests on python-basic (judge {args.agreement_judge})")
    py = load_tasks("python-basic:test")[: args.agreement_tasks]
    t0 = time.perf_counter()
    py_samples = sample_tasks(py, SampleConfig(n=2, temperature=0.8, max_tokens=256), work / "py.jsonl", quiet=True)
    # each task's reference solution joins as one more sample (verified like the others), so every task
    # has answers on both sides of pass/fail for the judge to order
    py_samples += [Sample(t.task_id, reference_program(t), f"{t.task_id}#ref", model="reference") for t in py]
    verifier = get_verifier("python", VerifyConfig())
    by_id = {t.task_id: t for t in py}
    try:
        tested = verifier.verify([(by_id[s.task_id], s) for s in py_samples])
    finally:
        verifier.close()
    print(f"{len(py_samples)} samples, {sum(v.passed for v in tested)} pass their tests "
          f"({time.perf_counter() - t0:.0f} s)")
    jcfg = JudgeConfig(model=args.agreement_judge, preferences=["instruction-following"],
                       both_orders=False, retries=2, reply_tokens=96, cache_dir=str(work / "agree-cache"))
    jv = JudgeVerifier(VerifyConfig(judge=jcfg))
    t0 = time.perf_counter()
    try:
        judged = jv.verify([(by_id[s.task_id], s) for s in py_samples])
    finally:
        jv.close()
    print(f"judged in {time.perf_counter() - t0:.0f} s")
    print(format_agreement(judge_test_agreement(tested, judged)))
    print("anchor: 50% = a judge that ignores correctness")


if __name__ == "__main__":
    main()
