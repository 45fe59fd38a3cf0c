# ruff: noqa
# expect: runtime_error timeout failed
# why: floods stdout and stderr, hoping to exhaust the verifier's memory
import sys
def add(a, b):
    while True:
        sys.stdout.write("x" * 65536)
        sys.stderr.write("y" * 65536)
