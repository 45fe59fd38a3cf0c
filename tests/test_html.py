"""html kind without a browser: the parse check, pHash dedup, the scorers' parts, the ui-basic suite, CLIP."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from codekiln.config import CurateConfig
from codekiln.curate.decontam import EvalIndex
from codekiln.curate.phash import hamming, phash, phash_duplicates
from codekiln.curate.run import curate_round
from codekiln.errors import UserError
from codekiln.records import Sample, Task, Verdict
from codekiln.sample.prompts import task_text
from codekiln.tasks.load import load_tasks
from codekiln.verify.html import parse_problem
from codekiln.verify.render import Rendered
from codekiln.verify.scorers import (
    ClipScorer,
    asked_elements,
    element_coverage,
    get_scorer,
    label_coverage,
    quoted_labels,
    strip_copied,
)


def png(draw=None, size=(320, 240), color=(255, 255, 255)) -> bytes:
    img = Image.new("RGB", size, color)
    if draw:
        draw(ImageDraw.Draw(img))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("html, fragment", [
    ("", "empty"),
    ("just some words", "no HTML tags"),
    ("<h1>Hi</h1><script>let x = 1;", "unclosed <script>"),
    ("<style>body{color:red}</style><div><h1>Login</h1><form><input>", "<form> opened on line 1"),
    ("<p>a</p><!-- cut", "comment"),
])
def test_parse_problem_flags_cut_or_non_html(html: str, fragment: str) -> None:
    problem = parse_problem(html)
    assert problem is not None and fragment in problem


def test_parse_problem_accepts_optional_end_tags_and_void_elements() -> None:
    page = ("<!doctype html><html><head><meta charset=utf-8><title>x</title><body><ul><li>one<li>two</ul>"
            "<p>para<table><tr><td>a<td>b</table><img src=x><br><input></body></html>")
    assert parse_problem(page) is None


def test_phash_same_page_close_different_layout_far() -> None:
    def login(d: ImageDraw.ImageDraw, dx: int = 0) -> None:
        d.rectangle((80 + dx, 40, 240 + dx, 200), fill=(30, 30, 120))
        d.rectangle((100 + dx, 150, 220 + dx, 180), fill=(240, 240, 240))

    def table(d: ImageDraw.ImageDraw) -> None:
        for row in range(6):
            d.rectangle((10, 10 + 35 * row, 310, 30 + 35 * row), fill=(0, 0, 0) if row % 2 else (180, 180, 180))

    a, b, c = phash(png(login)), phash(png(lambda d: login(d, 2))), phash(png(table))
    assert len(a) == 16 and hamming(a, a) == 0
    assert hamming(a, b) <= 4 < hamming(a, c)
    dups = phash_duplicates([("s1", "t", a), ("s2", "t", b), ("s3", "t", c), ("s4", "other", b), ("s5", "t", None)])
    assert dups == {"s2": ("s1", hamming(a, b))}


def html_verdict(task_id: str, sid: str, screenshot: bytes, score: float) -> Verdict:
    page = {"checks": {"renders": True}, "problems": [], "phash": phash(screenshot)}
    return Verdict(task_id, sid, "passed", True, score, "renders", details={"page": page})


def test_curate_collapses_near_identical_renders(tmp_path: Path) -> None:
    task = Task("ui/1", "html", "A login card", split="train", description="A login card")
    a = "<div class='card'><h1>Sign in</h1><button>Go</button></div>"
    b = "<section class=\"box\">\n  <h1>Sign in</h1>\n  <button type=button>Go</button>\n</section>"  # other text
    c = "<table><tr><td>Plan</td><td>Price</td></tr></table>"
    shot = png(lambda d: d.rectangle((80, 40, 240, 200), fill=(30, 30, 120)))
    other = png(lambda d: [d.rectangle((10, 10 + 35 * r, 310, 30 + 35 * r), fill=(0, 0, 0)) for r in range(6)])
    samples = [Sample(task.task_id, code, sample_id=f"s{i}") for i, code in enumerate((a, b, c))]
    verdicts = [html_verdict(task.task_id, "s0", shot, 0.9), html_verdict(task.task_id, "s1", shot, 0.8),
                html_verdict(task.task_id, "s2", other, 0.7)]
    funnel = curate_round([task], samples, verdicts, CurateConfig(sft_per_task=5), tmp_path, quiet=True).funnel
    removed = [json.loads(line) for line in (tmp_path / "removed.jsonl").read_text().splitlines()]
    assert [(r["sample_id"], r["stage"], r["duplicate_of"]) for r in removed] == [("s1", "dedup-render", "s0")]
    assert funnel["removed_by_stage"] == {"dedup-render": 1}
    sft = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert sorted(r["sample_id"] for r in sft) == ["s0", "s2"]


def test_description_parsing() -> None:
    desc = ("A login page with the heading 'Welcome', today's date, an email field, a password field, a "
            "'Remember me' checkbox, a dropdown and a \"Sign in\" button.")
    assert quoted_labels(desc) == ["Welcome", "Remember me", "Sign in"]
    assert {"button", "input", "password", "checkbox", "dropdown", "heading"} <= set(asked_elements(desc))
    assert "table" not in asked_elements(desc)


def test_element_and_label_coverage() -> None:
    desc = "A form with a password field, a table of orders and a 'Save' button."
    structure = {"inputs": [{"tag": "input", "type": "password", "label": "Password"}], "buttons": ["Save"],
                 "tables": []}
    cov, found = element_coverage(desc, structure)
    assert found == {"button": True, "input": True, "password": True, "table": False}
    assert cov == pytest.approx(0.75)
    assert label_coverage(desc, "Orders\n  SAVE ") == (1.0, [])
    assert label_coverage(desc, "Orders") == (0.0, ["Save"])
    assert label_coverage("no quotes here", "x") == (None, [])


def test_minilm_scorer_prefers_the_matching_page() -> None:
    scorer = get_scorer("minilm")
    desc = "A pricing table with three plans, 'Basic', 'Pro' and 'Team', each with a 'Choose plan' button."
    match = Rendered(text="Pricing\nBasic $5 Choose plan\nPro $15 Choose plan\nTeam $40 Choose plan",
                     structure={"headings": ["Pricing"], "buttons": ["Choose plan"] * 3, "tables": [4]})
    other = Rendered(text="Weather in Oslo\n12°C cloudy\nForecast", structure={"headings": ["Weather in Oslo"]})
    good, bad = scorer.score(desc, match), scorer.score(desc, other)
    assert 0.0 <= bad.value < good.value <= 1.0
    assert good.parts["labels"] == 1.0 and bad.parts["missing_labels"] == ["Basic", "Pro", "Team", "Choose plan"]


def test_pasting_the_description_earns_nothing() -> None:
    scorer = get_scorer("minilm")
    desc = "A newsletter signup box with the heading 'Stay in the loop', an email input and a 'Subscribe' button."
    assert strip_copied(f"Hello {desc} bye", desc) == "Hello bye"
    pasted = Rendered(text=desc, structure={"headings": []})
    built = Rendered(text="Stay in the loop\nGet our news every Friday.\nSubscribe",
                     structure={"headings": ["Stay in the loop"], "buttons": ["Subscribe"],
                                "inputs": [{"tag": "input", "type": "email", "label": "Email"}]})
    assert scorer.score(desc, pasted).value < 0.5 < scorer.score(desc, built).value


def test_unknown_scorer_and_clip_without_path_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="choose from"):
        get_scorer("siglip")
    with pytest.raises(UserError, match="local model folder"):
        get_scorer("clip")
    with pytest.raises(UserError, match="no config.json"):
        get_scorer(f"clip:{tmp_path}")


def tiny_clip(folder: Path) -> None:
    """A randomly initialised CLIP with a character-level tokenizer, saved as a local model folder."""
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789.,'":
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    cfg = CLIPConfig(text_config={**small, "vocab_size": len(vocab), "max_position_embeddings": 77,
                                  "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
                     vision_config={**small, "image_size": 32, "patch_size": 8}, projection_dim=16)
    CLIPModel(cfg).save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)


def test_clip_scorer_is_clipscore_of_the_screenshot(tmp_path: Path) -> None:
    import torch
    from transformers import CLIPModel, CLIPProcessor

    tiny_clip(tmp_path / "clip")
    scorer = get_scorer(f"clip:{tmp_path / 'clip'}")
    assert isinstance(scorer, ClipScorer)
    shot = png(lambda d: d.rectangle((40, 40, 200, 120), fill=(200, 20, 20)))
    desc = "a red login page"
    result = scorer.score(desc, Rendered(screenshot=shot))
    model = CLIPModel.from_pretrained(str(tmp_path / "clip")).eval()
    proc = CLIPProcessor.from_pretrained(str(tmp_path / "clip"))
    with torch.no_grad():
        out = model(**proc(text=[desc], images=[Image.open(io.BytesIO(shot)).convert("RGB")], return_tensors="pt",
                           padding=True))
        cos = float(out.logits_per_image[0, 0] / model.logit_scale.exp())
    assert result.parts["cosine"] == pytest.approx(cos, abs=1e-3)
    assert result.value == pytest.approx(min(1.0, 2.5 * max(cos, 0.0)), abs=1e-3)
    long = scorer.score("a red login page " * 40, Rendered(screenshot=shot))  # past 77 tokens: truncated, no error
    assert 0.0 <= long.value <= 1.0


def test_ui_basic_suite_sizes_and_no_train_test_overlap() -> None:
    tasks = load_tasks("ui-basic")
    train = [t for t in tasks if t.split == "train"]
    test = [t for t in tasks if t.split == "test"]
    assert len(train) >= 200 and len(test) >= 50
    assert all(t.kind == "html" and t.description == t.prompt for t in tasks)
    assert len({t.task_id for t in tasks}) == len(tasks)
    assert len({t.description for t in tasks}) == len(tasks)
    index = EvalIndex(test, ngram=10, threshold=0.5)
    assert [t.task_id for t in train if index.check(task_text(t))] == []
    assert all(quoted_labels(t.description) or asked_elements(t.description) for t in tasks)
