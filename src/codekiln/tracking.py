"""Experiment tracking: the loop's per-round figures and the trainers' steps, in the trackers users already run.

`train.report_to` names them (tensorboard, wandb, mlflow, trackio; TRL's own names). The trainers log their steps
(loss, rewards, learning rate) through TRL; TensorBoard's event files go to the model folder's `tensorboard/` (TRL's
default, under the checkpoints, is deleted when training ends). The loop logs one step per round under one run named
like the run folder, with the resolved config: validation and test pass@1 with their 95% intervals, the funnel
(samples, passed, SFT rows, pairs), the last training loss or mean reward, and each stage's seconds. A round is
logged once: `RUN/tracking.json` remembers what was sent, so a resumed run does not log it twice. Offline trackers
work offline (TensorBoard files; W&B with `WANDB_MODE=offline`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.errors import UserError
from codekiln.rundir import StageRecord

TRACKERS = ("tensorboard", "wandb", "mlflow", "trackio")
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}


def check_trackers(names: Sequence[str]) -> None:
    """One line for an unknown tracker or one whose package is not installed (before any slow work)."""
    import importlib.util

    for name in names:
        if name not in TRACKERS:
            raise UserError(f"train.report_to names {name!r}; choose from {list(TRACKERS)}")
        if importlib.util.find_spec(PACKAGES[name]) is None:
            raise UserError(f"train.report_to={name} needs the {PACKAGES[name]} package: pip install "
                            f"{PACKAGES[name]}")


def round_scalars(stats: Any, stages: Sequence[StageRecord]) -> dict[str, float]:
    """The figures of one round (a `codekiln.report.stats.RoundStats`), its stages' seconds and the peak
    memory so far, as flat scalar names."""
    out: dict[str, float] = {}
    for split, passk in (("val", stats.val_pass1()), ("test", stats.test_pass1())):
        if passk is not None:
            out.update({f"{split}/pass@1": passk.value, f"{split}/pass@1_low": passk.low,
                        f"{split}/pass@1_high": passk.high})
    if stats.val is not None and stats.val.score is not None:
        out["val/score"] = stats.val.score.value
    if stats.samples:
        out.update({"round/samples": stats.samples, "round/passed": stats.passed,
                    "round/train_pass_rate": stats.passed / stats.samples})
    if stats.round > 0 and not stats.online:
        out.update({"round/sft_rows": stats.sft_rows, "round/pairs": stats.pairs})
    if stats.loss is not None:
        out["round/train_loss"] = stats.loss
    if stats.mean_reward is not None:
        out["round/mean_reward"] = stats.mean_reward
    for record in stages:
        out[f"seconds/{record.stage}"] = record.seconds
        out.update({f"peak_gib/{who}": gib for who, gib in record.peak_gib.items()})  # running maxima
    return {k: float(v) for k, v in out.items()}


class Tracker:
    """The loop's trackers for one run; `log_round` sends a round once (see the module docstring)."""

    def __init__(self, names: Sequence[str], root: Path, name: str, config: dict[str, Any]) -> None:
        check_trackers(names)
        self.names, self.root, self.name, self.config = list(names), root, name, config
        self.sent_path = root / "tracking.json"
        self.sent: list[int] = json.loads(self.sent_path.read_text()) if self.sent_path.is_file() else []
        self._handles: dict[str, Any] = {}

    def _open(self, name: str) -> Any:
        if name in self._handles:
            return self._handles[name]
        if name == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            handle: Any = SummaryWriter(log_dir=str(self.root / "tensorboard" / "loop"))
            handle.add_text("config", "```yaml\n" + json.dumps(self.config, indent=1) + "\n```")
        elif name == "wandb":
            import wandb

            handle = wandb.init(project="codekiln", name=self.name, id=self.name, resume="allow", config=self.config)
        elif name == "mlflow":
            import mlflow

            handle = mlflow.start_run(run_name=self.name)
            mlflow.log_params({k: str(v) for k, v in _flat(self.config).items()})
        else:
            import trackio

            handle = trackio.init(project="codekiln", name=self.name, config=self.config, resume="allow")
        self._handles[name] = handle
        return handle

    def log_round(self, r: int, scalars: dict[str, float]) -> bool:
        """Send round `r`'s scalars to every tracker (step = round), unless they were sent before."""
        if not self.names or r in self.sent:
            return False
        for name in self.names:
            handle = self._open(name)
            if name == "tensorboard":
                for key, value in scalars.items():
                    handle.add_scalar(key, value, global_step=r)
                handle.flush()
            elif name == "mlflow":
                import mlflow

                mlflow.log_metrics({k.replace("@", "_at_"): v for k, v in scalars.items()}, step=r)
            else:
                handle.log(scalars, step=r)
        self.sent.append(r)
        self.sent_path.write_text(json.dumps(sorted(self.sent)))
        return True

    def close(self) -> None:
        for name, handle in self._handles.items():
            if name == "tensorboard":
                handle.close()
            elif name == "mlflow":
                import mlflow

                mlflow.end_run()
            else:
                handle.finish()
        self._handles.clear()


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
