"""Substitute `{VAR}` (SPEC 4.1).

Precedence, high to low: `--set` > environment.json > first-level config values > the
MMAR's standard environment (`DEFAULT_ENVIRONMENT`).

    "lr": "{learning_rate}"         -> Lit(0.0002)          (a whole-string field keeps its type)
    "x": "{MMAR_ROOT}/a_{epochs}"   -> Template(RuntimeVar MMAR_ROOT, "/a_2")
    "save_dir": "{MMAR_CKPT_DIR}"   -> RuntimeVar("MMAR_CKPT_DIR", default="models")

Path variables (`PATH_VARIABLES`) stay symbolic: the generated script takes them as
command-line options, with the compiled values as defaults.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import NO_SPAN, did_you_mean
from claragen.transpiler.exprcheck import VAR_PREFIX
from claragen.transpiler.ir import (
    Config,
    Expr,
    Lit,
    RuntimeVar,
    SearchValue,
    Template,
    Value,
    Var,
    map_config,
)
from claragen.transpiler.limits import MAX_EXPANDED

# environment.json keys that name files or folders (SPEC 7). `MMAR_ROOT` is always defined.
PATH_VARIABLES = (
    "MMAR_ROOT",
    "DATA_ROOT",
    "DATASET_JSON",
    "MMAR_CKPT_DIR",
    "MMAR_CKPT",
    "MMAR_TORCHSCRIPT",
    "MMAR_EVAL_OUTPUT_PATH",
    "PRETRAIN_WEIGHTS_FILE",
)


# The MMAR's standard environment (SPEC 7), used where environment.json does not say.
DEFAULT_ENVIRONMENT = {
    "DATA_ROOT": ".",
    "DATASET_JSON": "config/dataset_0.json",
    "PROCESSING_TASK": "segmentation",
    "MMAR_EVAL_OUTPUT_PATH": "eval",
    "MMAR_CKPT_DIR": "models",
    "MMAR_CKPT": "models/model.pt",
    "MMAR_TORCHSCRIPT": "models/model.ts",
}


def variable_table(config: Config, ctx: PassContext) -> dict[str, Lit]:
    """Every variable with its value, by precedence (low to high). A variable whose value
    is exactly "{OTHER}" (`"amp": "{USE_AMP}"`) has OTHER's value, typed: Clara
    substitutes the whole document, its first level too (SPEC 4.1)."""
    table: dict[str, Lit] = {"MMAR_ROOT": Lit(config.span, ".")}
    table.update({k: Lit(config.span, v) for k, v in DEFAULT_ENVIRONMENT.items()})
    table.update(config.globals)
    table.update(ctx.env)
    table.update(ctx.overrides)
    for name, value in list(table.items()):
        target = chained(name, table)
        if target is not None and target != name:
            table[name] = Lit(value.span, table[target].value)
            if target in PATH_VARIABLES:  # it stays the option that sets the path
                table[name] = Lit(value.span, "{" + target + "}")
    return table


_WHOLE = re.compile(r"\{(\w+)\}")


def chained(name: str, table: dict[str, Lit]) -> str | None:
    """The variable whose value `name` has: itself, or where its value is exactly
    "{OTHER}", OTHER's (followed to the end; a loop stops where it closes); None where
    such a name is no variable."""
    seen = [name]
    while isinstance(value := table[seen[-1]].value, str) and (
        found := _WHOLE.fullmatch(value)
    ):
        if found[1] not in table:
            return None
        if found[1] in seen:
            return seen[-1]
        seen.append(found[1])
    return seen[-1]


def resolve_variables(config: Config, ctx: PassContext) -> Config:
    table = variable_table(config, ctx)
    used: set[str] = set()
    grown = Growth(ctx)

    def lookup(var: Var) -> Lit | RuntimeVar | None:
        used.add(var.name)
        if var.name in table and not grown.add(var, table[var.name].value):
            return None  # past the bound (said once): nothing more is expanded
        if var.name not in table:
            ctx.diags.error(
                "E200",
                var.span,
                f"unknown variable {var.name!r}",
                did_you_mean(var.name, table)
                or "define it at the first level, in environment.json, or with --set",
            )
            return None
        value = table[var.name]
        end = chained(var.name, table)
        if end is None or _WHOLE.fullmatch(str(table[end].value)):  # "{x}" -> nothing
            ctx.diags.error(
                "E200",
                var.span,
                f"the variable {var.name!r} is {value.value!r}, which names no variable "
                "with a value (a first-level number, string or boolean, environment.json "
                "or --set), or names itself in a loop",
                "give it its value, or name a variable that has one",
            )
            return None
        path = end  # "{ckpt_dir}" -> MMAR_CKPT_DIR
        if path in PATH_VARIABLES and isinstance(table[path].value, str):
            return RuntimeVar(var.span, path, table[path].value)
        return Lit(var.span, value.value, var=var.name)

    def substitute(value: Value) -> Value:
        if isinstance(value, Var):
            resolved = lookup(value) or Lit(value.span, None)
            if value.name in config.searched and isinstance(resolved, Lit):
                const, param = config.searched[value.name]
                return SearchValue(value.span, const, resolved, param)
            return resolved
        if isinstance(value, Expr):
            return in_strings(value, table, substitute)
        if isinstance(value, Template):
            parts: list[str | RuntimeVar] = []
            for part in value.parts:
                if isinstance(part, Var):
                    resolved = lookup(part)
                    part = "" if resolved is None else resolved
                if isinstance(part, Lit):
                    part = _format(part.value)
                if isinstance(part, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += part
                else:
                    parts.append(part)
            if all(isinstance(p, str) for p in parts):
                return Lit(value.span, "".join(parts))  # type: ignore[arg-type]
            return dataclasses.replace(value, parts=tuple(parts))
        return value

    resolved = map_config(config, substitute)
    resolved.variables = {k: v.value for k, v in table.items()}
    check_sets(config, ctx, used)
    return resolved


class Growth:
    """What `{VAR}` substitution adds to a config, bounded: a value used many times is
    copied each time, so a small config could expand to a script of gigabytes. Past
    limits.MAX_EXPANDED bytes the substitution stops with E112, said once."""

    def __init__(self, ctx: PassContext) -> None:
        self.ctx = ctx
        self.total = 0
        self.sizes: dict[str, int] = {}
        self.over = False

    def add(self, var: Var, value: object) -> bool:
        if self.over:
            return False
        if var.name not in self.sizes:
            self.sizes[var.name] = len(json.dumps(value, default=str))
        self.total += self.sizes[var.name]
        if self.total <= MAX_EXPANDED:
            return True
        self.over = True
        self.ctx.diags.error(
            "E112",
            var.span,
            f"'{{{var.name}}}' and the uses before it expand the config by more than "
            f"{MAX_EXPANDED // 1024:,} KiB, the most claragen expands",
            "a Clara config uses its variables for numbers and paths; this one copies a "
            "large value many times",
        )
        return False


def check_sets(config: Config, ctx: PassContext, used: set[str]) -> None:
    """A `--set` must name a variable: one the config, environment.json or the MMAR's
    standard environment defines, or one a '{NAME}' uses. Else it would change nothing.
    """
    if not ctx.check_sets:
        return
    known = {"MMAR_ROOT", *DEFAULT_ENVIRONMENT, *config.globals, *ctx.env, *used,
             *ctx.other_names}  # fmt: skip
    for key, _ in ctx.options.set_values:
        if key not in known:
            ctx.diags.error(
                "E208",
                NO_SPAN,
                f"--set {key}: the config has no variable {key!r}, so it would change "
                "nothing",
                did_you_mean(key, known)
                or "set a first-level key of the config or of environment.json",
            )


def _format(value: object) -> str:
    """How `str.format` prints a value inside a string."""
    return str(value)


_IN_TEXT = re.compile(r"\{(\w+)\}")


def in_strings(expr: Expr, table: dict, substitute) -> Expr:
    """`{VAR}` inside a string literal of a `#` expression or a lambda, where VAR is a
    variable (SPEC 4.1 substitutes every string, these too): the literal becomes the sum
    of its text and `str(VAR)`, VAR's value or the option that sets it
    (`"{MMAR_CKPT_DIR}" + "/tb"` -> `str(args.mmar_ckpt_dir) + "/tb"`). Other braces
    (a format string's `{}`, an unknown name) stay text, as do f-strings."""
    if "{" not in expr.source:
        return expr
    added: dict[str, Var] = {}

    class Strings(ast.NodeTransformer):
        def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
            return node

        def visit_Constant(self, node: ast.Constant) -> ast.AST:
            if not isinstance(node.value, str):
                return node
            parts = _IN_TEXT.split(node.value)  # text, name, text, name, ..., text
            if not any(name in table for name in parts[1::2]):
                return node
            pieces: list[ast.expr] = []
            for i, part in enumerate(parts):
                if i % 2 == 0 or part not in table:
                    text = part if i % 2 == 0 else "{" + part + "}"
                    if pieces and isinstance(pieces[-1], ast.Constant):
                        pieces[-1] = ast.Constant(pieces[-1].value + text)
                    elif text:
                        pieces.append(ast.Constant(text))
                else:
                    added[part] = Var(expr.span, part)
                    pieces.append(
                        ast.Call(ast.Name("str"), [ast.Name(VAR_PREFIX + part)], [])
                    )
            total = pieces[0]
            for piece in pieces[1:]:
                total = ast.BinOp(total, ast.Add(), piece)
            return ast.copy_location(total, node)

    tree = ast.fix_missing_locations(
        Strings().visit(ast.parse(ast.unparse(expr.tree), mode="eval"))
    )
    if not added:
        return expr
    have = dict(expr.values)
    values = [*expr.values, *((VAR_PREFIX + n, substitute(v)) for n, v in added.items()
                              if VAR_PREFIX + n not in have)]  # fmt: skip
    return dataclasses.replace(expr, tree=tree, values=tuple(values))
