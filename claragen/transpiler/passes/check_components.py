"""Every component names a real class, and every arg is one that class takes.

    {"name": "UNett"}                      -> error: unknown component 'UNett'; did you mean 'UNet'?
    {"name": "UNet", "args": {"chanels": }} -> error: UNet takes no argument 'chanels'; did you
                                              mean 'channels'?

Names are checked against the component table (`symbols`), never by importing anything.
A `path` goes through the BYOC gate (`claragen.gates.byoc`): a class of the table is checked
the same way, a module of the user's own is not imported here (the `import_byoc` pass does
that, and only with `--import-byoc`), and anything else is E106.
"""

from __future__ import annotations

import ast

from claragen.gates import byoc
from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import did_you_mean
from claragen.transpiler.dialects.wiring import given_elsewhere, needed
from claragen.transpiler.exprcheck import module_chain
from claragen.transpiler.ir import (
    Component,
    Config,
    Expr,
    Lit,
    SearchValue,
    Value,
    walk,
)
from claragen.transpiler.monai_history import FORMER_ARGS
from claragen.transpiler.written import WRITTEN


def check_component(
    comp: Component, ctx: PassContext, given: frozenset[str] = frozenset()
) -> None:
    if comp.path is not None:
        found = byoc.resolve(
            comp.path, byoc.roots(ctx.mmar_root, ctx.options.pythonpath)
        )
        if isinstance(found, byoc.Refused):
            ctx.diags.error(
                "E106",
                comp.name_span or comp.span,
                f"{found.reason} ({comp.locator})",
                found.help,
            )
        elif found.symbol is not None:  # else the user's own: import_byoc, when asked
            check_args(comp, found.symbol, ctx, given)
        return
    if comp.name is None:
        return
    sym = symbols.lookup(symbols.canonical(comp.name))
    if sym is None or sym.written and comp.origin is None:
        # (a class claragen writes out is reached from the config's MONAI or Clara
        # name, which `origin` keeps, never named by a config itself)
        span = comp.name_span or comp.span
        if span not in {
            d.span for d in ctx.diags.errors
        }:  # a dialect may have said why
            ctx.diags.error(
                "E400",
                span,
                f"unknown component {comp.name!r} ({comp.locator})",
                did_you_mean(comp.name, symbols.component_names())
                or 'for your own class, use "path": "module.Class" (BYOC)',
            )
        return
    check_args(comp, sym, ctx, given)


def check_args(
    comp: Component,
    sym: symbols.Symbol,
    ctx: PassContext,
    given: frozenset[str] = frozenset(),
) -> None:
    """Every arg is a parameter of the real signature; every required one is given, by
    the config or elsewhere (`given`: wiring.given_elsewhere); a string given for a
    number is a warning."""
    numeric = dict(sym.numeric)
    was = f", the config's {comp.origin}" if comp.origin else ""
    shown, where = comp.class_name, f"{sym.module}.{sym.name}{was}"
    if sym.written:  # the class claragen writes out for the config's
        shown, where = str(comp.origin), f"{WRITTEN[sym.name].was}, written out"
    unknown: list[str] = []  # a misspelt required arg is said once, by its E401
    for key, value in comp.args:
        if not sym.accepts(key):
            unknown.append(key)
        if (old := former_arg(sym, key)) is not None:
            why, write = old
            ctx.diags.error(
                "E401",
                comp.arg_span(key),
                f"{shown} takes no argument {key!r} ({where}): {why} "
                f"({comp.locator})",
                write,
            )
        elif sym.name in READER_LOADERS and key not in (sym.params or ()):
            _reader_arg(comp, key, ctx)
        elif not sym.accepts(key):
            sent = " (nor does what its **kwargs go to)" if sym.varkw else ""
            ctx.diags.error(
                "E401",
                comp.arg_span(key),
                f"{shown} takes no argument {key!r}{sent} ({where})",
                did_you_mean(key, sym.names()),
            )
        elif key in numeric and (text := _text(value)) is not None:
            ctx.diags.warning(
                "W105",
                value.span,
                f"{shown}'s {key!r} takes a number ({numeric[key]}), and the config "
                f"gives the string {text!r} ({comp.locator})",
                "write the number without quotes",
            )
    missing = [r for r in needed(sym) if comp.arg(r) is None and r not in given
               and not did_you_mean(r, unknown)]  # fmt: skip
    if missing:
        said = {d.span for d in ctx.diags.errors}  # a dialect may have said why
        if missing and (comp.name_span or comp.span) not in said:
            was = f" (the config's {comp.origin})" if comp.origin else ""
            ctx.diags.missing_args(
                comp.name_span or comp.span,
                shown if sym.written else f"{comp.class_name}{was}",
                missing,
                comp.locator,
            )


def former_arg(sym: symbols.Symbol, key: str) -> tuple[str, str] | None:
    """Where `key` was an arg of an older MONAI that `sym`'s class no longer names: what
    became of it, and what to write instead; else None."""
    former = {**FORMER_ARGS["*"], **FORMER_ARGS.get(sym.name, {})}
    if key not in former or key in (sym.params or ()):
        return None
    version, replaced = former[key]
    fate = ("would take it through **kwargs and do nothing with it"
            if sym.varkw else "does not take it")  # fmt: skip
    return (
        f"it was MONAI {version}'s, and today's {sym.name} {fate}",
        f"write {replaced}",
    )


def _text(value: Value) -> str | None:
    """The plain string a value is (a searched one too), else None; a '#'/'@'/lambda
    string that failed to parse (E203, E204) is no plain string."""
    while isinstance(value, SearchValue):
        value = value.value
    if isinstance(value, Lit) and isinstance(value.value, str):
        if not value.value.startswith(("#", "@", "lambda")):
            return value.value
    return None


def check_components(config: Config, ctx: PassContext) -> Config:
    for section, slot, comp in config.placed_components():
        given = given_elsewhere(section, slot, comp.class_name, config.dialect)
        if slot is None and _dataset_without_data(comp):
            ctx.diags.error(
                "E402",
                comp.name_span or comp.span,
                f"{comp.class_name} ({comp.locator}) is written inside another component, "
                "where it gets no data: claragen gives a dataset the items of its data "
                'list in its section\'s "dataset" only',
                'move it to the section\'s "dataset", with its "data_list_file_path", '
                'and refer to it as "@dataset"',
            )
            given = given | {"data"}
        if slot == "dataset" and comp.arg("data") is not None:
            ctx.diags.error(
                "E401",
                comp.arg_span("data"),
                f"{comp.class_name}'s 'data' is the script's to give: the items of the "
                f'section\'s data list ("data_list_file_path") ({comp.locator})',
                'remove "data"; list the items in the data list file, under the '
                '"data_list_key"',
            )
        check_component(comp, ctx, given)
        for _, arg in (*comp.args, *comp.attrs):
            for value in walk(arg):
                if isinstance(value, Expr):
                    check_expression_calls(value, comp, ctx)
    return config


def _dataset_without_data(comp: Component) -> bool:
    """A MONAI dataset class whose items the config does not give."""
    sym = symbols.lookup(comp.class_name) if comp.path is None else None
    return (
        sym is not None
        and sym.module.startswith("monai.data")
        and "data" in sym.required
        and comp.arg("data") is None
    )


def check_expression_calls(expr: Expr, comp: Component, ctx: PassContext) -> None:
    """A class of the table called inside a `#` expression or a lambda
    (`monai.transforms.AsDiscreteD(keys="pred", threshold_values=True)`) takes its args
    by the same rules as a component: an arg of an older MONAI, or one the class does not
    take, is an E401 (MONAI 1.x would swallow it in **kwargs and do nothing)."""
    for node in ast.walk(expr.tree):
        if not isinstance(node, ast.Call):
            continue
        chain = module_chain(node.func)
        if chain is None or not chain[1]:
            continue
        module, name = ".".join([chain[0], *chain[1][:-1]]), chain[1][-1]
        sym = symbols.lookup_path(f"{module}.{symbols.canonical(name)}")
        if sym is None or sym.params is None:
            continue
        for key in (k.arg for k in node.keywords if k.arg is not None):
            where = f"{name}, in the expression of {comp.locator},"
            if (old := former_arg(sym, key)) is not None:
                why, write = old
                ctx.diags.error(
                    "E401",
                    expr.span,
                    f"{where} takes no argument {key!r}: {why}",
                    write,
                )
            elif not sym.accepts(key):
                ctx.diags.error(
                    "E401",
                    expr.span,
                    f"{where} takes no argument {key!r} ({sym.module}.{sym.name})",
                    did_you_mean(key, sym.names()),
                )


# Classes whose **kwargs go to the image readers they build (monai.transforms.LoadImage:
# to the one the config names, else to each of MONAI's default readers).
READER_LOADERS = frozenset({"LoadImage", "LoadImaged"})


def _reader_arg(comp: Component, key: str, ctx: PassContext) -> None:
    """An arg of LoadImage(d) that it does not take goes to its readers: fine where a
    reader takes it; else it reaches only the reader's own **kwargs, the file loader's
    (nibabel.load, itk.imread, ...), which claragen cannot check: a misspelled name fails
    when the data loads, or is dropped (W112, with a did-you-mean)."""
    named = comp.arg("reader")
    reader = named.value if isinstance(named, Lit) else None
    readers = [reader] if isinstance(reader, str) else symbols.default_readers()
    syms = [s for r in readers if (s := symbols.lookup(r)) is not None]
    if not syms and named is not None:
        return  # a reader object or one of the user's own: its args are its own
    if any(key in (s.params or ()) for s in syms):
        return
    known = [
        n for s in [symbols.lookup(comp.class_name), *syms] if s for n in s.names()
    ]
    ctx.diags.warning(
        "W112",
        comp.arg_span(key),
        f"{comp.class_name}'s {key!r} is no argument of it nor of "
        f"{', '.join(s.name for s in syms)}: it only reaches the file loader behind "
        f"the reader's **kwargs, which claragen cannot check ({comp.locator})",
        did_you_mean(key, known) or "leave it out unless the file loader takes it",
    )
