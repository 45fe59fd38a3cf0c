"""The ui-compose suite: two ui-basic sections on one page, their requirements merged."""

from codekiln.curate.decontam import EvalIndex
from codekiln.sample.prompts import task_text
from codekiln.tasks.load import load_tasks
from codekiln.tasks.ui_basic import TRAIN_TEMPLATES
from codekiln.tasks.ui_compose import anchor, merge_requirements
from codekiln.verify.ui_requirements import parse


def test_counts_of_the_same_element_add_up_and_repeat_takes_the_larger():
    merged = merge_requirements(
        ["count:input>=3", "count:textarea=1", "count:repeat>=3", "button:Send", "count:radio=5"],
        ["count:input>=4", "count:textarea=1", "count:repeat>=4", "button:Send", "count:radio>=2", "struck"])
    assert merged == ["count:input>=7", "count:textarea=2", "count:repeat>=4", "button:Send", "count:radio>=7",
                      "struck"]
    assert merge_requirements(["count:heading>=1"], ["heading:FAQ"]) == ["count:heading>=1", "heading:FAQ"]


def test_suite_splits_by_template_and_every_requirement_parses():
    tasks = load_tasks("ui-compose")
    train = [t for t in tasks if t.split == "train"]
    test = [t for t in tasks if t.split == "test"]
    assert len(train) >= 80 and len(test) >= 30 and len({t.task_id for t in tasks}) == len(tasks)
    assert all(max(t.meta["templates"]) < len(TRAIN_TEMPLATES) for t in train)
    assert all(min(t.meta["templates"]) >= len(TRAIN_TEMPLATES) for t in test)
    assert all(len(set(t.meta["templates"])) == 2 and t.kind == "html" for t in tasks)
    for t in tasks:
        for spec in t.meta["requirements"]:
            parse(spec)
    # the sections' order is required where both sections quote a label (the weather widget quotes none)
    for t in tasks:
        top, bottom = t.prompt.split(" Bottom section: ")
        ordered = [r for r in t.meta["requirements"] if r.startswith("order:")]
        if anchor(top) and anchor(bottom):
            assert f"order:{anchor(top)}|{anchor(bottom)}" in ordered
    index = EvalIndex(test, ngram=10, threshold=0.5)
    assert [t.task_id for t in train if index.check(task_text(t))] == []
