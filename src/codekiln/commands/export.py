"""`codekiln export`: a run's round as Hub-ready folders (see `codekiln.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("Export a run's final round for the Hugging Face Hub, llama.cpp and Ollama: adapter and merged model with a "
        "model card, GGUF files and a Modelfile, the curated data with a dataset card.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="A run folder (runs/NAME).")
    parser.add_argument("--out", required=True, type=Path, help="Folder to write.")
    parser.add_argument("--round", type=int, default=None, dest="round_",
                        help="Export this round instead of the final one (chosen on validation).")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO",
                        help="Upload the adapter (with its card) to this Hub model repo (needs network and a token).")
    parser.add_argument("--push-data", default=None, metavar="REPO",
                        help="Upload the curated data (with its card) to this Hub dataset repo.")


def main(args: argparse.Namespace) -> int:
    from codekiln.export import export_run, push
    from codekiln.progress import say

    folders = export_run(args.run, args.out, args.round_)
    say(f"exported {args.run} to {args.out}: " + ", ".join(f"{k}/" for k, p in folders.items() if p.exists()))
    if args.push_to_hub:
        say(f"pushed the adapter: {push(folders['adapter'], args.push_to_hub, 'model')}")
    if args.push_data:
        say(f"pushed the data: {push(folders['data'], args.push_data, 'dataset')}")
    return 0
