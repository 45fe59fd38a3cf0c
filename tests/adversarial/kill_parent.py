# ruff: noqa
# expect: failed runtime_error
# why: kills the process that started it, hoping to take the verifier down
import os, signal
def add(a, b):
    os.kill(os.getppid(), signal.SIGKILL)
    return 0
