"""Training: SFT and DPO(+NLL) through TRL + PEFT, and export of the result for llama.cpp.

`train_model` (run.py) is the stage; `write_gguf` / `write_lora_gguf` (export.py) serve models to
llama.cpp; `build_tiny_model` (tiny.py) makes a tiny random chat model for tests. Heavy libraries are
imported inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from typing import Any


def train_model(*args: Any, **kwargs: Any) -> Any:
    from codekiln.train.run import train_model as _train_model

    return _train_model(*args, **kwargs)


__all__ = ["train_model"]
