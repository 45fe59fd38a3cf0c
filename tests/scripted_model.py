"""A scripted chat model for tests: a real Llama checkpoint whose next token is read from a table of the last token.

Built like `codekiln.train.tiny` (same byte-level tokenizer and chat template), but with the hidden size equal
to the vocabulary, one-hot token embeddings, and every layer's output projections (attention `o_proj`, MLP
`down_proj`) set to zero: the residual stream at a position is its token's one-hot vector, the final norm
scales it to length ~1, and the untied output matrix *is* the table, `logits[next] = table[last][next]`.
So a test knows exactly what the model answers, and runs that answer through the real GGUF export and the
real llama.cpp backend. A last token without a row in the table ends the reply (end-of-sequence).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

Table = dict[int, dict[int, float]]
SURE = 30.0  # a scripted step's logit (all others 0): at temperature 1 another token has odds below e^-30 each
END = SURE  # the end-of-sequence logit after a token without a script


def tokens(text: str) -> list[int]:
    """The tiny tokenizer's ids for `text`."""
    from codekiln.train.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer().encode(text)


def end_token() -> int:
    from codekiln.train.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer().eos_token_id


def chain(after: str, reply: str, then: int | None = None) -> Table:
    """The table that answers `reply` when the prompt ends with `after`, then `then` (default: end).

    The reply's tokens and the prompt's last token must all differ: each token has one successor."""
    steps = [tokens(after)[-1], *tokens(reply), end_token() if then is None else then]
    if len(set(steps[:-1])) != len(steps) - 1:
        raise ValueError(f"a token repeats in {steps[:-1]}: a one-token-memory model cannot script {reply!r}")
    return {a: {b: SURE} for a, b in zip(steps, steps[1:], strict=False)}


def build_scripted_model(out_dir: Path, table: Mapping[int, Mapping[int, float]]) -> Path:
    """Write the scripted model (HF folder with weights, tokenizer and chat template) to `out_dir`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from codekiln.train.tiny import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    vocab = len(tokenizer)
    config = LlamaConfig(vocab_size=vocab, hidden_size=vocab, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, rms_norm_eps=1e-5)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    logits = torch.zeros(vocab, vocab)  # [next, last]
    logits[tokenizer.eos_token_id, :] = END
    for last, row in table.items():
        logits[:, last] = 0.0
        for nxt, value in row.items():
            logits[nxt, last] = value
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(torch.eye(vocab))
        model.model.norm.weight.fill_(vocab ** -0.5)  # RMSNorm of a one-hot vector is sqrt(vocab) times it
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.copy_(logits)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def scripted_gguf(root: Path, table: Mapping[int, Mapping[int, float]]) -> Path:
    """The scripted model exported to `root/scripted.gguf` (f32) by codekiln's own exporter."""
    from codekiln.train.export import write_gguf

    return write_gguf(build_scripted_model(root / "hf", table), root / "scripted.gguf", "f32")
