"""DPO runs the prompt a pair shares once: the same hidden states, log-probs and gradients as TRL's two copies."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

WIDTH = 16


def _policy():
    """A tiny Llama with TRL's fused LM head and a LoRA adapter whose B is not zero (so the adapter matters)."""
    import trl.trainer.utils as trl_utils
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    trl_utils.add_fused_lm_head(model, outputs=("log_probs", "entropy"))
    model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0,
                                             init_lora_weights=False))
    model.train()
    return model


def _pairs(left_padded: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two pairs as TRL collates them, [chosen 0, chosen 1, rejected 0, rejected 1], right-padded to WIDTH: a
    9-token prompt per pair; pair 0's answers also share their first two tokens; rejected 1 is chosen 1 cut short."""
    torch.manual_seed(1)
    prompts = torch.randint(3, 300, (2, 9))
    lengths = [15, 12, 16, 10]
    ids = torch.zeros(4, WIDTH, dtype=torch.long)
    mask = torch.zeros(4, WIDTH, dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :9] = prompts[row % 2]
        ids[row, 9:length] = torch.randint(3, 300, (length - 9,))
        mask[row, :length] = 1
    ids[2, 9:11] = ids[0, 9:11]
    ids[3, 9:10] = ids[1, 9:10]
    if left_padded:
        ids = torch.stack([row.roll(WIDTH - int(m.sum())) for row, m in zip(ids, mask, strict=True)])
        mask = torch.stack([m.roll(WIDTH - int(m.sum())) for m in mask])
    labels = ids.masked_fill(mask == 0, -100)
    labels[mask.cumsum(dim=1) <= 9] = -100  # the prompt
    return ids, mask, labels


def _run(share: bool, inside: bool = True, left_padded: bool = False) -> tuple[int, torch.Tensor, torch.Tensor, dict]:
    """(tokens embedded, log-probs, entropies, adapter gradients) of one fused forward and backward."""
    from contextlib import nullcontext

    from codekiln.train.shared_prompt import pair_batches, share_prompt_passes

    model = _policy()
    if share:
        assert share_prompt_passes(model)
    embedded: list[int] = []
    embed = model.get_base_model().model.embed_tokens
    embed.register_forward_hook(lambda module, args, out: embedded.append(args[0].numel()))
    ids, mask, labels = _pairs(left_padded)
    with pair_batches() if inside else nullcontext():
        out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True, use_cache=False)
    (out.log_probs.sum() + 0.1 * out.entropy.sum()).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return sum(embedded), out.log_probs.detach(), out.entropy.detach(), grads


def _same(a: tuple, b: tuple) -> None:
    _, logps_a, entropy_a, grads_a = a
    _, logps_b, entropy_b, grads_b = b
    assert torch.allclose(logps_a, logps_b, atol=1e-5)
    assert torch.allclose(entropy_a, entropy_b, atol=1e-5)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) > 0
    for name, grad in grads_a.items():
        assert torch.allclose(grads_b[name], grad, atol=1e-5, rtol=1e-4), name


def test_a_pair_runs_its_shared_prefix_once_with_the_same_results():
    two_copies = _run(share=False)
    shared = _run(share=True)
    assert two_copies[0] == 4 * WIDTH
    # pair 0: 9 + 2 shared tokens, tails of 4 and 5 (padded to 5); pair 1: rejected is chosen cut short (10 of its
    # 12 tokens), so 9 are shared and each row keeps at least its last token: tails of 3 and 1 (padded to 3)
    assert shared[0] == (11 + 2 * 5) + (9 + 2 * 3)
    assert (shared[1][:, 8:] != 0).any() and (shared[1][:, :8] == 0).all()
    _same(two_copies, shared)


@pytest.mark.parametrize(("inside", "left_padded"), [(False, False), (True, True)])
def test_calls_it_cannot_share_run_the_two_copies(inside, left_padded):
    """Outside `pair_batches()`, or with rows padded on the left, the backbone runs every row as given."""
    plain = _run(share=False, inside=inside, left_padded=left_padded)
    patched = _run(share=True, inside=inside, left_padded=left_padded)
    assert patched[0] == plain[0] == 4 * WIDTH
    _same(plain, patched)


def test_shared_prefix_leaves_each_row_a_token_of_its_own():
    from codekiln.train.shared_prompt import shared_prefix

    assert shared_prefix(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 5])) == 2
    assert shared_prefix(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3, 4])) == 2
    assert shared_prefix(torch.tensor([1, 2]), torch.tensor([1, 2])) == 1
    assert shared_prefix(torch.tensor([7, 2]), torch.tensor([1, 2])) == 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from codekiln.train.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.mark.parametrize("ref", ["live", "precomputed"])
def test_the_dpo_trainer_shares_prompts_with_the_same_loss(tiny, tmp_path, monkeypatch, ref):
    """codekiln's DPOTrainer embeds fewer tokens for the same loss, in the policy and in the reference passes; with
    `share_prompt=false` or gradient checkpointing it runs TRL's two copies."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codekiln.config import TrainConfig
    from codekiln.train.data import read_pairs, to_dataset
    from codekiln.train.dpo import build_dpo_trainer
    from codekiln.train.peft_setup import peft_config
    from train_fixtures import write_data

    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    rows = read_pairs(write_data(tmp_path / "data", varied=True)[1])
    tokenizer = AutoTokenizer.from_pretrained(str(tiny))

    def loss(**changes) -> tuple[float, int, int]:
        cfg = TrainConfig(method="dpo+nll", max_steps=1, batch_size=4, grad_accum=1, lora_r=4, lora_alpha=8,
                          lora_dropout=0.0, precision="fp32", precompute_ref=ref == "precomputed", **changes)
        model = AutoModelForCausalLM.from_pretrained(str(tiny))
        embedded: list[int] = []
        model.model.embed_tokens.register_forward_hook(lambda module, args, out: embedded.append(args[0].numel()))
        trainer = build_dpo_trainer(model, tokenizer, to_dataset(rows, "pairs"), cfg, tmp_path / "ckpt",
                                    peft_config(cfg), ref_cache=None)
        ref_tokens = sum(embedded)  # the precomputed reference pass ran in the constructor
        torch.manual_seed(1)
        with torch.no_grad():  # move the policy away from the reference (LoRA B starts at zero)
            for name, p in trainer.model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.1)
        batch = next(iter(trainer.get_train_dataloader()))
        embedded.clear()
        value = trainer.compute_loss(trainer.model, batch)
        value.backward()
        return value.item(), ref_tokens, sum(embedded)

    shared, plain, checkpointed = loss(), loss(share_prompt=False), loss(gradient_checkpointing=True)
    assert shared[0] == pytest.approx(plain[0], abs=1e-5) == checkpointed[0]
    assert shared[2] < 0.8 * plain[2] and checkpointed[2] == plain[2]
    if ref == "precomputed":
        assert 0 < shared[1] < 0.8 * plain[1]
