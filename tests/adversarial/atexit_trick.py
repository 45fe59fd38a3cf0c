# ruff: noqa
# expect: failed
# why: an atexit hook that prints a pass and forces exit status 0, while the function is wrong
import atexit, os
atexit.register(lambda: (print("passed"), os._exit(0)))
def add(a, b):
    return a - b
