import pytest

from codekiln.config import RunConfig, load_config, preset_names
from codekiln.errors import ConfigError


def test_default_config_is_valid():
    cfg = load_config()
    assert cfg == RunConfig()
    assert cfg.sample.model == "smollm2-135m"


def test_overrides_are_typed():
    cfg = load_config(overrides=["train.max_steps=7", "eval.k=[1,10]", "sample.temperature=0.5", "name=x"])
    assert cfg.train.max_steps == 7 and cfg.eval.k == [1, 10] and cfg.sample.temperature == 0.5 and cfg.name == "x"


def test_unknown_key_suggests_nearest():
    with pytest.raises(ConfigError, match="unknown config key 'train.max_step'; did you mean 'train.max_steps'"):
        load_config(overrides=["train.max_step=3"])


def test_unknown_top_level_key_suggests_nested_key():
    with pytest.raises(ConfigError, match="did you mean 'sample.temperature' or 'eval.temperature'"):
        load_config(overrides=["temperature=0.2"])


def test_bad_value_names_key_and_value():
    with pytest.raises(ConfigError, match=r"rounds: .*integer.*'abc'"):
        load_config(overrides=["rounds=abc"])


def test_yaml_file_and_override_precedence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("rounds: 5\nsample:\n  n: 3\n")
    cfg = load_config(path, overrides=["rounds=2"])
    assert cfg.rounds == 2 and cfg.sample.n == 3


def test_unknown_key_in_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sample:\n  nn: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown config key 'sample.nn'"):
        load_config(path)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="no such config file"):
        load_config("/nonexistent/c.yaml")


@pytest.mark.parametrize("preset", preset_names())
def test_every_shipped_preset_is_valid(preset):
    assert isinstance(load_config(preset=preset), RunConfig)


def test_unknown_preset_lists_choices():
    with pytest.raises(ConfigError, match="unknown preset 'fast'; choose from"):
        load_config(preset="fast")


def test_every_field_has_a_docstring():
    from pydantic import BaseModel

    def walk(model):
        for name, info in model.model_fields.items():
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                yield from walk(ann)
            else:
                yield model.__name__, name, info.description

    missing = [(m, n) for m, n, d in walk(RunConfig) if not d]
    assert not missing
