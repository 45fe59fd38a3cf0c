# expect: passed
# why: the control: a correct solution passes (so the harness can tell the difference)
def add(a, b):
    return a + b
