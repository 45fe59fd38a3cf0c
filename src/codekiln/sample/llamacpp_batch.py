"""Many sequences in one llama.cpp decode: the generation engine of the llama.cpp backend.

Plain llama-cpp-python (`create_completion`) decodes one sequence per `llama_decode` call, so each generated token
reads all the weights once. Here up to `parallel` sequences advance together, one token each per call, through
llama-cpp-python's low-level API (no native code of our own):

- Each sequence has its own KV stream (`kv_unified=False`). Measured on this CPU, a sequence's logits are then
  bit-identical whether it decodes alone or beside others of any length (a unified KV buffer moved them), so a
  sample does not depend on which requests share its batch; `tests/test_llamacpp_batch.py` holds this.
- A task's prompt is evaluated once, into a cache stream, and copied to each of its sequences; the prompt's last
  token is decoded with the sequence, which gives its first logits.
- Continuous batching: a finished sequence's stream takes the next request at once.
- The running sequences always occupy streams 0..k-1, in order: llama.cpp splits a batch whose streams are not
  consecutive into one pass per run (measured: 8 sequences took 108 ms a step scattered, 60 ms packed).
- Every sequence has its own sampler chain and seed (top-k, top-p, temperature, then a draw), as
  `create_completion` builds it.
"""

from __future__ import annotations

import ctypes
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from codekiln.sample.base import Generation, GenParams, Request

SEED_MASK = 0xFFFFFFFF  # llama.cpp's dist sampler takes a uint32

FEWEST_TOGETHER = 4
"""Fewer running sequences than this decode one per call. Measured on this CPU (smollm2 Q8_0, one thread, ms per
call): 1 sequence 10.4, 2 together 31.8, 4 together 39.3, 8 together 55.5, 16 together 86.6: llama.cpp takes
another matrix kernel above one row, which pays off from about four."""


@dataclass
class _Sequence:
    """One request being generated: its sampler chain, the text so far, and what to decode next."""

    request: int
    chain: Any
    budget: int
    next_token: int
    pos: int
    text: bytearray = field(default_factory=bytearray)
    tokens: int = 0


class BatchDecoder:
    """A llama.cpp context with `parallel` sequence streams (and one for the prompt) over an already loaded model."""

    def __init__(self, model: Any, vocab: Any, parallel: int, context_per_sequence: int, threads: int,
                 lora_adapter: Any = None, lora_scale: float = 1.0, n_batch: int = 512) -> None:
        import llama_cpp as C

        self._C = C
        self.parallel = max(1, parallel)
        self.cache = self.parallel  # the stream that holds the prompt being copied
        params = C.llama_context_default_params()
        params.n_ctx = context_per_sequence * (self.parallel + 1)
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = self.parallel + 1
        params.n_threads = params.n_threads_batch = threads
        params.kv_unified = False
        params.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as Llama() builds its context
        self.ctx = C.llama_init_from_model(model, params)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not make a context of {self.parallel + 1} x {context_per_sequence}")
        if lora_adapter is not None:
            adapters = (C.llama_adapter_lora_p_ctypes * 1)(lora_adapter)
            if C.llama_set_adapters_lora(self.ctx, adapters, 1, (ctypes.c_float * 1)(lora_scale)):
                raise RuntimeError("llama.cpp could not apply the LoRA adapter to the batch context")
        self.memory = C.llama_get_memory(self.ctx)
        self.vocab = vocab
        self.n_batch = n_batch
        self.context = C.llama_n_ctx_seq(self.ctx)
        self.batch = C.llama_batch_init(n_batch, 0, 1)
        self._pieces: dict[int, bytes] = {}
        self._cached: tuple[int, ...] | None = None

    def generate(self, prompts: Sequence[Sequence[int]], requests: Sequence[Request], context: int,
                 params: GenParams) -> Iterator[tuple[int, Generation]]:
        """(request index, generation) for every request, as each finishes; a sequence ends at `context` tokens
        (prompt and reply) if not before. Requests start in their order, except that requests with the same prompt
        tokens run back to back, so each distinct prompt is evaluated once (and the caller, which knows the order,
        can tell which requests are being decoded)."""
        C = self._C
        first: dict[tuple[int, ...], int] = {}
        for i, prompt in enumerate(prompts):
            first.setdefault(tuple(prompt), i)
        order = deque(sorted(range(len(requests)), key=lambda i: (first[tuple(prompts[i])], i)))
        running: list[_Sequence] = []
        try:
            while order or running:
                while order and len(running) < self.parallel:
                    i = order.popleft()
                    budget = min(params.max_tokens, min(context, self.context) - len(prompts[i]) + 1)
                    if budget <= 0 or not prompts[i]:
                        yield i, Generation(text=requests[i].prefill, n_tokens=0, finish="length")
                        continue
                    running.append(self._start(len(running), i, prompts[i], requests[i].seed, budget, params))
                if not running:  # the last requests did not fit the context
                    break
                steps = [(s.next_token, s.pos, seq) for seq, s in enumerate(running)]
                if len(steps) < FEWEST_TOGETHER:  # alone each: cheaper than together below 4 (see the constant)
                    tokens = []
                    for step in steps:
                        self._decode([step], logits=True)
                        tokens.append(C.llama_sampler_sample(running[step[2]].chain, self.ctx, 0))
                else:
                    self._decode(steps, logits=True)
                    tokens = [C.llama_sampler_sample(s.chain, self.ctx, seq) for seq, s in enumerate(running)]
                done: list[int] = []
                for seq, (s, token) in enumerate(zip(running, tokens, strict=True)):
                    finish = self._advance(s, token, requests[s.request])
                    if finish is not None:
                        done.append(seq)
                        text = s.text.decode("utf-8", errors="ignore")
                        yield s.request, Generation(text=requests[s.request].prefill + text, n_tokens=s.tokens,
                                                    finish=finish)
                for seq in reversed(done):
                    self._end(running, seq)
        finally:  # stopped early (the caller closed the iterator, or an error): free what is still running
            if running:
                for s in running:
                    C.llama_sampler_free(s.chain)
                C.llama_memory_clear(self.memory, True)
                self._cached = None

    def _start(self, seq: int, request: int, prompt: Sequence[int], seed: int, budget: int,
               params: GenParams) -> _Sequence:
        """Stream `seq` gets the prompt's KV state (all but its last token, which the next decode evaluates)."""
        C = self._C
        head = tuple(prompt[:-1])
        if head != self._cached:
            # Keep what the cached prompt shares with this one (tasks of a suite share the system prompt and the
            # chat template's start: 48 of ~120 tokens on python-basic, 193 of ~350 on sql-basic).
            keep = len(os.path.commonprefix([self._cached or (), head]))
            C.llama_memory_seq_rm(self.memory, self.cache, keep, -1)
            self._cached = None
            for start in range(keep, len(head), self.n_batch):
                part = head[start:start + self.n_batch]
                self._decode([(t, start + k, self.cache) for k, t in enumerate(part)], logits=False)
            self._cached = head
        C.llama_memory_seq_rm(self.memory, seq, -1, -1)
        if head:
            C.llama_memory_seq_cp(self.memory, self.cache, seq, -1, -1)
        return _Sequence(request=request, chain=self._chain(seed, params), budget=budget, next_token=prompt[-1],
                         pos=len(prompt) - 1)

    def _advance(self, s: _Sequence, token: int, request: Request) -> str | None:
        """Take the sampled token; the finish reason when the sequence is done, else None."""
        if self._C.llama_vocab_is_eog(self.vocab, token):
            return "stop"
        before = len(s.text)
        s.text += self._piece(token)
        s.tokens += 1
        for stop in request.stop:
            raw = stop.encode("utf-8")
            at = s.text.find(raw, max(0, before - len(raw) + 1))
            if at >= 0:
                del s.text[at:]
                return "stop"
        if s.tokens >= s.budget:
            return "length"
        s.next_token, s.pos = token, s.pos + 1
        return None

    def _end(self, running: list[_Sequence], seq: int) -> None:
        """Free stream `seq`; the last running sequence moves into it, so the streams stay 0..k-1."""
        C = self._C
        C.llama_sampler_free(running[seq].chain)
        C.llama_memory_seq_rm(self.memory, seq, -1, -1)
        last = len(running) - 1
        if seq != last:
            C.llama_memory_seq_cp(self.memory, last, seq, -1, -1)
            C.llama_memory_seq_rm(self.memory, last, -1, -1)
            running[seq] = running[last]
        running.pop()

    def _decode(self, tokens: Sequence[tuple[int, int, int]], logits: bool) -> None:
        """One llama_decode of (token, position, stream) entries."""
        b = self.batch
        b.n_tokens = len(tokens)
        for k, (token, pos, seq) in enumerate(tokens):
            b.token[k], b.pos[k], b.n_seq_id[k], b.logits[k] = token, pos, 1, logits
            b.seq_id[k][0] = seq
        code = self._C.llama_decode(self.ctx, b)
        if code != 0:
            raise RuntimeError(f"llama_decode failed (code {code}) on a batch of {len(tokens)} tokens")

    def _chain(self, seed: int, params: GenParams) -> Any:
        C = self._C
        chain = C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
        if params.temperature <= 0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_greedy())
            return chain
        if params.top_k > 0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_p(params.top_p, 1))
        C.llama_sampler_chain_add(chain, C.llama_sampler_init_temp(params.temperature))
        C.llama_sampler_chain_add(chain, C.llama_sampler_init_dist(seed & SEED_MASK))
        return chain

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            size = 64
            while True:
                buf = ctypes.create_string_buffer(size)
                n = self._C.llama_token_to_piece(self.vocab, token, buf, size, 0, False)
                if n >= 0:
                    piece = buf.raw[:n]
                    break
                size = -n
            self._pieces[token] = piece
        return piece

    def close(self) -> None:
        if self.ctx:
            self._C.llama_batch_free(self.batch)
            self._C.llama_free(self.ctx)
            self.ctx = None
