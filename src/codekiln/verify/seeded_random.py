"""A task's check draws its random inputs from a generator seeded by the task, not from the process's `random`.

Checks like HumanEval/53's (`for _ in range(100): x, y = random.randint(...)`) drew fresh inputs on every
run, from the module-level generator that the verifier's threads share. With a generator of the check's own,
seeded from the task id:
- every sample of a task is tested on the same inputs (verdicts are reproducible and comparable across
  samples, runs and machines);
- the dry run that predicts a check's calls (see `predict.py`) draws exactly what the real check will, so
  those checks get their calls sent ahead instead of paying one round trip per call.

The check's code is given builtins whose `__import__` answers `random` with a module bound to that generator;
every other import is the ordinary one. `random.SystemRandom` stays what it is (checks that ask for the OS's
randomness get it).
"""

from __future__ import annotations

import builtins
import random
import types
import zlib
from typing import Any

_METHODS = [name for name in random.__all__ if callable(getattr(random.Random, name, None))]
_REST = {name: getattr(random, name) for name in random.__all__ if name not in _METHODS}  # classes, constants
_BUILTINS = dict(builtins.__dict__)


def task_seed(task_id: str) -> int:
    """A seed from the task id, the same in every process (not `hash()`, which is salted per process)."""
    return zlib.crc32(task_id.encode("utf-8"))


def seeded_random_module(seed: int) -> types.ModuleType:
    """A stand-in for the `random` module whose functions draw from one generator seeded with `seed`."""
    rng = random.Random(seed)
    module = types.ModuleType("random", "random, drawing from a generator seeded by the task")
    module.__dict__.update(_REST)
    module.__dict__.update({name: getattr(rng, name) for name in _METHODS})
    return module


def seeded_builtins(seed: int) -> dict[str, Any]:
    """Builtins for a check's namespace: `import random` (and `from random import ...`) get a fresh generator
    seeded with `seed`, made on the first such import and shared by the prompt's helpers and the test of one
    check."""
    made: list[types.ModuleType] = []
    real_import = builtins.__import__

    def import_(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if name == "random" and level == 0:
            if not made:
                made.append(seeded_random_module(seed))
            return made[0]
        return real_import(name, globals, locals, fromlist, level)

    return {**_BUILTINS, "__import__": import_}
