"""With `--import-byoc`, each bring-your-own class is imported and its args are checked.

    {"path": "my_net.MyNet", "args": {"widht": 3}}
    -> error[E401]: MyNet takes no argument 'widht' (my_net.MyNet); did you mean 'width'?
    {"path": "my_net.Missing"}
    -> error[E410]: cannot import the BYOC class 'my_net.Missing': module 'my_net' has no
       class 'Missing'

Importing a module runs its code, so this is the one pass that runs user code, and only when
the user asks for it. Modules are looked up in the MMAR's `custom/` folder (where Clara put
them), then in each `--pythonpath` folder, then on the usual `sys.path`. Without the flag,
BYOC classes are emitted as imports and never touched at compile time.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Component, Config
from claragen.transpiler.passes.check_components import check_args
from claragen.transpiler.signatures import signature_of


def search_path(ctx: PassContext) -> list[str]:
    roots = [ctx.mmar_root / "custom", *map(Path, ctx.options.pythonpath)]
    return [str(r.resolve()) for r in roots]


def load_class(path: str, roots: list[str]) -> type | str:
    """The class `path` names, or why it cannot be had."""
    module_name, _, name = path.rpartition(".")
    saved = list(sys.path)
    sys.path[:0] = roots
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # user code: any failure is a diagnostic
        return f"importing {module_name!r} raised {type(exc).__name__}: {exc}"
    finally:
        sys.path[:] = saved
    cls = getattr(module, name, None)
    if cls is None:
        return f"module {module_name!r} has no {name!r}"
    if not inspect.isclass(cls) and not callable(cls):
        return f"{path!r} is a {type(cls).__name__}, not a class"
    return cls


def import_byoc(config: Config, ctx: PassContext) -> Config:
    if not ctx.options.import_byoc:
        return config
    roots = search_path(ctx)
    for comp in config.every_component():
        if comp.path is None or symbols.lookup_path(comp.path) is not None:
            continue  # not BYOC, or a framework class check_components knows
        if symbols.foreign_path(comp.path) is not None:
            continue  # refused by check_components (E106): never imported
        check_byoc(comp, roots, ctx)
    return config


def check_byoc(comp: Component, roots: list[str], ctx: PassContext) -> None:
    assert comp.path is not None
    found = load_class(comp.path, roots)
    if isinstance(found, str):
        ctx.diags.error(
            "E410",
            comp.name_span or comp.span,
            f"cannot import the BYOC class {comp.path!r} ({comp.locator}): {found}",
            "put the module in the MMAR's custom/ folder, or name its folder with "
            "--pythonpath",
        )
        return
    sig = signature_of(found)
    if sig is None:  # a builtin or C type: Python cannot say what it takes
        return
    module, _, name = comp.path.rpartition(".")
    check_args(comp, symbols.from_signature(name, module, sig, byoc=True), ctx)
