"""Shared helpers of the training tests: a tiny chat model and a small conversational data set."""

from __future__ import annotations

import json
from pathlib import Path

from codekiln.records import Task
from codekiln.sample.prompts import build_messages, render_reply


def python_task(i: int) -> Task:
    return Task(task_id=f"t{i}", kind="python", prompt=f'def f{i}(x):\n    """Return x plus {i}."""\n',
                entry_point=f"f{i}", test="def check(candidate):\n    pass\n", split="train")


def write_data(folder: Path, n: int = 8, varied: bool = False) -> tuple[Path, Path]:
    """SFT rows and pairs (chosen: x + i, rejected: x - i) in the conversational format of docs/stages.md.

    `varied`: the chosen answer of pair i carries i extra lines, so no two chosen answers have the same
    length (per-token and per-sequence averages of a loss then differ).
    """
    folder.mkdir(parents=True, exist_ok=True)
    sft, pairs = [], []
    for i in range(n):
        task = python_task(i)
        body = "    y = x\n" * i + f"    return y + {i}\n" if varied and i else f"    return x + {i}\n"
        good = {"role": "assistant", "content": render_reply(task, f"def f{i}(x):\n{body}")}
        bad = {"role": "assistant", "content": render_reply(task, f"def f{i}(x):\n    return x - {i}\n")}
        prompt = build_messages(task)
        sft.append({"prompt": prompt, "completion": [good]})
        pairs.append({"prompt": prompt, "chosen": [good], "rejected": [bad], "margin": 1.0, "source": "test"})
    sft_path, pairs_path = folder / "sft.jsonl", folder / "pairs.jsonl"
    sft_path.write_text("".join(json.dumps(r) + "\n" for r in sft), encoding="utf-8")
    pairs_path.write_text("".join(json.dumps(r) + "\n" for r in pairs), encoding="utf-8")
    return sft_path, pairs_path
