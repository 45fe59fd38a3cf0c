"""TRL's fused LM head scores only the answer's tokens on CPU too.

TRL (1.16) computes training log-probs through a chunked LM head (`trl.trainer.utils.add_fused_lm_head`) that never
builds the full-vocabulary logits. Where Triton runs (CUDA, XPU) it projects only the positions whose label is not
-100, i.e. the answer's tokens; everywhere else it projects every position, prompt and padding included, because on
compiling backends (Neuron) a changing number of positions would recompile the tiles. A CPU runs eagerly and
recompiles nothing, so there that choice only costs: each of the prompt's positions goes through the 49k-column
projection forward, backward and in the reference pass, and scores that are then zeroed. DPO+NLL on python-basic
data spent 37% of its training loop there (BENCHMARKS.md).

`score_answer_tokens_only()` makes TRL take its own compact path on CPU. The per-token results are the same numbers
either way (TRL zeroes the masked positions; tests/test_answer_head.py compares log-probs and gradients), the
Triton-vs-torch kernel choice is untouched (that is decided in `trl.kernels.chunked_logprob`, not here), and a TRL
without this switch is left as it is.
"""

from __future__ import annotations

from typing import Any

_MARK = "_codekiln_compact_on_cpu"


def score_answer_tokens_only() -> bool:
    """Make TRL's fused LM head project only labelled positions on CPU; True when TRL has the switch (idempotent)."""
    import trl.trainer.utils as trl_utils

    decide = getattr(trl_utils, "_use_triton", None)
    if decide is None:  # another TRL: its fused head (if any) decides for itself
        return False
    if getattr(decide, _MARK, False):
        return True

    def compact(device: Any) -> bool:
        return device.type == "cpu" or decide(device)

    setattr(compact, _MARK, True)
    compact.__wrapped__ = decide  # type: ignore[attr-defined]
    trl_utils._use_triton = compact  # read by `_fused_forward` only to choose the compact path
    return True
