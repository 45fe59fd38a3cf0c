# ruff: noqa
# expect: failed invalid
# why: raising SystemExit from __del__ when the returned object is collected
class Bomb:
    def __del__(self):
        raise SystemExit(0)
def add(a, b):
    Bomb()
    return a * b
