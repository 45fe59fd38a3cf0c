# ruff: noqa
# expect: timeout runtime_error failed
# why: a fork bomb (contained by RLIMIT_NPROC on its own uid and the tree kill)
import os
def add(a, b):
    while True:
        try:
            os.fork()
        except OSError:
            pass
