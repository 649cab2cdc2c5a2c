"""No config arg weakens a deserializer (claragen/gates/deserializers.py).

    {"name": "PersistentDataset", "args": {"weights_only": false, ...}}
    -> error[E411]: 'weights_only' may only be True: anything else lets a file run code
    {"name": "LoadImaged", "args": {"reader": "NumpyReader", "allow_pickle": true}}
    -> error[E411]: 'allow_pickle' may only be False: ...

Every arg of every component is checked by its name, whatever the class (a reader's
**kwargs reach numpy), and so is every key of a dict arg and every keyword of a call in a
`#` expression. Runs after the variables pass, so `{flag}` is the value it stands for.
"""

from __future__ import annotations

from claragen.gates import deserializers
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Expr,
    ListV,
    Lit,
    SearchValue,
    Value,
)

HELP = (
    "leave it out: claragen keeps every deserializer's guard (a file of the MMAR could "
    "otherwise run code when it is read)"
)


def check_deserializers(config: Config, ctx: PassContext) -> Config:
    for comp in config.every_component():
        for key, value in comp.args:
            _check(key, value, comp.arg_span(key), comp, ctx)
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


def _literal(value: Value):
    while isinstance(value, SearchValue):
        value = value.value
    return value.value if isinstance(value, Lit) else deserializers.MISSING
