import gzip
import json

import pytest

from codekiln.errors import RecordError, UserError
from codekiln.records import (
    JsonlAppender,
    Pair,
    Sample,
    SFTRow,
    Task,
    Verdict,
    read_jsonl,
    read_jsonl_resumable,
    write_jsonl,
)

RECORDS = [
    (Task, [Task("t/1", "python", "def f():\n", split="train", entry_point="f", test="def check(c): pass",
                 meta={"difficulty": "easy"}),
            Task("t/2", "sql", "how many?", schema="CREATE TABLE a(x)", reference="SELECT 1")]),
    (Sample, [Sample("t/1", "return 1", sample_id="t/1#0", model="m", round=2, seed=7, raw="```py\nreturn 1\n```")]),
    (Verdict, [Verdict("t/1", "t/1#0", "passed", True, 1.0, "", 0.01),
               Verdict("t/1", "t/1#1", "syntax_error", False, 0.0, "line 1", 0.0)]),
    (SFTRow, [SFTRow([{"role": "user", "content": "q"}], [{"role": "assistant", "content": "a"}])]),
    (Pair, [Pair("p", "good", "bad", margin=1.0, source="correct-vs-incorrect", meta={"task_id": "t/1"})]),
]


@pytest.mark.parametrize("cls,records", RECORDS, ids=[c.__name__ for c, _ in RECORDS])
@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_round_trip(tmp_path, cls, records, suffix):
    path = write_jsonl(tmp_path / f"r{suffix}", records)
    assert read_jsonl(path, cls) == records


def test_gz_is_really_gzip(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl.gz", [Sample("a", "x")])
    with gzip.open(path, "rt") as fh:
        assert json.loads(fh.readline())["task_id"] == "a"


def test_bad_json_line_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"task_id": "a", "completion": "x"}\n\n{oops\n')
    with pytest.raises(RecordError, match=r"bad\.jsonl:3: not valid JSON"):
        read_jsonl(path, Sample)


def test_invalid_record_reports_file_and_line(tmp_path):
    path = tmp_path / "v.jsonl"
    path.write_text('{"task_id": "a", "sample_id": "s", "status": "great", "passed": true}\n')
    with pytest.raises(RecordError, match=r"v\.jsonl:1: not a valid Verdict: status 'great'"):
        read_jsonl(path, Verdict)


def test_missing_field_is_named(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"completion": "x"}\n')
    with pytest.raises(RecordError, match=r"s\.jsonl:1: .*task_id"):
        read_jsonl(path, Sample)


def test_missing_file_is_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_jsonl(tmp_path / "nope.jsonl", Sample)


def test_passed_must_match_status():
    with pytest.raises(ValueError):
        Verdict("a", "b", "failed", True)


def test_humaneval_sample_format_is_accepted(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"task_id": "HumanEval/0", "completion": "    return 1\\n"}\n')
    (sample,) = read_jsonl(path, Sample)
    assert sample.completion == "    return 1\n" and sample.sample_id == ""


def test_appender_survives_torn_last_line(tmp_path):
    path = tmp_path / "stream.jsonl"
    with JsonlAppender(path) as out:
        out.append(Sample("a", "x", sample_id="a#0"))
        out.append(Sample("a", "y", sample_id="a#1"))
    with open(path, "a") as fh:
        fh.write('{"task_id": "a", "compl')  # killed mid-write
    got = read_jsonl_resumable(path, Sample)
    assert [s.sample_id for s in got] == ["a#0", "a#1"]
    assert path.read_text().endswith("\n")


def test_resumable_read_keeps_lines_holding_unicode_line_separators(tmp_path):
    # json.dumps(ensure_ascii=False) writes U+2028, U+2029 and U+0085 raw; only "\n" ends a JSONL line.
    path = tmp_path / "stream.jsonl"
    odd = "a\u2028b\u2029c\x85d"
    with JsonlAppender(path) as out:
        out.append(Sample("a", odd, sample_id="a#0"))
        out.append(Sample("a", "y", sample_id="a#1"))
    got = read_jsonl_resumable(path, Sample)
    assert [s.completion for s in got] == [odd, "y"]
    assert [s.completion for s in read_jsonl(path, Sample)] == [odd, "y"]


def test_a_meta_key_named_like_a_field_never_overwrites_it():
    from codekiln.records import Task, to_dict

    task = Task(task_id="t", kind="sql", prompt="q", reference="SELECT 1", meta={"reference": "sampled", "x": 1})
    assert to_dict(task)["reference"] == "SELECT 1" and to_dict(task)["x"] == 1


def test_verdict_details_come_back_typed_from_the_file(tmp_path):
    from codekiln.records import read_jsonl, write_jsonl

    page = {"checks": {"parses": True, "renders": True}, "problems": ["text overflows"], "scorer": "minilm",
            "phash": "00ff00ff00ff00ff", "relevance": {"cosine": 0.7}}
    judge = {"judge": "j", "rubric": "r1", "ratings": {"style": 7.5}, "rationales": {"style": "tidy"},
             "agreement": {"style": 1.0}}
    written = [Verdict("h/1", "s0", "failed", False, 0.4, "text overflows", details={"page": page}),
               Verdict("o/1", "s1", "passed", True, 0.7, "judge j: style 7.5/10", details={"judge": judge}),
               Verdict("p/1", "s2", "passed", True, 1.0, "4/4 tests")]
    path = write_jsonl(tmp_path / "verdicts.jsonl", written)
    html, judged, plain = read_jsonl(path, Verdict)
    assert html.page.phash == "00ff00ff00ff00ff" and html.page.problems == ["text overflows"]
    assert html.page.rendered and html.judgement is None
    assert judged.judgement.ratings == {"style": 7.5} and judged.judgement.agreement == {"style": 1.0}
    assert judged.page is None and plain.page is None and plain.judgement is None


def test_verdicts_written_before_details_are_still_read():
    """Older runs kept the same objects as JSON in the feedback: a page's as the whole feedback, a judge's after
    a tested verdict's own feedback."""
    page = Verdict("h/1", "s0", "runtime_error", False, 0.0,
                   json.dumps({"checks": {"parses": True, "renders": False}, "problems": ["boom"], "phash": None}))
    mixed = Verdict("p/1", "s1", "passed", True, 0.9,
                    '3/3 tests\n{"judge": "j", "rubric": "r1", "ratings": {"style": 4}, "rationales": {}}')
    assert page.page.problems == ["boom"] and not page.page.rendered and page.page.phash is None
    assert mixed.judgement.judge == "j" and mixed.judgement.ratings == {"style": 4}
    assert Verdict("p/1", "s2", "failed", False, 0.0, "{not json").page is None
