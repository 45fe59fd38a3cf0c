import json

import pytest

from codekiln.errors import UserError
from codekiln.judge.parse import JudgeParseError, parse_judgement
from codekiln.judge.prompt import answer_format, clip, judgement_schema, labels_for, render_judge_messages
from codekiln.judge.rubrics import PREFERENCES, RUBRIC_VERSION, RUBRICS, get_rubric, rubric_text


def ratings(parsed):
    return {label: r.rating for label, r in parsed.ratings.items()}


# -- rubrics and rendering -------------------------------------------------------------------------------------

def test_five_preferences_each_with_full_scale():
    assert PREFERENCES == ("instruction-following", "explanation", "complexity", "readability", "style")
    assert RUBRIC_VERSION
    for rubric in RUBRICS.values():
        text = rubric_text(rubric)
        assert rubric.title in text and len(rubric.criteria) >= 3
        assert [band for band, _ in rubric.bands] == ["9-10", "7-8", "5-6", "3-4", "1-2"]
        assert all(meaning in text for _, meaning in rubric.bands)


def test_unknown_preference_lists_choices():
    with pytest.raises(UserError, match="unknown judge preference 'speed'; choose from .*readability"):
        get_rubric("speed")


def test_render_labels_responses_and_asks_for_json():
    messages = render_judge_messages("Reverse a list.", ["a[::-1]", "list(reversed(a))"], get_rubric("style"),
                                     reference="a[::-1]")
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "Coding style" in user and "## Request\nReverse a list." in user
    assert user.index("## Reference answer") < user.index("## Response A\na[::-1]") < user.index(
        "## Response B\nlist(reversed(a))")
    assert user.rstrip().endswith(answer_format(["A", "B"]))
    assert '"A": {"rating": <integer 1-10>' in user


def test_render_without_reference_and_empty_response():
    user = render_judge_messages("Do X.", [""], get_rubric("complexity"))[1]["content"]
    assert "Reference" not in user and "## Response A\n(empty response)" in user and "Response B" not in user


def test_clip_says_what_was_cut():
    assert clip("abc", 10) == "abc"
    assert clip("x" * 50, 10) == "x" * 10 + "\n[... 40 more characters cut ...]"


def test_labels_and_schema():
    assert labels_for(3) == ["A", "B", "C"]
    with pytest.raises(ValueError):
        labels_for(0)
    schema = judgement_schema(["A", "B"])
    assert schema["required"] == ["A", "B"]
    assert schema["properties"]["A"]["properties"]["rating"] == {"type": "integer", "minimum": 1, "maximum": 10}


# -- parsing ---------------------------------------------------------------------------------------------------

def test_strict_answer():
    text = json.dumps({"A": {"rating": 8, "rationale": "clear"}, "B": {"rating": 3, "rationale": "slow"}})
    parsed = parse_judgement(text, ["A", "B"])
    assert parsed.strict and ratings(parsed) == {"A": 8, "B": 3} and parsed.ratings["B"].rationale == "slow"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Here you go:\n```json\n{"A": {"rating": 7, "rationale": "ok"}}\n```', {"A": 7}),
        ("{'A': {'rating': 6, 'rationale': 'fine'},}", {"A": 6}),
        ('{A: {rating: 9, rationale: "great"}}', {"A": 9}),
        ('{"Response A": {"score": "8/10", "reason": "good"}}', {"A": 8}),
        ('{"rating": 4, "rationale": "misses the constraint"}', {"A": 4}),
        ('{"A": {"rating": 7.6, "rationale": "x"}}', {"A": 8}),
        ('{"A": {"rating": 5, "rationale": "cut off by max_tok', {"A": 5}),
        ('{"ratings": {"A": 2}}', {"A": 2}),
        ("Rating: 8. The code is clean.", {"A": 8}),
        ("I would give it 6/10 because it is slow.", {"A": 6}),
    ],
)
def test_tolerant_single(text, expected):
    parsed = parse_judgement(text, ["A"])
    assert not parsed.strict and ratings(parsed) == expected


def test_tolerant_multi_in_prose():
    text = "Response A: 7/10 - tidy code.\nResponse B: 3 because it loops twice."
    parsed = parse_judgement(text, ["A", "B"])
    assert ratings(parsed) == {"A": 7, "B": 3} and parsed.ratings["A"].rationale == "tidy code."


def test_answer_cut_inside_its_rationale():
    parsed = parse_judgement('{"A": {"rating": 3, "rationale": "The code is not very readable. The code', ["A"])
    assert ratings(parsed) == {"A": 3} and parsed.ratings["A"].rationale.startswith("The code is not")


def test_rationale_kept_from_tolerant_json():
    parsed = parse_judgement('Sure! {"A": {"rating": 9, "rationale": "uses a set"}} Hope this helps', ["A"])
    assert ratings(parsed) == {"A": 9} and parsed.ratings["A"].rationale == "uses a set"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "This response looks fine to me overall.",
        '{"A": {"rating": 11, "rationale": "too high"}}',
        '{"A": {"rating": 0}}',
        '{"A": {"rating": true}}',
        "Rating: excellent",
    ],
)
def test_unusable_answers_raise(text):
    with pytest.raises(JudgeParseError, match="no rating 1-10"):
        parse_judgement(text, ["A"])


def test_partial_multi_answer_is_unusable():
    with pytest.raises(JudgeParseError):
        parse_judgement('{"A": {"rating": 5, "rationale": "x"}}', ["A", "B"])
    with pytest.raises(JudgeParseError):
        parse_judgement('{"A": {"rating": 5}, "C": {"rating": 6}}', ["A", "B"])


def test_strict_rejects_extra_keys_but_tolerant_reads_them():
    parsed = parse_judgement('{"A": {"rating": 5, "rationale": "x", "confidence": 1}}', ["A"])
    assert not parsed.strict and ratings(parsed) == {"A": 5}


def test_reply_cut_at_the_stop_string_is_closed():
    from codekiln.judge.run import reply_text
    from codekiln.sample.base import Generation

    cut = '{"A": {"rating": 7, "rationale": "uses a set"'
    assert parse_judgement(reply_text(Generation(cut, 9, "stop")), ["A"]).strict
    assert reply_text(Generation(cut, 9, "length")) == cut
    whole = cut + "}}"
    assert reply_text(Generation(whole, 9, "stop")) == whole
