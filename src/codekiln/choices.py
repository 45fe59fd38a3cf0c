"""The config's closed choices, checked when a config loads, against the registries that use them.

A misspelt choice (`train.peft=lroa`) is one line naming the key, the nearest choice and all of them, before any
slow work, instead of an error minutes into a run at the stage that reads it. The registries stay where they are
used; this module only reads their names (imported here, lazily, so loading a config stays cheap).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codekiln.errors import ConfigError


def _names(module: str, attr: str) -> Callable[[], list[str]]:
    """The names of registry `module.attr` (a dict's keys, sorted, or a tuple as it is), read when first needed."""
    def read() -> list[str]:
        import importlib

        value = getattr(importlib.import_module(module), attr)
        return sorted(value) if isinstance(value, dict) else list(value)

    return read


def _methods() -> list[str]:
    from codekiln.train.dpo import PREFERENCE_METHODS
    from codekiln.train.online import ONLINE_METHODS

    return ["sft", *PREFERENCE_METHODS, *ONLINE_METHODS]


def _backends() -> list[str]:
    return ["auto", *_names("codekiln.sample.base", "BACKENDS")()]


# dotted key -> the names it may take (a list-valued key: each of its items); `OPEN` keys also take an existing file (train.distributed: a YAML file).
CHOICES: dict[str, Callable[[], Sequence[str]]] = {
    "train.method": _methods,
    "train.peft": _names("codekiln.train.peft_setup", "BUILDERS"),
    "train.gguf_dtype": _names("codekiln.train.export", "DTYPES"),
    "train.distributed": _names("codekiln.train.launch", "PRESETS"),
    "sample.backend": _backends,
    "verify.judge.backend": _backends,
    "executor": _names("codekiln.executors", "EXECUTORS"),
    "curate.dedup_scope": _names("codekiln.curate.run", "SCOPES"),
    "curate.pair_builder": _names("codekiln.curate.pairs", "PAIR_BUILDERS"),
    "curate.filters": _names("codekiln.curate.filters", "FILTERS"),
    "curate.keep_statuses": _names("codekiln.records", "STATUSES"),
    "verify.recheck": _names("codekiln.records", "STATUSES"),
}
OPEN = {"train.distributed"}


def _value(section: Any, path: Sequence[str]) -> Any:
    for name in path:
        section = getattr(section, name, None)
        if section is None:
            return None
    return section


def check_choices(section: Any, prefix: str = "") -> None:
    """Raise one ConfigError for the first closed choice of `section` (a RunConfig, or the section at `prefix`,
    e.g. "train.") that names nothing in its registry."""
    for key, names in CHOICES.items():
        if not key.startswith(prefix):
            continue
        found = _value(section, key[len(prefix):].split("."))
        values = found if isinstance(found, list) else [found]
        allowed = list(names())
        bad = [v for v in values if isinstance(v, str) and v not in allowed
               and not (key in OPEN and Path(v).is_file())]
        if not bad:
            continue
        value = bad[0]
        close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        more = " or an existing file" if key in OPEN else ""
        raise ConfigError(f"{key}={value!r} is not a choice{hint}; choose from {allowed}{more}")
