# ruff: noqa
# expect: failed
# why: leaves a daemonized grandchild (double fork + setsid) behind, which the tree kill must reap
import os, time
def add(a, b):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(0.05)
        os._exit(0)
    return 1
