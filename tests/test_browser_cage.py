"""Chromium's cage, checked by what a hostile page and the browser can do, seen from the host; and a browser that
dies under a page.

Every check looks from outside: TCP listeners on this host's addresses count connections, secrets are planted
outside /tmp, host folders are searched for what a page wrote, and the browser's processes are read from /proc.
Where bubblewrap (or root, for the uid) is missing these tests skip, and fail under CODEKILN_REQUIRE_ISOLATION=1.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from codekiln.verify.browser_cage import make_cage
from codekiln.verify.render import CHROMIUM, BrowserDied, RenderLimits, RenderPool

REPO = Path(__file__).resolve().parent.parent


# -- what is missing here: a skip, or a failure where isolation is required -------------------------------------
def _missing(reason: str) -> None:
    if os.environ.get("CODEKILN_REQUIRE_ISOLATION") == "1":
        pytest.fail(f"{reason} (CODEKILN_REQUIRE_ISOLATION=1: a missing isolation primitive is a failure)")
    pytest.skip(reason)


def require_bwrap() -> None:
    """bubblewrap is installed and can make its namespaces here (probed by the test, not asked of the code)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        _missing("bubblewrap (bwrap) is not installed: Chromium runs uncaged")
    probe = subprocess.run([bwrap, "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/", "--proc", "/proc",
                            "--dev", "/dev", "/bin/true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        _missing(f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}")


def require_root() -> None:
    if os.geteuid() != 0:
        _missing("not root: the browser cannot be given a uid of its own (it keeps yours, in a user namespace)")


# -- the host's view of processes -------------------------------------------------------------------------------
def _processes() -> dict[int, tuple[int, int, int, list[str]]]:
    """pid -> (parent pid, real uid, real gid, argv) of every process this host shows."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").rstrip("\0").split("\0")
        except OSError:
            continue
        if len(argv) == 1:  # Chromium's child processes rewrite their command line as one spaced string
            argv = argv[0].split(" ")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        out[int(entry)] = (int(fields["PPid"]), int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0]), argv)
    return out


def browser_processes(launcher: str | None = None, root: int | None = None) -> dict[int, tuple[int, int, list[str]]]:
    """Chromium's processes (pid -> real uid, real gid, argv) started by the launcher script `launcher` (a pool's),
    or under the process `root`."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in procs.items():
        children.setdefault(ppid, []).append(pid)
    if launcher is not None:
        tops = [pid for pid, (_, _, _, argv) in procs.items() if len(argv) > 1 and argv[1] == launcher]
    else:
        tops = [root if root is not None else os.getpid()]
    found = {}
    while tops:
        for child in children.get(tops.pop(), []):
            tops.append(child)
            _, uid, gid, argv = procs[child]
            if argv and argv[0].startswith("/usr/lib/chromium/"):
                found[child] = (uid, gid, argv)
    return found


def main_browser(procs: dict[int, tuple[int, int, list[str]]]) -> list[int]:
    """The browser processes proper (not a renderer, zygote, GPU or utility process)."""
    return [pid for pid, (_, _, argv) in procs.items()
            if argv[0].endswith("/chromium") and not any(a.startswith("--type=") for a in argv)]


def launcher_argv(launcher: str) -> list[str]:
    """The arguments Playwright gave the pool's launcher (what it believes the browser was started with)."""
    for _, (_, _, _, argv) in _processes().items():
        if len(argv) > 1 and argv[1] == launcher:
            return argv
    raise AssertionError(f"no launcher process {launcher} is running")


# -- listeners on every address of this host -------------------------------------------------------------------
def host_addresses() -> list[tuple[int, str]]:
    """Loopback and this host's other addresses (IPv4 from the kernel's routing table, global IPv6)."""
    found = [(socket.AF_INET, "127.0.0.1")]
    lines = Path("/proc/net/fib_trie").read_text().splitlines() if Path("/proc/net/fib_trie").exists() else []
    for previous, line in zip(lines, lines[1:], strict=False):
        if "/32 host LOCAL" in line:
            address = previous.split()[-1]
            if not address.startswith("127.") and (socket.AF_INET, address) not in found:
                found.append((socket.AF_INET, address))
    if socket.has_ipv6 and Path("/proc/net/if_inet6").exists():
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            hexaddr, _index, _prefix, scope, *_ = line.split()
            if scope in ("00", "10"):  # global, or the host's own ::1 (link-local needs a zone: left out)
                found.append((socket.AF_INET6, socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hexaddr))))
    return found


class Listeners:
    """A TCP listener on each address of this host, recording every connection it accepts (and its first line)."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        for family, host in host_addresses():
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.bind((host, 0))
            except OSError:  # an address that is listed but not usable (tentative IPv6, say)
                s.close()
                continue
            s.listen(128)
            s.setblocking(False)
            self.sockets.append(s)
        self.accepted: list[str] = []  # "address:port first-line"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [s.getsockname()[:2] for s in self.sockets]

    def urls(self) -> list[str]:
        return [f"http://[{h}]:{p}" if ":" in h else f"http://{h}:{p}" for h, p in self.addresses]

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        for s in self.sockets:
            sel.register(s, selectors.EVENT_READ, data=None)
        while not self._stop.is_set():
            for key, _ in sel.select(0.1):
                if key.data is None:
                    conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                    conn.setblocking(False)
                    host, port = key.fileobj.getsockname()[:2]  # type: ignore[union-attr]
                    self.accepted.append(f"{host}:{port}")
                    sel.register(conn, selectors.EVENT_READ, data=len(self.accepted) - 1)
                else:
                    try:
                        first = key.fileobj.recv(300).split(b"\r\n", 1)[0].decode(errors="replace")  # type: ignore[union-attr]
                    except OSError:
                        first = ""
                    self.accepted[key.data] += f" {first}"
                    sel.unregister(key.fileobj)
                    key.fileobj.close()  # type: ignore[union-attr]

    def prove_listening(self) -> None:
        """Connect to every listener from the test itself and see each connection counted."""
        before = len(self.accepted)
        for host, port in self.addresses:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(b"PROBE from the test\r\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (len(self.accepted) == before + len(self.addresses) and all(
                a.endswith(" PROBE from the test") for a in self.accepted[before:])):  # accepted, then its line read
            time.sleep(0.02)
        assert len(self.accepted) == before + len(self.addresses), self.accepted

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for s in self.sockets:
            s.close()


@pytest.fixture
def listeners() -> Iterator[Listeners]:
    ls = Listeners()
    assert ("127.0.0.1", ls.addresses[0][1]) == ls.addresses[0]
    yield ls
    ls.close()


def network_attacks(urls: list[str]) -> list[str]:
    """Hostile pages trying, from markup and inline script, every way to open a connection to each of `urls`."""
    markup = []
    for n, u in enumerate(urls):
        markup.append(
            f'<img src="{u}/img"><script src="{u}/script.js"></script><link rel=stylesheet href="{u}/css">'
            f'<link rel=preconnect href="{u}"><link rel=prefetch href="{u}/prefetch"><iframe src="{u}/frame"></iframe>'
            f'<object data="{u}/object"></object><embed src="{u}/embed"><video src="{u}/video"></video>'
            f'<audio src="{u}/audio"></audio><div style="background-image:url({u}/bg)">bg</div>'
            f'<iframe name=f{n}></iframe><form target=f{n} method=post action="{u}/form"><input name=q value=x></form>')
    script = """<script>
for (const u of URLS) {
  fetch(u + "/fetch", {mode: "no-cors"}).catch(() => 0);
  try { const x = new XMLHttpRequest(); x.open("POST", u + "/xhr"); x.send("x"); } catch (e) {}
  try { new WebSocket("ws" + u.slice(4) + "/ws"); } catch (e) {}
  try { new EventSource(u + "/events"); } catch (e) {}
  try { navigator.sendBeacon(u + "/beacon", "x"); } catch (e) {}
  import(u + "/module.js").catch(() => 0);
  try { new Worker(URL.createObjectURL(new Blob(["fetch('" + u + "/worker', {mode: 'no-cors'}).catch(() => 0)"]))); }
  catch (e) {}
  try {
    const pc = new RTCPeerConnection({iceServers: [{urls: "turn:" + u.slice(7) + "?transport=tcp",
                                                    username: "u", credential: "c"}]});
    pc.createDataChannel("d");
    pc.createOffer().then((o) => pc.setLocalDescription(o)).catch(() => 0);
  } catch (e) {}
  try { window.open(u + "/popup"); } catch (e) {}
}
for (const f of document.forms) f.submit();
</script>""".replace("URLS", json.dumps(urls))
    everything = f"<h1>reaching out</h1>{''.join(markup)}{script}"
    navigate = f"<h1>leaving</h1><script>location.href = {json.dumps(urls[-1] + '/navigate')}</script>"
    submit = (f"<h1>posting</h1><form method=post action='{urls[0]}/top-form'><input name=q value=x></form>"
              "<script>document.forms[0].submit()</script>")
    return [everything, navigate, submit]


def run_caged(launcher: str, url: str, script_ms: int = 0) -> subprocess.CompletedProcess[str]:
    """Chromium through the cage alone (nothing of the pool's own blocking: no route, no proxy): load `url`, let its
    scripts run for `script_ms` (virtual time), print the resulting document."""
    budget = [f"--virtual-time-budget={script_ms}"] if script_ms else []
    return subprocess.run([launcher, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           *budget, "--dump-dom", url],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    with RenderPool(size=2, limits=RenderLimits(width=800, height=600, timeout_s=8.0)) as p:
        yield p


@pytest.fixture(scope="module")
def cage_launcher(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The pool's cage, on its own: the launcher `make_cage` writes, started without Playwright."""
    require_bwrap()
    cage = make_cage(CHROMIUM, str(tmp_path_factory.mktemp("cage")))
    assert cage.caged, "bubblewrap works here (probed above) but the browser cage could not be made"
    return cage.launcher


# -- network ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("browser", ["pool", "cage alone"])
def test_hostile_page_opens_no_connection_to_this_host(browser: str, listeners: Listeners,
                                                       request: pytest.FixtureRequest) -> None:
    require_bwrap()
    listeners.prove_listening()
    before = list(listeners.accepted)
    pages = network_attacks(listeners.urls())
    if browser == "pool":
        pool: RenderPool = request.getfixturevalue("pool")
        results = [pool.render(page) for page in pages]
        assert results[0].error is None and "reaching out" in results[0].text  # the page did render and run
    else:
        launcher = request.getfixturevalue("cage_launcher")
        out = run_caged(launcher, "data:text/html," + urllib.parse.quote(pages[0]), script_ms=3000)
        assert out.returncode == 0 and "reaching out" in out.stdout, out.stderr[-2000:]
    time.sleep(1.0)  # anything still on its way lands (the listeners would count it)
    during = list(listeners.accepted)
    listeners.prove_listening()  # still listening: the count above was not taken from dead listeners
    assert during == before, f"the page reached the host: {during[len(before):]}"


# -- reading host files -----------------------------------------------------------------------------------------
@pytest.fixture
def planted_secret() -> Iterator[tuple[str, list[Path]]]:
    """A secret in world-readable files outside /tmp (under the repo's git-ignored .cache/, and under $HOME), so
    that only the cage, not file modes, keeps the browser from them."""
    token = "SECRET-" + secrets.token_hex(16)
    folders, files = [], []
    for place in (REPO / ".cache", Path.home()):
        try:
            place.mkdir(exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="codekiln-secret-", dir=place))
        except OSError:
            continue
        folder.chmod(0o755)
        (folder / "secret.txt").write_text(token + "\n")
        (folder / "secret.txt").chmod(0o644)
        folders.append(folder)
        files.append(folder / "secret.txt")
    assert files, "could not plant a secret outside /tmp"
    yield token, files
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def file_attacks(paths: list[Path]) -> list[str]:
    """Hostile pages trying to read `paths` through file:// URLs and showing what they got in their own text."""
    urls = [f"file://{p}" for p in paths]
    tags = "".join(f'<iframe src="{u}"></iframe><img src="{u}"><object data="{u}"></object><embed src="{u}">'
                   f'<link rel=stylesheet href="{u}"><script src="{u}"></script>' for u in urls)
    script = """<pre id=got>got:</pre><script>
const show = (how, text) => { got.textContent += "\\n" + how + ": " + String(text).slice(0, 300); };
for (const u of URLS) {
  fetch(u).then((r) => r.text()).then((t) => show("fetch", t), (e) => show("fetch failed", e));
  const x = new XMLHttpRequest();
  x.onload = () => show("xhr", x.responseText);
  x.onerror = () => show("xhr failed", x.status);
  try { x.open("GET", u); x.send(); } catch (e) { show("xhr threw", e); }
}
window.addEventListener("load", () => {
  for (const f of document.querySelectorAll("iframe, object")) {
    try { show("frame", (f.contentDocument || f.contentWindow.document).body.innerText); }
    catch (e) { show("frame blocked", e.name); }
  }
});
</script>""".replace("URLS", json.dumps(urls))
    navigate = f"<h1>going</h1><script>location.href = {json.dumps(urls[0])}</script>"
    return [f"<h1>reading</h1>{tags}{script}", navigate]


@pytest.mark.parametrize("browser", ["pool", "cage alone"])
def test_browser_cannot_read_host_files(browser: str, planted_secret: tuple[str, list[Path]],
                                        request: pytest.FixtureRequest) -> None:
    require_bwrap()
    token, files = planted_secret
    if browser == "pool":  # the page's scripts try every file:// route and show what they got
        pool: RenderPool = request.getfixturevalue("pool")
        results = [pool.render(page) for page in file_attacks(files)]
        assert pool.cage is not None
        (main,) = main_browser(browser_processes(pool.cage.launcher))
        try:  # what the pool's browser process sees at the secret's path: nothing
            visible = [p for p in files if Path(f"/proc/{main}/root{p}").exists()]
            assert Path(f"/proc/{main}/root{CHROMIUM}").exists()  # the view is readable from here
        except PermissionError:
            _missing("cannot look into the browser's file system from here (not root)")
        assert visible == [], f"the secret is in the browser's file system: {visible}"
        assert "got:" in results[0].text and "fetch failed" in results[0].text  # the page ran and reported
        for r in results:
            seen = json.dumps([r.text, r.structure, r.page_errors, r.console_errors, r.navigated_away, r.error])
            assert token not in seen, f"a page read a host file: {seen[:500]}"
    else:  # the browser itself is told to open each file (no origin rule stands in the way, only the cage)
        launcher = request.getfixturevalue("cage_launcher")
        control = run_caged(launcher, "file:///etc/fonts/fonts.conf")  # a file the cage does hold
        assert "fontconfig" in control.stdout, control.stderr[-2000:]
        for path in files:
            out = run_caged(launcher, f"file://{path}")
            assert token not in out.stdout + out.stderr, f"the caged browser read {path}"


# -- writing host files -----------------------------------------------------------------------------------------
def files_holding(marker: str, since: float) -> list[str]:
    """Files in the host's /tmp, ~/Downloads (whole trees) and $HOME (top level) changed since `since` whose name
    or content holds `marker` (as UTF-8 or UTF-16, the way browsers store strings)."""
    needles = (marker.encode(), marker.encode("utf-16-le"))
    found = []
    home = Path.home()
    candidates: list[Path] = [p for p in home.iterdir() if p.is_file()] if home.is_dir() else []
    for root in (Path(tempfile.gettempdir()), Path("/tmp"), home / "Downloads"):
        for folder, _dirs, names in os.walk(root, onerror=lambda _: None):
            candidates += [Path(folder) / n for n in names]
    for path in dict.fromkeys(candidates):
        try:
            st = path.lstat()
            if not path.is_file() or path.is_symlink() or max(st.st_mtime, st.st_ctime) < since:
                continue
            if marker in path.name or (st.st_size < 64 << 20 and any(n in path.read_bytes() for n in needles)):
                found.append(str(path))
        except OSError:
            continue
    return found


def test_hostile_page_writes_nothing_to_the_host_and_the_browser_scratch_folder_is_private() -> None:
    require_bwrap()
    marker = "WRITTEN-" + secrets.token_hex(12)
    since = time.time() - 1
    host_probe = Path(tempfile.mkdtemp(prefix="codekiln-hostprobe-")) / "only-on-the-host"
    host_probe.write_text("host")
    page = f"""<h1>writing</h1><p id=o>tried:</p><script>
const M = {json.dumps(marker)};
localStorage.setItem("k", M); sessionStorage.setItem("k", M);
document.cookie = "c=" + M + "; max-age=99999";
const open = indexedDB.open("db", 1);
open.onupgradeneeded = () => open.result.createObjectStore("s");
open.onsuccess = () => open.result.transaction("s", "readwrite").objectStore("s").put(M, "k");
const a = document.createElement("a");
a.href = URL.createObjectURL(new Blob([M], {{type: "application/octet-stream"}}));
a.download = M + ".txt";
document.body.appendChild(a); a.click();
const frame = document.createElement("iframe");  // a download by navigating a frame
frame.src = "data:application/octet-stream," + M;
document.body.appendChild(frame);
if (window.webkitRequestFileSystem) webkitRequestFileSystem(window.PERSISTENT, 1 << 20,
  (fs) => fs.root.getFile(M, {{create: true}}, (f) => f.createWriter((w) => w.write(new Blob([M])))), () => 0);
if (navigator.storage && navigator.storage.getDirectory) navigator.storage.getDirectory()
  .then((d) => d.getFileHandle(M, {{create: true}})).then((h) => h.createWritable())
  .then((w) => w.write(M).then(() => w.close())).catch(() => 0);
o.textContent += " storage, cookie, indexedDB, download, filesystem";
const t = Date.now(); while (Date.now() - t < 500) {{}}
</script>"""
    try:
        with RenderPool(size=1, limits=RenderLimits(timeout_s=8.0)) as pool:
            r = pool.render(page)
            assert r.error is None and "indexedDB, download" in r.text, r  # the page ran its attempts
            time.sleep(1.0)  # let the browser flush what it would write
            assert pool.cage is not None
            launcher = pool.cage.launcher
            procs = browser_processes(launcher)
            (main,) = main_browser(procs)
            host_profile = next(a.split("=", 1)[1] for a in launcher_argv(launcher) if a.startswith("--user-data-dir="))
            try:
                browser_tmp = Path(f"/proc/{main}/root/tmp")
                inside = sorted(p.name for p in browser_tmp.iterdir())
            except PermissionError:
                _missing("cannot look into the browser's file system from here (not root)")
            # The browser keeps its profile in a /tmp of its own: not the host's (the host's files are not there),
            # and not the folder Playwright made for it on the host (that stays empty).
            assert not (browser_tmp / host_probe.parent.name).exists(), "the browser sees the host's /tmp"
            assert "profile" in inside and (browser_tmp / "profile" / "Local State").exists(), inside
            assert Path(host_profile).is_dir() and list(Path(host_profile).iterdir()) == []
            assert files_holding(marker, since) == []  # while the browser is up (Playwright's folders still exist)
        assert not _still_running(procs)
        assert not Path(host_profile).exists() and not Path(launcher).parent.exists()  # nothing left behind
        assert files_holding(marker, since) == []
    finally:
        shutil.rmtree(host_probe.parent, ignore_errors=True)


def _still_running(procs: dict[int, tuple[int, int, list[str]]]) -> list[int]:
    """Which of these browser processes still run (a few seconds' grace for the cage to come down)."""
    deadline = time.monotonic() + 5
    while True:
        alive = []
        for pid, (_, _, argv) in procs.items():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() == argv[0]:
                    alive.append(pid)
            except OSError:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


# -- whose uid ----------------------------------------------------------------------------------------------------
def test_browser_runs_as_an_unprivileged_uid_of_its_own(pool: RenderPool) -> None:
    require_bwrap()
    require_root()
    assert pool.render("<h1>whoami</h1>").error is None  # renderers are up
    assert pool.cage is not None
    procs = browser_processes(pool.cage.launcher)
    assert main_browser(procs) and len(procs) >= 3, procs  # the browser, its zygotes and renderers
    ids = {(uid, gid) for uid, gid, _ in procs.values()}
    assert all(uid not in (0, os.getuid()) and gid not in (0, os.getgid()) for uid, gid in ids), ids


# -- a browser that dies under a page -----------------------------------------------------------------------------
SPIN = ("<h1 id=h>before</h1><script>const t = Date.now(); while (Date.now() - t < 2500) {} "
        "h.textContent = 'rendered after the spin';</script>")


@pytest.fixture(scope="module")
def crash_pool() -> Iterator[RenderPool]:
    with RenderPool(size=1, limits=RenderLimits(timeout_s=15.0), relaunches=2) as p:
        yield p


def _render_in_thread(pool: RenderPool, html: str) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = pool.render(html)
        except BaseException as err:  # noqa: BLE001 - handed to the test
            out["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.mark.slow
def test_browser_killed_mid_render_is_relaunched_and_the_page_rendered_again(crash_pool: RenderPool) -> None:
    """SIGKILL here; SIGSEGV (through Chromium's own crash handler) in the tests below."""
    assert crash_pool.cage is not None
    launcher = crash_pool.cage.launcher
    (victim,) = main_browser(browser_processes(launcher))
    thread, out = _render_in_thread(crash_pool, SPIN)
    time.sleep(0.8)
    assert thread.is_alive()  # mid-render: the page spins for 2.5 s
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=60)
    r = out["result"]
    assert r.error is None and "rendered after the spin" in r.text, r.error
    (now,) = main_browser(browser_processes(launcher))
    assert now != victim and not Path(f"/proc/{victim}").exists()
    assert crash_pool.render("<h1>next page</h1>").text == "next page"


@pytest.mark.slow
def test_renderer_killed_mid_render_is_retried_in_a_fresh_page(crash_pool: RenderPool) -> None:
    assert crash_pool.cage is not None
    launcher = crash_pool.cage.launcher
    thread, out = _render_in_thread(crash_pool, SPIN)
    time.sleep(0.8)
    renderers = [pid for pid, (_, _, argv) in browser_processes(launcher).items()
                 if "--type=renderer" in argv and not any(a.startswith("--top-chrome-webui") for a in argv)]
    assert thread.is_alive() and renderers
    for pid in renderers:
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=60)
    r = out["result"]
    assert r.error is None and "rendered after the spin" in r.text, r.error


class Killer:
    """Kills every browser that comes up under `root` (once it has renderers, so mid-render) with `sig`."""

    def __init__(self, sig: signal.Signals, root: int | None = None, launcher: str | None = None,
                 start_when: Path | None = None, after_lines: int = 0) -> None:
        self.sig, self.root, self.launcher = sig, root, launcher
        self.start_when, self.after_lines = start_when, after_lines
        self.killed: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _armed(self) -> bool:
        if self.start_when is None:
            return True
        try:
            return len(self.start_when.read_text().splitlines()) >= self.after_lines
        except OSError:
            return False

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._armed():
                procs = browser_processes(self.launcher, self.root)
                rendering = any("--type=renderer" in argv for _, _, argv in procs.values())
                for pid in main_browser(procs):
                    if pid not in self.killed and rendering:
                        time.sleep(0.5)
                        try:
                            os.kill(pid, self.sig)
                        except ProcessLookupError:
                            continue
                        self.killed.append(pid)
            time.sleep(0.05)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.mark.slow
def test_a_browser_that_keeps_dying_is_relaunched_a_bounded_number_of_times(crash_pool: RenderPool) -> None:
    assert crash_pool.cage is not None
    with Killer(signal.SIGSEGV, launcher=crash_pool.cage.launcher) as killer, pytest.raises(BrowserDied) as died:
        crash_pool.render(SPIN)
    assert "SIGSEGV" in died.value.cause and died.value.deaths == crash_pool.relaunches + 1
    assert len(killer.killed) == crash_pool.relaunches + 1
    assert crash_pool.render("<h1>alive again</h1>").text == "alive again"


@pytest.mark.slow
def test_verify_stage_stops_with_one_line_and_keeps_finished_verdicts(tmp_path: Path) -> None:
    """`codekiln verify` on html samples, its browser killed (SIGSEGV) at every launch once two verdicts are in."""
    tasks, samples = tmp_path / "tasks.jsonl", tmp_path / "samples.jsonl"
    # The third page spins for 6 s (SPIN: 2.5 s), so the killer, which polls from this process, catches its render
    # even on a loaded machine (under load it once finished before the kill: the stage then rightly succeeded).
    pages = ["<h1>Welcome back</h1><button>Sign in</button>", "<h2>Weather in Oslo</h2><p>rain</p>",
             SPIN.replace("< 2500", "< 6000"), "<h1>Pricing</h1><ul><li>Free</li><li>Pro</li></ul>"]
    with tasks.open("w") as t, samples.open("w") as s:
        for i, page in enumerate(pages):
            t.write(json.dumps({"task_id": f"ui/{i}", "kind": "html", "prompt": "A page.", "description": "A page.",
                                "split": "test"}) + "\n")
            s.write(json.dumps({"task_id": f"ui/{i}", "completion": page, "sample_id": f"ui/{i}#0"}) + "\n")
    out = tmp_path / "verdicts.jsonl"
    cmd = [sys.executable, "-m", "codekiln.cli", "verify", "--tasks", str(tasks), "--samples", str(samples),
           "--out", str(out), "--workers", "1", "--timeout", "15", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        with Killer(signal.SIGSEGV, root=proc.pid, start_when=out, after_lines=2):
            _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()  # a hung stage fails the test instead of outliving it
        proc.wait()
    lines = [line for line in stderr.splitlines()  # leaving out warnings (an uncaged browser's, say)
             if line.strip() and "Warning: " not in line and not line.startswith("  ")]
    assert proc.returncode == 2, stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert lines[0].startswith("codekiln verify: error: verify stopped: Chromium was killed by SIGSEGV"), lines[0]
    assert "sample ui/2#0 of task ui/2" in lines[0] and "2 finished verdicts are kept" in lines[0], lines[0]
    kept = out.read_text().splitlines()
    assert [json.loads(v)["sample_id"] for v in kept] == ["ui/0#0", "ui/1#0"]  # finished verdicts, kept

    from codekiln.cli import main  # the rerun in-process: the scorer's imports are paid once per test session

    assert main(cmd[3:]) == 0
    final = out.read_text().splitlines()
    assert [json.loads(v)["sample_id"] for v in final] == [f"ui/{i}#0" for i in range(4)]  # none twice, none lost
    assert final[:2] == kept  # the verdicts kept are the ones the rerun reports (not redone)
    assert json.loads(final[2])["status"] != "runtime_error"  # the killed page's verdict is its own, not a crash
