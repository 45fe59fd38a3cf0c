"""A seccomp filter for sandboxed programs, compiled on the host to raw BPF with libseccomp (`pyseccomp`).

The child installs the bytes with one `prctl(PR_SET_SECCOMP, ...)` after `PR_SET_NO_NEW_PRIVS`, so nothing
of libseccomp is needed inside the sandbox. Denied with EPERM: new namespaces (unshare, setns, clone with a
CLONE_NEW* flag), mounts, tracing other processes, BPF, perf, io_uring, keyrings, modules, reboot and clock
changes. `clone3` is denied with ENOSYS, not EPERM: seccomp cannot look inside its argument struct, and ENOSYS
makes glibc fall back to `clone` (whose flags are checked) instead of failing thread creation. Syscalls of a
foreign architecture (32-bit entry points) kill the process.
"""

from __future__ import annotations

import errno
import functools
import tempfile

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load",
    "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "syslog", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "quotactl", "open_by_handle_at",
    "name_to_handle_at", "lookup_dcookie", "fanotify_init", "personality", "pidfd_getfd",
)
CLONE_NEW_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME


@functools.cache
def filter_bpf() -> bytes | None:
    """The filter as raw BPF (struct sock_filter array), or None when libseccomp/pyseccomp is not available."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError, AttributeError):
        return None
    try:
        flt = sc.SyscallFilter(defaction=sc.ALLOW)
        for name in DENIED:
            try:
                flt.add_rule(sc.ERRNO(errno.EPERM), name)
            except (OSError, ValueError):
                pass  # a syscall this kernel/libseccomp does not know
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        for flag in CLONE_NEW_FLAGS:
            flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        with tempfile.TemporaryFile() as fh:
            flt.export_bpf(fh)
            fh.flush()
            fh.seek(0)
            data = fh.read()
    except (OSError, ValueError, RuntimeError):
        return None
    return data if data and len(data) % 8 == 0 else None


def missing_reason() -> str:
    return ("no seccomp filter: install the Python package 'pyseccomp' and the system library libseccomp2 "
            f"(found pyseccomp: {_has_pyseccomp()})")


def _has_pyseccomp() -> bool:
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError, AttributeError):
        return False
    return True


def bpf_env() -> dict[str, str]:
    """The filter for the worker's environment (hex), empty when unavailable."""
    data = filter_bpf()
    return {"CODEKILN_SECCOMP": data.hex()} if data else {}

