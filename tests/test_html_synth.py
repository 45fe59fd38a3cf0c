"""Task synthesis: reply cleaning, MinHash dedup and decontamination gates, resume; the CLI's user errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from codekiln.config import SampleConfig
from codekiln.errors import UserError
from codekiln.records import Task, read_jsonl
from codekiln.sample.base import Generation, GenParams, Request
from codekiln.tasks.load import load_tasks
from codekiln.tasks.synthesize import Gate, clean_description, every_test_split, make_task, synthesize_tasks

NEW = [
    "A recipe card for Soup Town with the heading 'Tomato soup', a photo, an ingredients list and a 'Print' button.",
    "A parking garage status page for CityPark with a table of floors, free spaces per floor and a 'Refresh' button.",
    "A library loan screen for Paper Owl listing three borrowed books with due dates and a 'Renew all' button.",
]


class ScriptedSampler:
    """A Sampler that answers from a script (the model is not what these tests are about: the gates are)."""

    name = "scripted"
    supports_prefill = False

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []

    def generate(self, requests: Sequence[Request], params: GenParams) -> list[Generation]:
        out = []
        for r in requests:
            self.prompts.append(r.messages[-1]["content"])
            out.append(Generation(self.replies.pop(0) if self.replies else "", 10))
        return out

    def close(self) -> None:
        pass


def test_clean_description() -> None:
    assert clean_description('Here is a new UI description:\n\n"' + NEW[0] + '"\n\nHope it helps!') == NEW[0]
    assert clean_description("- " + NEW[1]) == NEW[1]
    assert clean_description("too short") is None
    assert clean_description("Welcome to [product_name]! This page showcases [description_1] and a big button.") is None
    assert clean_description("```html\n<div>a page with a button and a heading and more</div>\n```") is None


def test_gate_rejects_near_copies_of_seeds_and_test_descriptions() -> None:
    suite = load_tasks("ui-basic")
    train = [t for t in suite if t.split == "train"]
    test = [t for t in suite if t.split == "test"]
    gate = Gate(suite, [], every_test_split(suite))
    copy_of_test = make_task("html", test[0].description.replace("Design", "Please design"), "m", [])
    assert gate.check(copy_of_test) in {"duplicate", "contaminated"}
    reworded_seed = make_task("html", train[0].description + " Use a blue theme.", "m", [])
    assert gate.check(reworded_seed) == "duplicate"
    fresh = make_task("html", NEW[0], "m", [])
    assert gate.check(fresh) is None
    assert gate.check(make_task("html", NEW[0] + " ", "m", [])) == "duplicate"  # new ones dedup against each other


def test_contaminated_but_not_duplicate_is_caught_by_decontamination() -> None:
    test_task = Task("other/test-1", "html", "x", split="test", description=NEW[1])
    gate = Gate([], [], [test_task])
    wrapped = make_task("html", "For a mobile app: " + NEW[1] + " Add a footer with contact details and a map.",
                        "m", [])
    assert gate.check(wrapped) == "contaminated"


def test_synthesize_writes_gated_tasks_and_resumes(tmp_path: Path) -> None:
    seeds = load_tasks("ui-basic")
    out = tmp_path / "synth.jsonl"
    replies = [NEW[0], "nonsense", seeds[0].description, NEW[0], NEW[1]]
    sampler = ScriptedSampler(replies)
    result = synthesize_tasks("html", "scripted", seeds, 2, out, SampleConfig(batch_size=5), sampler=sampler,
                              quiet=True)
    written = read_jsonl(out, Task)
    assert [t.description for t in written] == [NEW[0], NEW[1]]
    assert all(t.split == "train" and t.kind == "html" and t.meta["origin"] == "synthesized" for t in written)
    assert result.rejected == {"unusable": 2, "duplicate": 2}  # batches of 4 then 2: the last reply is empty
    assert all("Here are examples of UI descriptions" in p for p in sampler.prompts)
    seed_texts = {t.description for t in seeds if t.split == "train"}
    shown = [line[2:] for p in sampler.prompts for line in p.splitlines() if line.startswith("- ")]
    assert shown and set(shown) <= seed_texts  # only train descriptions are shown, never test ones
    again = ScriptedSampler([NEW[1], NEW[2]])
    result = synthesize_tasks("html", "scripted", seeds, 3, out, SampleConfig(batch_size=2), sampler=again, quiet=True)
    assert [t.description for t in read_jsonl(out, Task)] == [NEW[0], NEW[1], NEW[2]]
    assert result.rejected == {"duplicate": 1}


def test_synthesize_user_errors(tmp_path: Path) -> None:
    seeds = load_tasks("ui-basic")
    with pytest.raises(UserError, match="supports kind"):
        synthesize_tasks("sql", "m", seeds, 1, tmp_path / "x.jsonl", SampleConfig(), sampler=ScriptedSampler([]))
    with pytest.raises(UserError, match="no html tasks"):
        synthesize_tasks("html", "m", [t for t in seeds if t.split == "test"], 1, tmp_path / "x.jsonl",
                         SampleConfig(), sampler=ScriptedSampler([]))
