"""How far to trust the judge: agreement of its ratings with test-based verdicts on tested tasks.

For every task, each (passing, failing) pair of samples is a question the tests have answered; the judge
agrees when it scores the passing sample higher (a tie counts half). `concordance` is the fraction of such
pairs it gets right — 0.5 is chance, 1.0 is perfect — overall and per preference. `threshold_accuracy` is
how often the judge's own pass/fail (its threshold) matches the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codekiln.records import Verdict


def _concordance(pairs: list[tuple[float, float]]) -> float | None:
    if not pairs:
        return None
    return sum(1.0 if p > f else 0.5 if p == f else 0.0 for p, f in pairs) / len(pairs)


def judge_test_agreement(test_verdicts: Sequence[Verdict], judge_verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """Compare judge verdicts with test verdicts of the same samples (joined by sample_id)."""
    judged = {v.sample_id: v for v in judge_verdicts if v.status != "invalid"}
    by_task: dict[str, list[tuple[bool, Verdict]]] = {}
    for test in test_verdicts:
        if test.sample_id in judged:
            by_task.setdefault(test.task_id, []).append((test.passed, judged[test.sample_id]))
    overall: list[tuple[float, float]] = []
    per_pref: dict[str, list[tuple[float, float]]] = {}
    matches = total = 0
    for rows in by_task.values():
        for passed, j in rows:
            total += 1
            matches += passed == j.passed
        for passed_ok, good in rows:
            if not passed_ok:
                continue
            for passed_bad, bad in rows:
                if passed_bad:
                    continue
                overall.append((good.score, bad.score))
                good_r = good.judgement.ratings if good.judgement else {}
                bad_r = bad.judgement.ratings if bad.judgement else {}
                for pref, rating in good_r.items():
                    if rating is not None and bad_r.get(pref) is not None:
                        per_pref.setdefault(pref, []).append((rating, bad_r[pref]))
    return {
        "samples": total,
        "invalid_judgements": sum(v.status == "invalid" for v in judge_verdicts),
        "pairs": len(overall),
        "concordance": _concordance(overall),
        "ties": sum(p == f for p, f in overall),
        "per_preference": {p: {"pairs": len(v), "concordance": _concordance(v)} for p, v in sorted(per_pref.items())},
        "threshold_accuracy": matches / total if total else None,
    }


def format_agreement(report: dict[str, Any]) -> str:
    """A short text block for reports: how often the judge's order agrees with the tests."""
    if not report["pairs"]:
        return (f"judge vs tests: no (passing, failing) sample pair within a task among {report['samples']} "
                "judged samples; nothing to compare")
    lines = [f"judge vs tests: the judge ranks the passing sample higher in {report['concordance']:.1%} of "
             f"{report['pairs']} (pass, fail) pairs (50% = chance; ties {report['ties']}); "
             f"its own threshold matches the tests on {report['threshold_accuracy']:.1%} of "
             f"{report['samples']} samples"]
    for pref, row in report["per_preference"].items():
        lines.append(f"  {pref:<22} {row['concordance']:.1%} of {row['pairs']} pairs")
    return "\n".join(lines)
