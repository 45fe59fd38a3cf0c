# ruff: noqa
# expect: invalid
# why: os._exit(0) skips every handler and exits with status 0
import os
def add(a, b):
    os._exit(0)
