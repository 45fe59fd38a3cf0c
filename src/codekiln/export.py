"""`codekiln export RUN --out DIR`: a run's final (or chosen) round as Hugging Face Hub-ready folders.

DIR/adapter     the round's PEFT adapter with a model card (README.md): base model, method, data funnel, held-out
                results with their 95% intervals, the resolved config, the codekiln version
DIR/merged      base + adapter as one plain Hugging Face model folder (the same card)
DIR/gguf        the merged model as GGUF, the LoRA adapter as GGUF, and an Ollama Modelfile
DIR/data        the curated SFT rows and preference pairs of rounds 1..R as JSONL, with a dataset card whose
                `configs` make `datasets.load_dataset(DIR/data, "pairs")` work
`--push-to-hub REPO` uploads DIR/adapter (and, with `--push-data REPO`, DIR/data) with `huggingface_hub`; offline it
is one clear line. Everything else runs without network.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from codekiln import __version__
from codekiln.errors import UserError


def _round_folder(run: Path, round_: int | None) -> Path:
    manifest_path = run / "manifest.json"
    if not manifest_path.is_file():
        raise UserError(f"{run} is not a codekiln run folder (no manifest.json)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if round_ is None:
        if not manifest.get("final"):
            raise UserError(f"run {run} has no final round yet (unfinished, or no round beat the base); give --round R")
        model = run / manifest["final"]
    else:
        model = run / f"round-{round_}" / "model"
    if not (model / "codekiln-model.json").is_file():
        raise UserError(f"{model} holds no trained model; rounds with one: "
                        f"{sorted(p.parent.name for p in run.glob('round-*/model/codekiln-model.json'))}")
    return model


def _results(run: Path, r: int) -> list[str]:
    from codekiln.report.stats import round_stats

    lines = []
    for name, stats in (("base model (round 0)", round_stats(run / "round-0")), (f"round {r}", round_stats(run / f"round-{r}"))):
        for split, passk in (("validation", stats.val_pass1()), ("test", stats.test_pass1())):
            if passk is not None:
                lines.append(f"| {name} | {split} | {passk.value:.1%} [{passk.low:.1%}, {passk.high:.1%}] | {passk.tasks} |")
    return lines


def model_card(run: Path, model: Path, info: dict[str, Any], manifest: dict[str, Any]) -> str:
    """README.md for the adapter and merged folders (Hub model card with YAML metadata)."""
    r = int(model.parent.name.split("-")[-1])
    funnels = []
    for k in range(1, r + 1):
        funnel = run / f"round-{k}" / "curated" / "funnel.json"
        if funnel.is_file():
            data = json.loads(funnel.read_text(encoding="utf-8"))
            total, pairs = data.get("total") or {}, data.get("pairs") or {}
            funnels.append(f"| {k} | {total.get('generated', '')} | {total.get('verified_passing', '')} | "
                           f"{total.get('used', '')} | {pairs.get('count', '')} |")
    base = manifest.get("model", {}).get("spec", info.get("parent", ""))
    meta = {"library_name": "peft", "base_model": base, "tags": ["codekiln", "trl", info.get("method", ""), "code"],
            "license": "apache-2.0"}
    config = (run / "config.yaml").read_text(encoding="utf-8") if (run / "config.yaml").is_file() else ""
    return "\n".join([
        "---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", "",
        f"# {run.name}: round {r} of a codekiln run", "",
        f"Trained by codekiln {__version__} from `{base}` with `{info.get('method')}` ({info.get('peft')}, "
        f"{info.get('steps')} steps in round {r}) on the model's own programs that passed automated checks. The "
        "adapter applies on " + (f"the base model with rounds 1..{r - 1} merged" if r > 1 else "the base model") +
        "; the `merged` folder holds the whole model.", "",
        "## Held-out results (pass@1, 95% bootstrap interval over tasks)", "",
        "Validation chose the round; the test split only reports.", "",
        "| model | split | pass@1 [95% CI] | tasks |", "|---|---|---|---|", *_results(run, r), "",
        "## Training data per round (curation funnel)", "",
        "| round | programs sampled | passed | SFT rows | pairs |", "|---|---|---|---|---|", *funnels, "",
        "## Config", "", "```yaml", config.strip(), "```", ""])


def dataset_card(rows: dict[str, int], run: Path) -> str:
    meta = {"configs": [{"config_name": name, "data_files": [{"split": "train", "path": f"{name}/train.jsonl"}]}
                        for name in rows], "tags": ["codekiln", "code", "preference"], "license": "apache-2.0"}
    return "\n".join(["---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", "",
                      f"# Curated data of the codekiln run {run.name}", "",
                      "The model's own programs that passed (SFT rows, TRL's conversational prompt/completion) and "
                      "pairs of a passing and a failing program of one task (TRL's prompt/chosen/rejected), "
                      "decontaminated against the held-out tasks. " +
                      ", ".join(f"{name}: {n} rows" for name, n in rows.items()) + ".", ""])


def export_run(run: Path, out: Path, round_: int | None = None) -> dict[str, Path]:
    """Write the folders of the module docstring; return them by name."""
    from codekiln.train.export import write_gguf
    from codekiln.train.load import resolve_start

    run = run.resolve()
    model = _round_folder(run, round_)
    info = json.loads((model / "codekiln-model.json").read_text(encoding="utf-8"))
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    card = model_card(run, model, info, manifest)
    out.mkdir(parents=True, exist_ok=True)
    adapter = out / "adapter"
    shutil.copytree(model / info["adapter_hf"], adapter, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("training_args.bin"))  # a pickle: no place in a Hub repo
    (adapter / "README.md").write_text(card, encoding="utf-8")
    start = resolve_start(str(model))  # the round's whole model (base + adapter merged, cached)
    merged = out / "merged"
    shutil.copytree(start.hf_dir, merged, dirs_exist_ok=True)
    (merged / "README.md").write_text(card.replace("library_name: peft", "library_name: transformers"), encoding="utf-8")
    gguf = out / "gguf"
    gguf.mkdir(exist_ok=True)
    if not (gguf / "model.gguf").is_file():
        write_gguf(start.hf_dir, gguf / "model.gguf", "q8_0", tokenizer_gguf=start.tokenizer_gguf)
    if info.get("lora_gguf"):
        shutil.copy2(model / info["lora_gguf"], gguf / "adapter.gguf")
    (gguf / "Modelfile").write_text("# Ollama: ollama create codekiln -f Modelfile (the chat template is read from "
                                    "the GGUF)\nFROM ./model.gguf\nPARAMETER temperature 0.2\n", encoding="utf-8")
    data = out / "data"
    counts: dict[str, int] = {}
    r = int(model.parent.name.split("-")[-1])
    for name in ("sft", "pairs"):
        lines = []
        for k in range(1, r + 1):
            path = run / f"round-{k}" / "curated" / f"{name}.jsonl"
            if path.is_file():
                lines += [json.dumps({**json.loads(line), "round": k}) for line in path.read_text().splitlines() if line]
        if lines:
            (data / name).mkdir(parents=True, exist_ok=True)
            (data / name / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
            counts[name] = len(lines)
    if counts:
        (data / "README.md").write_text(dataset_card(counts, run), encoding="utf-8")
    return {"adapter": adapter, "merged": merged, "gguf": gguf, "data": data}


def push(folder: Path, repo: str, kind: str) -> str:
    """Upload a folder to the Hub (`kind`: model or dataset); one clear line when that cannot happen."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import OfflineModeIsEnabled
    except ImportError:
        raise UserError("--push-to-hub needs huggingface_hub: pip install huggingface_hub") from None
    api = HfApi()
    try:
        api.create_repo(repo, repo_type=kind, exist_ok=True)
        return str(api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type=kind))
    except OfflineModeIsEnabled:
        raise UserError(f"cannot push to the Hub: offline mode is on (HF_HUB_OFFLINE); the export in {folder.parent} "
                        f"is complete, push it later with `huggingface-cli upload {repo} {folder}`") from None
    except Exception as err:  # no network, no token, no rights: the export is kept either way
        raise UserError(f"cannot push {folder} to the Hub repo {repo}: {type(err).__name__}: {err}; the export is "
                        "complete, rerun with --push-to-hub once you have network and a token "
                        "(huggingface-cli login)") from None
