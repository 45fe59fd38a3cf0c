"""Render model-written HTML in Debian's Chromium through Playwright, with a warm pool of browser contexts.

The HTML is hostile. It only ever runs inside Chromium, and Chromium itself runs in a bubblewrap cage where the
machine allows (`codekiln.verify.browser_cage`: its own unprivileged uid, no network namespace but its own
loopback, a read-only system with nothing of the host's files but what the browser needs, a private /tmp that
holds its profile and vanishes with it, a clean environment). Within that, the page gets no network either:

- the page is served from a made-up origin (`PAGE_URL`) by a route handler; every other request the page
  makes (scripts, images, fetch, XHR, navigations, iframes) is aborted and listed in `Rendered.blocked`;
- belt and braces under the route: DNS resolves nothing (`--host-resolver-rules`), every connection goes to a
  proxy on a loopback port nobody listens on (`--proxy-server`, loopback not bypassed), WebRTC may not use
  UDP, service workers are blocked, WebSockets are closed;
- dialogs are dismissed, popups closed, downloads refused, and a page that navigates itself away is reported.

Each page is a new document in a warm browser. Contexts (with their page and renderer process) are created
ahead of use; after a page that rendered cleanly, its context is reused for up to `reuse` more pages, each
time blanked (about:blank), with cookies, `window.name` and the page origin's storage wiped; any page that errs or times out
has its context thrown away. So a render costs a page load, not a browser start or a renderer start. A render has a
wall-clock limit; a page that blows it (an endless loop) has its context thrown away, and a browser that
stops answering is restarted.

What the page exposes is read in an isolated JavaScript world (CDP `Page.createIsolatedWorld`): it shares the
DOM but not the page's globals, so a page that patches `Element.prototype` or `innerText` cannot forge the
text and structure the scorer reads. The screenshot is real pixels.

A browser that dies under a page (a signal, an exit, or no answer) is never the page's verdict: the browser is
relaunched and the page rendered again, at most `relaunches` times per page; past that the render raises
`BrowserDied`, naming how the browser died (the cage's launcher records its exit status). A renderer that
crashes is retried once in a fresh context; a page that crashes it twice is a `runtime_error`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from typing import Any

from codekiln.errors import UserError, exit_text
from codekiln.verify.browser_cage import STATUS_ENV, Cage, make_cage

CHROMIUM = "/usr/bin/chromium"
PAGE_URL = "http://page.codekiln.invalid/"
BROWSER_ARGS = (
    "--no-sandbox",  # Chromium's setuid/namespace sandbox needs privileges a container root lacks
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--metrics-recording-only",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)
BROWSER_CALL_S = 30.0  # longest wait for the browser to open a context and page (it hangs: it is relaunched)
# Console messages Chromium itself logs for the requests we abort: not the page's own errors.
BLOCKED_MESSAGES = ("Failed to load resource", "net::ERR_FAILED", "net::ERR_BLOCKED", "ERR_NAME_NOT_RESOLVED",
                    "ERR_PROXY_CONNECTION_FAILED")

# Read in the isolated world: visible text, element structure, horizontal overflow.
INSPECT_JS = r"""
(() => {
  const vis = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0.05;
  };
  const txt = (el) => (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 120);
  const all = (sel) => Array.from(document.querySelectorAll(sel)).filter(vis);
  const label = (el) => {
    let t = el.getAttribute('aria-label') || el.getAttribute('placeholder') || '';
    if (!t && el.id) { const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]'); if (l) t = txt(l); }
    if (!t) { const l = el.closest('label'); if (l) t = txt(l); }
    return (t || el.getAttribute('name') || '').slice(0, 80);
  };
  const body = document.body;
  const root = document.documentElement;
  return {
    title: document.title || '',
    text: body ? (body.innerText || '').slice(0, 20000) : '',
    headings: all('h1,h2,h3,h4,h5,h6,[role=heading]').map(txt).filter(Boolean),
    buttons: all('button,input[type=submit],input[type=button],input[type=reset],[role=button],a.btn,a.button')
      .map((el) => txt(el) || el.value || el.getAttribute('aria-label') || 'button'),
    inputs: all('input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]),select,textarea')
      .map((el) => ({tag: el.tagName.toLowerCase(), type: (el.getAttribute('type') || '').toLowerCase(),
                     label: label(el)})),
    lists: all('ul,ol').map((el) => el.querySelectorAll('li').length),
    images: all('img,svg,canvas,picture,[role=img]').map((el) => el.getAttribute('alt') || el.tagName.toLowerCase()),
    tables: all('table').map((el) => el.querySelectorAll('tr').length),
    links: all('a[href]').map(txt).filter(Boolean),
    nav: all('nav,[role=navigation]').length,
    forms: all('form').length,
    scroll_width: Math.max(root ? root.scrollWidth : 0, body ? body.scrollWidth : 0),
    client_width: root ? root.clientWidth : 0,
    boxes: boxes(),
  };
})()
"""
# The page's layout as the browser computed it, for the requirement checks (codekiln.verify.ui_requirements):
# every visible element (up to BOX_LIMIT, in document order) as a list
# [tag, type, x, y, w, h, parent index or -1, own text, font weight, font size px, color, effective background,
#  line-through (0/1)]. Own text is an element's direct text, or a control's value, placeholder or label.
BOX_LIMIT = 1500
BOXES_JS = r"""
  const boxes = () => {
    const out = [], index = new Map();
    const effectiveBg = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = getComputedStyle(e).backgroundColor;
        if (c && c !== 'transparent' && !/rgba\([^)]*,\s*0\)$/.test(c)) return c;
      }
      return 'rgb(255, 255, 255)';
    };
    for (const el of document.body ? document.body.querySelectorAll('*') : []) {
      if (out.length >= BOX_LIMIT) break;
      const tag = el.tagName.toLowerCase();
      if (['script', 'style', 'template', 'noscript', 'head', 'meta', 'link', 'title'].includes(tag)) continue;
      if (!vis(el)) continue;
      const r = el.getBoundingClientRect();
      const s = getComputedStyle(el);
      let own = '';
      for (const n of el.childNodes) if (n.nodeType === 3) own += n.textContent;
      own = own.replace(/\s+/g, ' ').trim();
      if (['input', 'select', 'textarea'].includes(tag)) own = (el.value && tag !== 'select' ? el.value : '') || label(el);
      if (tag === 'select' && el.selectedOptions && el.selectedOptions[0]) own = txt(el.selectedOptions[0]) || own;
      if (['button', 'a', 'label', 'li', 'td', 'th', 'option'].includes(tag) || /^h[1-6]$/.test(tag)) own = txt(el) || own;
      let p = el.parentElement, parent = -1;
      while (p && parent < 0) { if (index.has(p)) parent = index.get(p); p = p.parentElement; }
      index.set(el, out.length);
      out.push([tag, (el.getAttribute('type') || el.getAttribute('role') || '').toLowerCase(),
                Math.round(r.left), Math.round(r.top + window.scrollY), Math.round(r.width), Math.round(r.height),
                parent, own.slice(0, 100), parseInt(s.fontWeight) || 400, parseFloat(s.fontSize) || 16,
                s.color, effectiveBg(el), (s.textDecorationLine || '').includes('line-through') ? 1 : 0]);
    }
    return out;
  };
""".replace("BOX_LIMIT", str(BOX_LIMIT))
INSPECT_JS = INSPECT_JS.replace("  const body = document.body;", BOXES_JS + "  const body = document.body;", 1)


@dataclass(frozen=True)
class RenderLimits:
    """Viewport (CSS pixels) and the wall-clock limit of one render."""

    width: int = 1024
    height: int = 768
    timeout_s: float = 8.0


@dataclass(frozen=True)
class Rendered:
    """What Chromium made of one page. `error` is set when it did not render at all (`timeout`, a crash...)."""

    screenshot: bytes = b""
    text: str = ""
    structure: dict[str, Any] = field(default_factory=dict)
    page_errors: tuple[str, ...] = ()
    console_errors: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    navigated_away: str | None = None
    error: str | None = None
    timed_out: bool = False
    duration_s: float = 0.0

    @property
    def overflow_px(self) -> int:
        """How far the content reaches past the viewport's width, in CSS pixels."""
        s = self.structure
        return max(0, int(s.get("scroll_width", 0)) - int(s.get("client_width", 0)))


class BrowserDied(UserError):
    """Chromium died (or stopped answering) under the same page more often than the pool relaunches it.

    `cause` says how it ended the last time ("was killed by SIGSEGV (signal 11)", "exited with code 1",
    "stopped answering"); `index` is the page's position in a `render_many` call (None for `render`)."""

    def __init__(self, cause: str, deaths: int, index: int | None = None) -> None:
        super().__init__(f"Chromium {cause} under the same page {deaths} times, relaunched after each")
        self.cause = cause
        self.deaths = deaths
        self.index = index


@dataclass(frozen=True)
class _Lost:
    """A render that did not finish because the browser (or the page's renderer) went away under it."""

    cause: str
    browser: Any = None  # the browser that died (None: a renderer crash, or a launch that failed)
    renderer: bool = False


class RenderPool:
    """A warm Chromium with `size` pages rendered at once, each in a fresh context made ahead of time.

    Thread-safe: `render`/`render_many` may be called from any thread; the browser lives on a private asyncio
    loop thread. `reuse` is how many pages one context serves (0: a fresh context for every page).
    `fresh_browser=True` launches a browser for every page instead (the slow baseline the render benchmark
    compares with). `relaunches` bounds how often the browser is relaunched for one page before `BrowserDied`.
    `isolate=False` runs the browser uncaged (`cage` says what a pool got).
    """

    def __init__(self, size: int = 2, limits: RenderLimits = RenderLimits(), executable: str = CHROMIUM,
                 fresh_browser: bool = False, reuse: int = 20, isolate: bool = True, relaunches: int = 2) -> None:
        if size < 1:
            raise UserError(f"render pool size must be at least 1, got {size}")
        self.size = size
        self.limits = limits
        self.executable = executable
        self.fresh_browser = fresh_browser
        self.reuse = reuse
        self.isolate = isolate
        self.relaunches = relaunches
        self.cage: Cage | None = None  # the launcher (set at start)
        self._folder = tempfile.mkdtemp(prefix="codekiln-browser-")  # the launcher and each launch's exit status
        self._status: dict[Any, str] = {}  # browser -> the file its launcher writes the exit status to
        self._launches = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="codekiln-render", daemon=True)
        self._thread.start()
        self._closed = False
        try:
            self._call(self._start())
        except Exception:
            self.close()
            raise

    # -- public, any thread --------------------------------------------------------------------------------
    def render(self, html: str) -> Rendered:
        """Render one page (blocks until done or the limit hits). Raises `BrowserDied`, never for the page."""
        return self._call(self._render(html))

    def render_many(self, htmls: Sequence[str],
                    on_result: Callable[[int, Rendered], None] | None = None) -> list[Rendered]:
        """Render pages `size` at a time; `on_result(index, rendered)` runs (in the caller's thread) as each ends.
        On `BrowserDied` the pages not yet rendered are cancelled and the error names the page's index."""
        futures = [asyncio.run_coroutine_threadsafe(self._render(h), self._loop) for h in htmls]
        results: list[Rendered | None] = [None] * len(htmls)
        index_of = {id(f): i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = index_of[id(fut)]
            try:
                results[i] = fut.result()
            except BrowserDied as err:
                for other in futures:
                    other.cancel()
                err.index = i
                raise
            if on_result is not None:
                on_result(i, results[i])  # type: ignore[arg-type]
        return results  # type: ignore[return-value]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loop.is_running():
            try:
                self._call(self._stop(), timeout=30)
            except Exception:  # noqa: BLE001 - closing must not mask the caller's error
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loop thread ---------------------------------------------------------------------------------------
    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        fut: Future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    async def _start(self) -> None:
        try:
            from playwright.async_api import async_playwright
        except ImportError:
            raise UserError("rendering html needs Playwright: pip install 'codekiln[ui]' "
                            "(the Python package only; Chromium comes from Debian: apt-get install chromium)") from None
        if not os.path.exists(self.executable):
            raise UserError(f"Chromium not found at {self.executable}; install Debian's package: apt-get install chromium "
                            "(codekiln never downloads a browser)")
        self.cage = make_cage(self.executable, self._folder, self.isolate)
        self._pw = await async_playwright().start()
        self._slots = asyncio.Semaphore(self.size)
        self._browser = None if self.fresh_browser else await self._launch()
        self._spare: list[_Slot] = []
        self._restart_lock = asyncio.Lock()
        if self._browser is not None:
            self._spare = [await self._new_slot(self._browser) for _ in range(self.size)]

    async def _stop(self) -> None:
        for slot in self._spare:
            await _quietly(asyncio.wait_for(slot.ctx.close(), 10))
        if self._browser is not None:
            await self._close(self._browser)
        await _quietly(asyncio.wait_for(self._pw.stop(), 10))

    async def _launch(self) -> Any:
        assert self.cage is not None
        self._launches += 1
        status = os.path.join(self._folder, f"status-{self._launches}")
        # Caged, the browser starts from a clean environment anyway (bubblewrap's --clearenv); the launcher itself
        # gets no more than it needs. Uncaged, Chromium keeps the environment it would have had.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")} if self.cage.caged else dict(os.environ)
        env[STATUS_ENV] = status
        browser = await self._pw.chromium.launch(executable_path=self.cage.launcher, headless=True,
                                                 args=list(BROWSER_ARGS), chromium_sandbox=False, timeout=60_000,
                                                 env=env)
        self._status[browser] = status
        return browser

    async def _new_slot(self, browser: Any) -> _Slot:
        """A fresh context with its page already open (the renderer process is started ahead of use)."""
        ctx = await browser.new_context(
            viewport={"width": self.limits.width, "height": self.limits.height}, device_scale_factor=1,
            java_script_enabled=True, service_workers="block", accept_downloads=False, reduced_motion="reduce",
            locale="en-US", timezone_id="UTC",
        )
        slot = _Slot(ctx, browser)
        await ctx.route("**/*", slot.route)
        if hasattr(ctx, "route_web_socket"):
            await ctx.route_web_socket("**/*", lambda ws: asyncio.ensure_future(_quietly(ws.close())))
        slot.page = await ctx.new_page()
        slot.watch()
        return slot

    async def _take_slot(self) -> tuple[Any, _Slot]:
        """(browser or None, slot): a spare warm slot, or a fresh browser and slot for `fresh_browser`."""
        if self.fresh_browser:
            browser = await self._launch()
            try:
                return browser, await asyncio.wait_for(self._new_slot(browser), BROWSER_CALL_S)
            except Exception:
                await self._close(browser)
                raise
        if self._spare:
            return None, self._spare.pop()
        return None, await asyncio.wait_for(self._new_slot(self._browser), BROWSER_CALL_S)

    async def _refill(self) -> None:
        try:
            if len(self._spare) < self.size and self._browser is not None:
                browser = self._browser
                slot = await asyncio.wait_for(self._new_slot(browser), BROWSER_CALL_S)
                if browser is self._browser:
                    self._spare.append(slot)
                else:  # relaunched meanwhile: the slot belongs to the old browser
                    await _quietly(asyncio.wait_for(slot.ctx.close(), 10))
        except Exception:  # noqa: BLE001 - a failed refill is retried on demand by _take_slot
            pass

    async def _render(self, html: str) -> Rendered:
        async with self._slots:
            start = time.monotonic()
            deaths = renderer_crashes = 0
            while True:
                outcome = await self._attempt(html)
                if isinstance(outcome, Rendered):
                    return _with(outcome, duration_s=time.monotonic() - start)
                if outcome.renderer:
                    renderer_crashes += 1
                    if renderer_crashes < 2:
                        continue
                    return Rendered(error=f"the page crashed Chromium's renderer twice ({outcome.cause})",
                                    duration_s=time.monotonic() - start)
                deaths += 1
                if deaths > self.relaunches:
                    raise BrowserDied(outcome.cause, deaths)
                try:
                    await self._restart(outcome.browser)
                except Exception as err:  # noqa: BLE001 - reported as the browser's death, not as the page's
                    raise BrowserDied(f"{outcome.cause}, and relaunching failed ({_first_line(err)})",
                                      deaths) from None

    async def _attempt(self, html: str) -> Rendered | _Lost:
        """Render once: the page's result, or how the browser (or its renderer) went away under it."""
        browser = self._browser
        try:
            own_browser, slot = await self._take_slot()
        except Exception as err:  # noqa: BLE001 - no slot: the browser is dead or cannot start
            if browser is not None and not await _alive(browser):
                return _Lost(await self._cause(browser), browser)
            return _Lost(f"opened no page ({_first_line(err)})", browser)
        owner = own_browser or browser
        try:
            result = await asyncio.wait_for(self._load(slot, html), self.limits.timeout_s)
        except TimeoutError:
            result = Rendered(error=f"the page did not finish rendering within {self.limits.timeout_s:g} s",
                              timed_out=True)
        except Exception as err:  # noqa: BLE001 - a crashed page is a verdict, not an exception
            result = Rendered(error=f"{type(err).__name__}: {_first_line(err)}")
        if result.error is not None and not await _alive(owner):  # the browser died (or hangs) under the page
            cause = await self._cause(owner)
            if own_browser is not None:
                await self._close(own_browser)
            return _Lost(cause, owner)
        if result.error is not None and slot.crashed:
            await self._discard(slot, own_browser)
            return _Lost(result.error, renderer=True)
        report = _with(result, page_errors=tuple(slot.page_errors),
                       console_errors=tuple(m for m in slot.console if not m.startswith(BLOCKED_MESSAGES)),
                       blocked=tuple(slot.blocked))
        if own_browser is None and result.error is None and slot.uses < self.reuse and await self._reset(slot):
            self._spare.append(slot)  # the next page reuses this renderer process, with its storage wiped
        else:
            await self._discard(slot, own_browser)
        return report

    async def _discard(self, slot: _Slot, own_browser: Any) -> None:
        """Close a slot that will not serve another page (and the browser launched for it alone)."""
        closed = await _quietly(asyncio.wait_for(slot.ctx.close(), 10))
        if own_browser is not None:
            await self._close(own_browser)
            return
        if not closed and slot.browser is self._browser:
            await _quietly(self._restart(slot.browser))
        asyncio.ensure_future(self._refill())

    async def _cause(self, browser: Any) -> str:
        """How a browser that stopped answering went: the signal or exit code its launcher recorded."""
        path = self._status.get(browser)
        deadline = time.monotonic() + 3.0
        while path is not None and time.monotonic() < deadline:
            try:
                with open(path, encoding="utf-8") as fh:
                    code = int(fh.read().strip() or "x")
            except (OSError, ValueError):  # not written yet: the launcher is still waiting on the cage
                await asyncio.sleep(0.05)
                continue
            return exit_text(128 - code if code > 128 else code)  # the cage reports signal N as 128 + N
        return exit_text(None)

    async def _reset(self, slot: _Slot) -> bool:
        """Make a slot whose page rendered cleanly ready for the next page: blank document, storage wiped."""
        try:
            await asyncio.wait_for(slot.page.goto("about:blank"), 5)
            await asyncio.wait_for(slot.page.evaluate("window.name = ''"), 5)  # survives navigations otherwise
            await asyncio.wait_for(slot.ctx.clear_cookies(), 5)
            cdp = await slot.ctx.new_cdp_session(slot.page)
            await cdp.send("Storage.clearDataForOrigin", {"origin": PAGE_URL.rstrip("/"), "storageTypes": "all"})
            await cdp.detach()
        except Exception:  # noqa: BLE001 - a slot that cannot be reset is closed instead
            return False
        slot.reset()
        return len(slot.page.context.pages) == 1

    async def _restart(self, dead: Any) -> None:
        """Replace the browser `dead` with a fresh one (once, however many renders saw it die)."""
        async with self._restart_lock:
            if self.fresh_browser or self._browser is not dead:
                return
            await self._close(dead)
            self._spare = []
            self._browser = await self._launch()

    async def _close(self, browser: Any) -> None:
        """Close a browser; one that does not close in time (hung, stopped) is killed with its whole cage."""
        await _quietly(asyncio.wait_for(browser.close(), 10))
        status = self._status.get(browser)  # kept: a render that saw this browser die may still ask how
        try:
            with open(f"{status}.pid", encoding="utf-8") as fh:
                launcher = int(fh.read().strip())
            if os.path.exists(status or ""):  # the launcher has finished: its pid may be another process's now
                return
            os.killpg(launcher, signal.SIGKILL)  # Playwright starts it as a process group of its own
        except (OSError, ValueError, TypeError):
            pass

    async def _load(self, slot: _Slot, html: str) -> Rendered:
        page = slot.page
        slot.html = html
        slot.uses += 1
        await page.goto(PAGE_URL, wait_until="load")
        cdp = await slot.ctx.new_cdp_session(page)
        tree = await cdp.send("Page.getFrameTree")
        world = await cdp.send("Page.createIsolatedWorld",
                               {"frameId": tree["frameTree"]["frame"]["id"], "worldName": "codekiln"})
        context_id = world["executionContextId"]
        await cdp.send("Runtime.evaluate", {
            "expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))",
            "contextId": context_id, "awaitPromise": True})
        shot = await page.screenshot(type="png", animations="disabled", caret="hide")
        found = await cdp.send("Runtime.evaluate", {"expression": INSPECT_JS, "contextId": context_id,
                                                    "returnByValue": True})
        structure = (found.get("result") or {}).get("value") or {}
        if not isinstance(structure, dict):
            structure = {}
        await _quietly(cdp.detach())
        url = page.url
        return Rendered(screenshot=shot, text=str(structure.pop("text", "")),
                        structure=json.loads(json.dumps(structure)),
                        navigated_away=None if url == PAGE_URL else url[:200])


class _Slot:
    """One context and its page, with what the page did: errors, console errors, blocked requests, a crash."""

    def __init__(self, ctx: Any, browser: Any) -> None:
        self.ctx = ctx
        self.browser = browser
        self.page: Any = None
        self.uses = 0
        self.crashed = False
        self.reset()

    def reset(self) -> None:
        self.html = ""
        self.served = False
        self.page_errors: list[str] = []
        self.console: list[str] = []
        self.blocked: list[str] = []

    def watch(self) -> None:
        page = self.page
        page.on("pageerror", lambda err: self.page_errors.append(str(err)[:300]))
        page.on("console", lambda msg: self.console.append(msg.text[:300]) if msg.type == "error" else None)
        page.on("dialog", lambda d: asyncio.ensure_future(_quietly(d.dismiss())))
        page.on("crash", lambda _: setattr(self, "crashed", True))
        self.ctx.on("page", lambda p: asyncio.ensure_future(_quietly(p.close())) if p is not page else None)

    async def route(self, route: Any) -> None:
        """Serve the page itself once, at PAGE_URL, as the main frame's navigation; abort everything else."""
        request = route.request
        if (not self.served and request.url == PAGE_URL and request.is_navigation_request()
                and request.frame.parent_frame is None):
            self.served = True
            await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self.html)
            return
        if len(self.blocked) < 50:
            self.blocked.append(request.url[:200])
        await _quietly(route.abort("blockedbyclient"))


def _with(r: Rendered, **changes: Any) -> Rendered:
    return dataclasses.replace(r, **changes)


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


async def _alive(browser: Any) -> bool:
    """Whether the browser still answers (a round trip to its own process, not to any page)."""
    if browser is None or not browser.is_connected():
        return False
    try:
        session = await asyncio.wait_for(browser.new_browser_cdp_session(), 5)
        await asyncio.wait_for(session.send("Browser.getVersion"), 5)
    except Exception:  # noqa: BLE001 - dead, closed or hung: all mean the same here
        return False
    await _quietly(session.detach())
    return True


async def _quietly(awaitable: Any) -> bool:
    """Await, swallowing errors (closing something already dead); True when it succeeded."""
    try:
        await awaitable
        return True
    except Exception:  # noqa: BLE001
        return False
