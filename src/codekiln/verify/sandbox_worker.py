"""The warm worker that runs inside the sandbox.

This file is stdlib-only: the host compiles plain.py's source then this one as one script and starts it,
marshalled, through `python -I -S -c <a loader>` inside bubblewrap, where codekiln itself is not importable (so
the import of `plain` below falls back to the definitions that came ahead of it). The worker imports what
programs need once (`preload`), runs under no_new_privs and the seccomp filter (bwrap loads it; elsewhere the
worker installs it on itself: every child inherits both), runs the child's hot path a few times (`_warm_up`),
then forks one child per program, ahead of time. The child drops to an unprivileged uid (one of its slot's, in turn)
and waits for its program on fd 3 (a marshalled setup from the host: the code object, limits, files); then it
sets its rlimits, runs the program and sends plain data back on fd 4. The worker kills the child's whole process tree
when the host says stop, when the child exits, or when the backstop deadline passes.

Values cross the process boundary as tagged JSON (see `plain.py`). Every page the worker writes after a fork
is copied (its standby child still shares it), and so is every page a child writes: both sides are kept lean.
"""

from __future__ import annotations

# The worker's own modules are kept few and small: every area a module maps (an extension module maps five)
# and every page it allocates makes each fork, each copy-on-write fault and each child's exit dearer. So the
# control socket is `_socket` (not `socket`, whose enums cost ~0.4 MB), tracebacks are formatted here (not
# with `traceback`, which pulls in linecache and tokenize), and ctypes is loaded only when bubblewrap did not
# install the seccomp filter already.
import _socket
import json
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time
from collections import deque

# fds inside the child: 0 stdin (/dev/null), 1 stdout, 2 stderr, 3 requests from the host, 4 messages to the host.
REQ_FD = 3
MSG_FD = 4
PRELOADED: list[str] = []
DEVNULL = -1  # the worker's /dev/null, above fd 63: a child's stdin
BASE_VM = 0  # the worker's address space when it forks: a program's memory limit comes on top

if "encode_plain" not in globals():  # imported on the host; inside the sandbox plain.py's source came first
    from codekiln.verify.plain import _HEADER, MAX_FRAME, Unplain, decode_plain, encode_plain, write_frame


# ---------------------------------------------------------------- the child: runs one program


def _error_info(err: BaseException) -> dict:
    """The exception and its traceback (the last 8 frames), without the worker's own frames (its code runs as
    "<string>"). No source lines: the sandbox has no source of the program; the host adds them."""
    frames = []
    tb = err.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename != "<string>":
            frames.append(f'  File "{code.co_filename}", line {tb.tb_lineno}, in {code.co_name}\n')
        tb = tb.tb_next
    kind = type(err)
    name = kind.__qualname__ if kind.__module__ in ("builtins", "__main__") else f"{kind.__module__}.{kind.__qualname__}"
    try:
        text = str(err)
    except BaseException:  # noqa: B036 - a candidate's exception may refuse to print
        text = "<exception str() failed>"
    last = f"{name}: {text}\n" if text else f"{name}\n"
    return {"type": kind.__name__, "msg": text[:2000],
            "tb": ("Traceback (most recent call last):\n" + "".join(frames[-8:]) + last)[-4000:]}


def _send(obj) -> None:
    write_frame(MSG_FD, obj)


def _send_body(body: bytes, fd: int = MSG_FD) -> None:
    data = _HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data):]


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _set_limits(limits: dict, base_vm: int) -> None:
    mem = base_vm + limits["memory_mb"] * 1024 * 1024
    cpu = limits["cpu_s"]
    for res, value in (
        (resource.RLIMIT_AS, mem),
        (resource.RLIMIT_DATA, mem),
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, limits["fsize_mb"] * 1024 * 1024),
        (resource.RLIMIT_NOFILE, limits["nofile"]),
        (resource.RLIMIT_NPROC, limits["nproc"]),
        (resource.RLIMIT_CORE, 0),
    ):
        soft, hard = value if isinstance(value, tuple) else (value, value)
        resource.setrlimit(res, (soft, hard))


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


class _Prctl:
    """prctl through ctypes (the worker confines itself with it before forking any program)."""

    def __init__(self, seccomp: bytes) -> None:
        import ctypes

        class _Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.buf = ctypes.create_string_buffer(seccomp, max(1, len(seccomp)))
        self.prog = _Fprog(len(seccomp) // 8, ctypes.cast(self.buf, ctypes.c_void_p))
        self.prog_ref = ctypes.byref(self.prog)
        self.has_filter = bool(seccomp)

    def no_new_privs(self) -> None:
        if self.libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            raise OSError(self.ctypes.get_errno(), "cannot set no_new_privs")

    def install_seccomp(self) -> None:
        if self.libc.prctl(22, 2, self.prog_ref, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            raise OSError(self.ctypes.get_errno(), "cannot install the seccomp filter")


def _probe_seccomp(prctl: _Prctl) -> bool:
    """Whether the filter installs here (tried in a throwaway child)."""
    pid = os.fork()
    if pid == 0:
        try:
            prctl.no_new_privs()
            prctl.install_seccomp()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _status_field(name: str) -> str:
    """A field of /proc/self/status ("" when absent): the worker checks what confines it, not what it asked."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _confine(seccomp: bytes) -> bool:
    """Make sure the worker runs with no_new_privs and, when given, the seccomp filter; every child it forks
    inherits both (the worker itself needs none of the denied syscalls). Installing the filter per child cost
    ~0.4 ms of CPU each (the kernel converts and JIT-compiles a filter on every install). Under bubblewrap both
    are in force already (bwrap sets no_new_privs and loads the filter given with --seccomp); otherwise the
    worker sets them itself through ctypes. Returns whether a seccomp filter is in force."""
    if _status_field("Seccomp") != "2" and seccomp:
        prctl = _Prctl(seccomp)
        if _probe_seccomp(prctl):
            prctl.no_new_privs()
            prctl.install_seccomp()
    if _status_field("NoNewPrivs") != "1":
        _Prctl(b"").no_new_privs()
    return _status_field("Seccomp") == "2"


class _Requests:
    """Frames from the host on fd 3, read in bulk: the setup and the calls sent ahead arrive in one write."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def next(self):
        """The next request's bytes (a JSON object, or b"C" + a call's tagged JSON), or None when the host closed
        the channel."""
        buf = self.buf
        while True:
            if len(buf) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(buf)
                if size > MAX_FRAME:
                    raise ValueError("frame too large")
                end = _HEADER.size + size
                if len(buf) >= end:
                    body = bytes(buf[_HEADER.size:end])
                    del buf[:end]
                    return body
            chunk = os.read(REQ_FD, 1 << 16)
            if not chunk:
                return None
            buf += chunk


REQUESTS: _Requests | None = None


def _child(uid, fds: list[int], workdir: str) -> None:
    """Runs in the forked child: set up, wait for the program on fd 3, run it. Never returns.

    The worker did what it could beforehand (each object a child touches costs it a copy-on-write page):
    no_new_privs and the seccomp filter are inherited, so are SIGPIPE/SIGINT at their defaults, and the pipes
    sit above fd 63, so each can be put in place with one dup2 (no source is another's target)."""
    try:
        os.setsid()
        for dst, src in enumerate((DEVNULL, fds[2], fds[3], fds[0], fds[1])):  # stdin, stdout, stderr, 3, 4
            os.dup2(src, dst)
        os.closerange(MSG_FD + 1, 1 << 16)
        os.chdir(workdir)
        if uid is not None:
            _drop_privileges(uid)
        global REQUESTS
        REQUESTS = _Requests()
        setup = REQUESTS.next()  # the program: from here on, only the program's own time counts
        if setup is None:
            os._exit(0)
        setup = marshal.loads(setup)  # from the host (trusted): a dict with the code object and any files
        for name, data in (setup.get("files") or {}).items():
            path = os.path.join(workdir, name)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        _set_limits(setup["limits"], BASE_VM)
        if setup["mode"] == "serve":
            _serve(setup)
        else:
            _exec(setup)
    except BaseException:
        pass
    os._exit(0)


def _code(setup: dict, filename: str):
    """The program's code: compiled by the host when it sent it, else compiled here."""
    code = setup.get("code")
    return code if code is not None else compile(setup["source"], filename, "exec")


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _exec(setup: dict) -> None:
    """Run a whole program; it reports its result by calling __codekiln_send__(value)."""

    def __codekiln_send__(value) -> None:
        try:
            text = encode_plain(value)
        except Unplain as err:
            _send({"kind": "unplain", "type": err.type_name, "custom_eq": err.custom_eq})
            return
        _send({"kind": "value", "value": text})

    env = {"__name__": "__main__", "__codekiln_send__": __codekiln_send__}
    try:
        exec(_code(setup, "<program>"), env)
    except BaseException as err:  # noqa: B036 - SystemExit and MemoryError are results too
        _flush()
        if isinstance(err, SystemExit) and err.code in (None, 0):
            os._exit(0)
        _send({"kind": "error", **_error_info(err)})
        os._exit(1)
    _flush()
    os._exit(0)


def _serve(setup: dict) -> None:
    """Load a program, then call its entry point for each request from the host and answer with plain data."""
    env = {"__name__": "__candidate__"}
    try:
        exec(_code(setup, "<candidate>"), env)
        fn = env.get(setup["entry"])
        if not callable(fn):
            raise NameError(f"the program defines no function {setup['entry']!r}")
    except BaseException as err:  # noqa: B036
        _flush()
        _send({"kind": "load_error", **_error_info(err)})
        os._exit(1)
    if not REQUESTS.buf:  # calls already waiting: the first answer will say the program loaded
        _send_body(b'{"kind": "ready"}')
    while True:
        request = REQUESTS.next()  # b"C" + the tagged JSON of (args, kwargs)
        if request is None:
            _flush()
            os._exit(0)
        args, kwargs = decode_plain(request[1:])
        try:
            result = fn(*args, **kwargs)
            try:
                answer = b"R" + encode_plain(result).encode("ascii")  # a return value: b"R" + its tagged JSON
            except Unplain as err:
                answer = json.dumps({"kind": "unplain", "type": err.type_name, "custom_eq": err.custom_eq}).encode()
        except BaseException as err:  # noqa: B036
            answer = json.dumps({"kind": "raise", **_error_info(err)}).encode()
        _flush()
        _send_body(answer)


def _warm_up() -> None:
    """Run the child's hot path a few times in the worker, before it forks anything.

    CPython 3.11 specialises a function's bytecode in place once it has run a few times, and counts until
    then: run first in a child, that writes to code objects the child shares with the worker, and each page
    written is copied. Lazily built state (json's scanners, struct caches, error formatting) is built
    here once too, instead of in every child."""
    code = compile("def f(x, y=2):\n    return [x, {'k': (y, 1.5)}]\n", "<warm-up>", "exec")
    setup = marshal.dumps({"mode": "serve", "entry": "f", "code": code, "limits": {"memory_mb": 1}})
    call = b"C" + encode_plain(((1,), {"y": "s"})).encode("ascii")
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        for _ in range(16):
            requests = _Requests()
            for body in (setup, call):
                requests.buf += _HEADER.pack(len(body)) + body
            loaded = marshal.loads(requests.next())
            env = {"__name__": "__candidate__"}
            exec(_code(loaded, "<candidate>"), env)
            args, kwargs = decode_plain(requests.next()[1:])
            _send_body(b"R" + encode_plain(env[loaded["entry"]](*args, **kwargs)).encode("ascii"), sink)
            try:
                env["f"]()
            except TypeError as err:
                _send_body(json.dumps({"kind": "raise", **_error_info(err)}).encode(), sink)
            _flush()
    finally:
        os.close(sink)


# ---------------------------------------------------------------- the worker loop


# Control messages, host to worker: fixed-size records (op: b"r" run, b"s" stop; job; timeout). Worker to host:
# framed JSON. Both are built and parsed with as few objects as possible: every page the worker writes after a
# fork is copied (the standby child still shares it), so the worker's loop is kept small.
CTL = struct.Struct(">cqd")
_FDS = struct.Struct("4i")
_STANDBY = json.dumps({"event": "standby"}).encode("ascii")
_STANDBY = _HEADER.pack(len(_STANDBY)) + _STANDBY


def _recv_ctl(sock: _socket.socket, pending: bytes):
    """The (op, job, timeout) records the host sent (a stop often comes with the next run), and the bytes of
    an incomplete one; None when the host went away."""
    data = sock.recv(CTL.size * 16)
    if not data:
        return None
    data = pending + data
    whole = len(data) - len(data) % CTL.size
    return [CTL.unpack_from(data, at) for at in range(0, whole, CTL.size)], data[whole:]


def _send_ctl(sock: _socket.socket, obj) -> None:
    data = json.dumps(obj).encode("utf-8")
    sock.sendall(_HEADER.pack(len(data)) + data)


def _send_exit(sock: _socket.socket, job: int, code: int, backstop: bool) -> None:
    body = b'{"event": "exit", "job": %d, "code": %d, "backstop": %s}' % (job, code, b"true" if backstop else b"false")
    sock.sendall(_HEADER.pack(len(body)) + body)


class _Child:
    """A child forked ahead of time, set up and waiting for its program: forking is off the critical path."""

    def __init__(self, uid, tmp: str, n: int) -> None:
        self.uid = uid
        self.job = None
        self.deadline = 0.0
        self.workdir = os.path.join(tmp, f"w{n}")
        os.mkdir(self.workdir, 0o700)
        if uid is not None:
            os.chown(self.workdir, uid, uid)
        req_r, req_w = os.pipe()
        msg_r, msg_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        # The child's environment is the worker's, clean already, with HOME and TMPDIR at its working folder: set
        # here, so that the child writes none of the environment's pages (each would be a copy-on-write fault).
        os.environ["HOME"] = os.environ["TMPDIR"] = self.workdir
        self.pid = os.fork()
        if self.pid == 0:
            _child(uid, [req_r, msg_w, out_w, err_w], self.workdir)
        for fd in (req_r, msg_w, out_w, err_w):
            os.close(fd)
        self.host_fds = [req_w, msg_r, out_r, err_r]
        self.pidfd = os.pidfd_open(self.pid)


class _Worker:
    """The worker's event loop: hands out standby children, supervises the running one, cleans up.

    With uids of its own (root: one more than the standbys it keeps), the standby children are forked in a
    batch, each under the next uid in turn, while a program runs, and a finished program's tree is killed by
    its uid (the running program and the standbys never share one). Forking in a batch is cheaper: every fork
    makes all the worker's pages shared again, and each page the worker then writes is copied, so the
    supervision of a batch's programs copies the worker's pages once instead of once per program. Without
    uids, the tree is killed by `kill(-1)` in the worker's own pid namespace (or by process group), so the one
    standby is forked only after that.
    """

    def __init__(self, sock: _socket.socket, mode: str, uids, tmp: str) -> None:
        self.sock = sock
        self.mode = mode
        self.uids = uids  # None, or the slot's uids, used in turn
        self.batch = len(uids) - 1 if uids else 1  # standbys forked at a time
        self.tmp = tmp
        self.n = 0
        self.standby: deque[_Child] = deque()
        self.running = None

    def _fork_standby(self) -> None:
        uid = self.uids[self.n % len(self.uids)] if self.uids else None
        child = _Child(uid, self.tmp, self.n)
        self.standby.append(child)
        self.n += 1
        fds = child.host_fds
        sent = self.sock.sendmsg([_STANDBY], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _FDS.pack(*fds))])
        if sent < len(_STANDBY):
            self.sock.sendall(_STANDBY[sent:])
        for fd in fds:
            os.close(fd)

    def _refill(self) -> None:
        for _ in range(self.batch):
            self._fork_standby()

    def _sweep(self, child: _Child) -> None:
        """Kill the program's whole process tree, daemonized grandchildren included."""
        try:
            os.kill(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if child.uid is not None and self.uids:  # every process of the program's uid (no standby has it)
            if self._left_alive(child.uid, child.pid):
                killer = os.fork()
                if killer == 0:
                    try:
                        os.setresuid(child.uid, child.uid, child.uid)
                        os.kill(-1, signal.SIGKILL)  # atomic: a fork bomb cannot outrun it
                    except BaseException:
                        pass
                    os._exit(0)
                os.waitpid(killer, 0)
                self._wait_gone(child.uid, child.pid)
        elif self.mode == "pidns":  # alone in this pid namespace with the program: kill everything else
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_gone(None, child.pid)
        else:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _wait_gone(self, uid, exclude: int) -> None:
        """SIGKILL takes effect when each process next runs: wait (up to a second) until the killed ones are
        gone, so that nothing of the program is left (not even dying) when its exit is reported."""
        deadline = time.monotonic() + 1.0
        while self._left_alive(uid, exclude) and time.monotonic() < deadline:
            time.sleep(0.0005)

    def _left_alive(self, uid, exclude: int) -> bool:
        """Whether a process of `uid` (None: of any uid), other than the program itself, may be alive. In the
        sandbox's pid namespace /proc lists a handful of processes: when it holds only the known ones, nothing
        is left (one getdents call); otherwise their owners are read. Only then is a killer forked."""
        try:
            names = [int(n) for n in os.listdir("/proc") if n.isdigit()]
        except OSError:
            return True
        known = {1, os.getpid(), exclude, *(c.pid for c in self.standby)}
        wanted = f"Uid:\t{uid}\t" if uid is not None else "Uid:\t"
        for pid in names:
            if pid in known:
                continue
            try:
                with open(f"/proc/{pid}/status") as fh:
                    status = fh.read()
            except OSError:
                continue
            if wanted in status and "State:\tZ" not in status:
                return True
        return False

    def _finish(self, backstop: bool) -> None:
        child, self.running = self.running, None
        self._sweep(child)
        _, status = os.waitpid(child.pid, 0)
        os.close(child.pidfd)
        _send_exit(self.sock, child.job, os.waitstatus_to_exitcode(status), backstop)
        try:
            os.rmdir(child.workdir)  # usually empty
        except OSError:
            import shutil

            shutil.rmtree(child.workdir, ignore_errors=True)
        if not self.standby:
            self._refill()

    def _on_message(self, op: bytes, job: int, timeout_s: float) -> None:
        if op == b"r" and self.running is None and self.standby:
            self.running = self.standby.popleft()
            self.running.job = job
            self.running.deadline = time.monotonic() + timeout_s + 2.0  # the host stops it first
            if self.uids and not self.standby:
                self._refill()
        elif op == b"s" and self.running is not None and self.running.job == job:
            self._finish(backstop=False)

    def loop(self) -> None:
        self._refill()
        pending = b""
        while True:
            waits = [self.sock]
            timeout = None
            if self.running is not None:
                waits.append(self.running.pidfd)
                timeout = max(0.0, self.running.deadline - time.monotonic())
            ready, _, _ = select.select(waits, [], [], timeout)
            if self.running is not None and (self.running.pidfd in ready or not ready):
                self._finish(backstop=not ready)
                continue
            if self.sock in ready:
                got = _recv_ctl(self.sock, pending)
                if got is None:  # the host went away: leave nothing behind
                    for child in (self.running, *self.standby):
                        if child is not None:
                            self._sweep(child)
                    os._exit(0)
                records, pending = got
                for record in records:
                    self._on_message(*record)


def main() -> None:
    sock = _socket.socket(fileno=int(os.environ.get("CODEKILN_SOCK_FD", "5")))
    mode = os.environ.get("CODEKILN_SWEEP", "pidns")
    uids = [int(u) for u in os.environ.get("CODEKILN_UIDS", "").split(",") if u] or None
    tmp = os.environ.get("CODEKILN_TMP", "/tmp")
    cpus = {int(c) for c in os.environ.get("CODEKILN_CPUS", "").split(",") if c}
    if cpus:  # the slot's one CPU (see cpus.py) or all the host's, for the worker and every child
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass
    for path in filter(None, os.environ.get("CODEKILN_PATH", "").split(os.pathsep)):
        sys.path.append(path)
    loaded, failed = [], []
    for name in filter(None, os.environ.get("CODEKILN_PRELOAD", "").split(",")):
        try:
            __import__(name)
            loaded.append(name)
        except Exception as err:  # a missing optional module is reported, not fatal
            failed.append(f"{name}: {type(err).__name__}: {err}")
    PRELOADED.extend(loaded)
    global BASE_VM
    seccomp = _confine(bytes.fromhex(os.environ.get("CODEKILN_SECCOMP", "")))
    # Children inherit these dispositions (a flood into a closed stdout ends the program; ^C is not caught).
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # Fill fds 0-63 so that every pipe made for a child lands above them (see _child).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 0 <= soft < 1024 and (hard < 0 or hard >= 1024):
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    global DEVNULL
    while (fd := os.open(os.devnull, os.O_RDONLY)) < 64:
        pass
    DEVNULL = fd
    # Children inherit a clean environment (HOME and TMPDIR are set to their working folder).
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp, "TMPDIR": tmp})
    sys.argv = ["candidate"]
    _warm_up()
    import gc

    gc.collect()
    gc.freeze()  # fewer copy-on-write faults in forked children
    BASE_VM = _vm_size()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _send_ctl(sock, {"event": "ready", "pid": os.getpid(), "preloaded": loaded, "failed": failed,
                     "seccomp": seccomp})
    _Worker(sock, mode, uids, tmp).loop()


if __name__ == "__main__":
    main()
