"""The sandbox primitive: `run_untrusted` / `Sandbox.run` statuses, values, limits, and isolation.

Every program here is written as hostile code would be and runs only inside the sandbox. A test of an isolation
primitive (namespaces, seccomp, the unprivileged uid) skips with the reason where this host lacks it, and fails
instead under CODEKILN_REQUIRE_ISOLATION=1 (CI), see `isolation_required.py`.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time

import pytest

from codekiln.verify import isolation, seccomp
from codekiln.verify.plain import Unplain, decode_plain, encode_plain
from codekiln.verify.sandbox import Limits, Sandbox, run_untrusted
from isolation_required import needs_isolation
from sandbox_procs import leftover_programs

FAST = Limits(timeout_s=3.0, memory_mb=256)
# The live (non-zombie) processes in the program's pid namespace; killed ones may linger as zombies briefly.
LIVE = """
import os
def state(p):
    try:
        return open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
__codekiln_send__(sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and state(p) not in ("Z", "gone")))
"""


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as sb:
        yield sb


def test_plain_values_round_trip(sandbox):
    value = {"a": (1, 2.5, None, True), 3: {1, 2}, "b": [b"\x00x", frozenset({"z"}), complex(1, -2)],
             "big": 10**30, "inf": float("inf")}
    result = sandbox.run(f"inf = float('inf')\n__codekiln_send__({value!r})", limits=FAST)
    assert result.status == "ok" and result.sent
    assert result.value == value
    assert type(result.value["a"]) is tuple


def test_codec_rejects_what_is_not_plain():
    class Obj:
        def __eq__(self, other):
            return True

    with pytest.raises(Unplain) as err:
        encode_plain([1, Obj()])
    assert err.value.custom_eq
    for bad in ('{"x": 1}', '{"t": 1}', '{"d": [[1]]}', '{"s": [[1]]}', "[" * 100000 + "]" * 100000):
        with pytest.raises(ValueError):
            decode_plain(bad)


def test_statuses(sandbox):
    assert sandbox.run("x = 1", limits=FAST).status == "ok"
    err = sandbox.run("raise ValueError('boom')", limits=FAST)
    assert err.status == "error" and "ValueError: boom" in err.error
    assert sandbox.run("import sys; sys.exit(3)", limits=FAST).status == "error"
    start = time.monotonic()
    slow = sandbox.run("while True:\n    pass", limits=Limits(timeout_s=1.0))
    assert slow.status == "timeout" and time.monotonic() - start < 10
    assert sandbox.run("x = bytearray(2 * 1024**3)", limits=FAST).status == "memory"
    killed = sandbox.run("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", limits=FAST)
    assert killed.status == "killed"
    unplain = sandbox.run("__codekiln_send__(object())", limits=FAST)
    assert unplain.status == "error" and "not plain data" in unplain.error


def test_files_stdout_and_cap(sandbox):
    result = sandbox.run("import os\nprint(open('db/data.txt').read(), os.getcwd())\n"
                         "__codekiln_send__(sorted(os.listdir('.')))",
                         files={"db/data.txt": b"hello"}, limits=FAST)
    assert result.status == "ok" and result.value == ["db"]
    assert result.stdout.startswith("hello ")
    flood = sandbox.run("import sys\nfor _ in range(10000):\n    sys.stdout.write('x' * 10000)",
                        limits=Limits(timeout_s=3.0, output_bytes=1000))
    assert len(flood.stdout) <= 1000 + len("\n[output truncated]")
    assert flood.status in ("error", "killed")  # a broken pipe ends the flood, not the verifier's memory
    with pytest.raises(ValueError):
        sandbox.run("pass", files={"../escape": b""}, limits=FAST)


def test_preload_imports_before_fork():
    with Sandbox(workers=1, preload=("json", "sqlite3", "no_such_module_xyz")) as sb:
        with pytest.warns(isolation.IsolationWarning, match="no_such_module_xyz"):
            sb.start()
        result = sb.run("import sys\n__codekiln_send__(['sqlite3' in sys.modules, 'csv' in sys.modules])",
                        limits=FAST)
    assert result.value == [True, False]


def test_run_untrusted_shared_pool():
    assert run_untrusted("__codekiln_send__(6 * 7)", limits=FAST).value == 42


def test_no_secrets_no_network_no_host_files(sandbox, tmp_path, monkeypatch):
    needs_isolation("namespaces")
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    monkeypatch.setenv("CODEKILN_TEST_TOKEN", "s3cret")
    program = f"""
import os, socket
out = {{}}
for path in ({str(secret)!r}, "/root/.bash_history", "/etc/shadow"):
    try:
        out[path] = open(path).read()
    except OSError as err:
        out[path] = type(err).__name__
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1)
    out["net"] = "connected"
except OSError as err:
    out["net"] = type(err).__name__
for path in ("/usr/pwned", {str(tmp_path / "pwned")!r}, "/pwned"):
    try:
        open(path, "w").write("x")
        out[path] = "written"
    except OSError as err:
        out[path] = type(err).__name__
out["env"] = dict(os.environ)
out["uid"] = os.getuid()
__codekiln_send__(out)
"""
    with Sandbox(workers=1) as fresh:  # started after the secret went into the environment
        result = fresh.run(program, limits=FAST)
    listener.close()
    assert result.status == "ok", result.error
    out = result.value
    assert "s3cret" not in repr(out)
    assert out["net"] != "connected"
    assert all(out[p] != "written" for p in ("/usr/pwned", str(tmp_path / "pwned"), "/pwned"))
    assert not (tmp_path / "pwned").exists()
    assert set(out["env"]) <= {"HOME", "PATH", "LANG", "TMPDIR", "LC_CTYPE"}


def test_programs_run_as_their_own_unprivileged_uid(sandbox):
    """Each program gets a uid of its own, neither root nor the host's: RLIMIT_NPROC then binds (it does not
    bind root), and the program cannot signal its worker or another slot's programs."""
    needs_isolation("uid")
    program = "import os\n__codekiln_send__([os.getuid(), os.geteuid(), os.getgid(), os.getegid()])"
    ids = sandbox.run(program, limits=FAST).value
    assert len(set(ids[:2])) == 1 and ids[0] not in (0, os.getuid())
    assert ids[2] != 0 and ids[3] != 0


def test_parent_survives_and_daemons_die(sandbox):
    needs_isolation("namespaces")
    hit = sandbox.run("import os\nos.kill(os.getppid(), 9)", limits=FAST)
    assert hit.status in ("error", "killed")
    daemon = """
import os, time
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode())
        while True:
            time.sleep(0.05)
    os._exit(0)
__codekiln_send__(int(os.read(r, 20)))
"""
    result = sandbox.run(daemon, limits=FAST)
    assert result.status == "ok"
    after = sandbox.run(LIVE, limits=FAST)
    assert result.value not in after.value  # the daemonized grandchild is gone
    with sandbox.slot() as slot:
        if slot.uids is not None:  # seen from the host: only the standby children are left
            assert leftover_programs([slot]) == 0


def test_fork_bomb_is_contained(sandbox):
    needs_isolation("namespaces")
    bomb = """
import os
pids = []
try:
    while True:
        pid = os.fork()
        if pid == 0:
            import time
            time.sleep(30)
        pids.append(pid)
except OSError:
    pass
__codekiln_send__(pids)
"""
    result = sandbox.run(bomb, limits=Limits(timeout_s=3.0, nproc=16))
    assert result.status == "ok" and result.value
    after = sandbox.run(LIVE, limits=FAST)
    assert not set(result.value) & set(after.value)
    needs_isolation("uid")  # RLIMIT_NPROC binds only a program with a uid of its own
    assert len(result.value) < 16


def test_fallback_warns_when_bwrap_is_missing(monkeypatch):
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    with pytest.warns(isolation.IsolationWarning, match="bubblewrap"):
        iso = isolation.detect.__wrapped__(64)
    assert iso.mode == "none"


def test_fallback_mode_still_runs_with_limits(monkeypatch):
    iso = isolation.Isolation("none", ("test",))
    monkeypatch.setattr(isolation, "detect", lambda *a: iso)
    with Sandbox(workers=1) as sb:
        ok = sb.run("import os\n__codekiln_send__(os.getcwd())", limits=FAST)
        slow = sb.run("while True:\n    pass", limits=Limits(timeout_s=1.0))
        mem = sb.run("x = bytearray(2 * 1024**3)", limits=FAST)
    assert ok.status == "ok" and "codekiln-sandbox-" in ok.value
    assert slow.status == "timeout" and mem.status == "memory"


def test_seccomp_denies_namespaces_and_keeps_threads(sandbox):
    needs_isolation("seccomp")
    program = """
import ctypes, os, threading
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, call in (("unshare", lambda: libc.unshare(0x10000000)), ("clone3", lambda: libc.syscall(435, 0, 0)),
                   ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))):
    out[name] = (call(), ctypes.get_errno())
box = []
thread = threading.Thread(target=lambda: box.append(1))
thread.start()
thread.join()
out["thread"] = box
__codekiln_send__(out)
"""
    result = sandbox.run(program, limits=FAST)
    assert result.status == "ok", result.error
    assert result.value["unshare"] == (-1, errno.EPERM) and result.value["mount"] == (-1, errno.EPERM)
    assert result.value["clone3"] == (-1, errno.ENOSYS) and result.value["thread"] == [1]


def test_every_program_runs_filtered_without_new_privileges(sandbox):
    """The filter is installed once in the worker and inherited: each program, and whatever it forks, has it."""
    needs_isolation("seccomp")
    program = """
import os
def flags(path):
    lines = dict(line.split(":", 1) for line in open(path).read().splitlines())
    return lines["Seccomp"].strip(), lines["NoNewPrivs"].strip()
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, repr(flags("/proc/self/status")).encode())
    os._exit(0)
os.waitpid(pid, 0)
__codekiln_send__([flags("/proc/self/status"), os.read(r, 100).decode()])
"""
    for _ in range(2):  # two programs in a row (two uids when root)
        result = sandbox.run(program, limits=FAST)
        assert result.status == "ok", result.error
        assert result.value == [("2", "1"), "('2', '1')"]


FLAGS = """
lines = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
__codekiln_send__([lines["Seccomp"].strip(), lines["NoNewPrivs"].strip()])
"""


def test_the_worker_stays_lean(sandbox):
    """Modules the worker itself does not need stay out of it (each makes every program's fork and exit dearer):
    under bubblewrap, bwrap loads the seccomp filter, so not even ctypes is loaded."""
    program = "import sys\n__codekiln_send__(sorted({'socket', 'traceback', 'ctypes', 'random'} & set(sys.modules)))"
    result = sandbox.run(program, limits=FAST)
    assert result.value == (["ctypes"] if sandbox.iso.mode == "none" else [])


def test_without_bwrap_the_worker_installs_the_filter_itself(monkeypatch):
    needs_isolation("seccomp")
    monkeypatch.setattr(isolation, "detect", lambda *a: isolation.Isolation("none", ("test",)))
    with Sandbox(workers=1) as sb:
        assert sb.run(FLAGS, limits=FAST).value == ["2", "1"]


def test_a_filter_bwrap_cannot_load_falls_back_loudly(monkeypatch):
    from codekiln.verify import slot

    needs_isolation("namespaces")

    monkeypatch.setattr(seccomp, "filter_bpf", lambda: b"\0" * 8)  # one instruction, no return: rejected
    monkeypatch.setattr(slot, "_warned", set())
    with Sandbox(workers=1) as sb:
        with pytest.warns(isolation.IsolationWarning, match="seccomp filter could not be installed"):
            sb.start()
        assert sb.run(FLAGS, limits=FAST).value == ["0", "1"]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_pinned_slots_keep_a_cpu_each():
    """With pin_cpus, each of two workers (so each program) and the thread borrowing it stay on one CPU of their
    own; without, programs may run on every CPU."""
    everywhere = sorted(os.sched_getaffinity(0))
    program = "import os\n__codekiln_send__(sorted(os.sched_getaffinity(0)))"
    seen = {}
    both = threading.Barrier(2, timeout=30)

    def borrow(sb, name):
        with sb.session({"mode": "exec", "source": program}, FAST) as session:
            seen[name] = (session.recv()["value"], sorted(os.sched_getaffinity(0)), os.sched_getscheduler(0))
            both.wait()  # each thread holds its slot until the other has one: the two borrows get both slots

    with Sandbox(workers=2, pin_cpus=True) as pinned, Sandbox(workers=2) as free:
        if None in pinned._claim.cpus:
            pytest.skip("another sandbox on this machine holds the CPUs")
        for sb, prefix in ((pinned, "pinned"), (free, "free")):
            sb.start()  # start pins no thread
            threads = [threading.Thread(target=borrow, args=(sb, f"{prefix}{i}")) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    cpus = sorted(decode_plain(seen[f"pinned{i}"][0]) for i in range(2))
    assert cpus == [[everywhere[0]], [everywhere[1]]]
    assert all(seen[f"pinned{i}"][1] == decode_plain(seen[f"pinned{i}"][0]) for i in range(2))
    assert {seen[f"pinned{i}"][2] for i in range(2)} == {os.SCHED_BATCH}
    assert decode_plain(seen["free0"][0]) == everywhere and seen["free0"][1:] == (everywhere, os.SCHED_OTHER)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_two_sandboxes_never_pin_the_same_cpus():
    """CPUs are claimed across processes and sandboxes: a second sandbox that finds no CPU free for each slot
    pins nothing; once the first is closed, its CPUs can be claimed again."""
    from codekiln.verify.cpus import CpuClaim

    n = len(os.sched_getaffinity(0))
    first = CpuClaim(n)
    try:
        if None in first.cpus:
            pytest.skip("another sandbox on this machine holds the CPUs")
        second = CpuClaim(2)
        assert second.cpus == [None, None]
        second.release()
    finally:
        first.release()
    again = CpuClaim(2)
    assert None not in again.cpus
    again.release()


def test_a_dead_worker_is_replaced():
    """A worker killed from outside under a program: a program running as a uid of its own cannot have done it,
    so that is no verdict of the program (SandboxBroken: the verify stage retries, then stops); otherwise the
    program may have killed it, and its status is "killed". Either way the next program gets a fresh worker."""
    from codekiln.verify.slot import SandboxBroken

    with Sandbox(workers=1) as sb:
        sb.start()
        with sb.slot() as slot:
            bwrap_pid = slot.proc.pid
            own_uid = slot.uids is not None
        timer = threading.Timer(0.5, lambda: os.killpg(bwrap_pid, 9))
        timer.start()
        if own_uid:
            with pytest.raises(SandboxBroken, match=r"SIGKILL \(signal 9\)"):
                sb.run("import time\ntime.sleep(5)", limits=Limits(timeout_s=4.0))
        else:
            assert sb.run("import time\ntime.sleep(5)", limits=Limits(timeout_s=4.0)).status == "killed"
        timer.join()
        assert sb.run("__codekiln_send__(1)", limits=FAST).value == 1


def test_live_slots_never_share_uids():
    """A slot's programs are killed by their uids: a new slot must not get the uids of one still alive, however
    many slots the process made and closed in between (the uid index used to be a counter that wrapped at 32)."""
    from codekiln.verify import isolation
    from codekiln.verify.slot import Slot

    iso = isolation.detect()
    first = Slot(iso, (), 64)
    try:
        for _ in range(31):
            Slot(iso, (), 64).close()
        second = Slot(iso, (), 64)
        try:
            assert second._index != first._index
            assert first.uids is None or set(second.uids).isdisjoint(first.uids)
        finally:
            second.close()
    finally:
        first.close()
