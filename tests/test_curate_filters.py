"""Each curation filter, and decontamination against evaluation prompts and references."""

from __future__ import annotations

import pytest

from codekiln.config import CurateConfig
from codekiln.curate.decontam import EvalIndex
from codekiln.curate.filters import FILTERS, apply_filters, get_filters, looks_like_code
from codekiln.curate.items import Item, effective_score, training_code
from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict
from codekiln.tasks.humaneval import bundled_humaneval_path, read_humaneval

PY = Task("t/0", "python", 'def add(a, b):\n    """Add two numbers."""\n', entry_point="add", test="def check(c): pass")
SQL = Task("s/0", "sql", "How many singers?", schema="CREATE TABLE singer(id INT)", reference="SELECT count(*) FROM singer")


def item(task, completion, status="passed", score=0.0):
    v = Verdict(task.task_id, "x", status, status == "passed", score)
    return Item(0, task, Sample(task.task_id, completion, "x"), v, training_code(task, completion))


def test_status_filter():
    cfg = CurateConfig()
    assert FILTERS["status"].check(item(PY, "    return a + b", "passed"), cfg) is None
    assert FILTERS["status"].check(item(PY, "    return a - b", "failed"), cfg) == "failed is not in keep_statuses"
    cfg2 = CurateConfig(keep_statuses=["passed", "failed"])
    assert FILTERS["status"].check(item(PY, "    return a - b", "failed"), cfg2) is None


def test_score_filter_with_per_kind_thresholds():
    cfg = CurateConfig(min_score=0.5, min_score_by_kind={"sql": 0.9})
    assert FILTERS["score"].check(item(PY, "    return a + b", "failed", 0.6), cfg) is None
    assert "0.4" in FILTERS["score"].check(item(PY, "    return a + b", "failed", 0.4), cfg)
    assert FILTERS["score"].check(item(SQL, "SELECT 1", "failed", 0.6), cfg) is not None
    # a pass without a score counts as 1.0
    assert effective_score(Verdict("t", "x", "passed", True)) == 1.0
    assert FILTERS["score"].check(item(SQL, "SELECT 1", "passed"), cfg) is None


def test_length_filter_measures_the_training_program():
    cfg = CurateConfig(max_chars=60)
    assert FILTERS["length"].check(item(PY, "    return a + b"), cfg) is None  # prompt + body < 60
    assert "max_chars 60" in FILTERS["length"].check(item(PY, "    return a + b" + " " * 40), cfg)


def test_length_filter_by_kind_keeps_a_whole_html_page():
    page = "<!doctype html><html><body>" + "<p>row</p>" * 500 + "</body></html>"  # ~5000 characters
    html = Task("ui/0", "html", "A page", description="A page")
    assert FILTERS["length"].check(item(html, page), CurateConfig()) is None
    assert "max_chars 4000" in FILTERS["length"].check(item(SQL, "SELECT 1 " * 500), CurateConfig())
    assert "max_chars 1000" in FILTERS["length"].check(item(html, page), CurateConfig(max_chars=1000))


def test_nonempty_filter_rejects_empty_and_prose():
    cfg = CurateConfig()
    assert FILTERS["nonempty"].check(item(PY, "   \n"), cfg) == "extracted code is empty"
    assert "does not look like python" in FILTERS["nonempty"].check(item(PY, "I cannot help with that."), cfg)
    assert FILTERS["nonempty"].check(item(PY, "    return a + b"), cfg) is None
    assert FILTERS["nonempty"].check(item(PY, "def add(a, b) return"), cfg) is None  # broken code is still code
    assert looks_like_code("select name from singer", "sql") and not looks_like_code("The answer is 4.", "sql")
    assert looks_like_code("<div>hi</div>", "html") and not looks_like_code("a page with a button", "html")


def test_pool_and_quality_gates():
    filters = get_filters(["status", "nonempty", "length"])
    assert apply_filters(item(PY, "", "failed"), filters, CurateConfig()) == (
        "nonempty: extracted code is empty", "status: failed is not in keep_statuses")
    assert apply_filters(item(PY, "    return a + b"), filters, CurateConfig()) == (None, None)


def test_unknown_filter_lists_choices():
    with pytest.raises(UserError, match="unknown filter 'stauts'; choose from"):
        get_filters(["stauts"])


def test_training_code_appends_bodies_and_keeps_whole_functions():
    assert training_code(PY, "    return a + b").startswith("def add(a, b):")
    whole = "def add(a, b):\n    return a + b"
    assert training_code(PY, whole) == whole


# --- decontamination -------------------------------------------------------------------------------------------

HUMANEVAL = read_humaneval(bundled_humaneval_path(), split="test")


def test_decontam_catches_a_copied_test_prompt():
    index = EvalIndex(HUMANEVAL[:40], ngram=10, threshold=0.5)
    victim = HUMANEVAL[7]
    training_program = "import math\n\n" + victim.prompt + "    return [s for s in strings if substring in s]\n"
    hit = index.check(training_program)
    assert hit is not None and hit.eval_task == victim.task_id and hit.field == "prompt"


def test_decontam_catches_a_copied_reference():
    index = EvalIndex(HUMANEVAL[:40], ngram=10, threshold=0.5)
    victim = HUMANEVAL[12]
    renamed_def = "def pick_longest(strings):\n" + victim.reference
    hit = index.check(renamed_def)
    assert hit is not None and hit.eval_task == victim.task_id and hit.field == "reference"


def test_decontam_ignores_shared_boilerplate():
    index = EvalIndex(HUMANEVAL, ngram=10, threshold=0.5)
    boilerplate = ("from typing import List\n\n\ndef f(x):\n    result = []\n    for i in range(len(x)):\n"
                   "        result.append(x[i])\n    return result\n\nif __name__ == '__main__':\n    print(f([1]))\n")
    assert index.check(boilerplate) is None
    # other HumanEval solutions are not copies of each other's prompts
    flagged = [t.task_id for t in HUMANEVAL[40:80] if EvalIndex(HUMANEVAL[:40]).check(t.prompt + t.reference)]
    assert flagged == []


def test_decontam_matches_short_sql_references_whole():
    index = EvalIndex([SQL.__class__(**{**SQL.__dict__, "task_id": "e/1"})], ngram=10)
    assert index.check("SELECT count(*) FROM singer") is not None
    assert index.check("SELECT count(*) FROM concert") is None


def test_decontam_skips_short_python_references():
    from codekiln.curate.normalize import tokens

    short = [t for t in HUMANEVAL if len(tokens(t.reference)) < 10]
    assert short, "HumanEval has one-line references such as `return len(string)`"
    index = EvalIndex(short, ngram=10)
    assert all(index.check(f"def g(s):\n{t.reference}") is None for t in short)
