"""PEFT methods compared as in arXiv 2308.10462: LoRA, IA3 and prompt tuning vs few-shot prompting, same data.

Each method trains with SFT on the same rows (reference programs of python-basic's train split, or
HumanEval when that suite is absent) for the same number of steps, in its own process; then every
model is evaluated greedily (pass@1) on the held-out test split through `evaluate_model` (sampling +
sandboxed verification). Few-shot = the untrained model with K worked examples in the prompt
(`codekiln eval --shots K`). QLoRA needs a GPU: listed, not run, on a CPU machine.

Columns: trainable parameters, peak RSS, training tokens per CPU-second (1 thread), held-out pass@1.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/peft_compare.py --steps 30 --eval-limit 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))

# Learning rates per method (PEFT's usual ranges: IA3 and prompt tuning need far larger ones than LoRA).
LR = {"lora": 2e-4, "ia3": 3e-3, "prompt": 3e-2}


def train_worker(a: argparse.Namespace) -> None:
    from transformers import TrainerCallback

    from codekiln.config import TrainConfig
    from codekiln.train.run import train_model

    class Timer(TrainerCallback):
        begin = end = tokens = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.begin = time.process_time()  # CPU seconds: not inflated by other load on a shared machine

        def on_train_end(self, args, state, control, **kwargs):
            self.end = time.process_time()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "num_tokens" in logs:
                self.tokens = float(logs["num_tokens"])

    saved = Path(a.out) / "bench.json"  # the figures of a finished training run, reused by a rerun
    if saved.exists():
        print(saved.read_text(encoding="utf-8").strip())
        return
    timer = Timer()
    cfg = TrainConfig(method="sft", peft=a.peft, max_steps=a.steps, batch_size=a.batch_size,
                      learning_rate=LR[a.peft], merge=a.peft == "lora")
    out = train_model(a.model, Path(a.out), cfg, sft=Path(a.data), quiet=True, callbacks=[timer])
    info = json.loads((out / "codekiln-model.json").read_text())
    figures = json.dumps({"peft": a.peft, "trainable": info["trainable_params"], "total": info["total_params"],
                      "tok_s": timer.tokens / max(timer.end - timer.begin, 1e-9), "train_cpu_s": timer.end - timer.begin,
                      "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024,
                      "lr": LR[a.peft]})
    saved.write_text(figures + "\n", encoding="utf-8")
    print(figures)


def evaluate(model: str, tasks, examples, shots: int, limit: int, out: Path) -> dict:
    from codekiln.config import EvalConfig, SampleConfig, VerifyConfig
    from codekiln.evaluate.run import evaluate_model

    try:
        metrics = evaluate_model(model, tasks, EvalConfig(limit=limit, n=1, k=[1], temperature=0.0),
                                 SampleConfig(max_tokens=320, shots=shots), VerifyConfig(), out, quiet=True,
                                 examples=examples)
    except Exception as err:  # a backend that cannot serve this adapter kind: reported in the table
        return {"pass@1": None, "error": f"{type(err).__name__}: {err}"[:200]}
    return {"pass@1": metrics["pass@1"], "ci": metrics.get("ci", {}).get("pass@1") if isinstance(
        metrics.get("ci"), dict) else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--train-rows", type=int, default=48)
    parser.add_argument("--eval-limit", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=1,
                        help="Evaluate every K-th test task (spreads the held-out set over the suite's families).")
    parser.add_argument("--shots", type=int, default=2)
    parser.add_argument("--methods", default="lora,ia3,prompt")
    parser.add_argument("--work", default=None, help="Folder for models and evaluations (default: a temp folder).")
    parser.add_argument("--out", default="benchmarks/results/peft_compare.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--peft", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--model-out", dest="model_out", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.worker:
        a.out = a.model_out
        train_worker(a)
        return

    import torch

    from codekiln.tasks import load_tasks
    from train_data import python_tasks, write_training_data

    work = Path(a.work or tempfile.mkdtemp(prefix="ck-peft-"))
    suite, train_tasks = python_tasks(a.train_rows)
    sft, _ = write_training_data(work / "data", train_tasks)
    test_tasks = [t for t in load_tasks(suite) if t.split == "test"] if suite != "humaneval" else \
        list(load_tasks(suite))[a.train_rows:]
    test_tasks = test_tasks[:: a.eval_every]
    tag = f"{a.eval_every}x{a.eval_limit}"
    rows = []
    for peft in a.methods.split(","):
        cmd = [sys.executable, __file__, "--worker", "--peft", peft, "--data", str(sft), "--model", a.model,
               "--steps", str(a.steps), "--batch-size", str(a.batch_size), "--model-out", str(work / peft)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append({"method": peft, "error": proc.stderr.strip().splitlines()[-1][:200]})
            print(json.dumps(rows[-1]), flush=True)
            continue
        row = {"method": peft, **json.loads(proc.stdout.strip().splitlines()[-1])}
        row.update(evaluate(str(work / peft), test_tasks, (), 0, a.eval_limit, work / f"eval-{peft}-{tag}"))
        rows.append(row)
        print(json.dumps(row), flush=True)
    for shots in (0, a.shots):
        row = {"method": f"{shots}-shot prompting", "trainable": 0}
        row.update(evaluate(a.model, test_tasks, train_tasks, shots, a.eval_limit, work / f"eval-{shots}shot-{tag}"))
        rows.append(row)
        print(json.dumps(row), flush=True)
    if not torch.cuda.is_available():
        rows.append({"method": "qlora", "error": "needs a CUDA GPU (bitsandbytes 4-bit); not run on this CPU"})

    print(f"\n{a.model}: SFT on {len(train_tasks)} {suite} train rows, {a.steps} steps x batch {a.batch_size}; "
          f"held-out: {min(a.eval_limit, len(test_tasks))} {suite} test tasks (every {a.eval_every}), greedy pass@1")
    print(f"{'method':20} {'trainable':>10} {'% of model':>10} {'peak GB':>8} {'tok/cpu-s':>9} {'pass@1':>7}  note")
    for r in rows:
        pct = f"{100 * r['trainable'] / r['total']:.3f}" if r.get("total") else "-"
        p1 = f"{r['pass@1']:.3f}" if r.get("pass@1") is not None else "-"
        peak = f"{r['peak_gb']:.2f}" if "peak_gb" in r else "-"
        speed = f"{r['tok_s']:.1f}" if "tok_s" in r else "-"
        print(f"{r['method']:20} {r.get('trainable', '-'):>10} {pct:>10} {peak:>8} {speed:>9} {p1:>7}  "
              f"{r.get('error', '')}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"args": vars(a), "suite": suite, "rows": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
