# ruff: noqa
# expect: runtime_error
# why: tries to reach the test's listeners on the host (TCP on 127.0.0.1, 127.0.0.2 and ::1, UDP, an abstract and
#      a file unix socket), which count every arrival; the error it raises lists what each attempt met, so the
#      verdict shows that it really tried. It has its own network namespace: nothing may arrive.
import socket
TARGETS = []  # the test fills in its listeners: (kind, address, port), kind in tcp, tcp6, udp, unix
def add(a, b):
    met = []
    for kind, address, port in TARGETS:
        family = {"tcp": socket.AF_INET, "tcp6": socket.AF_INET6, "udp": socket.AF_INET, "unix": socket.AF_UNIX}[kind]
        try:
            with socket.socket(family, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if kind == "udp":
                    sock.sendto(b"escaped", (address, port))
                    met.append(f"{kind} {address!r}:{port} sent")
                else:
                    sock.connect(address if kind == "unix" else (address, port))
                    sock.sendall(b"escaped")
                    met.append(f"{kind} {address!r}:{port} connected")
        except OSError as err:
            met.append(f"{kind} {address!r}:{port} {type(err).__name__}")
    raise ValueError("network attempts: " + "; ".join(met))
