"""TRL's fused LM head on CPU scores only the answer's positions, with the same log-probs and gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")


def _scored(monkeypatch: pytest.MonkeyPatch, compact: bool) -> tuple[list[int], torch.Tensor, dict]:
    """(rows sent through the LM head per call, the per-token log-probs, the gradients) of one fused forward and
    backward of a tiny Llama on two sequences whose prompts (and the second's padding) are unlabelled."""
    import trl.trainer.utils as trl_utils
    from transformers import LlamaConfig, LlamaForCausalLM

    from codekiln.train.answer_head import score_answer_tokens_only

    monkeypatch.undo()  # a previous call's counter and switch
    plain = getattr(trl_utils._use_triton, "__wrapped__", trl_utils._use_triton)
    monkeypatch.setattr(trl_utils, "_use_triton", plain)
    if compact:
        assert score_answer_tokens_only()
    rows: list[int] = []
    apply = trl_utils._ChunkedLogProbFunction.apply

    def counting(hidden, *args):
        rows.append(hidden.shape[0])
        return apply(hidden, *args)

    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply", counting)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    ids = torch.randint(3, 300, (2, 16))
    labels = ids.clone()
    labels[:, :9] = -100  # the prompt
    labels[1, 13:] = -100  # padding after the second answer
    out = model(input_ids=ids, labels=labels, fused_lm_head=True)
    (out.log_probs.sum() + 0.1 * out.entropy.sum()).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return rows, out.log_probs.detach(), grads


def test_only_labelled_positions_are_projected_and_nothing_else_changes(monkeypatch):
    rows_all, logps_all, grads_all = _scored(monkeypatch, compact=False)
    rows_answer, logps_answer, grads_answer = _scored(monkeypatch, compact=True)
    assert rows_all == [2 * 15]  # TRL's CPU default: every shifted position, prompt and padding included
    assert rows_answer == [(15 - 8) + (12 - 8)]  # the labelled ones only
    assert torch.allclose(logps_answer, logps_all, atol=1e-6)
    assert (logps_answer[:, :8] == 0).all() and (logps_answer[0, 8:] != 0).all()
    assert grads_answer.keys() == grads_all.keys()
    for name, grad in grads_all.items():
        assert torch.allclose(grads_answer[name], grad, atol=1e-6, rtol=1e-5), name


def test_switching_twice_wraps_once(monkeypatch):
    import trl.trainer.utils as trl_utils

    from codekiln.train.answer_head import score_answer_tokens_only

    plain = getattr(trl_utils._use_triton, "__wrapped__", trl_utils._use_triton)
    monkeypatch.setattr(trl_utils, "_use_triton", plain)
    assert score_answer_tokens_only() and score_answer_tokens_only()
    assert trl_utils._use_triton.__wrapped__ is plain
    assert trl_utils._use_triton(torch.device("cpu"))
    assert trl_utils._use_triton(torch.device("meta")) == plain(torch.device("meta"))
