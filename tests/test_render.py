"""The html verifier on real Chromium (Debian's, through Playwright): small pages, one warm pool for the module."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from codekiln.config import VerifyConfig
from codekiln.records import Sample, Task, Verdict
from codekiln.verify.html import HtmlVerifier
from codekiln.verify.render import RenderLimits, RenderPool
from codekiln.verify.scorers import get_scorer

DESC = ("A login form with the heading 'Welcome back', an email field, a password field, a 'Remember me' "
        "checkbox and a 'Sign in' button.")
TASK = Task("ui/login", "html", DESC, description=DESC)
LOGIN = """<!doctype html><html><head><style>body{font-family:sans-serif;margin:40px}
form{display:flex;flex-direction:column;gap:8px;max-width:320px}</style></head><body>
<h1>Welcome back</h1><form><label>Email <input type=email name=email></label>
<label>Password <input type=password name=password></label>
<label><input type=checkbox> Remember me</label><button type=submit>Sign in</button></form></body></html>"""
WEATHER = """<!doctype html><html><body style="font-family:sans-serif"><h2>Weather in Oslo</h2>
<p>12 degrees, cloudy. Tomorrow: rain showers in the afternoon.</p></body></html>"""


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    with RenderPool(size=2, limits=RenderLimits(width=800, height=600, timeout_s=5.0)) as p:
        yield p


@pytest.fixture(scope="module")
def verifier(pool: RenderPool) -> Iterator[HtmlVerifier]:
    v = HtmlVerifier(VerifyConfig(html_threshold=0.5), pool=pool, scorer=get_scorer("minilm"))
    yield v
    v.close()


def check(verifier: HtmlVerifier, *pages: str) -> list[Verdict]:
    return verifier.verify([(TASK, Sample(TASK.task_id, html, sample_id=f"s{i}")) for i, html in enumerate(pages)])


def feedback(v: Verdict) -> dict:
    """The page's details, as the verdict file holds them."""
    assert v.page is not None
    return v.details["page"]


def test_matching_page_passes_and_outscores_a_mismatched_one(verifier: HtmlVerifier) -> None:
    good, other = check(verifier, LOGIN, WEATHER)
    assert good.status == "passed" and good.passed
    assert other.status == "failed" and "below the threshold" in feedback(other)["problems"][-1]
    assert 0.0 <= other.score < good.score <= 1.0
    assert feedback(good)["relevance"]["labels"] == 1.0
    assert len(feedback(good)["phash"]) == 16


def test_blank_page_fails(verifier: HtmlVerifier) -> None:
    (v,) = check(verifier, "<!doctype html><html><body style='background:#fff'><div></div></body></html>")
    assert v.status == "failed"
    fb = feedback(v)
    assert fb["checks"]["not_blank"] is False and fb["checks"]["has_text"] is False
    assert "blank" in fb["problems"][0]


def test_console_error_and_uncaught_exception_are_runtime_errors(verifier: HtmlVerifier) -> None:
    console, thrown = check(verifier, LOGIN.replace("</body>", "<script>console.error('broken widget')</script></body>"),
                            LOGIN.replace("</body>", "<script>undefinedFunction()</script></body>"))
    assert console.status == "runtime_error" and "broken widget" in feedback(console)["problems"][0]
    assert thrown.status == "runtime_error" and "undefinedFunction" in feedback(thrown)["problems"][0]
    assert console.score > 0.5  # it rendered: the score is still there to rank failures


def test_overflow_and_cut_off_pages_fail(verifier: HtmlVerifier) -> None:
    wide, cut = check(verifier, LOGIN.replace("</form>", "</form><div style='width:2400px'>wide banner</div>"),
                      LOGIN[: LOGIN.index("</form>")])
    assert wide.status == "failed" and feedback(wide)["checks"]["no_overflow"] is False
    assert cut.status == "syntax_error" and "never closed" in feedback(cut)["problems"][0]


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, *args: object) -> None:
        pass


def test_page_that_reaches_for_the_network_gets_nothing(verifier: HtmlVerifier) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = LOGIN.replace("</body>", f"""<p id=out>waiting</p><img src="{base}/img.png">
<link rel=stylesheet href="{base}/style.css"><iframe src="{base}/frame"></iframe>
<script>
fetch("{base}/fetch").then(r => r.text()).then(t => out.textContent = "got " + t,
                                               () => out.textContent = "fetch failed");
navigator.sendBeacon && navigator.sendBeacon("{base}/beacon", "x");
try {{ new WebSocket("ws://127.0.0.1:{server.server_address[1]}/ws"); }} catch (e) {{}}
</script></body>""")
        (v,) = check(verifier, page)
        again = verifier.pool.render(page.replace("fetch failed", "fetch failed twice"))
    finally:
        server.shutdown()
    assert _Counter.hits == []
    fb = feedback(v)
    assert f"{base}/fetch" in fb["blocked"] and f"{base}/img.png" in fb["blocked"]
    assert "got secret" not in again.text
    assert "fetch failed" in again.text


def test_endless_loop_times_out_and_the_pool_recovers(pool: RenderPool) -> None:
    stuck = pool.render("<h1>spin</h1><script>while (true) {}</script>")
    assert stuck.timed_out and stuck.error and "within" in stuck.error
    after = pool.render("<h1>Still here</h1>")
    assert after.error is None and "Still here" in after.text


def test_forged_dom_apis_do_not_fool_the_inspection(pool: RenderPool) -> None:
    page = """<h1>Real heading</h1><script>
Object.defineProperty(HTMLElement.prototype, 'innerText', {get() { return 'Sign in Remember me Welcome back'; }});
Element.prototype.getBoundingClientRect = () => ({width: 10, height: 10});
document.querySelectorAll = () => [];
</script>"""
    r = pool.render(page)
    assert r.error is None
    assert "Real heading" in r.text and "Remember me" not in r.text
    assert r.structure["headings"] == ["Real heading"]


def test_dialogs_and_popups_do_not_block(pool: RenderPool) -> None:
    r = pool.render("<h1>Alerts</h1><script>alert('hi'); confirm('sure?'); window.open('about:blank')</script>")
    assert r.error is None and "Alerts" in r.text


def test_report_shows_base_and_final_screenshots(tmp_path) -> None:
    import base64
    import io

    from PIL import Image

    from codekiln.records import write_jsonl
    from codekiln.report.screenshots import ui_section

    pages = {0: WEATHER, 1: LOGIN}
    for rnd, page in pages.items():
        folder = tmp_path / f"round-{rnd}" / "eval"
        write_jsonl(folder / "samples.jsonl", [Sample(TASK.task_id, page, sample_id=f"{TASK.task_id}#r{rnd}s0")])
        status = "passed" if rnd else "failed"
        write_jsonl(folder / "verdicts.jsonl", [Verdict(TASK.task_id, f"{TASK.task_id}#r{rnd}s0", status, bool(rnd),
                                                        0.9 if rnd else 0.1, json.dumps({"problems": []}))])
    html = ui_section(tmp_path, {TASK.task_id: TASK}, final=1)
    images = [part.split('"', 1)[0] for part in html.split("data:image/png;base64,")[1:]]
    assert len(images) == 2 and "<form" not in html and "&lt;form" not in html  # pixels, not the markup
    base, final = (Image.open(io.BytesIO(base64.b64decode(b))).convert("L") for b in images)
    assert base.width == final.width == 420 and base.tobytes() != final.tobytes()
    assert "final model (round 1): <b>passed</b>" in html
    assert ui_section(tmp_path, {TASK.task_id: TASK}, final=None) == ""


def test_nothing_leaks_from_one_page_to_the_next(pool: RenderPool) -> None:
    writer = ("<h1>writer</h1><script>localStorage.setItem('k', 'leak'); document.cookie = 'c=leak';"
              "window.name = 'leak'; sessionStorage.setItem('k', 'leak')</script>")
    reader = ("<h1>reader</h1><p id=o></p><script>o.textContent = [localStorage.getItem('k'), document.cookie,"
              "window.name, sessionStorage.getItem('k')].join('|')</script>")
    for _ in range(2 * pool.size + 1):  # whichever slot the reader lands in has served a writer before
        assert pool.render(writer).error is None
    r = pool.render(reader)
    assert r.error is None and "leak" not in r.text and "reader" in r.text
