"""`codekiln serve-reward`: the reward function over HTTP, in the shape of OpenRLHF's remote reward model.

    POST /get_reward  {"query": [prompt+answer, ...], "prompts": [prompt, ...], "labels": [task_id, ...]}
                   -> {"rewards": [float, ...], "scores": [float, ...], "extra_logs": {"codekiln_pass_rate": [...]}}
    GET  /health   -> {"status": "ok", "tasks": N, "busy": K}

OpenRLHF posts the whole text (`query`: the prompt followed by the answer) with `prompts` and the dataset's label
column (`--label_key`, here the task_id); the answer is `query` less its prompt. A client may send `completions`
(the answers alone) instead of `query`. Request data only ever becomes program text checked in the sandbox: it
names no file, command or option. At most `max_concurrent` requests are checked at once (more wait, then get
503); a request that takes longer than `request_timeout_s` gets 504 (its programs are still cut by the
sandbox's own per-program limit). Malformed requests get 400 with the reason; the server lives on. SIGINT or
SIGTERM stops taking requests, lets the running ones finish, and stops the sandboxes.
"""

from __future__ import annotations

import json
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from codekiln.errors import UserError
from codekiln.rewards.function import RewardFunction

MAX_BODY_BYTES = 64 << 20


class BadRequest(Exception):
    """The request is malformed: answered 400 with this message."""


def parse_request(body: bytes) -> tuple[list[str], list[Any]]:
    """(answers, task_ids) from a /get_reward body, or BadRequest saying what is wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadRequest(f"the body is not JSON: {err}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    labels = data.get("labels", data.get("task_id"))
    if not isinstance(labels, list):
        raise BadRequest("`labels` (one task_id per answer) must be a list")
    if "completions" in data:
        answers = data["completions"]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise BadRequest("`completions` must be a list of strings")
    else:
        queries, prompts = data.get("query"), data.get("prompts")
        if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
            raise BadRequest("`query` must be a list of strings (prompt followed by answer)")
        if prompts is None:
            prompts = [""] * len(queries)
        if not isinstance(prompts, list) or len(prompts) != len(queries):
            raise BadRequest("`prompts` must be a list as long as `query`")
        answers = [q[len(p):] if isinstance(p, str) and q.startswith(p) else q
                   for q, p in zip(queries, prompts, strict=True)]
    if len(labels) != len(answers):
        raise BadRequest(f"{len(answers)} answers but {len(labels)} labels")
    return answers, labels


class RewardServer(ThreadingHTTPServer):
    """An HTTP server answering reward requests with one warm `RewardFunction`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], reward: RewardFunction, max_concurrent: int = 4,
                 request_timeout_s: float = 300.0) -> None:
        super().__init__(address, RewardHandler)
        self.reward = reward
        self.request_timeout_s = request_timeout_s
        self.slots = threading.BoundedSemaphore(max_concurrent)
        self.pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="codekiln-reward")
        self.busy = 0
        self._busy_lock = threading.Lock()

    def rewards(self, answers: list[str], labels: list[Any]) -> list[float]:
        """Rewards within the request time limit (TimeoutError past it); waits for a free slot first."""
        if not self.slots.acquire(timeout=self.request_timeout_s):
            raise OverflowError("all reward slots stayed busy")
        with self._busy_lock:
            self.busy += 1
        try:
            future = self.pool.submit(self.reward, completions=answers, task_id=labels)
            return future.result(timeout=self.request_timeout_s)
        finally:
            with self._busy_lock:
                self.busy -= 1
            self.slots.release()


class RewardHandler(BaseHTTPRequestHandler):
    server: RewardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would drown a training log

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") in ("/health", ""):
            self._send(200, {"status": "ok", "tasks": len(self.server.reward.tasks), "busy": self.server.busy})
        else:
            self._send(404, {"error": f"no route {self.path}; use POST /get_reward or GET /health"})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        if self.path.rstrip("/") != "/get_reward":
            self._send(404, {"error": f"no route {self.path}; use POST /get_reward"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY_BYTES:
                raise BadRequest(f"a body of 1 to {MAX_BODY_BYTES} bytes with its Content-Length is required")
            answers, labels = parse_request(self.rfile.read(length))
            rewards = self.server.rewards(answers, labels)
        except BadRequest as err:
            self._send(400, {"error": str(err)})
        except UserError as err:  # an unknown task_id
            self._send(400, {"error": str(err)})
        except FutureTimeout:
            self._send(504, {"error": f"the request took longer than {self.server.request_timeout_s:g} s"})
        except OverflowError as err:
            self._send(503, {"error": str(err)})
        else:
            self._send(200, {"rewards": rewards, "scores": rewards,
                             "extra_logs": {"codekiln_pass_rate": [float(r >= 1.0) for r in rewards]}})


def serve(reward: RewardFunction, host: str = "127.0.0.1", port: int = 5000, max_concurrent: int = 4,
          request_timeout_s: float = 300.0, ready: Any = None) -> None:
    """Serve until SIGINT/SIGTERM; `ready(server)` is called once the socket listens (port 0 picks a free one)."""
    try:
        server = RewardServer((host, port), reward, max_concurrent, request_timeout_s)
    except OSError as err:
        raise UserError(f"cannot listen on {host}:{port} ({err.strerror}); choose another --port") from None

    def stop(*_: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        if threading.current_thread() is threading.main_thread():
            signal.signal(sig, stop)
    if ready is not None:
        ready(server)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.pool.shutdown(wait=True)
        reward.close()
