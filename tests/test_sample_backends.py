"""The real backends end to end on a tiny random Llama chat model built here (HF folder + GGUF export).

llama.cpp, transformers and the OpenAI-compatible client (against llama-cpp-python's own server, started
on 127.0.0.1 by the test) must agree on greedy replies, honour per-sample seeds whatever the batch size,
and `sample_tasks` must resume an interrupted file without redoing finished samples.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from codekiln.cli import main as cli_main
from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.records import Sample, Task, read_jsonl, write_jsonl
from codekiln.sample.base import GenParams, Request, load_sampler
from codekiln.sample.models import resolve_model
from codekiln.sample.prompts import build_messages
from codekiln.sample.run import sample_tasks

TASKS = [
    Task(f"t{i}", "python", f"def f{i}(a, b):\n", entry_point=f"f{i}", test="def check(c):\n    pass\n")
    for i in range(3)
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from codekiln.train.export import write_gguf
    from codekiln.train.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    hf = build_tiny_model(root / "hf")
    return {"hf": hf, "gguf": write_gguf(hf, root / "tiny.gguf", "f32")}


def _cfg(model: Path | str, **kw) -> SampleConfig:
    return SampleConfig(model=str(model), max_tokens=kw.pop("max_tokens", 12), **kw)


def _clean(text: str) -> str:
    """llama.cpp drops bytes that are not valid UTF-8 (random models make them); transformers writes U+FFFD."""
    return text.replace("\ufffd", "")


def test_llamacpp_and_transformers_agree_on_greedy_replies(tiny):
    messages = build_messages(TASKS[0])
    requests = [Request(messages, seed=1, prefill="```python\n")]
    params = GenParams(temperature=0.0, top_p=1.0, max_tokens=16)
    llama = load_sampler(resolve_model(str(tiny["gguf"])), _cfg(tiny["gguf"]))
    hf = load_sampler(resolve_model(str(tiny["hf"])), _cfg(tiny["hf"]))
    try:
        assert llama.render(messages) == hf.render(messages)
        a, b = llama.generate(requests, params)[0], hf.generate(requests, params)[0]
    finally:
        llama.close()
        hf.close()
    assert a.text.startswith("```python\n") and len(a.text) > len("```python\n")
    # llama-cpp-python may run a few tokens past max_tokens to finish a UTF-8 character: compare the common part.
    x, y = _clean(a.text), _clean(b.text)
    assert min(len(x), len(y)) > len("```python\n") + 8 and (x.startswith(y) or y.startswith(x)), (x, y)


def test_llamacpp_and_transformers_agree_on_choice_probabilities(tiny):
    """The judge's expected rating reads these: both backends must give the same distribution over the options."""
    request = Request(build_messages(TASKS[0]), seed=1, prefill='{"A": {"rating": ')
    options = [str(r) for r in range(1, 11)] + ["def", "return x"]
    llama = load_sampler(resolve_model(str(tiny["gguf"])), _cfg(tiny["gguf"]))
    hf = load_sampler(resolve_model(str(tiny["hf"])), _cfg(tiny["hf"]))
    try:
        a, b = llama.choice_probs(request, options), hf.choice_probs(request, options)
    finally:
        llama.close()
        hf.close()
    assert all(0.0 <= p <= 1.0 for p in a) and sum(a[:9]) <= 1.0 + 1e-6
    assert a == pytest.approx(b, rel=2e-2, abs=1e-9)  # f32 both; the kernels sum in other orders
    assert len(set(a)) > 3  # a random model's distribution, not a constant


@pytest.mark.parametrize("backend", ["llama.cpp", "transformers"])
def test_samples_depend_on_seed_not_on_batch_size(tiny, backend, tmp_path):
    model = tiny["gguf"] if backend == "llama.cpp" else tiny["hf"]
    cfg = _cfg(model, n=3, temperature=1.0, top_p=1.0, batch_size=3)
    batched = sample_tasks(TASKS[:2], cfg, tmp_path / "a.jsonl", quiet=True)
    single = sample_tasks(TASKS[:2], cfg.model_copy(update={"batch_size": 1}), tmp_path / "b.jsonl", quiet=True)
    assert [s.raw for s in batched] == [s.raw for s in single]
    assert [s.seed for s in batched] == [s.seed for s in single]
    assert len({s.raw for s in batched if s.task_id == "t0"}) == 3, "n samples of one task must differ"
    assert [s.sample_id for s in batched] == [f"t{t}#r0s{i}" for t in range(2) for i in range(3)]
    assert all(s.meta["tokens"] > 0 and s.model for s in batched)


def test_sampling_resumes_without_redoing_finished_samples(tiny, tmp_path):
    cfg = _cfg(tiny["gguf"], n=2, temperature=0.9, batch_size=2)
    full = sample_tasks(TASKS, cfg, tmp_path / "full.jsonl", quiet=True)
    out = tmp_path / "part.jsonl"
    lines = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
    # A kill after three samples, in the middle of writing the fourth; the kept ones are marked to detect redoing.
    kept = [json.loads(line) | {"kept": True} for line in lines[:3]]
    out.write_text("".join(json.dumps(k) + "\n" for k in kept) + lines[3][:20])
    resumed = sample_tasks(TASKS, cfg, out, quiet=True)
    assert [s.raw for s in resumed] == [s.raw for s in full]
    assert [s.meta.get("kept") for s in resumed] == [True] * 3 + [None] * 3
    assert len(read_jsonl(out, Sample)) == 6
    again = sample_tasks(TASKS, cfg, out, quiet=True)  # nothing left to do: no model is even loaded
    assert again == resumed
    other = sample_tasks(TASKS[:1], cfg.model_copy(update={"model": str(tiny["hf"])}), out, quiet=True)
    assert other[0].model != resumed[0].model, "samples of another model are not taken as finished"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# llama-cpp-python's server, with its default repeat penalty (1.1 where a request does not say) set to 1.0: the
# OpenAI chat API has no field for it, and the in-process backend samples without one (repeat_penalty=1.0).
SERVER = """
import sys
from llama_cpp.server import types
for request in (types.CreateChatCompletionRequest, types.CreateCompletionRequest):
    request.model_fields["repeat_penalty"].default = 1.0
    request.model_rebuild(force=True)
from llama_cpp.server.__main__ import main
sys.exit(main())
"""


@pytest.fixture(scope="module")
def server(tiny):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, "--model", str(tiny["gguf"]), "--host",
                             "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--verbose", "False"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama_cpp.server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_openai_backend_against_a_real_local_server(tiny, server, tmp_path):
    # The same prompts (the OpenAI backend cannot prefill, so neither side does) and greedy decoding on both sides:
    # the whole replies, many tokens each, must be the same text.
    greedy = {"n": 1, "temperature": 0.0, "max_tokens": 48, "stop_at_fence": False}
    remote = sample_tasks(TASKS, _cfg(f"openai:tiny@{server}", concurrency=2, **greedy),
                          tmp_path / "remote.jsonl", quiet=True)
    local = sample_tasks(TASKS, _cfg(tiny["gguf"], **greedy), tmp_path / "local.jsonl", quiet=True)
    # llama-cpp-python's server skips its max_tokens check while the text ends in an unfinished UTF-8 character
    # (random models write such bytes), so it can run up to 3 tokens past the limit; codekiln stops at it.
    for r, mine in zip(remote, local, strict=True):
        assert r.raw.startswith(mine.raw) and mine.meta["tokens"] <= r.meta["tokens"] <= mine.meta["tokens"] + 3, (
            r.raw, mine.raw)
    assert all(s.meta["tokens"] == 48 for s in local), [s.meta["tokens"] for s in local]
    assert len({s.raw for s in local}) == len(TASKS), "each prompt gets its own reply"
    seeded = sample_tasks(TASKS[:1], _cfg(f"openai:tiny@{server}", n=3, temperature=1.0),
                          tmp_path / "seeded.jsonl", quiet=True)
    again = sample_tasks(TASKS[:1], _cfg(f"openai:tiny@{server}", n=3, temperature=1.0),
                         tmp_path / "seeded2.jsonl", quiet=True)
    assert [s.raw for s in seeded] == [s.raw for s in again] and len({s.raw for s in seeded}) == 3


def test_openai_backend_gives_up_with_one_line_on_a_dead_server(tmp_path):
    cfg = _cfg(f"openai:m@http://127.0.0.1:{_free_port()}/v1", n=1, retries=1, request_timeout_s=2)
    with pytest.raises(UserError, match="no answer after 2 attempts"):
        sample_tasks(TASKS[:1], cfg, tmp_path / "s.jsonl", quiet=True)


def test_cli_sample_writes_samples_and_reports_bad_input(tiny, tmp_path, capsys):
    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, TASKS)
    out = tmp_path / "s.jsonl"
    argv = ["sample", "--model", str(tiny["gguf"]), "--tasks", str(tasks), "--n", "2", "--limit", "2",
            "--max-tokens", "8", "--out", str(out), "--quiet"]
    assert cli_main(argv) == 0
    samples = read_jsonl(out, Sample)
    assert [s.task_id for s in samples] == ["t0", "t0", "t1", "t1"]
    assert cli_main([*argv[:2], str(tmp_path / "nope.gguf"), *argv[3:]]) == 2
    assert "no such model" in capsys.readouterr().err
    assert cli_main(["sample", "--tasks", "no-such-suite", "--out", str(out), "--quiet"]) == 2


@pytest.mark.slow
def test_smollm2_writes_the_requested_function(tmp_path):
    from codekiln.tasks import load_tasks

    tasks = load_tasks("humaneval")[:2]
    samples = sample_tasks(tasks, SampleConfig(n=1, temperature=0.0, max_tokens=160), tmp_path / "s.jsonl", quiet=True)
    assert all(s.raw.startswith("```python\n") for s in samples)
    assert all(f"def {t.entry_point}(" in s.completion for t, s in zip(tasks, samples, strict=True))
    assert samples[0].model.startswith("smollm2-135m (as Q8_0")


def test_trained_model_folder_samples_with_its_adapter_in_both_backends(tiny, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from codekiln.train.export import write_lora_gguf

    folder = tmp_path / "round1"
    torch.manual_seed(1)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny["hf"])),
                                LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # a fresh adapter is a no-op (B = 0); make this one change the model
    peft_model.save_pretrained(folder / "adapter")
    write_lora_gguf(folder / "adapter", tiny["hf"], folder / "adapter.gguf")
    (folder / "codekiln-model.json").write_text(json.dumps({
        "format": "codekiln-model/1", "base_gguf": str(tiny["gguf"]), "base_hf": str(tiny["hf"]),
        "adapter_hf": "adapter", "lora_gguf": "adapter.gguf", "merged_gguf": None, "parent": str(tiny["hf"])}))

    def greedy(model: Path, backend: str) -> str:
        cfg = _cfg(model, n=1, temperature=0.0, backend=backend, max_tokens=16)
        return sample_tasks(TASKS[:1], cfg, tmp_path / f"{model.name}-{backend}.jsonl", quiet=True)[0].raw

    with_lora, with_adapter = greedy(folder, "llama.cpp"), greedy(folder, "transformers")
    x, y = _clean(with_lora), _clean(with_adapter)
    assert min(len(x), len(y)) > len("```python\n") + 8 and (x.startswith(y) or y.startswith(x)), (x, y)
    assert with_lora != greedy(tiny["gguf"], "llama.cpp"), "the adapter must change what the model writes"


def test_prompt_tuning_adapter_samples_through_peft(tiny, tmp_path):
    """A prompt-tuned round cannot be merged into the weights: the transformers backend generates through peft."""
    import torch
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path / "round-prompt"
    torch.manual_seed(2)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(tiny["hf"])),
                                PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "prompt_encoder" in name:
                param.normal_(0, 2.0)  # virtual tokens far from the vocabulary's: they must steer the model
    peft_model.save_pretrained(folder / "adapter")
    (folder / "codekiln-model.json").write_text(json.dumps({
        "format": "codekiln-model/1", "base_gguf": None, "base_hf": str(tiny["hf"]), "adapter_hf": "adapter",
        "lora_gguf": None, "merged_gguf": None, "parent": str(tiny["hf"])}))

    def greedy(model: Path) -> str:
        cfg = _cfg(model, n=1, temperature=0.0, backend="transformers", max_tokens=16)
        return sample_tasks(TASKS[:1], cfg, tmp_path / f"{model.name}.jsonl", quiet=True)[0].raw

    tuned = greedy(folder)
    assert tuned.startswith("```python\n")
    assert tuned != greedy(tiny["hf"]), "the virtual tokens must change what the model writes"


LOG_CHILD = """
import ctypes, sys
import llama_cpp.llama_cpp
from codekiln.sample.llamacpp import quiet_llama_logs
if sys.argv[1] == "quiet":
    quiet_llama_logs()
# llama.cpp's own LLAMA_LOG_* (C++ name), in the library llama-cpp-python loaded (another path is another copy)
log = getattr(llama_cpp.llama_cpp._lib, "_Z18llama_log_internal14ggml_log_levelPKcz")
for level, text in ((2, b"an info line"), (3, b"a warning line"), (4, b"an error line"), (5, b" continued")):
    log(ctypes.c_int(level), b"%s\\n", text)
"""


@pytest.mark.parametrize("mode", ["quiet", "as shipped"])
def test_llama_logs_print_errors_only(mode):
    # llama.cpp logs through the callback codekiln installs in every model process: warnings (qwen2.5-coder's LoRA
    # adapter gives 12 per load) must not reach the user's terminal, errors must. Without codekiln's callback,
    # llama-cpp-python 0.3.36 maps ggml's levels by their old order and prints the warning as an error.
    out = subprocess.run([sys.executable, "-c", LOG_CHILD, mode], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    if mode == "quiet":
        assert out.stderr == "an error line\n continued\n"
    else:
        assert "a warning line" in out.stderr  # the upstream behaviour this works around
