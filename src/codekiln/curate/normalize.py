"""Text and program normal forms used by de-duplication and decontamination.

- `strip_comments(code, kind)`: comments removed per language, string literals left alone.
- `normalize_text(code, kind)`: comments (and Python docstrings) removed and every run of whitespace
  collapsed to one space; the exact-duplicate key and the text near-duplicates are measured on.
- `tokens(text)`: word and punctuation tokens (lower-cased), for shingles and n-grams.
- `python_fingerprint(code)`: a rename-insensitive normal form of a Python program's AST, or None when it
  does not parse. CPython's compiler turns the AST into bytecode (it is only compiled, never run); the
  fingerprint is the bytecode of every code object, its constants, and its global/attribute names with
  every name the module itself binds (functions, classes, top-level variables, imports) replaced by its
  binding order. Local variables and arguments are addressed by slot in bytecode, so their names never
  enter the fingerprint, and line numbers are not part of it. Formatting, comments, docstrings and
  consistent renaming therefore do not change it; a different operator, constant, call or control flow
  does. Parsing and compiling in C keeps this level fast (no Python-level walk over the tree).
"""

from __future__ import annotations

import dis
import hashlib
import re
import warnings
from types import CodeType
from typing import Any

# A string literal (kept) or a comment (dropped), scanned left to right so '#' inside a string is not a comment.
_PY_STRING_OR_COMMENT = re.compile(
    r"""(?P<s>[rRbBuUfF]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
    r"|(?P<c>\#[^\n]*)",
    re.DOTALL,
)
_SQL_STRING_OR_COMMENT = re.compile(r"(?P<s>'(?:''|[^'])*'|\"(?:\"\"|[^\"])*\")|(?P<c>--[^\n]*|/\*.*?\*/)", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CSS_JS_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_PY_DOCSTRING = re.compile(r"""^(?P<indent>[ \t]*)[rRuU]?(?:'{3}(?:\\.|[^\\])*?'{3}|"{3}(?:\\.|[^\\])*?"{3})[ \t]*$""", re.MULTILINE | re.DOTALL)
_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")

PYTHON_KINDS = ("python", "pandas")


def _keep_strings(match: re.Match[str]) -> str:
    return match.group("s") or ""


def strip_comments(code: str, kind: str) -> str:
    """The code without comments (string literals kept). Unknown kinds are returned unchanged."""
    if kind in PYTHON_KINDS:
        return _PY_STRING_OR_COMMENT.sub(_keep_strings, code) if "#" in code else code
    if kind == "sql":
        return _SQL_STRING_OR_COMMENT.sub(_keep_strings, code) if "--" in code or "/*" in code else code
    if kind == "html":
        return _CSS_JS_BLOCK_COMMENT.sub("", _HTML_COMMENT.sub("", code))
    return code


def strip_docstrings(code: str) -> str:
    """Python without statement-position triple-quoted strings (docstrings; they do nothing else there)."""
    return _PY_DOCSTRING.sub("", code) if '"""' in code or "'''" in code else code


def normalize_text(code: str, kind: str) -> str:
    """Comments (and for Python docstrings) removed, whitespace runs collapsed to one space, ends stripped
    (SQL also lower-cased)."""
    if kind in PYTHON_KINDS:
        code = strip_docstrings(code)
    text = _WS.sub(" ", strip_comments(code, kind)).strip()
    return text.lower() if kind == "sql" else text


def tokens(text: str) -> list[str]:
    """Word and single-punctuation tokens, lower-cased."""
    return _TOKEN.findall(text.lower())


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


_CO_OPTIMIZED = 0x1  # set on function code objects (not on module or class bodies)
_BINDING_OPS = frozenset((dis.opmap["STORE_NAME"], dis.opmap["STORE_GLOBAL"]))
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]


def _module_bindings(module: CodeType) -> dict[str, str]:
    """Names the module binds at top level (defs, classes, assignments, imports), mapped to `_g0`, `_g1`, ...

    Read straight from the module's bytecode (STORE_NAME/STORE_GLOBAL and their name index), which is a few
    instructions long; `dis.get_instructions` would cost more than compiling.
    """
    names: dict[str, str] = {}
    raw = module.co_code
    ext = 0
    for i in range(0, len(raw) - 1, 2):
        op, arg = raw[i], raw[i + 1] | ext
        ext = arg << 8 if op == _EXTENDED_ARG else 0
        if op in _BINDING_OPS and arg < len(module.co_names):
            name = module.co_names[arg]
            if name not in names:
                names[name] = f"_g{len(names)}"
    return names


def _feed(code: CodeType, rename: dict[str, str], h: Any) -> None:
    """Hash the parts of a code object (and, recursively, the code objects it holds) that define it."""
    consts = list(code.co_consts)
    if code.co_flags & _CO_OPTIMIZED and not code.co_name.startswith("<") and consts and isinstance(consts[0], str):
        consts[0] = None  # a named function's first constant is its docstring (or None when it has none)
    h.update(len(code.co_code).to_bytes(4, "little"))
    h.update(code.co_code)
    head = ([rename.get(n, n) for n in code.co_names], code.co_argcount, code.co_kwonlyargcount,
            code.co_posonlyargcount, len(consts))
    plain = [f"{type(c).__name__}:{c!r}" if not isinstance(c, CodeType) else "<code>" for c in consts]
    h.update(repr((head, plain)).encode("utf-8", "surrogatepass"))
    for c in consts:
        if isinstance(c, CodeType):
            _feed(c, rename, h)


def python_fingerprint(code: str) -> str | None:
    """Rename-insensitive fingerprint of a Python program (see the module docstring); None if it does not parse.

    Compiles (never runs) the code. Triple-quoted docstrings are blanked to `0` first (a constant statement
    the compiler drops); other function docstrings are dropped from the constants.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if '"""' in code or "'''" in code:
                code = _PY_DOCSTRING.sub(r"\g<indent>0", code)
            compiled = compile(code, "<curate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError, OverflowError):
        return None
    h = hashlib.blake2b(digest_size=16)
    _feed(compiled, _module_bindings(compiled), h)
    return h.hexdigest()
