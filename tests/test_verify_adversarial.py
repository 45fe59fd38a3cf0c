"""The adversarial corpus (tests/adversarial/*.py): every trick must be contained and never pass.

Each file is a completion for `add(a, b)`; its header lists the acceptable statuses. The corpus runs in one
verifier (2 workers) under limits that keep this machine safe, followed by a correct control sample, so the
verifier must survive everything before it.

Two attacks are judged from outside the sandbox, not by their verdict alone: `network.py` tries to reach
listeners the test runs on the host (they count every arrival), and `read_secrets.py` hunts for secrets the test
planted outside the sandbox's reach (files outside /tmp, a variable in the test's environment) and tries to get
them out through its error, its output and files. The test fills in their targets (`TARGETS`, `PLANTED`).
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from codekiln.config import VerifyConfig
from codekiln.records import STATUSES, Sample, Task
from codekiln.verify import isolation
from codekiln.verify.python import PythonVerifier
from host_listeners import HostListeners, connect_from_host
from isolation_required import needs_isolation
from sandbox_procs import leftover_programs

CORPUS = Path(__file__).parent / "adversarial"
TASK = Task(
    task_id="adv/add",
    kind="python",
    prompt='def add(a, b):\n    """Return a + b."""\n',
    entry_point="add",
    test="def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n",
)


def _expected(path: Path) -> set[str]:
    for line in path.read_text().splitlines():
        if line.startswith("# expect:"):
            statuses = set(line.split(":", 1)[1].split())
            assert statuses <= set(STATUSES), path
            return statuses
    raise AssertionError(f"{path} has no '# expect:' line")


@dataclass(frozen=True)
class Planted:
    """Secrets placed where a sandboxed program must not reach them, and where it will try to drop its loot."""

    tokens: dict[str, str]  # place -> secret (random: it can only come back if it was read)
    files: tuple[str, ...]
    env: str
    drops: tuple[str, ...]

    def program_view(self) -> dict[str, object]:
        return {"files": list(self.files), "env": self.env, "drops": list(self.drops)}


def _open_folder(prefix: str) -> Path:
    """A folder directly under the host's /tmp that any uid may enter: only the sandbox's private /tmp hides it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def listeners():
    folder = _open_folder("codekiln-listen-")
    try:
        with HostListeners(folder) as ls:
            yield ls
    finally:
        folder.rmdir()


@pytest.fixture(scope="module")
def planted():
    """World-readable secret files in $HOME, in the virtualenv's root (beside the site-packages the sandbox binds)
    and under the host's /tmp, and one in this process's environment (set while the sandbox starts)."""
    tag = secrets.token_hex(8)
    places = {"home": Path.home(), "venv": Path(sys.prefix), "tmp": _open_folder("codekiln-planted-")}
    tokens = {where: f"codekiln-secret-{where}-{secrets.token_hex(16)}" for where in (*places, "env")}
    files = {where: folder / f".codekiln-test-secret-{tag}" for where, folder in places.items()}
    drops = [folder / f".codekiln-test-loot-{tag}" for folder in places.values()]
    drops.append(Path(tempfile.gettempdir()) / f"codekiln-test-loot-{tag}")
    try:
        for where, path in files.items():
            path.write_text(tokens[where])
            path.chmod(0o644)
        yield Planted(tokens, tuple(map(str, files.values())), "CODEKILN_TEST_PLANTED_SECRET", tuple(map(str, drops)))
    finally:
        for path in [*files.values(), *drops]:
            path.unlink(missing_ok=True)
        places["tmp"].rmdir()


def _completion(path: Path, listeners: HostListeners, planted: Planted | None) -> str:
    """The file's text with the test's targets filled in (network.py, read_secrets.py)."""
    text = path.read_text()
    fills = {"network": ("TARGETS = []", f"TARGETS = {listeners.targets!r}")}
    if planted is not None:
        fills["read_secrets"] = ("PLANTED = {}", f"PLANTED = {planted.program_view()!r}")
    if path.stem in fills:
        old, new = fills[path.stem]
        assert old in text, f"{path} lost its {old!r} line"
        text = text.replace(old, new, 1)
    return text


def _leftovers(verifier) -> dict[tuple[int, ...], int]:
    """Processes per slot still running under the slot's uids, apart from its waiting standby children."""
    counts = {}
    for slot in verifier.sandbox._all:
        for session in list(slot.pending):
            session.complete()
        if slot.uids is not None:
            counts[slot.uids] = leftover_programs([slot], wait_s=3.0)
    return counts


@pytest.fixture(scope="module")
def corpus_verdicts(listeners, planted):
    files = sorted(CORPUS.glob("*.py"))
    if isolation.detect().mode == "none":  # without bubblewrap some tricks cannot be contained: leave them out
        unsafe = {"disk_fill"} if os.geteuid() == 0 else {"disk_fill", "kill_everything", "fork_bomb", "kill_parent"}
        files = [f for f in files if f.stem not in unsafe]
    jobs = [(TASK, Sample(task_id=TASK.task_id, completion=_completion(f, listeners, planted), sample_id=f.stem))
            for f in files]
    jobs.append((TASK, Sample(task_id=TASK.task_id, completion="def add(a, b):\n    return a + b\n",
                              sample_id="control-after")))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(planted.env, planted.tokens["env"])  # in the environment the sandbox starts from
        verifier = PythonVerifier(VerifyConfig(workers=2, timeout_s=3.0, memory_mb=256))
        try:
            verdicts = verifier.verify(jobs)
            leftovers = _leftovers(verifier)
        finally:
            verifier.close()
    return files, {v.sample_id: v for v in verdicts}, leftovers


def test_corpus_is_complete():
    names = {f.stem for f in CORPUS.glob("*.py")}
    for trick in ("exit_zero_at_load", "os_exit_in_call", "atexit_trick", "excepthook", "del_systemexit",
                  "patch_builtins", "always_equal", "frame_walk", "kill_parent", "fork_bomb", "memory_bomb",
                  "stdout_flood", "disk_fill", "loop_catching", "signal_ignoring", "daemon_grandchild"):
        assert trick in names


def test_every_trick_gets_its_verdict(corpus_verdicts):
    files, verdicts, _ = corpus_verdicts
    wrong = {}
    for f in files:
        v = verdicts[f.stem]
        if v.status not in _expected(f):
            wrong[f.stem] = (v.status, v.feedback[:200])
    assert not wrong
    passed = {name for name, v in verdicts.items() if v.passed}
    assert passed == {"correct_control", "control-after"}


def test_nothing_is_left_running(corpus_verdicts):
    _, _, leftovers = corpus_verdicts
    assert all(count == 0 for count in leftovers.values()), leftovers  # daemons and fork bombs are gone


def test_flood_output_is_capped(corpus_verdicts):
    _, verdicts, _ = corpus_verdicts
    assert len(verdicts["stdout_flood"].feedback) <= 2000


def test_network_attempts_reach_no_host_listener(corpus_verdicts, listeners):
    """network.py tried every listener (its error lists each attempt) and none of them heard from it; the same
    attempts made from the host arrive, so the listeners do count."""
    needs_isolation("namespaces")
    _, verdicts, _ = corpus_verdicts
    feedback = verdicts["network"].feedback
    assert feedback.startswith("ValueError: network attempts: "), feedback
    for kind, address, port in listeners.targets:
        assert f"{kind} {address!r}:{port} " in feedback, (kind, address, feedback)
    assert listeners.drain() == Counter(), feedback
    for target in listeners.targets:
        connect_from_host(target)
    assert listeners.drain() == Counter(listeners.name_of(t) for t in listeners.targets)
    listeners.counts.clear()


def test_network_control_sharing_the_host_network_is_heard(listeners, monkeypatch):
    """The positive control: network.py in a sandbox that shares the host's network (bubblewrap without
    --unshare-net, all else as usual) reaches every listener its network can see, and says so; only the file
    socket under the host's /tmp stays out of reach (the private /tmp). So the zero above is containment, not a
    program that never tried or listeners that never count."""
    needs_isolation("namespaces")
    real_argv = isolation.bwrap_argv
    monkeypatch.setattr(isolation, "bwrap_argv",
                        lambda *a, **kw: [arg for arg in real_argv(*a, **kw) if arg != "--unshare-net"])
    before = listeners.drain()
    sample = Sample(task_id=TASK.task_id, completion=_completion(CORPUS / "network.py", listeners, None),
                    sample_id="network-shared")
    verifier = PythonVerifier(VerifyConfig(workers=1, timeout_s=3.0, memory_mb=256))
    try:
        [verdict] = verifier.verify([(TASK, sample)])
    finally:
        verifier.close()
    arrived = listeners.drain() - before
    listeners.counts.clear()
    assert verdict.status == "runtime_error", verdict.feedback
    heard = {listeners.name_of(t) for t in listeners.targets} - {"unix"}
    assert set(arrived) == heard, (arrived, verdict.feedback)
    for kind, address, port in listeners.targets:
        if listeners.name_of((kind, address, port)) != "unix":
            assert f"{kind} {address!r}:{port} connected" in verdict.feedback or kind == "udp", verdict.feedback


def test_planted_secrets_never_come_back(corpus_verdicts, planted):
    """read_secrets.py tried each planted file, the variable and each drop (its error lists them), and no secret
    came back in any verdict (error, stderr) nor in a file on the host."""
    needs_isolation("namespaces")
    _, verdicts, _ = corpus_verdicts
    feedback = verdicts["read_secrets"].feedback
    assert feedback.startswith("ValueError: loot: "), feedback
    for tried in (f"${planted.env}", *planted.files, *planted.drops):
        assert f"{tried}: " in feedback, (tried, feedback)
    leaked = {(where, v.sample_id) for v in verdicts.values() for where, token in planted.tokens.items()
              if token in v.feedback}
    assert not leaked, leaked
    assert [d for d in planted.drops if Path(d).exists()] == []
    assert f"${planted.env}: absent" in feedback, feedback
    assert not [path for path in planted.files if f"{path}: read" in feedback], feedback
