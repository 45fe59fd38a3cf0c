"""De-duplication levels: exact, rename-insensitive AST, MinHash near-duplicates; datasketch-compatible MinHash."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from codekiln.curate.dedup import Deduper, Program
from codekiln.curate.minhash import Signer
from codekiln.curate.normalize import normalize_text, python_fingerprint, strip_comments

BASE = '''def has_close(numbers, threshold):
    """Any two numbers closer than threshold?"""
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i != j and abs(a - b) < threshold:
                return True
    return False
'''

RENAMED = '''def has_close(values, limit):
    # a different comment, a different docstring, different local names
    """Check closeness."""
    for p, x in enumerate(values):
        for q, y in enumerate(values):
            if p != q and abs(x - y) < limit:
                return True
    return False
'''

DIFFERENT = '''def has_close(numbers, threshold):
    ordered = sorted(numbers)
    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))
'''


def run(codes, kind="python", **kw):
    d = Deduper(**kw)
    return d.run([Program(f"s{i}", "task", kind, c) for i, c in enumerate(codes)])


def test_strip_comments_keeps_hash_inside_strings():
    code = 'x = "# not a comment"  # a comment\ny = 1'
    assert strip_comments(code, "python") == 'x = "# not a comment"  \ny = 1'
    assert strip_comments("SELECT '--x' -- c\nFROM t /* d */", "sql") == "SELECT '--x' \nFROM t "
    assert strip_comments("<p>a<!-- c --></p>", "html") == "<p>a</p>"


def test_exact_level_ignores_whitespace_and_comments():
    reformatted = BASE.replace("    return False", "    return False   # done\n\n\n")
    out = run([BASE, reformatted], levels=("exact",))
    assert out[0] is None
    assert out[1] is not None and out[1].level == "exact" and out[1].of == "s0"
    assert normalize_text("SELECT  a\nFROM t", "sql") == normalize_text("select a from T", "sql")


def test_exact_level_does_not_catch_renames():
    assert run([BASE, RENAMED], levels=("exact",)) == [None, None]


def test_ast_level_catches_renamed_variables():
    out = run([BASE, RENAMED], levels=("exact", "ast"))
    assert out[0] is None and out[1] is not None and out[1].level == "ast"


def test_ast_level_renames_module_level_helpers_and_imports():
    a = "import math as m\ndef helper(v):\n    return m.sqrt(v)\ndef f(x):\n    return helper(x) + 1\n"
    b = "import math as mm\ndef aux(w):\n    return mm.sqrt(w)\ndef f(y):\n    return aux(y) + 1\n"
    assert python_fingerprint(a) == python_fingerprint(b)


@pytest.mark.parametrize("change", [
    ("abs(a - b) < threshold", "abs(a - b) <= threshold"),  # a different operator
    ("return False", "return None"),  # a different constant
    ("abs(a - b)", "max(a, b)"),  # a different call
])
def test_ast_level_keeps_genuinely_different_programs(change):
    other = BASE.replace(*change)
    assert python_fingerprint(BASE) != python_fingerprint(other)
    assert run([BASE, other], levels=("exact", "ast")) == [None, None]


def test_ast_fingerprint_of_broken_code_is_none_and_never_runs_it():
    assert python_fingerprint("def f(:\n  pass") is None
    # compile() only builds bytecode; this would exit the test process if it ran
    assert python_fingerprint("import os\nos._exit(3)") is not None


def test_near_level_catches_small_edits_but_not_other_solutions():
    edited = BASE.replace("    return False", "    return False  # done\n\nprint(1)")  # Jaccard ~0.91
    out = run([BASE, edited, DIFFERENT], levels=("near",))
    assert out[0] is None
    assert out[1] is not None and out[1].level == "near" and out[1].similarity >= 0.85
    assert out[2] is None


def test_scopes_are_separate():
    d = Deduper()
    out = d.run([Program("a", ("t1", True), "python", BASE), Program("b", ("t2", True), "python", BASE),
                 Program("c", ("t1", False), "python", BASE), Program("d", ("t1", True), "python", BASE)])
    assert [o is None for o in out] == [True, True, True, False]


def test_earlier_rounds_are_reported_as_earlier():
    d = Deduper()
    d.add_known([Program("r0/x", "task", "python", BASE)])
    out = d.run([Program("y", "task", "python", RENAMED), Program("z", "task", "python", DIFFERENT)])
    assert out[0] is not None and out[0].earlier and out[0].of == "r0/x" and "earlier round" in out[0].reason()
    assert out[1] is None


def test_signatures_equal_datasketch_minhash():
    signer = Signer(num_perm=64, seed=1)
    hashes = signer.shingle_hashes(BASE)
    reference = MinHash(num_perm=64, seed=1, scheme="affine32", hashfunc=lambda v: v)
    reference.update_batch([int(h) for h in hashes])
    assert np.array_equal(signer.signatures([BASE])[0], reference.hashvalues)


def test_signature_similarity_tracks_jaccard():
    signer = Signer(num_perm=256)
    a, b = signer.signatures([BASE, DIFFERENT])
    sa, sb = set(signer.shingle_hashes(BASE).tolist()), set(signer.shingle_hashes(DIFFERENT).tolist())
    true_j = len(sa & sb) / len(sa | sb)
    assert abs(float(np.mean(a == b)) - true_j) < 0.1
