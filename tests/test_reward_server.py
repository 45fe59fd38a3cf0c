"""`codekiln serve-reward` answered by real HTTP requests: OpenRLHF's request shape, malformed bodies, a hanging
program, the health endpoint and a graceful stop. The server runs as the CLI does, in a process of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from codekiln.records import Task, write_jsonl

ADD = Task(task_id="add", kind="python", prompt='def add(a, b):\n    """Return a plus b."""\n', entry_point="add",
           test="def check(candidate):\n    assert candidate(1, 2) == 3\n", reference="    return a + b\n",
           split="train")
RIGHT = "```python\ndef add(a, b):\n    return a + b\n```"
WRONG = "```python\ndef add(a, b):\n    return a * b\n```"
HANG = "```python\ndef add(a, b):\n    while True:\n        pass\n```"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tasks = tmp_path_factory.mktemp("serve") / "tasks.jsonl"
    write_jsonl(tasks, [ADD])
    proc = subprocess.Popen([sys.executable, "-m", "codekiln.cli", "serve-reward", "--tasks", str(tasks), "--port", "0",
                             "--timeout-s", "2", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    line = proc.stdout.readline()
    assert "POST http://" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    url = line.split("POST ", 1)[1].split("/get_reward", 1)[0]
    yield proc, url
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)


def post(url: str, body: bytes | dict) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/get_reward", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_openrlhf_request_gets_rewards_in_order(server):
    _, url = server
    prompt = "<|im_start|>user\nWrite add<|im_end|>\n<|im_start|>assistant\n"
    status, reply = post(url, {"query": [prompt + RIGHT, prompt + WRONG], "prompts": [prompt, prompt],
                               "labels": ["add", "add"]})
    assert status == 200 and reply["rewards"] == [1.0, 0.0] and reply["scores"] == [1.0, 0.0]
    status, reply = post(url, {"completions": [WRONG, RIGHT], "labels": ["add", "add"]})
    assert status == 200 and reply["rewards"] == [0.0, 1.0]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "not JSON"),
    ({"query": ["x"]}, "`labels`"),
    ({"query": ["x", "y"], "labels": ["add"]}, "2 answers but 1 labels"),
    ({"completions": [RIGHT], "labels": ["nope"]}, "task_id 'nope' is not among"),
])
def test_malformed_requests_get_400_and_the_server_lives_on(server, body, message):
    proc, url = server
    status, reply = post(url, body)
    assert status == 400 and message in reply["error"]
    with urllib.request.urlopen(f"{url}/health", timeout=10) as health:
        assert json.loads(health.read())["status"] == "ok"
    assert proc.poll() is None


def test_a_hanging_program_earns_zero(server):
    _, url = server
    status, reply = post(url, {"completions": [HANG, RIGHT], "labels": ["add", "add"]})
    assert status == 200 and reply["rewards"] == [0.0, 1.0]


def test_sigterm_stops_the_server_cleanly(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    write_jsonl(tasks, [ADD])
    proc = subprocess.Popen([sys.executable, "-m", "codekiln.cli", "serve-reward", "--tasks", str(tasks), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split("POST ", 1)[1].split("/get_reward", 1)[0]
    assert post(url, {"completions": [RIGHT], "labels": ["add"]}) == (200, {
        "rewards": [1.0], "scores": [1.0], "extra_logs": {"codekiln_pass_rate": [1.0]}})
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


def test_bad_flags_are_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "codekiln.cli", "serve-reward", "--tasks", str(tmp_path / "none.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "neither a file nor a built-in suite" in out.stderr
    assert "Traceback" not in out.stderr
