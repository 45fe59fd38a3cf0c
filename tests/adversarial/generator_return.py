# ruff: noqa
# expect: failed
# why: returns a lazy object instead of a value (not plain data, no forgery)
def add(a, b):
    return (x for x in [a + b])
