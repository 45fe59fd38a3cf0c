"""The cage Chromium runs in: bubblewrap with no network, a read-only system, a private /tmp, its own uid.

Chromium's own sandbox needs privileges a container root lacks (hence `--no-sandbox` in render.py), so
bubblewrap cages the whole browser instead:

- its own network namespace (nothing but a loopback of its own), PID, IPC and UTS namespaces;
- a root of its own, read-only, holding only what the browser needs: `/usr` (with the `/bin`, `/lib`... links),
  the font configuration and cache, Chromium's launcher settings (`BROWSER_BINDS`); no `/home`, `/root`, `/work`,
  `/srv`, `/var`, no host `/tmp`;
- a private, size-capped `/tmp` (also `HOME`), where Chromium keeps its profile: Playwright's `--user-data-dir`
  (a folder in the host's /tmp) is rewritten to `/tmp/profile` inside the cage, so whatever a page makes the
  browser write (storage, cookies, downloads, caches) lands there and vanishes with the cage;
- a clean environment (`--clearenv`): no host variables, no secrets;
- an unprivileged uid: run by root, bubblewrap makes no user namespace (none needed) and `setpriv` drops the
  browser to `BROWSER_UID`, with no capabilities and no way to regain any (`--no-new-privs`); run by anyone else,
  the browser keeps that user's uid inside a user namespace (there is no other uid to drop to).

The launcher is a small shell script (what Playwright starts as "the browser"). It writes its pid to
`$CODEKILN_BROWSER_STATUS.pid` (so a hung browser can be killed with its cage) and, when the cage exits, the exit
status to `$CODEKILN_BROWSER_STATUS` (128 + N when the browser died from signal N): that is how the render pool
tells which signal killed a browser it lost.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import warnings
from dataclasses import dataclass

from codekiln.verify.isolation import ancestors, bwrap_system

BROWSER_UID = 199_999  # below the sandbox's program uids (200000 and up), above any system or login account
CAGE_TMP_MB = 1024  # the private /tmp: Chromium's profile and its shared memory (--disable-dev-shm-usage)
PROFILE = "/tmp/profile"
STATUS_ENV = "CODEKILN_BROWSER_STATUS"
# Read-only inside the cage, where they exist: fonts and their cache (else every launch rebuilds it), the Debian
# launcher's settings, the dynamic linker's cache.
BROWSER_BINDS = ("/etc/fonts", "/var/cache/fontconfig", "/etc/chromium", "/etc/chromium.d", "/etc/ld.so.cache",
                 "/etc/localtime")


class BrowserIsolationWarning(UserWarning):
    """Chromium runs without its bubblewrap cage here."""


@dataclass(frozen=True)
class Cage:
    """A launcher for one Chromium binary, and how strongly it isolates."""

    launcher: str  # what Playwright starts as the browser (a shell script)
    caged: bool  # False: bubblewrap is missing or cannot make namespaces here; the browser runs as a plain process
    own_uid: bool  # the browser runs as BROWSER_UID (only root can switch uids)


def bwrap_argv(chromium: str, as_root: bool) -> list[str]:
    """bubblewrap, its options, and the command that starts `chromium` (its arguments follow)."""
    argv = bwrap_system("browser")
    made = {"/usr"}
    for path in (*BROWSER_BINDS, os.path.dirname(chromium)):
        if not os.path.exists(path) or path.startswith("/usr/"):
            continue
        for parent in ancestors(path):  # bwrap makes missing parents 0700: the browser's uid could not enter
            if parent not in made:
                argv += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        argv += ["--ro-bind", path, path]
    argv += ["--size", str(CAGE_TMP_MB * 1024 * 1024), "--perms", "1777", "--tmpfs", "/tmp",
             "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
             "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--setenv", "PATH", "/usr/bin:/bin"]
    if as_root:  # keep only what setpriv needs to drop to the browser's uid; it takes every capability with it
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 "setpriv", f"--reuid={BROWSER_UID}", f"--regid={BROWSER_UID}", "--clear-groups",
                 "--no-new-privs", "--", chromium]
    else:
        argv += ["--unshare-user", "--", chromium]
    return argv


def launcher_script(command: list[str], rewrite_profile: bool) -> str:
    """The shell script Playwright starts: rewrite the profile folder, run `command` with the arguments, report."""
    rewrite = (f'  case $arg in --user-data-dir=*) arg=--user-data-dir={PROFILE} ;; esac\n'
               if rewrite_profile else "")
    return ("#!/bin/sh\n"
            "# Chromium for codekiln (codekiln/verify/browser_cage.py); its exit status goes to $" + STATUS_ENV + ".\n"
            f"status=${STATUS_ENV}\n"
            f"unset {STATUS_ENV}\n"
            '[ -z "$status" ] || echo "$$" > "$status.pid"\n'  # so a hung browser can be killed with its cage
            "for arg do\n"
            "  shift\n"
            f"{rewrite}"
            '  set -- "$@" "$arg"\n'
            "done\n"
            f'{shlex.join(command)} "$@"\n'
            "rc=$?\n"
            '[ -z "$status" ] || echo "$rc" > "$status"\n'
            'exit "$rc"\n')


def make_cage(chromium: str, folder: str, isolate: bool = True) -> Cage:
    """Write the launcher for `chromium` into `folder` (a private folder of the caller's). With `isolate`, it runs
    the browser caged where bubblewrap works here (probed once with the real options), else plainly, with a
    warning; without `isolate`, plainly."""
    as_root = os.geteuid() == 0
    argv = _working_bwrap(chromium, as_root) if isolate else None
    launcher = os.path.join(folder, "chromium")
    with open(launcher, "w", encoding="utf-8") as fh:
        fh.write(launcher_script(argv or [chromium], rewrite_profile=argv is not None))
    os.chmod(launcher, 0o700)
    return Cage(launcher, caged=argv is not None, own_uid=argv is not None and as_root)


_PROBED: dict[tuple[str, bool], list[str] | None] = {}


def _working_bwrap(chromium: str, as_root: bool) -> list[str] | None:
    """The cage's full argv if bubblewrap runs it here (probed once per process), else None with a warning."""
    key = (chromium, as_root)
    if key in _PROBED:
        return _PROBED[key]
    bwrap = shutil.which("bwrap")
    argv = None
    problem = "bubblewrap (bwrap) is not installed"
    if bwrap is not None:
        argv = [bwrap, *bwrap_argv(chromium, as_root)[1:]]
        probe = argv[: argv.index(chromium)] + ["/bin/true"]
        try:
            ok = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if not ok:
            argv = None
            problem = "bubblewrap cannot create its namespaces here (user namespaces disabled?)"
    if argv is None:
        warnings.warn(f"codekiln: Chromium runs uncaged: {problem}; pages still get no network from the browser's "
                      "own blocking, but a browser exploit would reach the host. Install bubblewrap.",
                      BrowserIsolationWarning, stacklevel=3)
    _PROBED[key] = argv
    return argv
