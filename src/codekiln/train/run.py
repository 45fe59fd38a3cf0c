"""The training stage, top to bottom: resolve the start, read the data, train with TRL, write the model folder.

The model folder (docs/stages.md "Train") is finished when `codekiln-model.json` exists; it is written
last. Until then `checkpoints/` holds the resume points: a rerun with the same inputs continues from
the last one; a rerun after success returns at once; a rerun with other inputs is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig, VerifyConfig
from codekiln.errors import ConfigError, UserError
from codekiln.records import Task, to_dict, write_json
from codekiln.tracking import check_trackers
from codekiln.train import data as D
from codekiln.train.answer_head import score_answer_tokens_only
from codekiln.train.args import use_bf16
from codekiln.train.dpo import PREFERENCE_METHODS, build_dpo_trainer, loss_setup
from codekiln.train.export import DTYPES
from codekiln.train.load import MODEL_FORMAT, MODEL_JSON, StartModel, cache_root, merge_adapter, resolve_start
from codekiln.train.online import ONLINE_METHODS, build_online_trainer, check_online, task_rows
from codekiln.train.peft_setup import count_parameters, peft_config, quantization_kwargs
from codekiln.train.sft import build_sft_trainer

# Settings that do not change the trained weights: a resumed or repeated run may change them.
RUN_ONLY_FIELDS = {"threads", "save_steps", "num_processes", "distributed", "merge", "gguf_dtype", "report_to",
                   "gradient_checkpointing"}
# Settings only online RL reads: left out of an offline method's identity (older model folders keep their key).
ONLINE_FIELDS = {"num_generations", "completion_tokens", "generation_temperature", "kl_beta", "partial_credit",
                 "use_vllm"}


def _plan(cfg: TrainConfig, sft: Path | None, pairs: Path | None,
          tasks: list[Task] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The effective method and its rows: preference methods train on pairs; sft on SFT rows; online RL
    (grpo, rloo) on the tasks themselves (their records are the rows that identify the data)."""
    for path in (sft, pairs):
        if path is not None and not Path(path).is_file():
            raise UserError(f"training data file {path} does not exist")
    if cfg.method in ONLINE_METHODS:
        if not tasks:
            raise UserError(f"method {cfg.method} trains online on tasks: give them with --tasks (a suite or a "
                            "task file)")
        check_online(cfg)
        return cfg.method, [to_dict(t) for t in tasks]
    if cfg.method == "sft":
        if sft is not None:
            return "sft", D.read_sft(Path(sft))
        if pairs is not None:
            return "sft", D.pairs_as_sft(D.read_pairs(Path(pairs)))
        raise UserError("method sft needs --sft SFT.jsonl (or --pairs, whose chosen answers are used)")
    loss_setup(cfg)  # validates the method name
    rows = D.read_pairs(Path(pairs)) if pairs is not None else []
    if rows:
        return cfg.method, rows
    if sft is not None and cfg.sft_warmup:
        return "sft", D.read_sft(Path(sft))
    raise UserError(f"method {cfg.method} needs preference pairs (--pairs PAIRS.jsonl) and none were given"
                    + ("" if sft is None else "; set train.sft_warmup=true to train on the SFT rows instead"))


def _versions() -> dict[str, str]:
    out = {}
    for name in ("codekiln", "torch", "transformers", "trl", "peft"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def _provenance(model: str, start: StartModel, method: str, rows: list[dict[str, Any]], cfg: TrainConfig) -> dict:
    exclude = RUN_ONLY_FIELDS | (set() if method in ONLINE_METHODS else ONLINE_FIELDS)
    identity = {"base_model_hash": start.model_hash, "data_hash": D.rows_hash(rows), "method": method,
                "config": cfg.model_dump(mode="json", exclude=exclude)}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return {"run_key": key, "model": model, "base_hf": str(start.hf_dir), "rows": len(rows), **identity,
            "versions": _versions()}


def _check_out_dir(out_dir: Path, prov: dict) -> bool:
    """True when out_dir already holds this exact model; raise if it holds another run's work."""
    old_path = out_dir / "provenance.json"
    if not old_path.exists():
        if (out_dir / MODEL_JSON).exists() or (out_dir / "checkpoints").exists():
            raise UserError(f"{out_dir} holds a model without provenance.json; choose another --out")
        return False
    old = json.loads(old_path.read_text(encoding="utf-8"))
    if old.get("run_key") != prov["run_key"]:
        raise UserError(f"{out_dir} holds a model trained from other data, model or settings; "
                        "choose another --out or delete that folder")
    return (out_dir / MODEL_JSON).exists()


def _base_gguf(start: StartModel, dtype: str) -> Path:
    """The start model as GGUF (for llama.cpp to apply the LoRA adapter on): the given file, else written once."""
    if start.gguf is not None:
        return start.gguf
    from codekiln.train.export import write_gguf

    out = cache_root() / "models" / f"hf-{start.model_hash[:20]}" / f"model-{dtype}.gguf"
    if not out.exists():
        write_gguf(start.hf_dir, out, dtype, tokenizer_gguf=start.tokenizer_gguf)
    return out


def _load(start: StartModel, cfg: TrainConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(start.hf_dir))
    if not tokenizer.chat_template:
        raise UserError(f"{start.spec}: the tokenizer has no chat template; codekiln trains on chat prompts")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(start.hf_dir), dtype=torch.float32,
                                                 **quantization_kwargs(cfg))
    return model, tokenizer


def _export(out_dir: Path, start: StartModel, cfg: TrainConfig) -> dict[str, str | None]:
    """Write the llama.cpp files: the LoRA adapter as GGUF; with --merge (or IA3/full) a merged folder and GGUF."""
    from codekiln.train.export import write_gguf, write_lora_gguf

    adapter = out_dir / "adapter"
    files: dict[str, str | None] = {"base_gguf": None, "lora_gguf": None, "merged_gguf": None}
    if cfg.peft in {"lora", "qlora"}:
        files["base_gguf"] = str(_base_gguf(start, cfg.gguf_dtype).resolve())
        write_lora_gguf(adapter, start.hf_dir, out_dir / "adapter.gguf")
        files["lora_gguf"] = "adapter.gguf"
    elif start.gguf is not None:
        files["base_gguf"] = str(start.gguf.resolve())
    if cfg.merge or cfg.peft in {"ia3", "full"}:
        merged = adapter if cfg.peft == "full" else out_dir / "merged"
        if cfg.peft != "full":
            merge_adapter(start.hf_dir, adapter, merged)
        write_gguf(merged, out_dir / "model.gguf", cfg.gguf_dtype, tokenizer_gguf=start.tokenizer_gguf)
        files["merged_gguf"] = "model.gguf"
    return files


def _complete_exports(out_dir: Path, start: StartModel, cfg: TrainConfig) -> Path:
    """A finished model folder asked for again (with --merge: add the merged folder and GGUF it lacks)."""
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)  # a kill after the model was written, before this
    info = json.loads((out_dir / MODEL_JSON).read_text(encoding="utf-8"))
    if cfg.merge and not info.get("merged_gguf"):
        info.update({k: v for k, v in _export(out_dir, start, cfg).items() if v is not None})
        write_json(out_dir / MODEL_JSON, info)
    return out_dir


def _sort_adapter_config(adapter: Path, model: Any) -> None:
    """Write the adapter config's set-valued fields (target_modules, ...) sorted: PEFT writes them in set order,
    which changes from process to process (string hashing is salted), so the same training gave other bytes."""
    path = adapter / "adapter_config.json"
    configs = getattr(model, "peft_config", None)
    if not configs or not path.exists():
        return
    fields = {key for config in configs.values() for key, value in vars(config).items() if isinstance(value, set)}
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in fields:
        if isinstance(data.get(key), list):
            data[key] = sorted(data[key], key=str)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def tracker_callbacks(cfg: TrainConfig, out_dir: Path) -> list[Any]:
    """TensorBoard's callback writing to `out_dir/tensorboard` (TRL's default place, under the checkpoints, is
    deleted when training ends); the other trackers go through `report_to` (see `args.common_args`)."""
    if "tensorboard" not in cfg.report_to:
        return []
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    return [TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(out_dir / "tensorboard")))]


def _quiet_libraries() -> None:
    """Silence the libraries' own tqdm bars and info logs: codekiln shows one rich bar and writes a JSONL log."""
    import warnings

    import datasets
    import transformers

    warnings.filterwarnings("ignore", message=r".*(gradient_checkpointing|mtime).*")
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def train_model(model: str, out_dir: Path, cfg: TrainConfig, sft: Path | None = None, pairs: Path | None = None,
                quiet: bool = False, callbacks: list[Any] | None = None, tasks: str | Path | list[Task] | None = None,
                verify: VerifyConfig | None = None) -> Path:
    """Train from `model` on SFT rows and/or pairs per `cfg`; write and return the model folder `out_dir`.

    Online methods (grpo, rloo) train on `tasks` (a suite name, a task file or Task records) instead, rewarded
    by their verifier under `verify` (default: `reward_function`'s, each answer run once; the loop passes its own
    verify section). `callbacks` are extra
    `transformers.TrainerCallback`s (benchmarks and tests observe the run with them).
    """
    import torch
    from transformers.trainer_callback import PrinterCallback

    from codekiln.train.callbacks import (
        CheckpointDone,
        JsonlLog,
        ReturnFreedMemory,
        RichProgress,
        last_complete_checkpoint,
        resume_token_count,
        truncate_log,
    )

    out_dir = Path(out_dir)
    torch.set_num_threads(cfg.threads)
    _quiet_libraries()
    score_answer_tokens_only()  # TRL's CPU default projects the prompt's positions too (train/answer_head.py)
    peft_cfg = peft_config(cfg)  # validates the name (and refuses QLoRA without a GPU) before any slow work
    check_trackers(cfg.report_to)
    if cfg.merge and cfg.peft == "prompt":
        raise UserError("prompt tuning learns virtual tokens, which cannot be merged into the weights; drop --merge")
    if cfg.gguf_dtype not in DTYPES:
        raise ConfigError(f"unknown train.gguf_dtype {cfg.gguf_dtype!r}; choose from {list(DTYPES)}")
    task_list = None
    if tasks is not None and cfg.method in ONLINE_METHODS:
        from codekiln.rewards.function import resolve_tasks

        task_list = resolve_tasks(tasks)
    method, rows = _plan(cfg, sft, pairs, task_list)
    if cfg.max_length is None:  # by the task kinds of the data (html pages need room)
        from codekiln.sample.budget import train_length

        cfg = cfg.model_copy(update={"max_length": train_length(D.task_kinds(sft, pairs))})
    start = resolve_start(model)
    prov = _provenance(model, start, method, rows, cfg)
    prov["data_files"] = {"sft": str(Path(sft).resolve()) if sft else None,
                          "pairs": str(Path(pairs).resolve()) if pairs else None}
    if isinstance(tasks, (str, Path)) and method in ONLINE_METHODS:  # a task file, or a suite name as given
        prov["data_files"]["tasks"] = str(Path(tasks).resolve()) if Path(tasks).exists() else str(tasks)
    if _check_out_dir(out_dir, prov):
        return _complete_exports(out_dir, start, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "provenance.json", prov)

    policy, tokenizer = _load(start, cfg)
    checkpoints = out_dir / "checkpoints"
    progress = RichProgress(f"train {method}", quiet)
    hooks = [JsonlLog(out_dir / "train_log.jsonl"), progress, CheckpointDone(), ReturnFreedMemory(),
             *tracker_callbacks(cfg, out_dir),
             *(callbacks or [])]
    if method in ONLINE_METHODS:
        assert task_list is not None
        dataset = D.to_dataset(task_rows(task_list, tokenizer), "tasks")
        trainer = build_online_trainer(method, policy, tokenizer, dataset, cfg, checkpoints, peft_cfg, hooks,
                                       task_list, verify)
    elif method == "sft":
        dataset = D.to_dataset(rows, "SFT rows")
        trainer = build_sft_trainer(policy, tokenizer, dataset, cfg, checkpoints, peft_cfg, hooks)
    else:
        dataset = D.to_dataset(rows, "preference pairs")
        precision = "bf16" if use_bf16(cfg) else "fp32"  # the reference pass runs under the same autocast
        ref_key = hashlib.sha256(f"{start.model_hash}|{prov['data_hash']}|{cfg.max_length}|{cfg.peft}|{precision}"
                                 .encode())
        ref_cache = cache_root() / "ref_logps" / f"{ref_key.hexdigest()[:24]}.pt"
        # Precomputing costs one forward pass over every pair; it saves work only when training sees every
        # pair at least once (or when the cache already holds them).
        seen = cfg.max_steps * cfg.batch_size * cfg.grad_accum if cfg.max_steps > 0 else cfg.epochs * len(rows)
        precompute = cfg.precompute_ref and (ref_cache.exists() or seen >= len(rows))
        trainer = build_dpo_trainer(policy, tokenizer, dataset, cfg.model_copy(update={"precompute_ref": precompute}),
                                    checkpoints, peft_cfg, hooks, ref_cache)

    trainer.remove_callback(PrinterCallback)  # the JSONL log and the rich bar replace its printed dicts
    last = last_complete_checkpoint(checkpoints)
    truncate_log(out_dir / "train_log.jsonl", int(last.name.rsplit("-", 1)[-1]) if last else 0)
    if last is not None:
        resume_token_count(trainer, out_dir / "train_log.jsonl")
    quiet_tqdm = {"TQDM_DISABLE": "1"} if quiet else {}  # TRL's reference-log-prob pass uses plain tqdm
    saved_env = {key: os.environ.get(key) for key in quiet_tqdm}
    os.environ.update(quiet_tqdm)
    try:
        trainer.train(resume_from_checkpoint=str(last) if last else None)
    finally:
        progress.close()
        reward = getattr(trainer, "codekiln_reward", None)
        if reward is not None:
            reward.close()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    trainer.save_model(str(out_dir / "adapter"))
    _sort_adapter_config(out_dir / "adapter", trainer.model)
    tokenizer.save_pretrained(str(out_dir / "adapter"))
    trainable, total = count_parameters(trainer.model)

    files = _export(out_dir, start, cfg)
    info = {"format": MODEL_FORMAT, "base_hf": str(start.hf_dir.resolve()), "adapter_hf": "adapter", **files,
            "parent": model, "method": method, "peft": cfg.peft,
            "trainable_params": trainable, "total_params": total, "steps": trainer.state.global_step}
    write_json(out_dir / MODEL_JSON, info)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return out_dir


__all__ = ["train_model", "PREFERENCE_METHODS"]
