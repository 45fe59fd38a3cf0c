"""Load the model a training round starts from, as a PyTorch (Hugging Face) folder.

A start can be a GGUF file (transformers dequantizes it), a Hugging Face model folder, or a codekiln
model folder from an earlier round (base + adapter, merged here: the merged model is both the new
round's starting point and its DPO reference). Conversions are done once per model and cached under
`~/.cache/codekiln/models/<hash>/` (override with `CODEKILN_CACHE`), written to a temporary folder and
renamed, so a kill never leaves a half-written cache entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codekiln.errors import UserError

MODEL_JSON = "codekiln-model.json"
MODEL_FORMAT = "codekiln-model/1"


@dataclass(frozen=True)
class StartModel:
    """The resolved starting model of a round."""

    spec: str  # what the user gave
    hf_dir: Path  # Hugging Face folder (weights + tokenizer with its chat template) to train from
    gguf: Path | None  # the same weights as a GGUF file, for llama.cpp (None: not available yet)
    model_hash: str  # identity of the starting weights (keys caches: conversions, reference log-probs)
    tokenizer_gguf: Path | None = None  # a GGUF whose tokenizer the exported GGUF files copy (None: tokenizer.json)


def cache_root() -> Path:
    return Path(os.environ.get("CODEKILN_CACHE") or Path.home() / ".cache" / "codekiln")


def file_hash(path: Path) -> str:
    """sha256 of a file, hex (remembered per path, size and modification time within the process)."""
    stat = Path(path).stat()
    return _file_hash(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _file_hash(path: str, size: int, mtime_ns: int, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def folder_hash(folder: Path) -> str:
    """sha256 over the names and contents of the weight/config files of a model folder."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".safetensors", ".bin", ".json", ".gguf", ".model", ".txt"}:
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(file_hash(path).encode())
    return digest.hexdigest()


def _alias_gguf(name: str) -> Path | None:
    """The GGUF file behind a model alias (smollm2-135m, qwen2.5-coder-0.5b: shipped inside PyPI packages)."""
    from codekiln.sample.models import ALIASES, resolve_model

    if name not in ALIASES:
        return None
    return resolve_model(name).gguf


def read_model_json(folder: Path) -> dict:
    data = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
    if data.get("format") != MODEL_FORMAT:
        raise UserError(f"{folder / MODEL_JSON}: unknown format {data.get('format')!r} (expected {MODEL_FORMAT})")
    return data


def _publish(tmp: Path, final: Path) -> Path:
    """Rename a finished temporary folder into place (another process may have won the race: keep theirs)."""
    try:
        tmp.rename(final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _tmp_dir(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))


def convert_gguf(gguf: Path, quiet: bool = True) -> Path:
    """The HF folder (float32 safetensors + tokenizer) of a GGUF file, converted once and cached."""
    final = cache_root() / "models" / f"gguf-{file_hash(gguf)[:20]}"
    if (final / "config.json").exists():
        return final
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = _tmp_dir(final.parent)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise UserError(f"{gguf}: the GGUF file carries no chat template; codekiln trains on chat prompts")
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)  # weights are plain float32 already
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "source.json").write_text(json.dumps({"gguf": str(gguf.resolve())}), encoding="utf-8")
    return _publish(tmp, final)


def merge_model_folder(folder: Path) -> Path:
    """Merge an earlier round's adapter into its base; cached by the hash of base + adapter."""
    info = read_model_json(folder)
    base_hf = Path(info["base_hf"])
    adapter = folder / info["adapter_hf"]
    if not info.get("adapter_hf") or not (adapter / "adapter_config.json").exists():
        return adapter if (adapter / "config.json").exists() else base_hf  # full fine-tuning saved whole weights
    key = hashlib.sha256((folder_hash(base_hf) + folder_hash(adapter)).encode()).hexdigest()[:20]
    final = cache_root() / "models" / f"merged-{key}"
    if (final / "config.json").exists():
        return final
    tmp = _tmp_dir(final.parent)
    merge_adapter(base_hf, adapter, tmp)
    return _publish(tmp, final)


def merge_adapter(base_hf: Path, adapter: Path, out: Path) -> Path:
    """Write base + adapter as one plain HF model folder (the `--merge` output)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(str(base_hf), dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(base_hf)).save_pretrained(out)
    return out


def resolve_start(spec: str) -> StartModel:
    """Resolve a model spec (alias, .gguf file, HF folder, codekiln model folder) to a trainable HF folder."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / MODEL_JSON).exists():
        info = read_model_json(path)
        hf_dir = merge_model_folder(path)
        gguf = path / info["merged_gguf"] if info.get("merged_gguf") else None
        tokenizer_gguf = Path(info["base_gguf"]) if info.get("base_gguf") else None
        return StartModel(spec, hf_dir, gguf, folder_hash(hf_dir), tokenizer_gguf)
    if path.is_dir() and (path / "config.json").exists():
        return StartModel(spec, path, None, folder_hash(path))
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"model file {spec} does not exist")
        return StartModel(spec, convert_gguf(path), path.resolve(), file_hash(path), path.resolve())
    if path.exists():
        raise UserError(f"model {spec!r} is neither a .gguf file, a Hugging Face folder (config.json) "
                        f"nor a codekiln model folder ({MODEL_JSON})")
    gguf = _alias_gguf(spec)
    if gguf is None:
        raise UserError(f"unknown model {spec!r}: give a .gguf file, a Hugging Face folder, a codekiln model "
                        "folder or an alias such as smollm2-135m")
    return resolve_start(str(gguf))
