# ruff: noqa
# expect: failed invalid
# why: neuters AssertionError, abs and == helpers in builtins (they are the candidate's builtins, not the check's)
import builtins
class Quiet(Exception):
    pass
builtins.AssertionError = Quiet
builtins.abs = lambda x: 0
builtins.isinstance = lambda *a: True
def add(a, b):
    return None
