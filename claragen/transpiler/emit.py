"""Emit Python source for IR values: literals with `repr`, code from the AST, never text.

Lit(0.5)                      -> 0.5
RuntimeVar("DATA_ROOT")       -> args.data_root
Ref("model")                  -> model
Expr("#@model.parameters()")  -> model.parameters()
Component UNet(...)           -> UNet(spatial_dims=3, ...)   (and `from monai... import UNet`)
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from claragen.transpiler import symbols, written
from claragen.transpiler.ir import (
    Component,
    DictV,
    Expr,
    ListV,
    Lit,
    Ref,
    RuntimeVar,
    SearchValue,
    Template,
    Value,
    Var,
)
from claragen.transpiler.values import REF_PREFIX, expr_modules

# Modules whose classes read best qualified (`torch.optim.Adam`) instead of imported by name.
QUALIFIED_MODULES = ("torch.optim", "torch.optim.lr_scheduler", "torch.nn")


def option_dest(name: str) -> str:
    """The argparse dest of a runtime variable: DATA_ROOT -> data_root."""
    return name.lower()


def isort_key(name: str) -> tuple:
    """The order of the names of one `from m import ...` as isort (ruff's I001, its
    defaults: order-by-type) sorts them: CONSTANTS, then Classes, then functions, each
    without regard to case and with numbers in their natural order (`SEResNet50` before
    `SEResNet101`)."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    natural = tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                    for p in re.split(r"(\d+)", name.lower()) if p)  # fmt: skip
    return kind, natural, name


@dataclass
class Imports:
    """The import lines a generated file needs, printed sorted."""

    modules: set[str] = field(default_factory=set)  # import x
    names: dict[str, set[str]] = field(default_factory=dict)  # from x import y
    byoc: dict[str, set[str]] = field(default_factory=dict)  # the user's own modules
    written: set[str] = field(default_factory=set)  # classes the script defines

    def add_module(self, module: str) -> None:
        self.modules.add(module)

    def add_name(self, module: str, name: str) -> None:
        self.names.setdefault(module, set()).add(name)

    def discard_name(self, module: str, name: str) -> None:
        """No longer import `name` (the code that used it was left out)."""
        self.names.get(module, set()).discard(name)
        if not self.names.get(module, True):
            del self.names[module]

    def symbol(self, sym: symbols.Symbol) -> str:
        """The expression that names `sym` in the generated code (importing it)."""
        if sym.byoc:
            self.byoc.setdefault(sym.module, set()).add(sym.name)
            return sym.name
        if sym.written:
            self.add_written(sym.name)
            return sym.name
        if sym.module in QUALIFIED_MODULES:
            self.add_module(sym.module.split(".")[0])
            return f"{sym.module}.{sym.name}"
        self.add_name(sym.module, sym.name)
        return sym.name

    def lines(self) -> list[str]:
        """Standard library, then third party, each sorted (isort's order)."""
        stdlib = sorted(m for m in self.modules if m in STDLIB)
        third = sorted(m for m in self.modules if m not in STDLIB)
        out = [f"import {m}" for m in stdlib]
        out.append("")
        out += [f"import {m}" for m in third]
        for module in sorted(self.names):
            names = sorted(self.names[module], key=isort_key)
            out.append(f"from {module} import {', '.join(names)}")
        return out

    def add_written(self, name: str) -> None:
        """A class the script defines, with the imports it needs and the other written
        classes it uses."""
        self.written.add(name)
        for module, imported in written.imports(name):
            if imported is None:
                self.add_module(module)
            else:
                self.add_name(module, imported)
        for other in written.needs(name):
            self.add_written(other)

    def written_sources(self) -> list[str]:
        """The classes the script defines (MONAI dropped them), in name order."""
        return [written.source(name) for name in sorted(self.written)]

    def byoc_lines(self) -> list[str]:
        return [
            f"from {module} import {', '.join(sorted(names, key=isort_key))}"
            for module, names in sorted(self.byoc.items())
        ]


STDLIB = frozenset(sys.stdlib_module_names)  # what isort and ruff sort first


@dataclass
class Emitter:
    """Turns values into source text; `names` maps (section, key) to variable names."""

    imports: Imports
    ref_name: Callable[[Ref], str]

    def value(self, value: Value) -> str:
        return ast.unparse(self.node(value))

    def node(self, value: Value) -> ast.expr:
        if isinstance(value, Lit):
            return literal_node(value.value)
        if isinstance(value, ListV):
            return ast.List([self.node(v) for v in value.items])
        if isinstance(value, DictV):
            return ast.Dict(
                [ast.Constant(k) for k, _ in value.items],
                [self.node(v) for _, v in value.items],
            )
        if isinstance(value, RuntimeVar):
            return ast.Attribute(ast.Name("args"), option_dest(value.name))
        if isinstance(value, Template):
            parts: list[ast.expr] = []
            for part in value.parts:
                if isinstance(part, str):
                    parts.append(ast.Constant(part))
                else:
                    fv = ast.FormattedValue(self.node(part), -1)  # type: ignore[arg-type]
                    parts.append(fv)
            return ast.JoinedStr(parts)
        if isinstance(value, Ref):
            return ast.Name(self.ref_name(value))
        if isinstance(value, SearchValue):
            return ast.Name(value.const)
        if isinstance(value, Expr):
            return self.expr(value)
        if isinstance(value, Component):
            return self.construct(value)
        if isinstance(value, Var):  # unresolved: an error was reported already
            return ast.Constant(None)
        raise TypeError(f"cannot emit {type(value).__name__}")

    def expr(self, expr: Expr) -> ast.expr:
        for module in sorted(expr_modules(expr)):
            self.imports.add_module("numpy as np" if module == "np" else module)
        names = {REF_PREFIX + r.name: self.ref_name(r) for r in expr.refs}
        values = {name: self.node(value) for name, value in expr.values}
        tree = ast.parse(ast.unparse(expr.tree), mode="eval")  # a fresh copy to rewrite

        class Rename(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.expr:
                if node.id in names:
                    return ast.copy_location(ast.Name(names[node.id], node.ctx), node)
                if node.id in values:  # a {VAR}: its value, or the option that sets it
                    return ast.copy_location(values[node.id], node)
                return node

        return Rename().visit(tree).body

    def symbol(self, comp: Component) -> str:
        sym = symbols.byoc(comp.path) if comp.path else symbols.lookup(comp.class_name)
        assert (
            sym is not None
        ), comp.class_name  # check_components reported unknown names
        return self.imports.symbol(sym)

    def construct(
        self, comp: Component, extra: tuple[tuple[str, ast.expr], ...] = ()
    ) -> ast.expr:
        """`Class(arg=value, ...)` for a component; `extra` args come first."""
        keywords = [ast.keyword(k, v) for k, v in extra]
        keywords += [ast.keyword(k, self.node(v)) for k, v in comp.args]
        return ast.Call(ast.Name(self.symbol(comp)), [], keywords)


def literal_node(value: object) -> ast.expr:
    """A literal as an AST node; floats keep their shortest repr (2e-4 -> 0.0002)."""
    if isinstance(value, list):
        return ast.List([literal_node(v) for v in value])
    if isinstance(value, dict):
        return ast.Dict(
            [ast.Constant(k) for k in value], [literal_node(v) for v in value.values()]
        )
    if isinstance(value, float) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def comment_text(text: str) -> str:
    """Text that stays on its comment line whatever a config holds: line breaks and other
    unprintable characters are written as escapes."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
        for c in text
    )


def fstring_text(text: str) -> str:
    """Text that stays literal text inside `f"..."`: quotes, backslashes and control
    characters escaped (as JSON does, which Python reads the same), braces doubled."""
    return json.dumps(text)[1:-1].replace("{", "{{").replace("}", "}}")
