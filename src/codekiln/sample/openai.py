"""The OpenAI-compatible HTTP backend (vLLM, llama.cpp server, Ollama, hosted APIs).

`POST {url}/chat/completions`, one request per sample (each with its own `seed`), at most
`cfg.concurrency` in flight, each with a timeout, retried with exponential backoff on connection errors,
timeouts, 429 and 5xx. The API key is read from the environment variable named by `cfg.api_key_env`
(optional: local servers need none). Standard library only.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.sample.base import Generation, GenParams, Request
from codekiln.sample.models import ModelRef

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class OpenAISampler:
    supports_prefill = False  # the chat API cannot continue a started assistant turn

    def __init__(self, ref: ModelRef, cfg: SampleConfig) -> None:
        assert ref.url is not None and ref.api_model is not None
        self.name = ref.name
        self.url = f"{ref.url}/chat/completions"
        self.model = ref.api_model
        self.cfg = cfg
        self.api_key = os.environ.get(cfg.api_key_env, "")

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode("utf-8")
        last = ""
        for attempt in range(self.cfg.retries + 1):
            if attempt:
                time.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            try:
                request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.cfg.request_timeout_s) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", errors="replace")[:300]
                if err.code not in RETRY_STATUS:
                    raise UserError(f"{self.url} answered HTTP {err.code}: {detail}") from None
                last = f"HTTP {err.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as err:
                last = str(getattr(err, "reason", err))
        raise UserError(f"{self.url}: no answer after {self.cfg.retries + 1} attempts ({last})")

    def _one(self, request: Request, params: GenParams) -> Generation:
        body = {"model": self.model, "messages": request.messages, "temperature": params.temperature,
                "top_p": params.top_p, "max_tokens": params.max_tokens, "seed": request.seed}
        reply = self._post(body)
        try:
            choice = reply["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise UserError(f"{self.url}: not an OpenAI chat completion: {json.dumps(reply)[:300]}") from None
        usage = reply.get("usage") or {}
        return Generation(text=text, n_tokens=int(usage.get("completion_tokens") or 0),
                          finish="length" if choice.get("finish_reason") == "length" else "stop")

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        with ThreadPoolExecutor(max_workers=max(1, self.cfg.concurrency)) as pool:
            return list(pool.map(lambda r: self._one(r, params), requests))

    def close(self) -> None:
        pass
