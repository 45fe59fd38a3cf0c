# ruff: noqa
# expect: failed
# why: an int subclass whose __eq__ always says True (it crosses the boundary as its plain int value)
class Sly(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def add(a, b):
    return Sly(a - b)
