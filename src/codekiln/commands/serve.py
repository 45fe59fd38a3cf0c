"""`codekiln serve MODEL`: a model (a trained round, an alias, a .gguf) behind an OpenAI-compatible HTTP API.

On CPU it is llama-cpp-python's own server on the same GGUF file codekiln samples from (the base model's, re-quantized
once to Q8_0 as in sampling, with the round's LoRA adapter applied), so `codekiln eval --model openai:NAME@URL`
against it asks the model codekiln evaluated. For a GPU it prints the vLLM command that serves the round's base model
with its adapter (`--enable-lora`). The chat template is the model's own (read from the GGUF).
"""

from __future__ import annotations

import argparse
import os

HELP = "Serve a model over an OpenAI-compatible API (llama.cpp on CPU; prints the vLLM command for a GPU)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="A trained round folder (runs/NAME/final or round-R/model), an alias "
                                      "(smollm2-135m, qwen2.5-coder-0.5b) or a .gguf file.")
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
    parser.add_argument("--port", type=int, default=8000, help="Port (default 8000).")
    parser.add_argument("--name", default=None, help="The model name clients send (default: codekiln).")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores).")
    parser.add_argument("--context-size", type=int, default=4096, help="Context window in tokens (default 4096).")


def vllm_command(model: str, name: str, port: int) -> str | None:
    """The vLLM command for a trained round on a GPU (base model + LoRA adapter), or None for other models."""
    import json
    from pathlib import Path

    info = Path(model) / "codekiln-model.json"
    if not info.is_file():
        return None
    data = json.loads(info.read_text(encoding="utf-8"))
    base, adapter = data.get("base_hf"), data.get("adapter_hf")
    if not base or not adapter:
        return None
    return (f"vllm serve {base} --enable-lora --lora-modules {name}={(Path(model) / adapter).resolve()} "
            f"--port {port}")


def main(args: argparse.Namespace) -> int:
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from codekiln.errors import UserError
    from codekiln.progress import say
    from codekiln.sample.llamacpp import quiet_llama_logs
    from codekiln.sample.models import resolve_model
    from codekiln.sample.quantize import fast_gguf

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    ref = resolve_model(args.model)
    if ref.gguf is None:
        raise UserError(f"{args.model!r} has no GGUF file for llama.cpp to serve; give a codekiln round folder, an "
                        "alias or a .gguf (for a Hugging Face folder on a GPU: vllm serve FOLDER)")
    threads = args.threads or os.cpu_count() or 1
    name = args.name or "codekiln"
    model = ModelSettings(model=str(fast_gguf(ref.gguf, threads)), model_alias=name, n_ctx=args.context_size,
                          n_threads=threads, n_threads_batch=threads,
                          lora_path=str(ref.lora_gguf) if ref.lora_gguf else None, verbose=False)
    quiet_llama_logs()
    app = create_app(server_settings=ServerSettings(host=args.host, port=args.port), model_settings=[model])
    say(f"codekiln serve: {ref.name} as {name!r} on http://{args.host}:{args.port}/v1 (OpenAI API); "
        f"evaluate it with --model openai:{name}@http://{args.host}:{args.port}/v1")
    gpu = vllm_command(args.model, name, args.port)
    if gpu:
        say(f"on a GPU: {gpu}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
