"""`codekiln serve` on a tiny trained round: the OpenAI API answers what codekiln's own sampler writes for the same
prompt (greedy), with the round's LoRA adapter applied, and prints the vLLM command for a GPU."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from codekiln.config import SampleConfig, TrainConfig
from train_fixtures import python_task, write_data

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(model: Path, name: str, context: int, cache: Path) -> tuple[subprocess.Popen, str]:
    """`codekiln serve MODEL` on a free port, once it answers; the process (in its own session) and its /v1 URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "codekiln.cli", "serve", str(model), "--port", str(port),
                             "--threads", "1", "--name", name, "--context-size", str(context)],
                            env={**os.environ, "CODEKILN_CACHE": str(cache)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"codekiln serve ended: {proc.communicate()[1]}")
            time.sleep(0.5)
    return proc, url


def local_greedy(model: str, messages: list[dict[str, str]], tokens: int = 12) -> str:
    from codekiln.sample.base import GenParams, Request
    from codekiln.sample.llamacpp import LlamaCppSampler
    from codekiln.sample.models import resolve_model

    sampler = LlamaCppSampler(resolve_model(model), SampleConfig(threads=1, context_size=1024))
    try:
        (gen,) = sampler.generate([Request(messages, seed=0)], GenParams(temperature=0.0, top_p=1.0, max_tokens=tokens,
                                                                          top_k=0))
    finally:
        sampler.close()
    return gen.text


def test_serve_answers_what_codekiln_samples(tmp_path, monkeypatch):
    from codekiln.sample.prompts import build_messages
    from codekiln.train.run import train_model
    from codekiln.train.tiny import build_tiny_model

    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    tiny = build_tiny_model(tmp_path / "tiny")
    sft, _ = write_data(tmp_path / "data")
    cfg = TrainConfig(method="sft", max_steps=4, batch_size=4, grad_accum=1, lora_r=4, lora_alpha=8,
                      lora_dropout=0.0, learning_rate=3e-2)
    round_dir = train_model(str(tiny), tmp_path / "round", cfg, sft=sft, quiet=True)
    messages = build_messages(python_task(0))
    want = local_greedy(str(round_dir), messages)
    base = json.loads((round_dir / "codekiln-model.json").read_text())["base_gguf"]
    assert want != local_greedy(base, messages)  # the adapter changes the answer: a server without it cannot pass

    proc, url = start_serve(round_dir, "tiny", 1024, tmp_path / "cache")
    try:
        import openai

        client = openai.OpenAI(base_url=url, api_key="none")
        reply = client.chat.completions.create(model="tiny", messages=messages, temperature=0.0, max_tokens=12)
        # Cut at max_tokens, llama-cpp-python's chat path drops the last token's text (its usage still counts 12):
        # the answer is codekiln's own greedy sample of 12 tokens, or of 11 when that last text was dropped.
        assert reply.usage.completion_tokens == 12
        assert reply.choices[0].message.content in (want, local_greedy(str(round_dir), messages, 11))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert f"openai:tiny@{url}" in err and "vllm serve" in err and "--enable-lora" in err
    assert str(Path(round_dir / "adapter").resolve()) in err


def test_eval_through_serve_reproduces_the_local_pass_at_1(tmp_path, monkeypatch):
    """`codekiln eval --model openai:NAME@URL` against `codekiln serve` gives the local eval's samples and pass@1. The
    chat API cannot continue a started reply, so both sides sample without the fence prefill (--no-stop-at-fence)."""
    from codekiln.cli import main
    from codekiln.records import Sample, Task, read_jsonl, write_jsonl
    from codekiln.sample.llamacpp import LlamaCppSampler
    from codekiln.sample.models import resolve_model
    from codekiln.sample.prompts import build_messages
    from scripted_model import chain, scripted_gguf

    monkeypatch.setenv("CODEKILN_CACHE", str(tmp_path / "cache"))
    # The same answer, "1)", to every prompt: it completes `return (` to return 1, right for `one`, wrong for `two`.
    tasks = [Task(name, "python", f"def {name}(x):\n    return (", entry_point=name,
                  test=f"def check(c):\n    assert c(0) == {want}\n") for name, want in (("one", 1), ("two", 2))]
    write_jsonl(tmp_path / "tasks.jsonl", tasks)
    plain = scripted_gguf(tmp_path / "probe", {})  # any scripted model renders the chat template the same way
    probe = LlamaCppSampler(resolve_model(str(plain)), SampleConfig(threads=1, context_size=512))
    rendered = probe.render(build_messages(tasks[0]))
    probe.close()
    gguf = scripted_gguf(tmp_path / "model", chain(rendered, "1)"))
    common = ["--tasks", str(tmp_path / "tasks.jsonl"), "--n", "1", "--temperature", "0", "--max-tokens", "8",
              "--no-stop-at-fence", "--quiet"]
    assert main(["eval", "--model", str(gguf), *common, "--out", str(tmp_path / "local")]) == 0

    proc, url = start_serve(gguf, "scripted", 512, tmp_path / "cache")
    try:
        assert main(["eval", "--model", f"openai:scripted@{url}", *common, "--out", str(tmp_path / "served")]) == 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    local, served = (json.loads((tmp_path / side / "metrics.json").read_text()) for side in ("local", "served"))
    assert local["pass@1"] == served["pass@1"] == 0.5
    assert [r["pass@1"] for r in local["per_task"]] == [r["pass@1"] for r in served["per_task"]] == [1.0, 0.0]
    completions = [[s.completion for s in read_jsonl(tmp_path / side / "samples.jsonl", Sample)]
                   for side in ("local", "served")]
    assert completions[0] == completions[1] == ["1)\n", "1)\n"]
