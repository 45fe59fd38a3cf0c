"""Mutants of a reference program: small deliberate bugs, for grading tests (a good test set fails them).

Operators (one change per mutant): arithmetic swaps (+ -, * +, // %, also in `x += y`), comparison swaps (< <=, > >=, == !=),
boolean swaps (and or), integer constants moved by one, `if` conditions negated, and a statement dropped (replaced
by `pass`). The source is only parsed and unparsed here; mutants run only in the sandbox.
"""

from __future__ import annotations

import ast
import random

SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mod, ast.Mod: ast.FloorDiv,
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.And: ast.Or, ast.Or: ast.And,
}


class _Mutate(ast.NodeTransformer):
    """Applies the `target`-th possible mutation (counted in visiting order); `seen` ends as the number of sites."""

    def __init__(self, target: int, drop_statements: bool) -> None:
        self.target, self.seen, self.drop = target, -1, drop_statements

    def _hit(self) -> bool:
        self.seen += 1
        return self.seen == self.target

    def _swap(self, node: ast.AST, attr: str) -> None:
        op = getattr(node, attr)
        if type(op) in SWAPS and self._hit():
            setattr(node, attr, SWAPS[type(op)]())

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:  # noqa: N802 - ast's naming
        self.generic_visit(node)
        self._swap(node, "op")
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        self._swap(node, "op")
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        self._swap(node, "op")
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        if type(node.ops[0]) in SWAPS and self._hit():
            node.ops[0] = SWAPS[type(node.ops[0])]()
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:  # noqa: N802
        if isinstance(node.value, int) and not isinstance(node.value, bool) and self._hit():
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:  # noqa: N802
        self.generic_visit(node)
        if self._hit():
            node.test = ast.UnaryOp(ast.Not(), node.test)
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if self.drop and isinstance(node, ast.FunctionDef):  # drop one statement of a function body (not a lone one)
            for i, stmt in enumerate(node.body):
                lone = len(node.body) == 1
                docstring = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                if not lone and not docstring and not isinstance(stmt, ast.Return) and self._hit():
                    node.body[i] = ast.copy_location(ast.Pass(), stmt)
        return node


def mutants(source: str, limit: int | None = None, seed: int = 0, drop_statements: bool = True) -> list[str]:
    """Distinct mutants of `source` (each differs from it and from the others as text after unparsing), shuffled
    with `seed` and cut to `limit`. A source that does not parse has none."""
    try:
        original = ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return []
    counter = _Mutate(-1, drop_statements)
    counter.visit(ast.parse(source))
    seen, out = {original}, []
    for target in range(counter.seen + 1):
        text = ast.unparse(_Mutate(target, drop_statements).visit(ast.parse(source)))
        if text not in seen:
            seen.add(text)
            out.append(text)
    random.Random(seed).shuffle(out)
    return out[:limit] if limit is not None else out
