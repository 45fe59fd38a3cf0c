# ruff: noqa
# expect: timeout
# why: ignores every catchable signal, then spins (only SIGKILL of the tree stops it)
import signal
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU, signal.SIGUSR1):
    signal.signal(sig, signal.SIG_IGN)
def add(a, b):
    while True:
        pass
