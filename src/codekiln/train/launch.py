"""`train`: where the train stage runs. In this process (`train.run.train_model`), or with train.num_processes > 1
across GPUs: relaunched under `accelerate launch` with a shipped FSDP or DeepSpeed config (or the user's), one
process per GPU.

The parent writes the stage's arguments to a small JSON file and runs
`python -m accelerate.commands.launch --config_file C --num_processes N -m codekiln.train.launch SPEC`; every rank
reads them back and calls `train_model`, which knows nothing of relaunching. On a machine with fewer GPUs than
processes it refuses before anything starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from codekiln.config import TrainConfig, VerifyConfig
from codekiln.errors import UserError, WorkerCrashed, exit_text, portable
from codekiln.records import Task

PRESETS = ("fsdp", "deepspeed")


def accelerate_config(name: str) -> Path:
    """The accelerate config file for train.distributed: a shipped preset by name, or a YAML path."""
    if name in PRESETS:
        return Path(str(resources.files("codekiln") / "presets" / "accelerate" / f"{name}.yaml"))
    path = Path(name).expanduser()
    if not path.is_file():
        raise UserError(f"train.distributed={name!r} is neither {' nor '.join(PRESETS)} nor an accelerate config file")
    return path


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def check_can_launch(cfg: TrainConfig) -> Path:
    """The config file to launch with, after refusing (one line) what cannot work on this machine."""
    config = accelerate_config(cfg.distributed)
    gpus = gpu_count()
    if gpus < cfg.num_processes:
        raise UserError(f"train.num_processes={cfg.num_processes} trains on {cfg.num_processes} GPUs through "
                        f"accelerate, but this machine has {gpus}; set train.num_processes=1 to train here")
    distributed = config.read_text(encoding="utf-8")
    if "distributed_type: DEEPSPEED" in distributed:
        try:
            import deepspeed  # noqa: F401
        except ImportError:
            raise UserError("train.distributed=deepspeed needs DeepSpeed: pip install deepspeed") from None
    return config


def launch_command(config: Path, num_processes: int, spec: Path) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
            "--num_processes", str(num_processes), "-m", "codekiln.train.launch", str(spec)]


def train(model: str, out_dir: Path, cfg: TrainConfig, sft: Path | None = None, pairs: Path | None = None,
          quiet: bool = False, tasks: str | Path | list[Task] | None = None, verify: VerifyConfig | None = None,
          callbacks: list[Any] | None = None, fresh_process: bool = False) -> Path:
    """The train stage (`train.run.train_model`'s arguments): here, in a fresh process of its own
    (`fresh_process`, see `train_in_child`), or on `cfg.num_processes` GPUs."""
    from codekiln.train.online import ONLINE_METHODS

    if cfg.num_processes <= 1:
        if fresh_process:
            if callbacks:
                raise ValueError("callbacks cannot reach a training process of its own; pass fresh_process=False")
            return train_in_child(model, out_dir, cfg, sft, pairs, quiet, tasks, verify)
        from codekiln.train.run import train_model

        return train_model(model, out_dir, cfg, sft=sft, pairs=pairs, quiet=quiet, callbacks=callbacks,
                           tasks=tasks, verify=verify)
    if cfg.method in ONLINE_METHODS:
        raise UserError(f"train.method={cfg.method} runs in one process; set train.num_processes=1 (on a GPU, "
                        "train.use_vllm=true generates with vLLM in that process)")
    return launch(model, out_dir, cfg, sft, pairs, quiet)


def train_in_child(model: str, out_dir: Path, cfg: TrainConfig, sft: Path | None, pairs: Path | None, quiet: bool,
                   tasks: str | Path | list[Task] | None, verify: VerifyConfig | None) -> Path:
    """`train_model` in a spawned process; its error (a UserError stays one) is raised here.

    A fresh process holds only what training needs and returns it all when it ends, so the loop's own process stays
    small (~0.11 GiB in the default run's stage records, whose `peak_gib` also shows the training process holding the
    run's peak); a training process that dies (a signal, the OOM killer) is one line, and the rerun resumes from the
    last checkpoint."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_train_child, name="codekiln-train",
                            args=(send, model, out_dir, cfg, sft, pairs, quiet, tasks, verify))
    child.start()
    send.close()
    try:
        try:
            kind, *payload = receive.recv()
        except EOFError:  # it died without a word
            child.join()
            raise WorkerCrashed(f"train stopped: the training process {exit_text(child.exitcode)}; the checkpoints "
                                f"finished before are kept in {out_dir}; rerun the same command to resume (if it "
                                "happens again, look in `dmesg` for the OOM killer)") from None
        if kind == "error":
            err, text = payload
            if not isinstance(err, UserError):
                err.add_note(f"raised in the training process:\n{text}")
            raise err
        return Path(payload[0])
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
            child.join()
        receive.close()


def _train_child(send: Any, model: str, out_dir: Path, cfg: TrainConfig, sft: Path | None, pairs: Path | None,
                 quiet: bool, tasks: str | Path | list[Task] | None, verify: VerifyConfig | None) -> None:
    from codekiln.train.run import train_model

    try:
        path = train_model(model, out_dir, cfg, sft=sft, pairs=pairs, quiet=quiet, tasks=tasks, verify=verify)
        send.send(("done", str(path)))
    except BaseException as err:  # noqa: BLE001 - handed to the parent, which raises it
        send.send(("error", *portable(err)))
    finally:
        send.close()


def launch(model: str, out_dir: Path, cfg: TrainConfig, sft: Path | None, pairs: Path | None,
           quiet: bool) -> Path:
    """Train on `cfg.num_processes` GPUs; the model folder `out_dir` when every rank has finished."""
    config = check_can_launch(cfg)
    spec = {"model": model, "out_dir": str(out_dir), "cfg": cfg.model_dump(mode="json"),
            "sft": str(sft) if sft else None, "pairs": str(pairs) if pairs else None, "quiet": quiet}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="codekiln-train-", delete=False) as fh:
        json.dump(spec, fh)
    try:
        code = subprocess.run(launch_command(config, cfg.num_processes, Path(fh.name)), check=False).returncode
    finally:
        Path(fh.name).unlink(missing_ok=True)
    if code != 0:
        raise UserError(f"distributed training exited with code {code} (its output is above); a rerun resumes "
                        "from the last checkpoint")
    return out_dir


def main(argv: list[str]) -> int:
    """One rank: the stage's arguments from the spec file, then the ordinary train stage."""
    from codekiln.train.run import train_model

    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    train_model(spec["model"], Path(spec["out_dir"]), TrainConfig(**spec["cfg"]),
                sft=Path(spec["sft"]) if spec["sft"] else None, pairs=Path(spec["pairs"]) if spec["pairs"] else None,
                quiet=spec["quiet"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
