"""The HTML report: rendered from a run folder's files, checked as text and in headless Chromium."""

import json
import re
import shutil
from pathlib import Path

import pytest

from codekiln.cli import main
from codekiln.records import Sample, Verdict, write_json, write_jsonl
from codekiln.report.html import render_report, write_report
from codekiln.report.stats import bootstrap_ci, passk_with_ci

CHARTS = ("passk", "overfit", "invalid", "funnel", "loss", "margin", "status")


def _eval_round(folder: Path, r: int, passed_ids: set[int], tasks: int = 10, prefix: str = "t") -> None:
    samples, verdicts = [], []
    for t in range(tasks):
        sid = f"{prefix}/{t}#r{r}s0"
        code = f"def f{t}(x):\n    return x + {r}  # round {r} <b>"
        samples.append(Sample(task_id=f"{prefix}/{t}", completion=code, sample_id=sid, round=r))
        ok = t in passed_ids
        verdicts.append(Verdict(task_id=f"{prefix}/{t}", sample_id=sid, status="passed" if ok else "failed",
                                passed=ok))
    write_jsonl(folder / "samples.jsonl", samples)
    write_jsonl(folder / "verdicts.jsonl", verdicts)
    write_json(folder / "metrics.json", {"pass@1": len(passed_ids) / tasks})


def make_run(root: Path) -> Path:
    """A finished two-round run folder, written the way the loop writes it (files only, no model)."""
    (root / "config.yaml").parent.mkdir(parents=True)
    (root / "config.yaml").write_text("tasks: missing-suite-file.jsonl\neval:\n  bootstrap: 200\n")
    _eval_round(root / "round-0" / "eval", 0, {0, 1})
    _eval_round(root / "round-1" / "eval", 1, {0, 1, 2, 3, 4})
    _eval_round(root / "round-2" / "eval", 2, {0, 1, 2, 3, 4, 5, 6})
    # Validation: 60% -> 40% -> 70% (round 2 is final); the train pass rate rises 25% -> 44% from the base to
    # round 1's model while validation falls: an over-fitting sign.
    for r, passed in ((0, set(range(6))), (1, set(range(4))), (2, set(range(7)))):
        _eval_round(root / f"round-{r}" / "val", r, passed, prefix="v")
    _eval_round(root / "round-0" / "extra" / "humaneval", 0, {0, 1}, prefix="HumanEval")
    _eval_round(root / "round-2" / "extra" / "humaneval", 2, {0, 1, 2, 3, 4, 5}, prefix="HumanEval")
    stages = []
    for r in (1, 2):
        rd = root / f"round-{r}"
        statuses = ["passed"] * (2 * r) + ["failed"] * 3 + ["syntax_error"] * (3 - r) + ["runtime_error"]
        write_jsonl(rd / "verdicts.jsonl", [
            Verdict(task_id=f"t/{i // 2}", sample_id=f"s{i}", status=s, passed=s == "passed")
            for i, s in enumerate(statuses)])
        steps = ["generated", "extracted", "verified_passing", "unique", "decontaminated", "used"]
        total = dict(zip(steps, [8, 7, 2 * r, 2 * r - 1, 2 * r - 1, 2 * r - 1], strict=True))
        write_json(rd / "curated" / "funnel.json", {"steps": steps, "total": {**total, "pairs": r},
                                                     "kinds": {"python": total}, "sft_rows": 2 * r})
        write_jsonl(rd / "curated" / "pairs.jsonl", [{"prompt": "p", "chosen": "c", "rejected": "r"}] * r)
        write_jsonl(rd / "curated" / "sft.jsonl", [{"prompt": "p", "completion": "c"}] * (2 * r))
        write_jsonl(rd / "model" / "train_log.jsonl", [
            {"step": s, "loss": 2.0 / (s + r), "rewards/margins": 0.1 * s * r} for s in range(1, 6)])
        write_json(rd / "model" / "codekiln-model.json", {"format": "codekiln-model/1"})
        stages += [{"round": r, "stage": st, "seconds": 10.0 * r} for st in ("sample", "verify", "curate", "train",
                                                                              "eval")]
    write_json(root / "manifest.json", {
        "format": "codekiln-run/1", "name": "demo", "created": "2026-01-01T00:00:00+00:00",
        "code": {"version": "0.1.0", "commit": "a" * 40, "dirty": True}, "model": {"spec": "tiny"},
        "data": {"tasks": "demo", "train_tasks": 4, "val_tasks": 10, "test_tasks": 10,
                 "extra": {"humaneval": {"spec": "humaneval", "tasks": 10}}}, "seeds": {"run": 0},
        "invocations": [{}, {}], "stages": [{"round": 0, "stage": "eval", "seconds": 5.0}, *stages],
        "selection_split": "val", "val_pass1": [0.6, 0.4, 0.7], "pass1": [0.2, 0.5, 0.7],
        "final": "round-2/model", "stop_reason": "finished 2 round(s)"})
    return root


def test_bootstrap_and_passk_with_ci():
    low, high = bootstrap_ci([0, 1] * 50, resamples=500, seed=1)
    assert 0.35 < low < 0.5 < high < 0.65
    assert bootstrap_ci([1.0] * 10) == (1.0, 1.0)
    verdicts = [Verdict(task_id=f"t{t}", sample_id=f"t{t}s{i}", status="passed" if i < t else "failed",
                        passed=i < t) for t in range(4) for i in range(4)]
    table = {p.k: p for p in passk_with_ci(verdicts, [1, 2, 8])}
    assert set(table) == {1, 2}  # k=8 > 4 samples per task is left out
    assert table[1].value == pytest.approx((0 + 0.25 + 0.5 + 0.75) / 4)
    # pass@2 for c correct of 4: 1 - C(4-c,2)/C(4,2)
    assert table[2].value == pytest.approx((0 + 0.5 + 5 / 6 + 1) / 4)
    assert table[1].low <= table[1].value <= table[1].high


def test_report_text(tmp_path):
    root = make_run(tmp_path / "run")
    html = render_report(root)
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in html
    assert 'data-empty="1"' not in html  # every chart has data
    # self-contained: no scripts, stylesheets, images or fonts fetched from anywhere
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", html)
    assert "20.0%" in html and "70.0%" in html  # base and final held-out pass@1
    assert "+50.0 pts" in html and "+250% relative" in html
    assert "verified_passing" in html and "<td>2</td><td>1</td><td>1</td><td>1</td>" in html  # round 1 funnel
    assert "&lt;b&gt;" in html and "<b>\n" not in html  # model code is escaped, never markup
    assert "(uncommitted changes)" in html
    assert "final = round 2, chosen on validation pass@1 (70.0%; base 60.0%)" in html
    # Transfer: 20% -> 60% on the extra set, every task at least as good: a paired interval above zero.
    assert re.search(r'<tr class="transfer"><td>humaneval</td>.*?<td>20.0%</td><td>60.0%</td><td class="up">\+40.0 pts'
                     r"</td><td>paired 95% CI \[\+[0-9.]+, \+[0-9.]+\] pts over 10 tasks \(4 better, 0 worse\)",
                     html)
    assert ('<div class="alarm">over-fitting sign: from the base model to round 1&#x27;s model, the train pass rate '
            "rose 25.0% → 44.4%") in html and "validation pass@1 fell 60.0% → 40.0%" in html


def test_report_of_a_run_chosen_on_test_says_so(tmp_path):
    """A run made before validation splits (format /1) is still readable, and its headline warns."""
    root = make_run(tmp_path / "run")
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["selection_split"], manifest["val_pass1"]
    write_json(root / "manifest.json", manifest)
    for r in (0, 1, 2):
        shutil.rmtree(root / f"round-{r}" / "val")
    html = render_report(root)
    assert "final was chosen on the test split" in html and "optimistic by construction" in html


def test_report_picks_improved_examples_first(tmp_path):
    html = render_report(make_run(tmp_path / "run"), examples=2)
    shown = re.findall(r'<div class="card example"><b>(t/\d+)</b>', html)
    assert shown == ["t/2", "t/3"]  # failed with the base model, passed with the final one


def test_report_of_a_run_without_trained_rounds(tmp_path):
    root = make_run(tmp_path / "run")
    for r in (1, 2):
        shutil.rmtree(root / f"round-{r}")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest.update(final=None, stages=manifest["stages"][:1])
    write_json(root / "manifest.json", manifest)
    html = render_report(root)
    assert "No trained round yet" in html and 'data-chart="passk"' in html


def test_cli_report_writes_file(tmp_path, capsys):
    root = make_run(tmp_path / "run")
    assert main(["report", str(root)]) == 0
    assert capsys.readouterr().out.strip() == str(root / "report.html")
    assert (root / "report.html").read_text().startswith("<!doctype html>")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip)")
    out = write_report(make_run(tmp_path / "run"))
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda req: requests.append(req.url))
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            for chart in CHARTS:
                box = page.locator(f'svg[data-chart="{chart}"]').bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100, chart
            marks = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('svg[data-chart]')]
                .map(s => [s.dataset.chart, s.querySelectorAll('rect,circle,path').length]))""")
            assert all(marks[c] > 3 for c in CHARTS), marks
            assert page.locator(".example pre").count() >= 4
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [out.as_uri()]  # nothing fetched but the file itself
    assert not errors
    assert (tmp_path / "report.png").stat().st_size > 10_000


def _grade(folder: Path, scores: list[float]) -> None:
    """Give an evaluation folder's verdicts graded scores (as html's are), one per task in order."""
    path = folder / "verdicts.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    write_jsonl(path, [Verdict(**{**row, "score": s}) for row, s in zip(rows, scores, strict=True)])


def test_graded_scores_get_their_own_curve_histogram_and_columns(tmp_path):
    from rich.console import Console

    from codekiln.report.console import summary_table
    from codekiln.report.stats import run_stats

    root = make_run(tmp_path / "run")
    plain = render_report(root)
    assert 'data-chart="score"' not in plain and "Graded scores per round" not in plain
    for r in (0, 1, 2):
        _grade(root / f"round-{r}" / "eval", [0.1 * r + 0.05 * t for t in range(10)])
        _grade(root / f"round-{r}" / "val", [0.2 + 0.1 * r] * 10)
    for r in (1, 2):
        _grade(root / f"round-{r}", [0.15, 0.25, 0.35, 0.95, 0.5, 0.55, 0.6, 0.62, 0.64, 0.66][: 7 + r])
    html = render_report(root)
    assert 'data-chart="score"' in html and 'data-chart="scores"' in html and "Graded scores per round" in html
    rounds = run_stats(root, 200)
    assert [round(s.val.score.value, 3) for s in rounds] == [0.2, 0.3, 0.4]
    assert round(rounds[2].test_score.value, 3) == 0.425 and rounds[1].train_scores[:2] == [0.15, 0.25]
    console = Console(width=250, record=True)
    console.print(summary_table(rounds, 2))
    text = console.export_text()
    assert "val score" in text and "0.400 [0.400, 0.400]" in text
