"""GRPO and RLOO through TRL on a tiny random model, rewarded by the real reward function in the real sandbox.

A random model writes noise, which every verifier rejects, and a group whose answers all earn 0 teaches
nothing. So these tests restrict the tiny model's vocabulary while it generates (transformers'
`suppress_tokens`) to digits, a space and the end token, and give it a task whose program is the prompt's
finished function followed by the answer: an answer such as `123` is a valid expression statement (the check
passes), `12 3` or `0123` is a syntax error (0). Some answers of a group pass and some fail, so the advantages
are not all zero. The training, the sandbox and the reward are the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codekiln.config import TrainConfig
from codekiln.errors import ConfigError, UserError
from codekiln.records import Task, write_jsonl
from test_train import StopAt

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")

pytestmark = pytest.mark.slow

TASKS = [Task(task_id=f"inc{i}", kind="python", prompt=f"def inc{i}(x):\n    return x + {i}\n", entry_point=f"inc{i}",
              test=f"def check(candidate):\n    assert candidate(1) == {1 + i}\n", reference="", split="train")
         for i in range(4)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codekiln.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(autouse=True)
def digits_only(tiny: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from codekiln.train import online

    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    keep = {tokenizer.convert_tokens_to_ids(t) for t in [*"0123456789", "Ġ"]} | {tokenizer.eos_token_id}
    suppress = [i for i in range(len(tokenizer)) if i not in keep]
    real = online._config

    def restricted(*args, **kwargs):
        config = real(*args, **kwargs)
        config.generation_kwargs = {"suppress_tokens": suppress}
        return config

    monkeypatch.setattr(online, "_config", restricted)


def small(**changes) -> TrainConfig:
    base = dict(method="grpo", max_steps=3, batch_size=4, grad_accum=1, num_generations=4, lora_r=4, lora_alpha=8,
                lora_dropout=0.0, learning_rate=5e-2, save_steps=50, gguf_dtype="f32", completion_tokens=6,
                generation_temperature=1.5)
    return TrainConfig(**{**base, **changes})


class Snapshot(transformers.TrainerCallback):
    def __init__(self) -> None:
        self.begin: dict = {}
        self.end: dict = {}
        self.first_step: int | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.begin = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        self.first_step = state.global_step

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.end = {n: p.detach().clone() for n, p in model.named_parameters() if n in self.begin}


def log_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_online_training_changes_the_adapter_and_logs_rewards(tiny, tmp_path, method):
    from codekiln.train.run import train_model

    snap = Snapshot()
    out = train_model(str(tiny), tmp_path / "out", small(method=method), tasks=TASKS, quiet=True, callbacks=[snap])
    rows = [r for r in log_rows(out) if "reward" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert any(0.0 < r["reward"] < 1.0 for r in rows), rows  # groups of mixed verdicts: something to learn
    changed = [n for n in snap.begin if not torch.equal(snap.begin[n], snap.end[n])]
    assert changed and all("lora" in n for n in changed)
    info = json.loads((out / "codekiln-model.json").read_text())
    assert info["method"] == method and info["steps"] == 3 and (out / "adapter.gguf").is_file()
    assert json.loads((out / "provenance.json").read_text())["method"] == method


def test_resume_after_a_kill_continues_at_the_saved_step(tiny, tmp_path):
    from codekiln.train.run import train_model

    cfg = small(max_steps=4, save_steps=2)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_model(str(tiny), out, cfg, tasks=TASKS, quiet=True, callbacks=[StopAt(3)])
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    snap = Snapshot()
    train_model(str(tiny), out, cfg, tasks=TASKS, quiet=True, callbacks=[snap])
    assert snap.first_step == 2
    assert json.loads((out / "codekiln-model.json").read_text())["steps"] == 4
    assert [r["step"] for r in log_rows(out) if "reward" in r] == [1, 2, 3, 4]


def test_settings_and_missing_tasks_are_refused_before_loading(tiny, tmp_path):
    from codekiln.train.run import train_model

    with pytest.raises(UserError, match="trains online on tasks"):
        train_model(str(tiny), tmp_path / "a", small())
    with pytest.raises(ConfigError, match="multiple of train.num_generations"):
        train_model(str(tiny), tmp_path / "b", small(batch_size=6), tasks=TASKS)
    with pytest.raises(ConfigError, match="at least 2"):
        train_model(str(tiny), tmp_path / "c", small(num_generations=1, batch_size=1), tasks=TASKS)
    with pytest.raises(ConfigError, match="needs a CUDA GPU and the vllm package"):
        train_model(str(tiny), tmp_path / "d", small(use_vllm=True), tasks=TASKS)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_trains_grpo_on_a_task_file(tiny, tmp_path, capsys):
    from codekiln.cli import main

    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, TASKS)
    code = main(["train", "--method", "grpo", "--model", str(tiny), "--tasks", str(tasks), "--out",
                 str(tmp_path / "out"), "--max-steps", "1", "--batch-size", "4", "--num-generations", "4",
                 "--completion-tokens", "6", "--lora-r", "4", "--gguf-dtype", "f32", "--quiet"])
    assert code == 0
    assert json.loads((tmp_path / "out" / "codekiln-model.json").read_text())["steps"] == 1
    assert json.loads((tmp_path / "out" / "provenance.json").read_text())["data_files"]["tasks"] == str(tasks)
    assert main(["train", "--method", "grpo", "--model", str(tiny), "--out", str(tmp_path / "x")]) == 2
    assert "give them with --tasks" in capsys.readouterr().err
