"""DPO runs the prompt a pair shares once, not twice.

TRL's DPOTrainer scores a micro-batch of pairs as one batch of sequences, every chosen answer then every rejected one,
each with its prompt in front: the prompt goes through the backbone twice per pair, forward and backward (and once
more each in the reference pass). Code prompts are long and answers short (sql-basic: ~400 prompt tokens, ~60 answer
tokens), so that second copy is close to half of a DPO step's backbone work.

`share_prompt_passes(model)` patches the model's backbone so that, inside `pair_batches()`, each pair is run as its
common prefix once (keeping its keys and values, with their gradient) and then the two different tails together on top
of that cache. The backbone returns the same `last_hidden_state` the two full rows would have given (to float
rounding; tests/test_shared_prompt.py compares hidden states, log-probs and the adapter's gradients with TRL's own
path), so TRL's LM head, losses and metrics run unchanged on it. Outside `pair_batches()`, and for any call it cannot
share exactly (padding on the left, embeddings instead of ids, gradient checkpointing, router logits, an odd number
of rows), the backbone runs as before.

One difference, by design: a dropout layer (LoRA's, 0.05 by default) draws one mask for the shared prompt instead of
one per copy; the two copies were only ever the same tokens.
"""

from __future__ import annotations

import contextvars
import functools
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_PAIRS = contextvars.ContextVar("codekiln_pair_batches", default=False)
_MARK = "_codekiln_shared_prompt"
# Keyword arguments a plain DPO call may carry; anything else (inputs_embeds, position_ids, a cache, router logits,
# hidden states or attentions requested) goes to the unpatched forward.
_PLAIN_KWARGS = {"use_cache", "return_dict", "token_type_ids"}


@contextmanager
def pair_batches() -> Iterator[None]:
    """Within this block, a patched backbone reads a batch of 2B rows as B pairs: row i and row B + i."""
    token = _PAIRS.set(True)
    try:
        yield
    finally:
        _PAIRS.reset(token)


def _backbone(model: Any) -> Any:
    """The module TRL's fused LM head calls for hidden states (`base_model` of the causal LM under any PEFT wrapper)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(inner, "module", inner)  # a DDP wrapper
    return getattr(inner, "base_model", None)


def share_prompt_passes(model: Any) -> bool:
    """Patch `model`'s backbone to run a pair's shared prefix once inside `pair_batches()`; True when patched."""
    backbone = _backbone(model)
    if backbone is None or not callable(getattr(backbone, "forward", None)):
        return False
    if getattr(backbone.forward, _MARK, False):
        return True
    original = backbone.forward

    @functools.wraps(original)
    def forward(self: Any, input_ids: Any = None, attention_mask: Any = None, *args: Any, **kwargs: Any) -> Any:
        if args or not _can_share(self, input_ids, attention_mask, kwargs):
            return original(input_ids, attention_mask, *args, **kwargs)
        return _pairs_forward(original, input_ids, attention_mask)

    setattr(forward, _MARK, True)
    backbone.forward = types.MethodType(forward, backbone)
    return True


def _right_padded(attention_mask: Any) -> bool:
    """Each row is ones then zeros (TRL pads answers on the right)."""
    import torch

    lengths = attention_mask.sum(dim=1, keepdim=True)
    positions = torch.arange(attention_mask.size(1), device=attention_mask.device)
    return bool(torch.equal(attention_mask.bool(), positions.unsqueeze(0) < lengths))


def _can_share(backbone: Any, input_ids: Any, attention_mask: Any, kwargs: dict[str, Any]) -> bool:
    if not _PAIRS.get() or input_ids is None or input_ids.dim() != 2 or input_ids.size(0) % 2:
        return False
    if any(value is not None and key not in _PLAIN_KWARGS for key, value in kwargs.items()) or kwargs.get("use_cache"):
        return False
    if backbone.training and any(getattr(layer, "gradient_checkpointing", False) for layer in backbone.modules()):
        return False  # checkpointed layers drop the cache in training
    return attention_mask is None or _right_padded(attention_mask)


def shared_prefix(first: Any, second: Any) -> int:
    """How many leading tokens two rows share, leaving each at least one of its own (its last token's state)."""
    import torch

    common = min(len(first), len(second))
    differ = torch.nonzero(first[:common] != second[:common])
    return min(int(differ[0]) if len(differ) else common, common - 1)


def _pairs_forward(original: Any, input_ids: Any, attention_mask: Any) -> Any:
    import torch
    from transformers.modeling_outputs import BaseModelOutputWithPast

    rows, width = input_ids.shape
    half = rows // 2
    lengths = (attention_mask.sum(dim=1) if attention_mask is not None
               else torch.full((rows,), width, device=input_ids.device)).tolist()
    hidden: list[Any] = [None] * rows
    for i in range(half):
        pair = (i, half + i)
        ids = [input_ids[row, :lengths[row]] for row in pair]
        prefix = shared_prefix(*ids)
        tails = [row_ids[prefix:] for row_ids in ids]
        longest = max(len(tail) for tail in tails)
        tail_ids = torch.stack([torch.nn.functional.pad(tail, (0, longest - len(tail))) for tail in tails])
        own_len = torch.tensor([len(tail) for tail in tails], device=input_ids.device)
        tail_mask = torch.cat([torch.ones((2, prefix), dtype=torch.long, device=input_ids.device),
                               (torch.arange(longest, device=input_ids.device) < own_len.unsqueeze(1)).long()], dim=1)
        if prefix > 0:
            head = original(input_ids=ids[0][:prefix].unsqueeze(0), use_cache=True)
            cache = head.past_key_values
            cache.batch_repeat_interleave(2)
            tail = original(input_ids=tail_ids, attention_mask=tail_mask, past_key_values=cache, use_cache=True)
            shared = head.last_hidden_state[0]
        else:
            tail = original(input_ids=tail_ids, attention_mask=tail_mask[:, prefix:], use_cache=False)
            shared = tail.last_hidden_state.new_zeros((0, tail.last_hidden_state.size(-1)))
        for k, row in enumerate(pair):
            own = tail.last_hidden_state[k, :len(tails[k])]
            states = torch.cat([shared, own], dim=0)
            hidden[row] = torch.nn.functional.pad(states, (0, 0, 0, width - states.size(0)))
    return BaseModelOutputWithPast(last_hidden_state=torch.stack(hidden))
