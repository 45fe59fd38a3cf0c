"""De-duplication scaling: seconds for 10k, 100k (and 1M) synthetic samples, and near-duplicate precision/recall.

    .venv/bin/python benchmarks/dedup_scaling.py                 # 10k and 100k
    nice -n 10 .venv/bin/python benchmarks/dedup_scaling.py --sizes 10000 100000 1000000

Samples are realistic Python functions: each task has a signature, and each of its samples a body of 4-9
statements drawn from a small grammar (loops, conditions, accumulations, comprehensions, early returns) with
random names and constants, so genuinely different samples of a task share only their signature and common
idioms. A fraction of samples are planted copies of an earlier sample of the same task:
- exact: the same code reformatted, with comments added (the exact level must catch it);
- renamed: every local name changed (the AST level must catch it);
- near: one constant changed, or one statement appended (the MinHash level must catch it).
Everything goes through `codekiln.curate.dedup.Deduper` with the default config (per-task scope, 3-token
shingles, 128 permutations, threshold 0.85), timed end to end: normalisation, fingerprints, signatures, LSH.
Anchors (issue 6): 100k samples in under 30 s on this machine; near-duplicate precision and recall >= 0.95;
time linear in the number of samples (ratio ~10 per 10x).
"""

from __future__ import annotations

import argparse
import random
import time

from codekiln.config import CurateConfig
from codekiln.curate.dedup import Deduper, Program

TARGET_100K_S = 30.0
TARGET_PR = 0.95
WORDS = ("items values data nums total count acc result best seen keys idx pos left right lo hi mid step size "
         "width depth score limit cur prev nxt tmp buf out chunk row col cell part head tail word text char "
         "flag ok found hits miss span gap diff delta ratio avg mean peak base top low").split()
FUNCS = ("sum_pairs count_unique longest_run rotate_left merge_sorted find_peak window_max dedupe_keep "
         "running_mean split_words balance_parens digits_sum prime_factors flatten_once top_k".split())


def _names(rng: random.Random, k: int) -> list[str]:
    return rng.sample(WORDS, k)


def _statement(rng: random.Random, v: list[str], depth: int = 1) -> list[str]:
    """One statement (possibly a block) over variables v, indented `depth` levels."""
    ind = "    " * depth
    a, b, c = rng.sample(v, 3)
    n = rng.randint(0, 99)
    op = rng.choice(["+", "-", "*", "//", "%", "^", "|"])
    cmp = rng.choice(["<", ">", "<=", ">=", "==", "!="])
    choice = rng.randrange(9)
    if choice == 0:
        return [f"{ind}for {a} in range({b}, {n}):", f"{ind}    {c} = {c} {op} {a}"]
    if choice == 1:
        return [f"{ind}if {a} {cmp} {n}:", f"{ind}    {b} = {a} {op} {c}", f"{ind}else:", f"{ind}    {b} = {n}"]
    if choice == 2:
        return [f"{ind}{a} = [{b} {op} {n} for {b} in range({c}) if {b} {cmp} {rng.randint(0, 9)}]"]
    if choice == 3:
        return [f"{ind}while {a} {cmp} {n}:", f"{ind}    {a} += {rng.randint(1, 5)}", f"{ind}    {b} = max({b}, {a})"]
    if choice == 4:
        return [f"{ind}{a} = sorted({b}, key=lambda x: x {op} {n})[:{rng.randint(1, 9)}]"]
    if choice == 5:
        return [f"{ind}{a} = {{k: v for k, v in enumerate({b}) if v {cmp} {n}}}"]
    if choice == 6:
        return [f"{ind}if not {a}:", f"{ind}    return {rng.choice([n, b, '[]', 'None'])}"]
    if choice == 7:
        return [f"{ind}{a} = len({b}) {op} sum({c}) + {n}"]
    return [f"{ind}try:", f"{ind}    {a} = {b}[{n}] {op} {c}", f"{ind}except (IndexError, KeyError):", f"{ind}    {a} = {n}"]


def original(rng: random.Random, signature: str, args: list[str]) -> str:
    local = [w for w in _names(rng, 8) if w not in args][:5]
    v = args + local
    lines = [signature] + [f"    {name} = {rng.choice(['0', '1', '[]', '{}', args[0], f'len({args[1]})'])}" for name in local]
    for _ in range(rng.randint(4, 9)):
        lines += _statement(rng, v)
    lines.append(f"    return {rng.choice(v)}")
    return "\n".join(lines) + "\n"


def exact_copy(rng: random.Random, code: str) -> str:
    lines = code.splitlines()
    i = rng.randrange(1, len(lines))
    lines[i] = lines[i].replace(" = ", " =  ", 1) + "  # " + rng.choice(WORDS)
    return "\n\n".join(lines) + "\n"


def renamed_copy(rng: random.Random, code: str, args: list[str]) -> str:
    import re

    used = [w for w in WORDS if re.search(rf"\b{w}\b", code) and w not in args]
    fresh = [f"{w}_{rng.randint(2, 99)}" for w in used]
    for old, new in zip(used, fresh, strict=True):
        code = re.sub(rf"\b{old}\b", new, code)
    return code


def near_copy(rng: random.Random, code: str) -> str:
    lines = code.splitlines()
    if rng.random() < 0.5:
        import re

        for _ in range(20):
            i = rng.randrange(1, len(lines))
            numbers = list(re.finditer(r"\b\d+\b", lines[i]))
            if numbers:
                m = rng.choice(numbers)
                lines[i] = lines[i][: m.start()] + str(int(m.group()) + 1) + lines[i][m.end():]
                return "\n".join(lines) + "\n"
    lines.insert(len(lines) - 1, f"    print({rng.choice(WORDS)})")
    return "\n".join(lines) + "\n"


def make_samples(n: int, per_task: int = 8, dup_rate: float = 0.3, seed: int = 0):
    """n Programs and the planted truth: {index: (kind, index of the sample it copies)}."""
    rng = random.Random(seed)
    programs: list[Program] = []
    truth: dict[int, tuple[str, int]] = {}
    task = 0
    while len(programs) < n:
        args = _names(rng, 3)
        signature = f"def {rng.choice(FUNCS)}_{task}({', '.join(args)}):"
        scope = (f"task{task}", True)
        firsts: list[int] = []
        for _ in range(min(per_task, n - len(programs))):
            i = len(programs)
            if firsts and rng.random() < dup_rate:
                src = rng.choice(firsts)
                kind = rng.choice(["exact", "renamed", "near", "near"])
                base = programs[src].code
                if kind == "exact":
                    code = exact_copy(rng, base)
                elif kind == "renamed":
                    code = renamed_copy(rng, base, args)
                else:
                    code = near_copy(rng, base)
                truth[i] = (kind, src)
            else:
                code = original(rng, signature, args)
                firsts.append(i)
            programs.append(Program(f"s{i}", scope, "python", code))
        task += 1
    return programs, truth


def score(results, truth) -> dict[str, float]:
    """Precision/recall of duplicate detection overall and of the near level against planted near copies."""
    flagged = {i for i, r in enumerate(results) if r is not None}
    planted = set(truth)
    near_flagged = {i for i, r in enumerate(results) if r is not None and r.level == "near"}
    near_planted = {i for i, (kind, _) in truth.items() if kind == "near"}
    by_level = {lv: sum(1 for i, r in enumerate(results) if r is not None and r.level == lv) for lv in ("exact", "ast", "near")}
    return {
        "precision": len(flagged & planted) / max(1, len(flagged)),
        "recall": len(flagged & planted) / max(1, len(planted)),
        "near_precision": len(near_flagged & near_planted) / max(1, len(near_flagged)),
        "near_recall": len(near_flagged & near_planted) / max(1, len(near_planted)),
        **{f"by_{k}": v for k, v in by_level.items()},
        "planted": len(planted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = CurateConfig()
    print(f"dedup levels exact+ast+near, threshold {cfg.near_dup_threshold}, {cfg.minhash_perm} permutations, "
          f"{cfg.shingle}-token shingles, per-task scope, 8 samples per task, 30% planted copies")
    header = (f"{'samples':>9} {'seconds':>8} {'cpu s':>8} {'us/sample':>9} {'t ratio':>9} {'prec':>6} {'recall':>6} "
              f"{'near P':>6} {'near R':>6} {'exact/ast/near caught':>22}")
    print(header, flush=True)
    prev: tuple[int, float] | None = None
    rows = []
    for n in args.sizes:
        programs, truth = make_samples(n, seed=args.seed)
        deduper = Deduper(cfg.near_dup_threshold, cfg.minhash_perm, cfg.shingle)
        start, cpu_start = time.perf_counter(), time.process_time()
        results = deduper.run(programs)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        s = score(results, truth)
        ratio = "" if prev is None else f"{seconds / prev[1]:.2f}"
        print(f"{n:>9} {seconds:>8.2f} {cpu:>8.2f} {seconds / n * 1e6:>9.1f} {ratio:>9} {s['precision']:>6.3f} {s['recall']:>6.3f} "
              f"{s['near_precision']:>6.3f} {s['near_recall']:>6.3f} "
              f"{s['by_exact']:>7}/{s['by_ast']}/{s['by_near']:<8}", flush=True)
        rows.append((n, seconds, cpu, s))
        prev = (n, seconds)
    print()
    for n, seconds, cpu, s in rows:
        if n == 100_000:
            print(f"anchor: 100k samples in {seconds:.1f} s wall ({cpu:.1f} s CPU) vs target < {TARGET_100K_S:.0f} s "
                  f"(ratio {seconds / TARGET_100K_S:.2f} of the budget)")
        print(f"anchor: {n} samples: near-dup precision {s['near_precision']:.3f}, recall {s['near_recall']:.3f} "
              f"vs target >= {TARGET_PR} (all levels: {s['precision']:.3f}/{s['recall']:.3f})")
    print("t ratio: seconds / seconds of the previous size (linear: equal to the size ratio, 10.00 per 10x)")


if __name__ == "__main__":
    main()
