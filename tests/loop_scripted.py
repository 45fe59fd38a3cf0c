"""A deterministic scripted sampler behind the real `Sampler` protocol, for the end-to-end loop test only.

It stands in for the model's *generation* and nothing else: prompts are built, code is extracted, programs are
verified in the real sandbox, curated by the real default curation and trained on with real TRL by the product.
Each reply is looked up by (round, task, sample index), recovered from the request's seed (seeds are a pure function
of them, codekiln.sample.seeds); evaluation samples (round 0) are looked up by the model's generation instead: 0 for
the base model, R for the model trained in round R, so pass@1 moves from round to round on the test split (PASS1), the
validation split (VAL_PASS1: it picks round 2 where test would pick round 1, and it falls from the base to round 1
while the train pass rate rises: an over-fitting alarm) and the extra set (EXTRA_PASS1).

The replies mix passing, failing, erroring, empty, over-long, duplicate, already-trained-on and contaminated
programs so every filter, the de-duplication levels, decontamination and the pair builder have work; the counts they
must produce are in tests/test_loop_run.py (EXPECTED_FUNNEL).

Registered only by tests/loop_launcher.py, never by the product.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codekiln.config import SampleConfig
from codekiln.sample.base import Generation, GenParams, Request
from codekiln.sample.models import ModelRef
from codekiln.sample.seeds import sample_seed

NAME = "scripted"
TASK_IDS = {"add": "tiny/add", "double": "tiny/double", "first": "tiny/first", "neg": "tiny/neg", "last": "tiny/last",
            "inc": "tiny/inc", "sq": "tiny/sq", "maxi": "extra/maxi", "mini": "extra/mini"}
LAST = '''def last(xs):
    """Return the last item of xs, or None when it is empty."""
    return xs[-1] if xs else None
'''

# Train sampling: TRAIN[round][entry point][sample index].
TRAIN: dict[int, dict[str, list[str]]] = {
    1: {
        "add": [
            "def add(a, b):\n    return a + b\n",  # passes
            "def add(a, b):\n    # the sum\n    return a + b\n",  # the same after comment normalisation
            "def add(a, b):\n    return a - b\n",  # wrong answer
            "def add(a, b):\n    return a +\n",  # syntax error
        ],
        "double": [
            "def double(x):\n    return x * 2\n",  # passes
            "def double(x):\n    return x + x\n",  # passes, a different program
            "",  # an empty reply
            LAST + "\n\ndef double(x):\n    return 2 * x\n",  # passes, but carries a held-out task's solution
        ],
        "first": [
            "def first(xs):\n    return xs[0]\n",  # IndexError on []
            "def first(xs):\n    return xs[0]\n",  # an exact duplicate of a failing program
            "def first(xs):\n" + "    # padding\n" * 400 + "    return xs[0] if xs else None\n",  # too long
            "def first(xs):\n    return xs[0] if xs else 0\n",  # wrong answer
        ],
    },
    2: {
        "add": [
            "def add(a, b):\n    return a + b\n",  # trained on in round 1 (chosen)
            "def add(a, b):\n    return b + a\n",  # passes
            "def add(a, b):\n    return a - b\n",  # trained on in round 1 (rejected)
            "def add(a, b):\n    return a * b\n",  # wrong answer
        ],
        "double": [
            "def double(x):\n    return x * 2\n",  # trained on in round 1
            "def double(x):\n    return x << 1\n",  # passes
            "def double(x):\n    return x\n",  # wrong answer
            "def double(x):\n    return x * 3\n",  # wrong answer
        ],
        "first": [
            "def first(xs):\n    return xs[0] if xs else None\n",  # passes
            "def first(xs):\n    return xs[0]\n",  # IndexError on []; not trained on in round 1
            "def first(xs):\n    return next(iter(xs), None)\n",  # passes
            "def first(xs):\n    return None\n",  # wrong answer
        ],
    },
}

INC, INC_BAD = "def inc(x):\n    return x + 1\n", "def inc(x):\n    return x\n"
SQ, SQ_BAD = "def sq(x):\n    return x * x\n", "def sq(x):\n    return 2 * x\n"
MAXI, MAXI_BAD = "def maxi(a, b):\n    return a if a > b else b\n", "def maxi(a, b):\n    return a\n"
MINI, MINI_BAD = "def mini(a, b):\n    return a if a < b else b\n", "def mini(a, b):\n    return b\n"

# Evaluation: EVAL[generation][entry point][sample index]. Test split (neg, last): pass@1 0.25, 0.75, 0.5;
# validation split (inc, sq): 0.5, 0.25, 0.75; extra set (maxi, mini): 0.25, 0.5, 0.75.
EVAL: dict[int, dict[str, list[str]]] = {
    0: {"neg": ["def neg(x):\n    return -x\n", "def neg(x):\n    return x\n"],
        "last": ["def last(xs):\n    return xs[-1]\n", "def last(xs):\n    return None\n"],
        "inc": [INC, INC], "sq": [SQ_BAD, SQ_BAD],
        "maxi": [MAXI, MAXI_BAD], "mini": [MINI_BAD, MINI_BAD]},
    1: {"neg": ["def neg(x):\n    return -x\n", "def neg(x):\n    return 0 - x\n"],
        "last": [LAST, "def last(xs):\n    return xs[0] if xs else None\n"],
        "inc": [INC, INC_BAD], "sq": [SQ_BAD, SQ_BAD],
        "maxi": [MAXI, MAXI], "mini": [MINI_BAD, MINI_BAD]},
    2: {"neg": ["def neg(x):\n    return -x\n", "def neg(x):\n    return x\n"],
        "last": [LAST, "def last(xs):\n    return None\n"],
        "inc": [INC, INC], "sq": [SQ, SQ_BAD],
        "maxi": [MAXI, MAXI], "mini": [MINI, MINI_BAD]},
}
PASS1 = [0.25, 0.75, 0.5]
VAL_PASS1 = [0.5, 0.25, 0.75]
EXTRA_PASS1 = [0.25, 0.5, 0.75]


def generation(ref: ModelRef) -> int:
    """0 for the base model, R for the model folder trained in round R (`.../round-R/model`)."""
    found = re.search(r"round-(\d+)/model$", ref.name)
    return int(found.group(1)) if found else 0


class ScriptedSampler:
    """Replies from the tables above; `generate` depends only on each request (the protocol's promise)."""

    supports_prefill = False

    def __init__(self, ref: ModelRef, cfg: SampleConfig) -> None:
        self.name = ref.name
        self.generation = generation(ref)
        self._by_seed: dict[int, tuple[int, str, int]] = {}
        for entry, task_id in TASK_IDS.items():
            for rnd in range(3):
                for index in range(8):
                    self._by_seed[sample_seed(cfg.seed, task_id, rnd, index)] = (rnd, entry, index)

    def _reply(self, request: Request) -> str:
        user = request.messages[-1]["content"]
        entry = re.search(r"def (\w+)\(", user)
        rnd, seed_entry, index = self._by_seed[request.seed]
        assert entry is not None and entry.group(1) == seed_entry, (entry, seed_entry)
        if rnd == 0:
            return EVAL[self.generation][seed_entry][index]
        if self.generation != rnd - 1:
            raise RuntimeError(f"round {rnd} sampled from generation {self.generation}, not from round {rnd - 1}")
        return TRAIN[rnd][seed_entry][index]

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for request in requests:
            code = self._reply(request)
            text = f"```python\n{code}```" if code else "I cannot write this function."
            out.append(Generation(text=text, n_tokens=len(text.split())))
        return out

    def close(self) -> None:
        pass
