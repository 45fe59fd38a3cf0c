# ruff: noqa
# expect: runtime_error
# why: unbounded recursion
def add(a, b):
    return add(a, b) + 1
