# ruff: noqa
# expect: memory
# why: allocates ever larger blocks until the address-space limit stops it
def add(a, b):
    hog, size = [], 128 << 20
    while True:
        hog.append(bytearray(size))
        size *= 2
