"""The run config: one typed tree of pydantic models, loaded from YAML with `a.b=value` overrides.

Every field has a type, a default and a docstring; the docstring is the `--help` text of the CLI
flag that sets it. Unknown keys are errors that name the nearest valid key. The embedded default is
`RunConfig()`; presets (quick, gpu, ...) are YAML files shipped in `codekiln/presets/`.
"""

from __future__ import annotations

import argparse
import difflib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codekiln.errors import ConfigError


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, field docstrings become descriptions."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_assignment=True)


class SampleConfig(Section):
    model: str = "smollm2-135m"
    """Model to sample from: an alias (smollm2-135m, qwen2.5-coder-0.5b), a .gguf file, a Hugging Face model folder, a trained codekiln round folder, or openai:MODEL@URL."""
    backend: str = "auto"
    """Sampling backend: auto (llama.cpp for GGUF, transformers for HF folders, openai for openai:), llama.cpp, transformers, openai, vllm."""
    n: int = 8
    """Samples per task."""
    temperature: float = 0.8
    """Sampling temperature (0 = greedy)."""
    top_p: float = 0.95
    """Nucleus sampling probability mass."""
    top_k: int = 40
    """Sample only among the k most likely tokens (0 = no limit; a limit also makes llama.cpp sampling faster)."""
    max_tokens: int | None = Field(None, ge=1)
    """Most tokens generated per sample (None: by task kind, sql 256, python and pandas 384, open 512, html 1200)."""
    shots: int = 0
    """Worked examples from the suite's train split put in the prompt (the in-context-learning baseline)."""
    threads: int = 1
    """CPU threads for the model (one is often fastest on 2 shared cores)."""
    workers: int | None = Field(None, ge=1)
    """Model processes generating in parallel on this machine, each with `threads` threads (None: one per `threads` cores for llama.cpp, which shares the weights between processes; 1 for other backends)."""
    batch_size: int = Field(16, ge=1)
    """Sequences generated together: llama.cpp decodes this many per call (each with its own KV stream of context_size tokens), transformers pads them into one batch."""
    context_size: int | None = Field(None, ge=256)
    """Model context window in tokens, llama.cpp (None: 2048, or max_tokens + 1024 when that is larger)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key for openai: models."""
    concurrency: int = 4
    """Requests in flight at once for openai: models."""
    request_timeout_s: float = 120.0
    """Timeout of one HTTP request for openai: models, in seconds."""
    retries: int = 3
    """Retries of a failed HTTP request for openai: models."""
    seed: int = 0
    """Base seed; each sample's seed derives from (seed, task_id, round, sample index)."""
    stop_at_fence: bool = True
    """Start the reply with the code fence and stop at its closing fence (faster; the format SFT rows use)."""


class JudgeConfig(Section):
    model: str = "smollm2-135m"
    """Judge model, in any form sample.model takes (alias, .gguf, HF folder, openai:MODEL@URL); the embedded default is weak."""
    backend: str = "auto"
    """Judge backend: auto, llama.cpp, transformers, openai, vllm (as for sampling)."""
    preferences: list[str] = ["instruction-following", "explanation", "complexity", "readability", "style"]
    """Preferences rated when a task names none (an open task with meta.preference is rated on that one only)."""
    weights: dict[str, float] = {}
    """Weight of each preference in the verdict score (missing: 1.0); the score is the weighted mean of (rating-1)/9."""
    threshold: float = 0.6
    """Judge score in [0, 1] at or above which an open-task sample passes."""
    group_size: int = 1
    """Responses of one task rated together in one judge call (CodeUltraFeedback: 4); positions are shuffled."""
    both_orders: bool = True
    """With group_size > 1, judge each group again in reverse order, average, and report position agreement."""
    retries: int = 2
    """Extra judge calls (new seed, retry_temperature) when an answer cannot be parsed; then the sample is invalid."""
    retry_temperature: float = 0.7
    """Sampling temperature of retries (the first call is greedy)."""
    reply_tokens: int = 160
    """Most tokens a judge answer may spend per response it rates (a call rating 4 responses gets 4x)."""
    max_calls: int | None = None
    """Stop after this many judge model calls (cached answers are free; None: no limit)."""
    max_total_tokens: int | None = None
    """Stop after this many judge tokens, prompt and answer (None: no limit)."""
    cache_dir: str = "~/.cache/codekiln/judge"
    """Folder of the judge cache (every call, keyed by judge model, rubric version, prompt, responses and seed)."""
    max_response_chars: int = 2500
    """Longest response text shown to the judge (the rest is cut, and the cut is said)."""
    use_reference: bool = True
    """Show the task's reference answer to the judge when it has one."""
    prefill: bool = True
    """Start the judge's reply with the opening of the JSON answer (backends that can continue a reply)."""
    expected_rating: bool = True
    """A single answer's rating is the mean of the scale weighted by the judge's probability of each rating right after the prefill (G-Eval), not the one integer it writes: fewer ties (llama.cpp and transformers backends; an openai: judge keeps the written rating)."""
    context_size: int = 4096
    """Judge model context window in tokens (llama.cpp)."""
    judge_weight: float = 0.3
    """When a judge score is mixed into a tested verdict (python, sql, ...): its weight in the score."""
    seed: int = 0
    """Base seed of judge calls; each call's seed derives from it, the task, the preference, the order and the attempt."""


class VerifyConfig(Section):
    workers: int = 2
    """Sandbox worker processes running checks in parallel."""
    timeout_s: float = 10.0
    """Wall-clock limit per program, in seconds, for tasks without a reference to time (or with calibrate off); the whole process tree is killed after it."""
    calibrate: bool = True
    """Time each task's reference once on this machine, in the sandbox (cached under $CODEKILN_CACHE), and give its programs max(timeout_floor_s, timeout_factor x that time) (python, sql, pandas)."""
    timeout_factor: float = Field(4.0, gt=0)
    """Calibrated limit: this many times the reference's time on this machine (EvalPlus: 4)."""
    timeout_floor_s: float = Field(4.0, gt=0)
    """Calibrated limit: never below this many seconds (EvalPlus: 4)."""
    rerun_margin: float = Field(0.25, ge=0, lt=1)
    """A program that timed out, or whose verdict came within this fraction of its limit, is run once more; a verdict that differs between the runs is flaky. 0 turns it off (every program runs once)."""
    recheck: list[str] = ["passed"]
    """Statuses whose programs are always run a second time, so that a flaky program (its verdict differs between runs) is never trained on as a good answer; [] turns it off."""
    memory_mb: int = 1024
    """Address-space limit per program, in MiB."""
    output_bytes: int = 65536
    """Most bytes of stdout/stderr kept per program."""
    html_threshold: float = 0.5
    """Relevance score at or above which an html sample passes."""
    scorer: str = "minilm"
    """Relevance scorer for html tasks: minilm (embedded, offline) or clip:PATH (CLIP weights from a local folder)."""
    judge: JudgeConfig = JudgeConfig()
    """The LLM judge (open tasks, and judge scores mixed into tested verdicts)."""


class CurateConfig(Section):
    filters: list[str] = ["status", "nonempty", "length"]
    """Filters applied to samples, by name, in order: nonempty, length (drop the sample), status, score (decide whether it may be a good answer)."""
    keep_statuses: list[str] = ["passed"]
    """Verdict statuses the status filter accepts as good answers."""
    min_score: float = 0.0
    """Score threshold for the score filter (tests passed, relevance score or judge rating, in [0, 1])."""
    min_score_by_kind: dict[str, float] = {}
    """Per task kind score thresholds for the score filter, overriding min_score (e.g. {html: 0.6, open: 0.7})."""
    max_chars: int | None = Field(None, ge=1)
    """Longest completion kept by the length filter, in characters (None: by task kind, html 12000, others 4000)."""
    near_dup_threshold: float = 0.85
    """Jaccard similarity above which two programs are near-duplicates (MinHash LSH)."""
    minhash_perm: int = 128
    """MinHash permutations per program for near-duplicate detection."""
    shingle: int = 3
    """Tokens per shingle for near-duplicate detection."""
    dedup_scope: str = "task"
    """De-duplicate within each task (task) or across all tasks of a kind (kind)."""
    dedup_across_rounds: bool = True
    """Drop programs already trained on in earlier rounds of the run."""
    decontaminate: bool = True
    """Drop training items whose prompt or code overlaps an evaluation split (n-gram overlap)."""
    ngram: int = 10
    """n-gram length (in tokens) for decontamination."""
    decontam_threshold: float = 0.5
    """Fraction of an evaluation text's n-grams found in a training item that marks the item contaminated."""
    sft_per_task: int = 4
    """Most SFT rows per task, so easy tasks do not dominate."""
    pair_builder: str = "correct-vs-incorrect"
    """Pair builder: correct-vs-incorrect, best-vs-worst, margin."""
    pairs_per_task: int = 4
    """Most preference pairs per task."""
    min_margin: float = 0.0
    """Smallest score gap for the margin pair builder."""
    prefer_runtime_rejected: bool = True
    """For correct-vs-incorrect, prefer rejected samples that run but give wrong answers over syntax errors."""
    reference_as_chosen: bool = False
    """Use the task's reference solution as chosen when no sample passed (off by default; reported when on)."""


class TrainConfig(Section):
    method: str = "dpo+nll"
    """Training objective: sft, dpo, dpo+nll (CodeLutra), another TRL preference loss (ipo, hinge, robust, ...), or online RL on the tasks with the sandboxed verifier as reward: grpo, rloo."""
    peft: str = "lora"
    """Parameter-efficient method: lora, ia3, prompt, qlora (GPU only), or full fine-tuning."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling alpha."""
    lora_dropout: float = 0.05
    """LoRA dropout."""
    target_modules: str = "all-linear"
    """Modules the adapter wraps: all-linear, or a comma-separated list of module names."""
    learning_rate: float = 2e-4
    """Peak learning rate."""
    epochs: float = 1.0
    """Passes over the training data (ignored when max_steps > 0)."""
    max_steps: int = -1
    """Stop after this many optimizer steps (-1: run all epochs)."""
    batch_size: int = 1
    """Examples per device batch (a preference pair is two sequences). One, with grad_accum 4 for the same effective batch, holds a quarter of the activations of four at once and pads nothing: 3.3 GB peak instead of 7.7 GB for DPO+NLL at 512 tokens on CPU, at the same speed (BENCHMARKS.md); raise it on a GPU."""
    grad_accum: int = 4
    """Gradient accumulation steps: the effective batch is batch_size x grad_accum (x processes)."""
    share_prompt: bool = True
    """Preference methods: run the prompt a pair shares through the model once, not once per answer (the same log-probs; without gradient checkpointing only; train/shared_prompt.py)."""
    gradient_checkpointing: bool = False
    """Recompute each layer's activations in the backward pass instead of keeping them: less memory for more compute (see BENCHMARKS.md for both on this CPU)."""
    max_length: int | None = Field(None, ge=16)
    """Longest tokenized example (prompt + completion); longer ones are truncated (None: by the data's task kind, html 1536, others 512)."""
    beta: float = 0.1
    """DPO inverse temperature."""
    nll_alpha: float = 1.0
    """Weight of the NLL term on the chosen answer in dpo+nll."""
    sft_warmup: bool = True
    """With a preference method, also train on the SFT rows first when there are no pairs."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """Compute precision: auto (bf16 mixed precision on a GPU or a CPU with native bf16 instructions, else fp32), bf16, or fp32."""
    threads: int = 2
    """CPU threads for training (training runs alone in a round, so it can use every core)."""
    save_steps: int = 20
    """Checkpoint every this many steps (resume point after a kill)."""
    seed: int = 0
    """Training seed."""
    num_processes: int = 1
    """Processes for distributed training through accelerate (more than 1 needs GPUs)."""
    distributed: str = "fsdp"
    """Accelerate config used when num_processes > 1: fsdp, deepspeed (shipped presets) or a path to an accelerate config YAML."""
    prompt_tokens: int = 20
    """Virtual tokens learned by prompt tuning (peft=prompt)."""
    precompute_ref: bool = True
    """Compute the DPO reference log-probs once before training and cache them on disk (by model and data hash); skipped when training sees fewer pairs than the data holds."""
    merge: bool = False
    """Also write the merged model (base + adapter) as a plain Hugging Face folder `merged/` and a merged GGUF."""
    gguf_dtype: str = "q8_0"
    """Weight type of GGUF files written for llama.cpp (merged models, bases without a GGUF): q8_0, f16 or f32."""
    num_generations: int = 4
    """grpo/rloo: answers generated per task prompt (one group); batch_size x grad_accum must be a multiple of it."""
    completion_tokens: int | None = Field(None, ge=1)
    """grpo/rloo: longest generated answer in tokens (None: the sampling budget of the tasks' kind, python 384)."""
    generation_temperature: float = Field(0.8, gt=0)
    """grpo/rloo: sampling temperature of the generated answers."""
    kl_beta: float = Field(0.0, ge=0)
    """grpo/rloo: weight of the KL penalty against the start model (0: none and no reference pass, TRL's GRPO default)."""
    partial_credit: bool = False
    """grpo/rloo: a failing python answer earns the share of its test calls that passed before the first failure (invites reward hacking; off by default)."""
    use_vllm: bool = False
    """grpo/rloo: generate with vLLM colocated on the GPU (needs a CUDA GPU and the vllm package)."""
    report_to: list[Literal["tensorboard", "wandb", "mlflow", "trackio"]] = []
    """Experiment trackers for the trainers' steps and codekiln run's per-round figures (validation and test pass@1 with intervals, funnel, loss, stage seconds): tensorboard (event files in the model and run folders), wandb, mlflow, trackio; [] logs to none."""


class EvalConfig(Section):
    n: int = 1
    """Samples per task for evaluation."""
    k: list[int] = [1]
    """k values for pass@k."""
    temperature: float = 0.0
    """Sampling temperature for evaluation (0 = greedy)."""
    split: str = "test"
    """Split of the suite to evaluate on (codekiln run: the test split, which reports and never decides)."""
    limit: int | None = None
    """Evaluate only the first N tasks (codekiln run: of the test split and of each extra set)."""
    bootstrap: int = 1000
    """Bootstrap resamples over tasks for confidence intervals."""
    val_size: int = Field(100, ge=1)
    """codekiln run: validation tasks, carved out of the train split by the run seed (at most a quarter of it) and never trained on; validation alone (eval.select_on) decides stopping and which round is final. A suite or file with its own val split uses that split (up to val_size of its tasks)."""
    select_on: Literal["auto", "pass@1", "score", "vs-base"] = "auto"
    """codekiln run: the validation figure that decides stopping and the final round: pass@1; score, the mean verdict score over tasks (graded kinds: an html page's requirements and relevance); or vs-base, the mean judge rating difference between the round's answers and the base model's, judged side by side in both orders. auto: score when every validation task is html or open, else pass@1 (never vs-base: qwen2.5-coder-0.5b rates whichever of two answers it is shown first higher, so both orders give ties; choose vs-base for a judge whose order agreement, printed by codekiln compare, is high)."""
    test_each_round: bool = True
    """codekiln run: also evaluate every round's model on the test split, for the report's curve (reported, never used for a decision); off: only the base and the final model."""
    extra: list[str] | None = None
    """codekiln run: more task sets (suite names, task files, HumanEval files) on which base and final are compared at the end (transfer); None: by suite (python-basic: humaneval, sql-basic: sql-transfer); []: none."""


class RunConfig(Section):
    name: str | None = None
    """Run folder name under runs_dir (generated and printed when not given)."""
    runs_dir: str = "runs"
    """Folder that holds run folders."""
    tasks: str = "sql-basic"
    """Task suite (built-in name) or task file to train and evaluate on."""
    synthesize_tests: bool = False
    """Make the ground truth tasks lack (python tests, sql gold queries) before the first round, as `codekiln tasks synthesize-tests` does, instead of stopping with the way to do it."""
    rounds: int = Field(2, ge=0)
    """Most self-improvement rounds after the baseline (round 0 evaluates the base model)."""
    train_limit: int | None = Field(128, ge=1)
    """Train tasks sampled per round: round R takes the next N of the train split (wrapping around); None = all."""
    min_gain: float = 0.01
    """Stop early when validation pass@1 gains less than this (a fraction: 0.01 = 1 point) for `patience` rounds."""
    patience: int = Field(1, ge=1)
    """Rounds in a row without enough gain before stopping."""
    seed: int = 0
    """Run seed (Python's and NumPy's global generators); the stages' own seeds are sample.seed and train.seed."""
    executor: str = "local"
    """Where sample and verify run: local (process pools) or ray."""
    ray_address: str | None = None
    """Ray cluster address for executor=ray (None starts a local cluster)."""
    sample: SampleConfig = SampleConfig()
    verify: VerifyConfig = VerifyConfig()
    curate: CurateConfig = CurateConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()

    @model_validator(mode="before")
    @classmethod
    def _run_defaults(cls, data: Any) -> Any:
        """Defaults of `codekiln run` that differ from the single-stage commands' (sized for ~20 min on 2 CPU cores);
        applied key by key, so a config that sets another key of the same section keeps them."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section, defaults in RUN_DEFAULTS.items():
            given = data.get(section)
            if given is None:
                data[section] = dict(defaults)
            elif isinstance(given, dict):
                data[section] = {**defaults, **given}
        return data


# Per-section defaults of the embedded `codekiln run` config (see RunConfig._run_defaults).
RUN_DEFAULTS: dict[str, dict[str, Any]] = {
    # T=0.6: a higher pass rate than 0.8 (18.8% vs 14.5% on the same 128 tasks), so more programs to learn from.
    "sample": {"n": 4, "temperature": 0.6},
    # A gentler step than the single-stage default: steady gains over rounds instead of a jump and a fall.
    "train": {"max_steps": 24, "learning_rate": 1e-4},
}


def _all_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(_all_keys(ann, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _suggest(key: str) -> str:
    keys = _all_keys(RunConfig)
    leaf = key.split(".")[-1]
    same_leaf = [k for k in keys if k.split(".")[-1] == leaf and k != key]
    close = (
        difflib.get_close_matches(key, keys, n=1, cutoff=0.9)
        or same_leaf
        or difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        or difflib.get_close_matches(leaf, keys, n=1, cutoff=0.4)
    )
    return f"; did you mean {' or '.join(repr(k) for k in close)}?" if close else ""


def _raise_validation(err: ValidationError, source: str) -> None:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        raise ConfigError(f"{source}: unknown config key {key!r}{_suggest(key)}") from None
    raise ConfigError(f"{source}: {key}: {first['msg']} (got {first.get('input')!r})") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b=value` into (['a', 'b'], value) with the value parsed as YAML (so 3 is an int, [1,10] a list)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value (for example train.max_steps=20)")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def _set_path(tree: dict[str, Any], path: list[str], value: Any, text: str) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {text!r}: {part!r} is a value, not a section{_suggest('.'.join(path))}")
        node = child
    node[path[-1]] = value


def preset_names() -> list[str]:
    folder = resources.files("codekiln") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(path: Path | Any, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such config file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of config keys at the top level")
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(
    path: str | Path | None = None, overrides: list[str] | None = None, preset: str | None = None
) -> RunConfig:
    """Resolve the config: embedded default ← preset ← YAML file ← `a.b=value` overrides."""
    tree: dict[str, Any] = {}
    if preset:
        names = preset_names()
        if preset not in names:
            raise ConfigError(f"unknown preset {preset!r}; choose from {names}")
        tree = _merge(tree, _read_yaml(resources.files("codekiln") / "presets" / f"{preset}.yaml", f"preset {preset}"))
    if path:
        tree = _merge(tree, _read_yaml(Path(path), str(path)))
    for text in overrides or []:
        keys, value = parse_override(text)
        _set_path(tree, keys, value, text)
    try:
        cfg = RunConfig.model_validate(tree)
    except ValidationError as err:
        _raise_validation(err, str(path or preset or "config"))
        raise  # unreachable
    from codekiln.choices import check_choices

    check_choices(cfg)  # closed choices against their registries, before any slow work
    return cfg


def validate_section(section: BaseModel, **changes: Any) -> Any:
    """Return a copy of a section with CLI flag values applied and validated (None means: not given)."""
    data = section.model_dump()
    data.update({k: v for k, v in changes.items() if v is not None})
    try:
        out = type(section).model_validate(data)
    except ValidationError as err:
        _raise_validation(err, "command line")
        raise
    from codekiln.choices import check_choices

    check_choices(out, SECTION_KEYS.get(type(section).__name__, ""))
    return out


# Where each section sits in the run config (the prefix of its dotted keys).
SECTION_KEYS = {"SampleConfig": "sample.", "VerifyConfig": "verify.", "JudgeConfig": "verify.judge.",
                "CurateConfig": "curate.", "TrainConfig": "train.", "EvalConfig": "eval.", "RunConfig": ""}


def config_to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def command_defaults(section: type[Section]) -> Any:
    """The section as every command starts from it: the embedded run config's (`RUN_DEFAULTS` applied), so
    `codekiln sample`, `train` or `curate` use, and their `--help` shows, the values `codekiln run` uses."""
    value: Any = RunConfig()
    for name in SECTION_KEYS[section.__name__].strip(".").split("."):
        value = getattr(value, name) if name else value
    return value


def field_help(section: type[BaseModel], name: str) -> str:
    """The docstring of a config field, with the default the commands use and its dotted config key: the
    `--help` text of the flag that sets it."""
    info = section.model_fields[name]
    prefix = SECTION_KEYS.get(section.__name__)
    default = getattr(command_defaults(section), name) if prefix is not None else info.default  # type: ignore[arg-type]
    return f"{info.description or ''} (default: {default!r}; config key {prefix or ''}{name})"


def add_field_option(
    parser: argparse.ArgumentParser, flag: str, section: type[BaseModel], name: str, **kwargs: Any
) -> None:
    """Add `flag` that sets config field `section.name`, its help taken from the field's docstring."""
    info = section.model_fields[name]
    ann = info.annotation
    if ann is bool:
        parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                            help=field_help(section, name), **kwargs)
        return
    type_ = kwargs.pop("type", ann if ann in (int, float, str) else None)
    if type_ is None and ann == (int | None):
        type_ = int
    parser.add_argument(flag, dest=name, type=type_, default=None, help=field_help(section, name), **kwargs)
