# ruff: noqa
# expect: invalid failed
# why: writes its own frames on the result channel (fd 4): garbage, then a fake return
import os
def add(a, b):
    os.write(4, b"\x00\x00\x00\x05hello")
    os.write(4, b"\x00\x00\x00\x2a" + b'{"kind": "return", "value": "{\\"t\\": []}"}')
    os._exit(0)
