# ruff: noqa
# expect: failed runtime_error invalid
# why: signals every process it can reach, then exits
import os, signal
def add(a, b):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, sig)
        except OSError:
            pass
    return 0
