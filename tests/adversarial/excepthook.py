# ruff: noqa
# expect: failed
# why: an exception hook that hides the failing assertion and exits 0
import os, sys
sys.excepthook = lambda *args: os._exit(0)
def add(a, b):
    return 0
