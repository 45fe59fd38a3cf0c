"""Serve a trained model with llama.cpp: write GGUF files with the `gguf` package.

- `write_gguf(hf_dir, out)`: a whole Hugging Face model (Llama or Qwen2 architecture) as a GGUF file
  (f32, f16 or q8_0), its tokenizer copied from a base GGUF when one exists (identical tokenization)
  or built from `tokenizer.json`.
- `write_lora_gguf(adapter_dir, base_hf, out)`: a PEFT LoRA adapter as a GGUF LoRA adapter that
  llama.cpp applies on top of the base GGUF (`Llama(model_path=BASE, lora_path=ADAPTER)`).

Tensor names come from gguf's own HF→GGUF name map; for Llama, the q and k projections are permuted
to GGML's rotary layout exactly as llama.cpp's converter does (for a LoRA adapter only B is permuted:
permuting the rows of B permutes the rows of B·A).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from codekiln.errors import UserError

# HF architecture -> (gguf MODEL_ARCH name, permute q/k rows)
ARCHS = {"LlamaForCausalLM": ("LLAMA", True), "Qwen2ForCausalLM": ("QWEN2", False)}
DTYPES = ("f32", "f16", "q8_0")


def _arch(config: dict[str, Any]) -> tuple[Any, str, bool]:
    import gguf

    name = (config.get("architectures") or ["?"])[0]
    if name not in ARCHS:
        raise UserError(f"cannot export architecture {name} to GGUF; supported: {sorted(ARCHS)}")
    arch_key, permute = ARCHS[name]
    arch = getattr(gguf.MODEL_ARCH, arch_key)
    return arch, gguf.MODEL_ARCH_NAMES[arch], permute


def _permute(weights: Any, n_head: int, n_head_kv: int | None) -> Any:
    """llama.cpp's q/k row permutation (HF rotary halves -> GGML interleaved pairs)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _needs_permute(hf_name: str, config: dict[str, Any]) -> int | None | bool:
    """Head count to permute with for q/k projections, False otherwise."""
    if hf_name.endswith("q_proj.weight") or hf_name.endswith("q_proj"):
        return config["num_attention_heads"]
    if hf_name.endswith("k_proj.weight") or hf_name.endswith("k_proj"):
        return config.get("num_key_value_heads") or config["num_attention_heads"]
    return False


def _gguf_name(tmap: Any, hf_name: str) -> str:
    name = tmap.get_name(hf_name, try_suffixes=(".weight", ".bias"))
    if name is None:
        raise UserError(f"no GGUF tensor name for {hf_name}")
    return name


def _atomic_writer(out: Path, arch_name: str) -> tuple[Any, Path]:
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    return gguf.GGUFWriter(str(tmp), arch_name), tmp


def _finish(writer: Any, tmp: Path, out: Path) -> Path:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, out)
    return out


def _hparams(writer: Any, config: dict[str, Any]) -> None:
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    rope = config.get("rope_parameters") or {}
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(hidden)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads") or heads)
    writer.add_rope_dimension_count(config.get("head_dim") or hidden // heads)
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(config["vocab_size"])


def _copy_tokenizer(writer: Any, base_gguf: Path) -> None:
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        main = field.types[0]
        sub = field.types[-1] if main == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), main, sub)


def _pre_tokenizer(data: dict[str, Any]) -> str:
    """llama.cpp's name for the pre-tokenizer: GPT-2's regex when the tokenizer is plain byte-level BPE."""
    pre = data.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    return "default"


def _tokenizer_from_hf(writer: Any, hf_dir: Path) -> None:
    """Byte-level BPE (gpt2-style) vocabulary, merges, special ids and chat template from tokenizer.json."""
    import gguf

    data = json.loads((hf_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = data["model"]
    if model.get("type") != "BPE":
        raise UserError(f"{hf_dir}: only byte-level BPE tokenizers are exported without a base GGUF")
    vocab = dict(model["vocab"])
    special = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    vocab.update(special)
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.UNUSED] * size
    for text, idx in vocab.items():
        tokens[idx] = text
        types[idx] = gguf.TokenType.CONTROL if text in special else gguf.TokenType.NORMAL
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    cfg = json.loads((hf_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(_pre_tokenizer(data))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for key, setter in (("bos_token", writer.add_bos_token_id), ("eos_token", writer.add_eos_token_id),
                        ("pad_token", writer.add_pad_token_id), ("unk_token", writer.add_unk_token_id)):
        token = cfg.get(key)
        token = token.get("content") if isinstance(token, dict) else token
        if token in vocab:
            setter(vocab[token])
    writer.add_add_bos_token(False)
    template = cfg.get("chat_template")
    if not template and (hf_dir / "chat_template.jinja").exists():
        template = (hf_dir / "chat_template.jinja").read_text(encoding="utf-8")
    if template:
        writer.add_chat_template(template)


def write_gguf(hf_dir: Path, out: Path, dtype: str = "f16", tokenizer_gguf: Path | None = None) -> Path:
    """Write the HF model in `hf_dir` as a GGUF file llama.cpp loads; `dtype` is f32, f16 or q8_0."""
    import gguf
    import numpy as np
    from safetensors import safe_open

    if dtype not in DTYPES:
        raise UserError(f"unknown GGUF dtype {dtype!r}; choose from {list(DTYPES)}")
    hf_dir, out = Path(hf_dir), Path(out)
    if dtype == "q8_0":
        f16 = write_gguf(hf_dir, out.with_name(out.name + ".f16"), "f16", tokenizer_gguf)
        quantize_gguf(f16, out, "q8_0")
        f16.unlink()
        return out
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    arch, arch_name, permute = _arch(config)
    tmap = gguf.get_tensor_name_map(arch, config["num_hidden_layers"])
    writer, tmp = _atomic_writer(out, arch_name)
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    _hparams(writer, config)
    if tokenizer_gguf is not None:
        _copy_tokenizer(writer, tokenizer_gguf)
    else:
        _tokenizer_from_hf(writer, hf_dir)
    files = sorted(hf_dir.glob("*.safetensors"))
    if not files:
        raise UserError(f"{hf_dir}: no .safetensors weights to export")
    for file in files:
        with safe_open(str(file), framework="np") as fh:
            for name in fh.keys():
                if name == "lm_head.weight" and config.get("tie_word_embeddings"):
                    continue
                array = fh.get_tensor(name).astype(np.float32)
                heads = _needs_permute(name, config) if permute else False
                if heads:
                    array = _permute(array, config["num_attention_heads"], heads)
                if dtype == "f16" and array.ndim == 2:
                    array = array.astype(np.float16)
                writer.add_tensor(_gguf_name(tmap, name), np.ascontiguousarray(array))
    return _finish(writer, tmp, out)


def quantize_gguf(src: Path, out: Path, kind: str = "q8_0") -> Path:
    """Quantize a GGUF file with llama.cpp (written next to `out`, then renamed into place)."""
    import llama_cpp
    from llama_cpp._logger import set_verbose

    set_verbose(False)  # llama.cpp logs every tensor it quantizes
    ftypes = {"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftypes[kind]
    params.nthread = 1
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params) != 0:
        raise RuntimeError(f"llama.cpp could not quantize {src}")
    os.replace(tmp, out)
    return out


def write_lora_gguf(adapter_dir: Path, base_hf: Path, out: Path) -> Path:
    """Write a PEFT LoRA adapter as a GGUF LoRA adapter for the base model's GGUF."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    adapter_dir, out = Path(adapter_dir), Path(out)
    acfg = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if acfg.get("peft_type") != "LORA" or acfg.get("use_dora") or acfg.get("use_rslora"):
        raise UserError(f"{adapter_dir}: only plain LoRA adapters export to GGUF (not DoRA/rsLoRA/other PEFT)")
    config = json.loads((Path(base_hf) / "config.json").read_text(encoding="utf-8"))
    arch, arch_name, permute = _arch(config)
    tmap = gguf.get_tensor_name_map(arch, config["num_hidden_layers"])
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    writer, tmp = _atomic_writer(out, arch_name)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(acfg["lora_alpha"]))
    for key in sorted(tensors):
        if ".lora_A." not in key:
            if ".lora_B." not in key:
                raise UserError(f"{adapter_dir}: tensor {key} is not a LoRA A/B matrix; cannot export it")
            continue
        module = key.removeprefix("base_model.model.").split(".lora_A.")[0]
        lora_a = tensors[key].astype(np.float32)  # (r, in)
        lora_b = tensors[key.replace(".lora_A.", ".lora_B.")].astype(np.float32)  # (out, r)
        heads = _needs_permute(module, config) if permute else False
        if heads:
            lora_b = _permute(lora_b, config["num_attention_heads"], heads)
        base_name = _gguf_name(tmap, module + ".weight")
        writer.add_tensor(base_name + ".lora_a", np.ascontiguousarray(lora_a))
        writer.add_tensor(base_name + ".lora_b", np.ascontiguousarray(lora_b))
    return _finish(writer, tmp, out)
