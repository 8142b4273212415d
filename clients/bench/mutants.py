"""Single-point mutations of correct Python functions: the bugs the agent benchmark asks the server to fix.

Four kinds, as a hurried programmer makes them: a flipped comparison, an off-by-one constant, a wrong
arithmetic or boolean operator, two swapped call arguments. Each mutant changes one AST node, so its
source differs from the original in one place.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

_COMPARISONS = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}
_OPERATORS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Add,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_BOOLEANS = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    kind: str  # comparison | off-by-one | operator | swapped-arguments
    line: int  # 1-based line of the mutated node in the source
    source: str


def _sites(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS:
            yield "comparison", node
        elif isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 100:
            yield "off-by-one", node
        elif _replaceable_operator(node):
            yield "operator", node
        elif (
            isinstance(node, ast.Call)
            and len(node.args) >= 2
            and not any(isinstance(a, ast.Starred) for a in node.args)
        ):
            yield "swapped-arguments", node


def _replaceable_operator(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp):
        return type(node.op) in _OPERATORS
    return isinstance(node, ast.BoolOp) and type(node.op) in _BOOLEANS


def _mutate(kind: str, node: ast.AST) -> bool:
    if kind == "comparison":
        node.ops = [_COMPARISONS[type(node.ops[0])]()]
    elif kind == "off-by-one":
        node.value = node.value + 1
    elif kind == "operator" and isinstance(node, ast.BinOp):
        node.op = _OPERATORS[type(node.op)]()
    elif kind == "operator":
        node.op = _BOOLEANS[type(node.op)]()
    elif kind == "swapped-arguments":
        if ast.dump(node.args[0]) == ast.dump(node.args[1]):
            return False
        node.args[0], node.args[1] = node.args[1], node.args[0]
    return True


def mutants(source: str, function: str) -> list[Mutant]:
    """Every single-point mutant of `function` in `source` (other code is left alone), in source order."""
    tree = ast.parse(source)
    target = next(
        (
            n
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function
        ),
        None,
    )
    if target is None:
        return []
    body_sites = [(kind, node) for kind, node in _sites(target) if hasattr(node, "lineno")]
    # Docstrings and default values are not where bugs hide.
    body_start = (
        target.body[1].lineno if _has_docstring(target) and len(target.body) > 1 else target.body[0].lineno
    )
    out: list[Mutant] = []
    for index, (kind, node) in enumerate(body_sites):
        if node.lineno < body_start:
            continue
        mutated_tree = copy.deepcopy(tree)
        mutated_target = next(n for n in mutated_tree.body if getattr(n, "name", None) == function)
        twin = [n for k, n in _sites(mutated_target) if hasattr(n, "lineno")][index]
        if not _mutate(kind, twin):
            continue
        try:
            text = ast.unparse(mutated_tree)
        except (ValueError, AttributeError):
            continue
        out.append(Mutant(kind, node.lineno, text))
    out.sort(key=lambda m: m.line)
    return out


def _has_docstring(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = function.body[0]
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
