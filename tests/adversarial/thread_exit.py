# ruff: noqa
# expect: failed invalid
# why: a background thread that tries to end the process with status 0 mid-check
import os, threading, time
def _later():
    time.sleep(0.05)
    os._exit(0)
threading.Thread(target=_later, daemon=True).start()
def add(a, b):
    return a - b
