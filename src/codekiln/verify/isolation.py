"""How a sandbox worker is started: bubblewrap namespaces when they work here, else a loud fallback.

Modes, strongest first:
- `bwrap-root`: bubblewrap run by root without a user namespace (pid, net, ipc, uts, mount namespaces);
  the worker keeps only the capabilities it needs, and each program runs as its own unprivileged uid, so
  RLIMIT_NPROC binds and the program cannot signal its worker.
- `bwrap-user`: bubblewrap in a user namespace (not root); the program runs as the worker's uid.
- `none`: no bubblewrap; programs run as plain processes (own uid if root) with rlimits only.
Every mode weaker than `bwrap-root` warns once, naming what is missing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from dataclasses import dataclass
from pathlib import Path


class IsolationWarning(UserWarning):
    """The sandbox runs with weaker isolation than it was built for."""


# Capabilities the worker (trusted code) keeps inside the sandbox: switch the program to its own uid,
# give it its working folder, kill its process tree, clean up after it.
WORKER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")


@dataclass(frozen=True)
class Isolation:
    mode: str  # bwrap-root | bwrap-user | none
    missing: tuple[str, ...]  # what a weaker mode lacks, for the warning

    @property
    def drops_uid(self) -> bool:
        return os.geteuid() == 0

    @property
    def sweep(self) -> str:
        """How the worker kills a program's tree: pidns (kill -1 in its namespace), uid, or pgroup."""
        if self.mode.startswith("bwrap"):
            return "pidns"
        return "uid" if self.drops_uid else "pgroup"


def python_paths() -> list[str]:
    """Import paths programs may use: the standard library comes with the interpreter; add site-packages."""
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(p for p in paths if Path(p).is_dir())


def ancestors(path: str) -> list[str]:
    """The folders above `path`, outermost first ("/a/b/c" -> ["/a", "/a/b"])."""
    parts = Path(path).parts
    return [str(Path(*parts[: i + 1])) for i in range(1, len(parts) - 1)]


def bwrap_system(hostname: str) -> list[str]:
    """The start of every cage's bubblewrap command (the sandbox's and the browser's): a new session, an empty
    environment, its own PID, network, IPC and UTS namespaces, and the system's /usr (with the top-level links or
    folders that lead into it) read-only."""
    argv = ["bwrap", "--die-with-parent", "--new-session", "--clearenv",
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--hostname", hostname,
            "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    return argv


def bwrap_argv(python: str, disk_mb: int, env: dict[str, str], as_root: bool,
               seccomp_fd: int | None = None) -> list[str]:
    """The bubblewrap command line that runs `python` in a fresh, read-only, network-less system (and under the
    seccomp filter bwrap reads from `seccomp_fd`, if given)."""
    argv = bwrap_system("sandbox")
    # The private /tmp comes before the binds: a venv that lives under /tmp (a CI checkout, say) is bound on top of
    # it instead of being hidden by it.
    argv += ["--size", str(disk_mb * 1024 * 1024), "--perms", "0755", "--tmpfs", "/tmp"]
    made: set[str] = {"/tmp"}
    binds = [sys.base_prefix, *python_paths(), *(p for p in ETC_FILES if os.path.exists(p))]
    for src in binds:
        if src.startswith("/usr/") or src == "/usr":
            continue
        for parent in ancestors(src):
            if parent not in made and parent not in ("/usr",):
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--ro-bind", src, src]
    # The root bwrap builds is a tmpfs of its own: read-only, so that a program running as the worker's own uid
    # (no root to drop from) can write nowhere but /tmp either.
    argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
    if as_root:
        argv += ["--cap-drop", "ALL"]
        for cap in WORKER_CAPS:
            argv += ["--cap-add", cap]
    else:
        argv += ["--unshare-user"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return argv + ["--", python]


def real_python() -> str:
    """The interpreter itself, not a venv link or a pyenv shim (those cost ~200 ms a start)."""
    return os.path.realpath(sys.executable)


@functools.cache
def detect(disk_mb: int = 64) -> Isolation:
    """Find the strongest mode that works here (probed once per process) and warn if it is not the strongest."""
    as_root = os.geteuid() == 0
    if shutil.which("bwrap") is None:
        iso = Isolation("none", ("bubblewrap (bwrap) is not installed: no pid/network/mount namespaces, the "
                                 "program can see the host file system and network, and its working folder has "
                                 "no size cap",))
    elif _probe(as_root, disk_mb):
        iso = Isolation("bwrap-root" if as_root else "bwrap-user",
                        () if as_root else ("not root: programs share the worker's uid, so RLIMIT_NPROC counts "
                                            "all your processes and a program can signal its worker",))
    else:
        iso = Isolation("none", ("bubblewrap (bwrap) is installed but cannot create namespaces here "
                                 "(user namespaces disabled?): no pid/network/mount isolation",))
    if iso.mode == "none" and not as_root:
        iso = Isolation("none", (*iso.missing, "not root: programs run as your own uid, so RLIMIT_NPROC counts all "
                                 "your processes and a daemonized grandchild can escape the process-group kill"))
    if iso.missing:
        warnings.warn(f"codekiln sandbox: weaker isolation ({iso.mode}): {'; '.join(iso.missing)}. "
                      "Install bubblewrap and run where namespaces are allowed.", IsolationWarning, stacklevel=2)
    return iso


def _probe(as_root: bool, disk_mb: int) -> bool:
    argv = bwrap_argv(real_python(), disk_mb, {}, as_root) + ["-I", "-S", "-c", "pass"]
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
