"""No config arg weakens a deserializer (gates/deserializers.py, E411), and no string
that MONAI resolves to code names anything but MONAI's own (gates/byoc.py, E106).

    {"name": "PersistentDataset", "args": {"weights_only": false, ...}}
    -> error[E411]: 'weights_only' may only be True: anything else lets a file run code
    {"name": "LoadImaged", "args": {"reader": "NumpyReader", "allow_pickle": true}}
    -> error[E411]: 'allow_pickle' may only be False: ...
    {"name": "LoadImaged", "args": {"reader": "os.system", "command": "..."}}
    -> error[E106]: LoadImaged's 'reader' is a name MONAI imports, and 'os.system' is
       none of its own: give one of ITKReader, NibabelReader, ...

Every arg of every component is checked by its name, whatever the class (a reader's
**kwargs reach numpy), and so is every key of a dict arg and every argument of a call in
a `#` expression (a table class's positional args bound to its signature). Runs after the
variables pass, so `{flag}` is the value it stands for.
"""

from __future__ import annotations

import ast

from claragen.gates import byoc, deserializers
from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Expr,
    ListV,
    Lit,
    Ref,
    SearchValue,
    Value,
)

HELP = (
    "leave it out: claragen keeps every deserializer's guard (a file of the MMAR could "
    "otherwise run code when it is read)"
)
CODE_HELP = "a class of your own goes in custom/ and is named by a component's 'path'"


def check_gated_args(config: Config, ctx: PassContext) -> Config:
    for comp in config.every_component():
        for key, value in comp.args:
            span = comp.arg_span(key)
            _check(key, value, span, comp, ctx)
            reason = _code_arg(comp.class_name, key, value)
            if reason is not None:
                ctx.diags.error("E106", span, f"{reason} ({comp.locator})", CODE_HELP)
            _walk(value, comp, ctx)
    return config


def _check(key: str, value: Value, span: Span, comp: Component, ctx: PassContext):
    reason = deserializers.why(key, _literal(value))
    if reason is not None:
        ctx.diags.error("E411", span, f"{reason} ({comp.locator})", HELP)


def _walk(value: Value, comp: Component, ctx: PassContext) -> None:
    if isinstance(value, SearchValue):
        _walk(value.value, comp, ctx)
    elif isinstance(value, ListV):
        for item in value.items:
            _walk(item, comp, ctx)
    elif isinstance(value, DictV):
        for key, item in value.items:
            _check(key, item, getattr(item, "span", value.span), comp, ctx)
            _walk(item, comp, ctx)
    elif isinstance(value, Expr):
        for _, reason in deserializers.in_expression(value.tree):
            ctx.diags.error("E411", value.span, f"{reason} ({comp.locator})", HELP)
        for reason in _code_strings(value.tree):
            ctx.diags.error("E106", value.span, f"{reason} ({comp.locator})", CODE_HELP)


def _code_strings(tree: ast.AST) -> list[str]:
    """The code strings of an expression's calls of MONAI classes, by keyword or by
    position (bound to the class's parameters)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func).rsplit(".", 1)[-1]
        sym = symbols.lookup(name)
        bound = [(k.arg, k.value) for k in node.keywords if k.arg is not None]
        if sym is not None and sym.params:
            bound += list(zip(sym.params, node.args, strict=False))
        for arg, value in bound:
            reason = _code_node(name, arg, value)
            if reason is not None:
                found.append(reason)
    return found


def _code_node(class_name: str, arg: str, node: ast.expr) -> str | None:
    """A code-string arg written in an expression: a string (or a list of them), or a
    class named by its module chain (which exprcheck checks); anything computed could be
    any string, so it is refused."""
    if not symbols.code_strings().get(class_name, {}).get(arg):
        return None
    allowed = symbols.code_strings()[class_name][arg]
    items = node.elts if isinstance(node, ast.List | ast.Tuple) else [node]
    for item in items:
        if isinstance(item, ast.Call):  # an instance: of one of MONAI's own, then
            if ast.unparse(item.func).rsplit(".", 1)[-1] in allowed:
                continue
            return (f"{class_name}'s {arg!r} is an object of "
                    f"{ast.unparse(item.func)!r}, none of MONAI's own")  # fmt: skip
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            reason = byoc.code_string(class_name, arg, item.value)
            if reason is not None:
                return reason
        elif not isinstance(item, ast.Name | ast.Attribute):
            return (f"{class_name}'s {arg!r} is a name MONAI imports; a computed value "
                    "could be any name: write one of MONAI's as a string")  # fmt: skip
    return None


def _code_arg(class_name: str, arg: str, value: Value) -> str | None:
    """A code-string arg of a component: checked as a literal, or as the expression it
    is; a reference (an object of the config's) is no string."""
    while isinstance(value, SearchValue):
        value = value.value
    if not symbols.code_strings().get(class_name, {}).get(arg):
        return None
    if isinstance(value, Expr):
        return _code_node(class_name, arg, value.tree.body)
    plain = _plain(value)
    if plain is None and not isinstance(value, Ref | Component):
        return (f"{class_name}'s {arg!r} is a name MONAI imports; write one of MONAI's "
                "as a string")  # fmt: skip
    return byoc.code_string(class_name, arg, plain)


def _plain(value: Value):
    """A literal value (a string, a list of them), else None."""
    while isinstance(value, SearchValue):
        value = value.value
    if isinstance(value, Lit):
        return value.value
    if isinstance(value, ListV):
        items = [_plain(v) for v in value.items]
        return None if any(i is None for i in items) else items
    return None


def _literal(value: Value):
    while isinstance(value, SearchValue):
        value = value.value
    return value.value if isinstance(value, Lit) else deserializers.MISSING
