"""Closed config choices fail when the config loads (one line, the nearest choice), not minutes into a run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from codekiln.choices import CHOICES, OPEN
from codekiln.config import RunConfig, TrainConfig, load_config, validate_section
from codekiln.errors import ConfigError


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_every_closed_choice_is_checked_at_load_and_its_default_is_a_choice(key):
    load_config(overrides=[f"{key}={_default(key)}"])  # the default itself is accepted
    bad = "[no-such-thing]" if _default(key).startswith("[") else "no-such-thing"  # a list-valued key
    with pytest.raises(ConfigError, match=rf"^{key}='no-such-thing' is not a choice.*choose from"):
        load_config(overrides=[f"{key}={bad}"])


def _default(key: str) -> str:
    value = RunConfig()
    for name in key.split("."):
        value = getattr(value, name)
    return f"[{','.join(value)}]" if isinstance(value, list) else str(value)


def test_a_misspelt_choice_names_the_nearest_one():
    with pytest.raises(ConfigError, match=r"train.peft='lroa' is not a choice \(did you mean 'lora'\?\)"):
        load_config(overrides=["train.peft=lroa"])
    with pytest.raises(ConfigError, match=r"did you mean 'correct-vs-incorrect'"):
        load_config(overrides=["curate.pair_builder=correct-vs-incorect"])
    with pytest.raises(ConfigError, match=r"train.method='dpo\+nl' .*did you mean 'dpo\+nll'"):
        validate_section(TrainConfig(), method="dpo+nl")


def test_an_open_choice_also_takes_an_existing_file(tmp_path):
    assert OPEN == {"train.distributed"}
    accel = tmp_path / "accelerate.yaml"
    accel.write_text("distributed_type: MULTI_CPU\n")
    assert load_config(overrides=[f"train.distributed={accel}"]).train.distributed == str(accel)
    with pytest.raises(ConfigError, match="or an existing file"):
        load_config(overrides=[f"train.distributed={tmp_path / 'missing.yaml'}"])


def test_the_cli_stops_at_once_with_one_line_and_exit_code_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "codekiln.cli", "run", "--preset", "quick", "train.peft=lroa",
                           f"runs_dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "did you mean 'lora'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not list(tmp_path.iterdir())  # no run folder begun


def test_help_shows_the_defaults_the_commands_use_and_the_dotted_keys():
    from codekiln.config import RUN_DEFAULTS, CurateConfig, SampleConfig, command_defaults

    assert command_defaults(TrainConfig) == RunConfig().train and command_defaults(SampleConfig) == RunConfig().sample
    assert command_defaults(CurateConfig) == RunConfig().curate
    for command, key in (("sample", "sample.n"), ("sample", "sample.temperature"), ("train", "train.max_steps"),
                         ("train", "train.learning_rate")):
        section, name = key.split(".")
        done = subprocess.run([sys.executable, "-m", "codekiln.cli", command, "--help"], capture_output=True,
                              text=True, timeout=120, env={"COLUMNS": "500", "PATH": ""})
        text = " ".join(done.stdout.split())
        assert f"(default: {RUN_DEFAULTS[section][name]!r}; config key {key})" in text, (command, key)


def test_a_tracker_is_checked_before_any_slow_work(tmp_path):
    import importlib.util

    from codekiln.errors import UserError
    from codekiln.tracking import check_trackers

    with pytest.raises(ConfigError, match="report_to"):
        load_config(overrides=["train.report_to=[tensorbord]"])
    missing = next(n for n in ("wandb", "mlflow", "trackio") if importlib.util.find_spec(n) is None)
    with pytest.raises(UserError, match=f"train.report_to={missing} needs the {missing} package: pip install"):
        check_trackers([missing])
    check_trackers(["tensorboard"])  # installed by setup (the track extra)
