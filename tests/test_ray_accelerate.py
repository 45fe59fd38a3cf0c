"""Training across GPUs through accelerate: the shipped FSDP and DeepSpeed configs are valid accelerate configs,
the launch command is one accelerate's own parser reads as intended, and on this GPU-less machine
`train.num_processes > 1` is refused with one line before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.config import TrainConfig
from codekiln.errors import UserError
from codekiln.train.launch import (
    PRESETS,
    accelerate_config,
    check_can_launch,
    gpu_count,
    launch_command,
)


@pytest.mark.parametrize("name, kind", [("fsdp", "FSDP"), ("deepspeed", "DEEPSPEED")])
def test_shipped_configs_load_as_accelerate_configs(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    assert name in PRESETS
    loaded = load_config_from_file(str(accelerate_config(name)))
    assert str(loaded.distributed_type).endswith(kind) and loaded.num_machines == 1 and not loaded.use_cpu


def test_launch_command_is_read_by_accelerate_as_meant(tmp_path):
    from accelerate.commands.launch import launch_command_parser

    spec = tmp_path / "spec.json"
    cmd = launch_command(accelerate_config("fsdp"), 4, spec)
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    args = launch_command_parser().parse_args(cmd[3:])
    assert args.num_processes == 4 and args.module
    assert Path(args.config_file) == accelerate_config("fsdp")
    assert args.training_script == "codekiln.train.launch" and args.training_script_args == [str(spec)]


def test_an_unknown_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="neither fsdp nor deepspeed"):
        accelerate_config(str(tmp_path / "missing.yaml"))
    own = tmp_path / "mine.yaml"
    own.write_text("distributed_type: MULTI_GPU\n")
    assert accelerate_config(str(own)) == own


@pytest.mark.skipif(gpu_count() >= 2, reason="this machine has GPUs to train on")
def test_train_refuses_more_processes_than_gpus(tmp_path):
    from codekiln.train.launch import train

    with pytest.raises(UserError, match=r"num_processes=2 trains on 2 GPUs .* this machine has \d"):
        check_can_launch(TrainConfig(num_processes=2))
    with pytest.raises(UserError, match="this machine has"):
        train("smollm2-135m", tmp_path / "model", TrainConfig(num_processes=2), quiet=True)
    assert not (tmp_path / "model").exists()


def test_online_methods_are_refused_across_processes(tmp_path):
    from codekiln.train.launch import train

    with pytest.raises(UserError, match="train.method=grpo runs in one process"):
        train("smollm2-135m", tmp_path / "model", TrainConfig(method="grpo", num_processes=2), quiet=True)
    assert not (tmp_path / "model").exists()
