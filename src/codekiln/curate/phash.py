"""Perceptual-hash de-duplication of UI samples: near-identical renders collapse to the best one.

Two html programs can differ in every token (class names, CSS order, comments) and still render the same
page; text dedup misses them. The html verifier stores a 64-bit DCT perceptual hash (pHash) of each
screenshot in its verdict's details (`Verdict.page.phash`, 16 hex digits); here samples whose hashes lie within
`MAX_DISTANCE` bits of an already kept sample in the same scope are duplicates.

pHash: grayscale, resized to 32x32, 2-D DCT-II, the 8x8 lowest frequencies without the DC term, each bit =
coefficient above their median. Robust to small shifts, colour tweaks and re-encoding; different layouts
differ in ~20-40 of 64 bits.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from codekiln.records import Verdict

MAX_DISTANCE = 4  # bits of 64: at most this many differ -> the same page


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT32 = _dct_matrix(32)


def phash(image_bytes: bytes) -> str:
    """The 64-bit perceptual hash of an image (PNG/JPEG bytes) as 16 hex digits."""
    from PIL import Image

    img = Image.open(io.BytesIO(image_bytes)).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = np.asarray(img, dtype=np.float64)
    coeffs = (_DCT32 @ pixels @ _DCT32.T)[:8, :8].flatten()[1:]
    bits = coeffs > np.median(coeffs)
    bits = np.concatenate(([False], bits))  # 64 bits; the DC slot is always 0
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def verdict_phash(verdict: Verdict) -> str | None:
    """The screenshot hash an html verdict carries, if any."""
    value = verdict.page.phash if verdict.page else None
    return value if isinstance(value, str) and len(value) == 16 else None


def phash_duplicates(entries: Sequence[tuple[str, Hashable, str | None]],
                     max_distance: int = MAX_DISTANCE) -> dict[str, tuple[str, int]]:
    """`entries` = (id, scope, phash or None), best first. Returns {id: (kept id it duplicates, distance)}.

    The first of a group is kept. Within a scope the comparison is a linear scan over the kept hashes (scopes
    are one task's samples: small).
    """
    kept: dict[Hashable, list[tuple[str, int]]] = defaultdict(list)
    out: dict[str, tuple[str, int]] = {}
    for sid, scope, h in entries:
        if h is None:
            continue
        value = int(h, 16)
        match = min(((other, (value ^ hv).bit_count()) for other, hv in kept[scope]), key=lambda t: t[1],
                    default=None)
        if match is not None and match[1] <= max_distance:
            out[sid] = match
        else:
            kept[scope].append((sid, value))
    return out


def render_duplicates(items: Sequence[Any], scope_of: Callable[[Any], Hashable],
                      max_distance: int = MAX_DISTANCE) -> list[tuple[Any, str, int]]:
    """Curation's hook: html items (best first) whose screenshot renders like a kept one's.

    Items are `codekiln.curate.items.Item`s; returns (item, sample id it duplicates, Hamming distance).
    """
    html = [it for it in items if it.kind == "html"]
    entries = [(str(i), scope_of(it), verdict_phash(it.verdict)) for i, it in enumerate(html)]
    dups = phash_duplicates(entries, max_distance)
    return [(html[int(i)], html[int(of)].sample_id, bits) for i, (of, bits) in dups.items()]
