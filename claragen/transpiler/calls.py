"""Every call of a class of the component table in a generated script binds against the
class's real signature (issue 29, item 2).

A port that forgets an argument (a DenseNet121 without `out_channels`), or a rewrite
that gives one the class does not take, would compile and then crash at the first
batch, or worse, pass the argument into `**kwargs` that do nothing with it. The renderer
checks each generated file once per structure: every call whose callee is a class of
the table, imported by name (`from monai.networks.nets import UNet`) or spelled by its
module (`torch.optim.Adam`), binds as `inspect.Signature.bind` would bind it (the table
records each signature, from the installed classes): no argument the class does not
take, no more positional arguments than it has, every required one given. A failure is
a claragen bug, reported at compile time as the renderer's internal error, never a
run-time crash.
"""

from __future__ import annotations

import ast

from claragen.transpiler import symbols
from claragen.transpiler.exprcheck import module_chain
from claragen.transpiler.written import WRITTEN


def imported_classes(tree: ast.AST) -> dict[str, symbols.Symbol]:
    """The local names a script gives classes of the table: `UNet` of
    `from monai.networks.nets import UNet`, checked against the class's module; and the
    classes MONAI dropped that the script defines itself (transpiler/written.py)."""
    found: dict[str, symbols.Symbol] = {}
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name in WRITTEN:
            found[node.name] = symbols.lookup(node.name)  # type: ignore[assignment]
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        for alias in node.names:
            sym = symbols.lookup_path(f"{node.module}.{alias.name}")
            if sym is not None and sym.params is not None:
                found[alias.asname or alias.name] = sym
    return found


def unbound_calls(tree: ast.AST) -> list[str]:
    """What does not bind: "line 12: DenseNet121() needs 'out_channels'", one a call."""
    names = imported_classes(tree)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        sym = _callee(node.func, names)
        if sym is None:
            continue
        problem = _unbound(node, sym)
        if problem:
            problems.append(f"line {node.lineno}: {sym.name}() {problem}")
    return problems


def _callee(func: ast.expr, names: dict[str, symbols.Symbol]) -> symbols.Symbol | None:
    if isinstance(func, ast.Name):
        return names.get(func.id)
    chain = module_chain(func)
    if chain is None or chain[0] not in symbols.FRAMEWORKS:
        return None
    sym = symbols.lookup_path(".".join([chain[0], *chain[1]]))
    return sym if sym is not None and sym.params is not None else None


def _unbound(call: ast.Call, sym: symbols.Symbol) -> str | None:
    params = sym.params or ()
    keywords = [k.arg for k in call.keywords if k.arg is not None]
    for key in keywords:
        if not sym.accepts(key):
            return f"takes no argument {key!r}"
    unpacked = any(k.arg is None for k in call.keywords) or any(
        isinstance(a, ast.Starred) for a in call.args
    )
    if unpacked:  # a * or ** argument: what it fills is known at run time only
        return None
    given = len(call.args)
    if given > len(params) and not sym.varargs:
        return f"takes {len(params)} positional arguments, and is given {given}"
    twice = set(params[:given]) & set(keywords)
    if twice:
        return f"is given {sorted(twice)[0]!r} twice"
    missing = [r for r in sym.required if r not in params[:given] and r not in keywords]
    if missing:
        return f"needs {', '.join(repr(m) for m in missing)}, which the call leaves out"
    return None
