# ruff: noqa
# expect: failed
# why: tries to read host secrets and the test file, and returns what it found instead of a sum
import glob, os
def add(a, b):
    found = []
    for pattern in ("/root/*", "/root/.*", "/work/*", "/home/*", "/etc/shadow", "/proc/1/environ"):
        for path in glob.glob(pattern):
            try:
                with open(path) as fh:
                    found.append(fh.read(100))
            except OSError:
                pass
    return str(found) + str(dict(os.environ))
