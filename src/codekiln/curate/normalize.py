"""Text and program normal forms used by de-duplication and decontamination.

- `strip_comments(code, kind)`: comments removed per language, string literals left alone.
- `normalize_text(code, kind)`: comments (and Python docstrings) removed and every run of whitespace
  collapsed to one space; the exact-duplicate key and the text near-duplicates are measured on.
- `tokens(text)`: word and punctuation tokens (lower-cased), for shingles and n-grams.
- `python_fingerprint(code)`: a rename-insensitive normal form of a Python program, or None when it does not
  parse. The program is parsed, docstrings are dropped, and the tree is compiled; the fingerprint is the
  bytecode of every code object, its constants, and its global/attribute names with every name the module
  itself binds (functions, classes, top-level variables, imports) replaced by its binding order. Local
  variables and arguments are addressed by slot in bytecode, so their names never enter the fingerprint.
  Formatting, comments, docstrings and consistent renaming therefore do not change it; a different
  operator, constant, call or control flow does. Compiling is done by CPython's C compiler, which keeps
  this level fast (no Python-level tree walk over expressions).
"""

from __future__ import annotations

import ast
import hashlib
import re
import warnings
from types import CodeType

# A string literal (kept) or a comment (dropped), scanned left to right so '#' inside a string is not a comment.
_PY_STRING_OR_COMMENT = re.compile(
    r"""(?P<s>[rRbBuUfF]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
    r"|(?P<c>\#[^\n]*)",
    re.DOTALL,
)
_SQL_STRING_OR_COMMENT = re.compile(r"(?P<s>'(?:''|[^'])*'|\"(?:\"\"|[^\"])*\")|(?P<c>--[^\n]*|/\*.*?\*/)", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CSS_JS_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_PY_DOCSTRING = re.compile(r"""^[ \t]*[rRuU]?(?:'{3}(?:\\.|[^\\])*?'{3}|"{3}(?:\\.|[^\\])*?"{3})[ \t]*$""", re.MULTILINE | re.DOTALL)
_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")

PYTHON_KINDS = ("python", "pandas")


def _keep_strings(match: re.Match[str]) -> str:
    return match.group("s") or ""


def strip_comments(code: str, kind: str) -> str:
    """The code without comments (string literals kept). Unknown kinds are returned unchanged."""
    if kind in PYTHON_KINDS:
        return _PY_STRING_OR_COMMENT.sub(_keep_strings, code)
    if kind == "sql":
        return _SQL_STRING_OR_COMMENT.sub(_keep_strings, code)
    if kind == "html":
        return _CSS_JS_BLOCK_COMMENT.sub("", _HTML_COMMENT.sub("", code))
    return code


def strip_docstrings(code: str) -> str:
    """Python without statement-position triple-quoted strings (docstrings; they do nothing else there)."""
    return _PY_DOCSTRING.sub("", code)


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


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _drop_docstrings(body: list[ast.stmt], scope_body: bool = True) -> None:
    """Remove docstrings from a module/def/class body and from every def or class nested anywhere below it.

    Inside if/for/try blocks a leading string is not a docstring, but defs nested there still have one.
    """
    if scope_body and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and (
        isinstance(body[0].value.value, str)
    ):
        del body[0]
        if not body:
            body.append(ast.Pass())
    for stmt in body:
        if isinstance(stmt, _SCOPES):
            _drop_docstrings(stmt.body)
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                _drop_docstrings(inner, scope_body=False)
        for handler in getattr(stmt, "handlers", None) or ():
            _drop_docstrings(handler.body, scope_body=False)


def _module_bindings(body: list[ast.stmt]) -> dict[str, str]:
    """Names the module binds at top level (defs, classes, assignments, imports), mapped to `_g0`, `_g1`, ..."""
    names: dict[str, str] = {}

    def bind(name: str) -> None:
        if name not in names:
            names[name] = f"_g{len(names)}"

    for stmt in body:
        if isinstance(stmt, _SCOPES):
            bind(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                if alias.name != "*":
                    bind((alias.asname or alias.name).split(".")[0])
        elif isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        bind(node.id)
    return names


def _code_form(code: CodeType, rename: dict[str, str]) -> tuple:
    consts = tuple(
        _code_form(c, rename) if isinstance(c, CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts
    )
    names = tuple(rename.get(n, n) for n in code.co_names)
    return (code.co_code, names, consts, code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount)


def python_fingerprint(code: str) -> str | None:
    """Rename-insensitive fingerprint of a Python program (see the module docstring); None if it does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code)
            _drop_docstrings(tree.body)
            rename = _module_bindings(tree.body)
            compiled = compile(tree, "<curate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError):
        return None
    return digest(repr(_code_form(compiled, rename)))
