"""With `--import-byoc`, each bring-your-own class is imported and its args are checked.

    {"path": "my_net.MyNet", "args": {"widht": 3}}
    -> error[E401]: MyNet takes no argument 'widht' (my_net.MyNet); did you mean 'width'?
    {"path": "my_net.Missing"}
    -> error[E410]: cannot import the BYOC class 'my_net.Missing': module 'my_net' has no
       class 'Missing'

Importing a module runs its code, so this is the one pass that runs user code, and only when
the user asks for it, and only code that the BYOC gate (`claragen.gates.byoc`) allowed: a
module of the MMAR's `custom/` folder or of a `--pythonpath` folder. Without the flag, BYOC
classes are emitted as imports and never touched at compile time.
"""

from __future__ import annotations

import inspect

from claragen.gates import byoc
from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects.wiring import given_elsewhere
from claragen.transpiler.ir import Component, Config
from claragen.transpiler.passes.check_components import check_args
from claragen.transpiler.signatures import signature_of


def import_byoc(config: Config, ctx: PassContext) -> Config:
    if not ctx.options.import_byoc:
        return config
    folders = byoc.roots(ctx.mmar_root, ctx.options.pythonpath)
    for section, slot, comp in config.placed_components():
        if comp.path is None:
            continue
        found = byoc.resolve(comp.path, folders)
        if isinstance(found, byoc.Resolved) and found.kind != byoc.TABLE:
            given = given_elsewhere(section, slot, comp.class_name, config.dialect)
            check_byoc(
                comp, found, folders, ctx, given
            )  # refused ones are E106: never imported
    return config


def load_class(found: byoc.Resolved, folders: list) -> type | str:
    """The class an allowed path names, or why it cannot be had."""
    if found.kind == byoc.ABSENT:
        return f"no module {found.module!r} in " + ", ".join(str(f) for f in folders)
    try:
        cls = byoc.load(found, folders)
    except AttributeError:
        return f"module {found.module!r} has no {found.name!r}"
    except (Exception, SystemExit) as exc:  # user code: any failure is a diagnostic
        return f"importing {found.module!r} raised {type(exc).__name__}: {exc}"
    if not inspect.isclass(cls) and not callable(cls):
        return f"{found.path!r} is a {type(cls).__name__}, not a class"
    return cls


def check_byoc(
    comp: Component,
    found: byoc.Resolved,
    folders: list,
    ctx: PassContext,
    given: frozenset[str],
) -> None:
    assert comp.path is not None
    cls = load_class(found, folders)
    if isinstance(cls, str):
        ctx.diags.error(
            "E410",
            comp.name_span or comp.span,
            f"cannot import the BYOC class {comp.path!r} ({comp.locator}): {cls}",
            "put the module in the MMAR's custom/ folder, or name its folder with "
            "--pythonpath",
        )
        return
    sig = signature_of(cls)
    if sig is None:  # a builtin or C type: Python cannot say what it takes
        return
    module, _, name = comp.path.rpartition(".")
    check_args(comp, symbols.from_signature(name, module, sig, byoc=True), ctx, given)
