# ruff: noqa
# expect: failed
# why: tries to reach the network (there is none: its own network namespace)
import socket
def add(a, b):
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=0.5)
        return a + b + 1
    except OSError:
        return "offline"
