"""Shared test fixtures. Tests build tiny models in the test itself and never run generated code outside the sandbox."""

from __future__ import annotations

import os

# One torch/OpenMP thread: faster on 2 shared cores, and tests run side by side with sandbox workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
