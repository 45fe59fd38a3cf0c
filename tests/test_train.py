"""Training on a tiny random chat model: what changes, the DPO+NLL loss by hand, resume, reruns, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codekiln.cli import main as cli_main
from codekiln.config import TrainConfig
from codekiln.errors import UserError
from train_fixtures import write_data

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codekiln.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_data(tmp_path_factory.mktemp("data"))


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def small(**changes) -> TrainConfig:
    base = dict(max_steps=2, batch_size=2, grad_accum=1, lora_r=4, lora_alpha=8, lora_dropout=0.0, learning_rate=5e-3,
                save_steps=50, gguf_dtype="f32")
    return TrainConfig(**{**base, **changes})


class Snapshot(transformers.TrainerCallback):
    """Copies of the trainable and the frozen parameters at the start and the end of training."""

    def __init__(self) -> None:
        self.begin: dict = {}
        self.end: dict = {}
        self.trainable: set[str] = set()
        self.first_step: int | None = None

    @staticmethod
    def _take(model) -> dict:
        return {name: p.detach().clone() for name, p in model.named_parameters()}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.begin = self._take(model)
        self.trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        self.first_step = state.global_step

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.end = self._take(model)


class StopAt(transformers.TrainerCallback):
    """Simulates a kill right after optimizer step `step`."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize(("method", "peft"), [("sft", "lora"), ("dpo+nll", "lora"), ("sft", "ia3"),
                                              ("dpo", "prompt"), ("sft", "full")])
def test_trainable_parameters_change_and_frozen_ones_do_not(tiny, data, tmp_path, method, peft):
    from codekiln.train.run import train_model

    snap = Snapshot()
    sft, pairs = data
    out = train_model(str(tiny), tmp_path / "out", small(method=method, peft=peft), sft=sft, pairs=pairs,
                      quiet=True, callbacks=[snap])
    trainable = snap.trainable
    frozen = set(snap.begin) - trainable
    assert trainable
    assert all(not torch.equal(snap.begin[n], snap.end[n]) for n in trainable if "lora_A" not in n)
    assert all(torch.equal(snap.begin[n], snap.end[n]) for n in frozen)
    if peft == "full":
        assert not frozen
    else:
        numel = {n: p.numel() for n, p in snap.begin.items()}
        assert sum(numel[n] for n in trainable) < sum(numel.values()) // 4
    info = json.loads((out / "codekiln-model.json").read_text())
    assert info["format"] == "codekiln-model/1" and info["steps"] == 2 and info["method"] == method
    assert (out / "adapter").is_dir()
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2]
    if method != "sft":
        assert {"rewards/margins", "rewards/accuracies"} <= set(log[0])
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["data_hash"] and prov["base_model_hash"] and prov["config"]["peft"] == peft


@pytest.mark.parametrize("method", ["dpo+nll", "sft"])
def test_training_sends_only_answer_tokens_through_the_lm_head(tiny, data, tmp_path, monkeypatch, method):
    """On CPU, TRL's fused LM head would project every position (the prompt's too) and zero them afterwards;
    codekiln's training projects the answer's tokens only (train/answer_head.py). Where TRL projects a position
    without a label its target is token 0 (the clamped -100), the tiny tokenizer's padding token, which no answer
    holds."""
    import trl.trainer.utils as trl_utils

    from codekiln.train.run import train_model

    plain = getattr(trl_utils._use_triton, "__wrapped__", trl_utils._use_triton)
    monkeypatch.setattr(trl_utils, "_use_triton", plain)  # as a fresh process finds it
    targets: list[torch.Tensor] = []
    apply = trl_utils._ChunkedLogProbFunction.apply

    def recording(hidden, weight, bias, target, *args):
        targets.append(target.clone())
        return apply(hidden, weight, bias, target, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", recording)
    sft, pairs = data
    train_model(str(tiny), tmp_path / "out", small(method=method), sft=sft, pairs=pairs, quiet=True)
    assert len(targets) >= 2  # training steps (and the reference pass) went through the fused head
    assert all(len(t) and (t != 0).all() for t in targets), [int((t == 0).sum()) for t in targets]


@pytest.fixture(scope="module")
def varied_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("varied"), varied=True)[1]


def completion_logps(model, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(token | everything before it) of each completion token of one unpadded sequence, in order."""
    logits = model(input_ids=ids[None]).logits[0, :-1].float()
    logps = torch.log_softmax(logits, -1).gather(-1, ids[1:, None]).squeeze(-1)
    return logps[mask[1:].bool()]


@pytest.mark.parametrize("ref", ["live", "precomputed", "cached"])
def test_dpo_nll_loss_equals_hand_computation(tiny, varied_pairs, tmp_path, monkeypatch, ref):
    """The dpo+nll loss TRL computes for codekiln equals the definitions, on chosen answers of different lengths,
    with reference log-probs computed live, precomputed (the default) or read back from codekiln's cache:

        log pi(y|x) = sum over the answer's tokens t of log p(y_t | x, y_<t)
        dpo = mean over pairs of -log sigmoid(beta * ((log pi(yw) - log ref(yw)) - (log pi(yl) - log ref(yl))))
        nll = -(sum over all chosen tokens of the batch of log p) / (number of those tokens)   (per token)
        loss = dpo + nll_alpha * nll
    """
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    from codekiln.train.data import read_pairs, to_dataset
    from codekiln.train.dpo import build_dpo_trainer
    from codekiln.train.peft_setup import peft_config

    beta, alpha = 0.3, 0.7
    cfg = small(method="dpo+nll", beta=beta, nll_alpha=alpha, batch_size=4, precision="fp32",
                precompute_ref=ref != "live")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    rows = read_pairs(varied_pairs)
    cache = tmp_path / "ref.pt"

    def build():
        model = AutoModelForCausalLM.from_pretrained(str(tiny))
        return build_dpo_trainer(model, tokenizer, to_dataset(rows, "pairs"), cfg, tmp_path / "ckpt",
                                 peft_config(cfg), ref_cache=cache)

    trainer = build()
    if ref == "cached":  # a second trainer on the same model and data reads the file the first one wrote
        assert cache.is_file()

        def no_recompute(*args, **kwargs):
            raise AssertionError("reference log-probs were recomputed instead of read from the cache")

        monkeypatch.setattr(DPOTrainer, "compute_ref_log_probs", no_recompute)
        trainer = build()
    policy = trainer.model
    torch.manual_seed(1)
    with torch.no_grad():  # move the policy away from the reference (LoRA B starts at zero)
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    policy.eval()
    batch = next(iter(trainer.get_train_dataloader()))
    assert ("ref_chosen_logps" in batch) == (ref != "live")
    with torch.no_grad():
        got = trainer.compute_loss(policy, batch).item()
        pol, base = [], []
        for ids, attention, mask in zip(batch["input_ids"], batch["attention_mask"], batch["completion_mask"],
                                        strict=True):
            keep = attention.bool()  # each sequence alone, without padding
            pol.append(completion_logps(policy, ids[keep], mask[keep]))
            with policy.disable_adapter():
                base.append(completion_logps(policy, ids[keep], mask[keep]))
    half = len(pol) // 2  # the collated batch is [chosen..., rejected...]
    for ids, mask in zip(batch["input_ids"][:half], batch["completion_mask"][:half], strict=True):
        answer = tokenizer.decode(ids[mask.bool()])  # the tokens scored are the assistant's answer, nothing else
        assert answer.startswith("```python\ndef f") and ("return y + " in answer or "return x + 0" in answer)
        assert "careful programmer" not in answer and "Return x plus" not in answer
    lengths = [len(t) for t in pol[:half]]
    assert len(set(lengths)) == half  # chosen answers of different lengths

    def seq(logps: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([t.sum() for t in logps])

    chosen_ratio = seq(pol[:half]) - seq(base[:half])
    rejected_ratio = seq(pol[half:]) - seq(base[half:])
    dpo = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio)).mean()
    nll_per_token = -torch.cat(pol[:half]).sum() / sum(lengths)
    nll_per_sequence = -torch.stack([t.mean() for t in pol[:half]]).mean()
    expected = (dpo + alpha * nll_per_token).item()
    tolerance = 1e-5 * max(1.0, abs(expected))
    assert abs(got - expected) < tolerance, (got, expected, (dpo + alpha * nll_per_sequence).item())
    # the data can tell the two normalisations apart, and the policy really differs from the reference
    assert alpha * abs(nll_per_token - nll_per_sequence).item() > 20 * tolerance
    assert abs(dpo.item() - 0.6931) > 1e-3


def test_resume_continues_from_the_last_checkpoint(tiny, data, tmp_path, cache, monkeypatch):
    from trl import DPOTrainer

    from codekiln.train.run import train_model

    cfg = small(method="dpo+nll", max_steps=4, save_steps=2)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_model(str(tiny), out, cfg, pairs=data[1], quiet=True, callbacks=[StopAt(3)])
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    assert not (out / "codekiln-model.json").exists()
    assert len(list((cache / "ref_logps").glob("*.pt"))) == 1

    def no_recompute(*args, **kwargs):
        raise AssertionError("reference log-probs were recomputed instead of read from the cache")

    monkeypatch.setattr(DPOTrainer, "compute_ref_log_probs", no_recompute)
    snap = Snapshot()
    train_model(str(tiny), out, cfg, pairs=data[1], quiet=True, callbacks=[snap])
    assert snap.first_step == 2
    info = json.loads((out / "codekiln-model.json").read_text())
    assert info["steps"] == 4
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]
    assert not (out / "checkpoints").exists()


def test_training_in_a_fresh_process_gives_the_same_model_and_the_same_errors(tiny, data, tmp_path):
    """The loop trains in a spawned process of its own (train/launch.py: its peak memory is training's alone): the
    adapter is the one training here gives, and a user mistake comes back as the same one-line UserError."""
    import resource

    from safetensors.torch import load_file

    from codekiln.train.launch import train
    from codekiln.train.run import train_model

    here = train_model(str(tiny), tmp_path / "here", small(method="dpo+nll"), pairs=data[1], quiet=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    child = train(str(tiny), tmp_path / "child", small(method="dpo+nll"), pairs=data[1], quiet=True,
                  fresh_process=True)
    assert child == tmp_path / "child"
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before > 1.0  # the work ran in a child process
    a, b = (load_file(str(d / "adapter" / "adapter_model.safetensors")) for d in (here, child))
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert any(not torch.equal(t, torch.zeros_like(t)) for k, t in a.items() if "lora_B" in k)  # it trained
    with pytest.raises(UserError) as there:
        train(str(tiny), tmp_path / "bad", small(method="dpo+nll", sft_warmup=False), sft=data[0], quiet=True,
              fresh_process=True)
    with pytest.raises(UserError) as local:
        train_model(str(tiny), tmp_path / "bad2", small(method="dpo+nll", sft_warmup=False), sft=data[0], quiet=True)
    assert str(there.value) == str(local.value) and "\n" not in str(there.value)


def test_rerun_after_success_is_a_no_op_and_other_inputs_are_refused(tiny, data, tmp_path):
    from codekiln.train.run import train_model

    out = tmp_path / "out"
    train_model(str(tiny), out, small(method="sft"), sft=data[0], quiet=True)
    snap = Snapshot()
    train_model(str(tiny), out, small(method="sft"), sft=data[0], quiet=True, callbacks=[snap])
    assert snap.first_step is None  # nothing trained
    train_model(str(tiny), out, small(method="sft", threads=2, merge=True), sft=data[0], quiet=True, callbacks=[snap])
    assert snap.first_step is None  # threads do not change the weights; --merge only adds the merged exports
    info = json.loads((out / "codekiln-model.json").read_text())
    assert info["merged_gguf"] == "model.gguf" and (out / "model.gguf").is_file() and (out / "merged").is_dir()
    with pytest.raises(UserError, match="other data, model or settings"):
        train_model(str(tiny), out, small(method="sft", learning_rate=1e-3), sft=data[0], quiet=True)


def test_preference_method_without_pairs_warms_up_on_sft_rows_or_explains(tiny, data, tmp_path):
    from codekiln.train.run import train_model

    out = train_model(str(tiny), tmp_path / "a", small(method="dpo+nll"), sft=data[0], quiet=True)
    assert json.loads((out / "codekiln-model.json").read_text())["method"] == "sft"
    with pytest.raises(UserError, match="needs preference pairs"):
        train_model(str(tiny), tmp_path / "b", small(method="dpo+nll", sft_warmup=False), sft=data[0], quiet=True)


@pytest.mark.parametrize(("argv", "message"), [
    (["--peft", "qlora"], "needs a CUDA GPU"),
    (["--method", "nope"], "train.method='nope' is not a choice"),
    (["--peft", "nope"], "train.peft='nope' is not a choice"),
    (["--model", "missing.gguf"], "does not exist"),
    (["--model", "no-such-model"], "unknown model 'no-such-model'"),
    (["--gguf-dtype", "q3"], "train.gguf_dtype='q3' is not a choice"),
    (["--peft", "prompt", "--merge"], "cannot be merged"),
    (["--batch-size", "x"], None),
])
def test_cli_user_errors_are_one_line_and_exit_2(tiny, data, tmp_path, capsys, argv, message):
    base = ["train", "--model", str(tiny), "--pairs", str(data[1]), "--out", str(tmp_path / "o"), "--quiet"]
    if message is None:
        with pytest.raises(SystemExit) as exc:
            cli_main(base + argv)
        assert exc.value.code == 2
        return
    assert cli_main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_trains_and_prints_the_model_folder(tiny, data, tmp_path, capsys):
    out = tmp_path / "o"
    code = cli_main(["train", "--model", str(tiny), "--sft", str(data[0]), "--out", str(out), "--method", "sft",
                     "--max-steps", "1", "--batch-size", "2", "--lora-r", "2", "--gguf-dtype", "f32", "--quiet"])
    assert code == 0
    assert capsys.readouterr().out.strip() == str(out)
    info = json.loads((out / "codekiln-model.json").read_text())
    assert info["lora_gguf"] == "adapter.gguf" and Path(info["base_gguf"]).is_file()


def test_sft_loss_covers_only_the_assistant_reply(tiny, data, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.train.data import read_sft, to_dataset
    from codekiln.train.sft import build_sft_trainer

    rows = read_sft(data[0])
    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    trainer = build_sft_trainer(model, tokenizer, to_dataset(rows, "rows"), small(method="sft"), tmp_path / "c")
    batch = next(iter(trainer.get_train_dataloader()))
    for ids, labels in zip(batch["input_ids"], batch["labels"], strict=True):
        trained = tokenizer.decode(ids[labels != -100])
        assert trained.startswith("```python\ndef f") and "return x + " in trained
        assert "careful programmer" not in trained and "Return x plus" not in trained
