"""De-duplication in three levels, each linear in the number of programs.

1. exact: the same text after comment removal and whitespace normalisation (`normalize.normalize_text`);
2. ast: for Python (python and pandas kinds), the same rename-insensitive program fingerprint
   (`normalize.python_fingerprint`): renamed variables, reformatting and docstrings do not make a new program;
3. near: MinHash LSH over token shingles; estimated Jaccard >= `near_dup_threshold`.

Programs are compared only within a scope (by default: the same task and the same side, good or bad, so a
failing near-copy of a passing program stays available as the rejected side of a pair). Programs from
earlier rounds are loaded first with `add_known`; a new program that duplicates one of them is reported
with `earlier=True`. The first program of a duplicate group is kept, so callers order their programs best
first. Hash tables give O(1) lookups per level, and signatures are computed in batches, so the whole pass is
linear in the number of programs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from codekiln.curate.minhash import NearDupIndex, Signer
from codekiln.curate.normalize import PYTHON_KINDS, digest, normalize_text, python_fingerprint

LEVELS = ("exact", "ast", "near")


@dataclass(frozen=True)
class Program:
    """One program to de-duplicate: an id to report, the scope it is compared within, its kind and code.

    `text`, when given, is what the exact and near levels compare instead of `code` (a HumanEval-style body
    without the task prompt every sample of the task shares); the AST level always parses `code`.
    """

    id: str
    scope: Hashable
    kind: str
    code: str
    text: str | None = None


@dataclass(frozen=True)
class Duplicate:
    """Why a program was dropped: the level that caught it, the program it duplicates, their similarity."""

    level: str
    of: str
    similarity: float
    earlier: bool  # the program it duplicates comes from an earlier round

    def reason(self) -> str:
        where = "a program of an earlier round" if self.earlier else "a program kept in this round"
        if self.level == "near":
            return f"near-duplicate (Jaccard ~{self.similarity:.2f}) of {where}: {self.of}"
        what = "identical after whitespace/comment/docstring normalisation to" if self.level == "exact" else (
            "the same Python program up to renaming/formatting/docstrings as"
        )
        return f"{what} {where}: {self.of}"


class Deduper:
    """Stateful de-duplicator: `add_known` earlier programs, then `run` this round's programs in order."""

    def __init__(self, near_threshold: float = 0.85, num_perm: int = 128, shingle: int = 3,
                 levels: Sequence[str] = LEVELS, batch: int = 2048) -> None:
        unknown = [lv for lv in levels if lv not in LEVELS]
        if unknown:
            raise ValueError(f"unknown dedup level {unknown[0]!r}; choose from {list(LEVELS)}")
        self.levels = tuple(levels)
        self.batch = batch
        self.signer = Signer(num_perm=num_perm, shingle=shingle)
        self.index = NearDupIndex(near_threshold, num_perm)
        self._exact: dict[tuple[Hashable, str], str] = {}
        self._ast: dict[tuple[Hashable, str], str] = {}
        self._earlier: set[str] = set()

    def add_known(self, programs: Sequence[Program]) -> None:
        """Index programs of earlier rounds (never reported, only matched against)."""
        self._earlier.update(p.id for p in programs)
        self.run(programs, _register_only=True)

    def _dup(self, level: str, of: str, similarity: float = 1.0) -> Duplicate:
        return Duplicate(level, of, similarity, of in self._earlier)

    def run(self, programs: Sequence[Program], on_progress: Callable[[int], None] | None = None,
            _register_only: bool = False) -> list[Duplicate | None]:
        """For each program, None if it is kept or the Duplicate that removes it (first of a group is kept)."""
        out: list[Duplicate | None] = []
        for start in range(0, len(programs), self.batch):
            chunk = programs[start : start + self.batch]
            out.extend(self._run_chunk(chunk, _register_only))
            if on_progress:
                on_progress(len(chunk))
        return out

    def _run_chunk(self, chunk: Sequence[Program], register_only: bool) -> list[Duplicate | None]:
        result: list[Duplicate | None] = [None] * len(chunk)
        texts: list[str] = []
        for i, p in enumerate(chunk):
            text = normalize_text(p.code if p.text is None else p.text, p.kind)
            texts.append(text)
            if "exact" in self.levels:
                key = (p.scope, digest(text))
                if key in self._exact and not register_only:
                    result[i] = self._dup("exact", self._exact[key])
                    continue
                self._exact.setdefault(key, p.id)
            if "ast" in self.levels and p.kind in PYTHON_KINDS:
                fp = python_fingerprint(p.code)
                if fp is not None:
                    key = (p.scope, fp)
                    if key in self._ast and not register_only:
                        result[i] = self._dup("ast", self._ast[key])
                        continue
                    self._ast.setdefault(key, p.id)
        if "near" not in self.levels:
            return result
        todo = [i for i in range(len(chunk)) if result[i] is None]
        sigs = self.signer.signatures([texts[i] for i in todo])
        bands = self.index.band_keys(sigs)
        for row, i in enumerate(todo):
            p = chunk[i]
            if not register_only:
                found = self.index.find(p.scope, sigs[row], bands[row])
                if found is not None:
                    result[i] = self._dup("near", str(found[0]), found[1])
                    continue
            self.index.add(p.id, p.scope, sigs[row], bands[row])
        return result
