"""codekiln's verifiers as the reward of online RL: TRL reward functions, a verl `compute_score`, an HTTP server.

`reward_function(tasks)` (function.py) is the core; `verl.py` adapts it to verl's custom reward function
signature; `server.py` serves it over HTTP in the request/response shape of OpenRLHF's remote reward model.
"""

from __future__ import annotations

from codekiln.rewards.function import RewardFunction, reward_function

__all__ = ["RewardFunction", "reward_function"]
