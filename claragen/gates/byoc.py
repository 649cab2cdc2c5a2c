"""The one gate for a `path` that names code: every BYOC class of a training, validation
or inference config, every controller, executor and handler of config_automl.json, and
the modules smoke stands in for.

A `path` is allowed when it names, and only then:

- a class of the component table (MONAI, torch, ignite), in its own module or a submodule
  of it (`monai.networks.nets.UNet`, `monai.networks.nets.unet.UNet`); or
- a class in a module of the user's own: a `.py` file (or package) inside the MMAR's
  `custom/` folder or a `--pythonpath` folder, which resolves (links followed) to a file
  inside that folder, and whose top-level name no installed module has (it would be
  shadowed, or shadow it); or
- a module of the user's own that is not here at all (an MMAR shipped without its
  custom/ folder): no installed module has its top-level name, so whatever the script
  imports can only be what the user puts in custom/ later.

Everything else is refused, whatever it is: the standard library, a framework's internals
(`torch.serialization.load`), and every installed package that is not one of the table's
frameworks (a command-line, templating, VCS, test or web library alike). The rule is the
allowlist above, not a list of known-bad modules: tests/gates/test_byoc.py refuses every
top-level module of the test environment.

Resolving never runs code: files are looked up on disk, and an installed module is found
by its top-level name only (the import system's finders, asked for a top-level name, run
no module). `load` is the one place claragen imports such a module, and it
imports only what `resolve` allowed.
"""

from __future__ import annotations

import builtins
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from claragen.transpiler import symbols
from claragen.transpiler.ir import is_name  # the one rule of what a name is

TABLE, CUSTOM, ABSENT = "table", "custom", "absent"
BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class Resolved:
    """What an allowed `path` names."""

    path: str
    kind: str  # TABLE | CUSTOM | ABSENT
    symbol: symbols.Symbol | None = None  # the table's class (TABLE)
    file: Path | None = None  # the module's file (CUSTOM)

    @property
    def module(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]


@dataclass(frozen=True)
class Refused:
    """Why a `path` is not allowed, and what to do instead."""

    path: str
    reason: str
    help: str = (
        "a 'path' names a class in a module of the MMAR's custom/ folder (or of "
        "--pythonpath), or a MONAI, torch or ignite class of the component table"
    )


def roots(mmar_root: Path | None, pythonpath: Sequence[str | Path] = ()) -> list[Path]:
    """The folders BYOC modules may come from: the MMAR's custom/, then --pythonpath."""
    found = [Path(mmar_root) / "custom"] if mmar_root is not None else []
    return found + [Path(p) for p in pythonpath]


def resolve(path: str, folders: Sequence[Path]) -> Resolved | Refused:
    """Where `path` ("module.Class") leads, or why it may not be used."""
    parts = path.split(".")
    bad = next((p for p in parts if not _plain_part(p)), None)
    if len(parts) < 2 or bad is not None:
        what = "is not module.Class" if bad is None else f"has the part {bad!r}"
        return Refused(path, f"the path {path!r} {what}",
                       "write the module's dotted name and the class: 'my_net.MyNet'")  # fmt: skip
    sym = symbols.lookup_path(path)
    if sym is not None:
        return Resolved(path, TABLE, symbol=sym)
    if parts[-1] in BUILTIN_NAMES:  # `from m import exec` would hide the builtin
        return Refused(path, f"the path {path!r} names its class like Python's "
                             f"builtin {parts[-1]!r}",
                       "give the class another name")  # fmt: skip
    top = parts[0]
    if top in symbols.FRAMEWORKS:
        return Refused(path, f"{path!r} is no class of the component table ({top} "
                             "internals are not components)")  # fmt: skip
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return Refused(path, f"{path!r} names the standard library")
    for folder in folders:  # the MMAR's own folder of code must be in the MMAR
        if Path(folder).name == "custom" and _real(folder) is not None:
            if not _inside(_real(folder), Path(os.path.realpath(Path(folder).parent))):
                return Refused(
                    path,
                    f"{folder} is a link to {_real(folder)}, outside the MMAR, so "
                    f"{path!r} would come from there",
                    "make custom/ a folder of the MMAR (copy the modules in)",
                )
    real_roots = _reals(folders)
    installed = _installed(top, real_roots)
    if installed is not None:
        return Refused(
            path,
            f"{path!r} names the installed module {top!r}, not a module of the MMAR's "
            "custom/ folder or --pythonpath",
        )
    for root in real_roots:
        found = _module_file(root, parts[:-1])
        if found is None:
            continue
        real = Path(os.path.realpath(found))
        if not _inside(real, root) or not real.is_file():
            return Refused(path, f"{path!r} resolves to {real}, outside {root}")
        return Resolved(path, CUSTOM, file=real)
    return Resolved(path, ABSENT)


def load(found: Resolved, folders: Sequence[Path]) -> object:
    """The class an allowed path names, imported (its module's code runs). Raises
    ImportError, AttributeError, or whatever the module raises."""
    if found.kind == TABLE:
        assert found.symbol is not None
        module = importlib.import_module(found.symbol.module)
        return getattr(module, found.symbol.name)
    top = found.module.split(".")[0]
    loaded = sys.modules.get(top)
    where = getattr(loaded, "__file__", None) if loaded is not None else None
    if loaded is not None and not (
        where
        and any(_inside(Path(os.path.realpath(where)), r) for r in _reals(folders))
    ):
        raise ImportError(f"a module {top!r} from elsewhere is loaded in this process")
    saved = list(sys.path)
    sys.path[:0] = [str(f) for f in folders]
    try:
        module = importlib.import_module(found.module)
    finally:
        sys.path[:] = saved
    return getattr(module, found.name)


def _reals(folders: Sequence[Path]) -> list[Path]:
    return [r for r in (_real(f) for f in folders) if r is not None]


def code_string(class_name: str, arg: str, value: object) -> str | None:
    """Why `class_name(arg=value)` would have MONAI import code the gate does not allow,
    or None. MONAI resolves some string args to code (LoadImage's `reader`, SaveImage's
    `writer`, PatchInferer's `merger_cls`): a name of its own, else any dotted path
    (`pydoc.locate`, which imports it). Such a string is allowed only as one of the names
    MONAI documents for the arg (recorded from MONAI in the component table)."""
    allowed = symbols.code_strings().get(class_name, {}).get(arg)
    if allowed is None:
        return None
    for text in value if isinstance(value, list | tuple) else [value]:
        if isinstance(text, str) and text not in allowed:
            return (
                f"{class_name}'s {arg!r} is a name MONAI imports, and {text!r} is none "
                f"of its own: give one of {', '.join(allowed)}"
            )
    return None


def table_class(sym: symbols.Symbol) -> object:
    """A class of the component table, imported from its own module."""
    return load(Resolved(f"{sym.module}.{sym.name}", TABLE, symbol=sym), ())


def absent(path: str, folders: Sequence[Path]) -> bool:
    """Whether `path` is allowed and its module is nowhere (a stand-in may take its
    place)."""
    found = resolve(path, folders)
    return isinstance(found, Resolved) and found.kind == ABSENT


def _plain_part(part: str) -> bool:
    return is_name(part) and not part.startswith("__")


def _real(folder: Path) -> Path | None:
    try:
        real = Path(os.path.realpath(folder))
    except (OSError, ValueError):
        return None
    return real if real.is_dir() else None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _installed(top: str, real_roots: list[Path]) -> str | None:
    """Where the environment has a top-level module `top` outside the BYOC folders, or
    None. Only the finders run (no module code, and not what this process happens to
    have imported already); a finder that fails counts as a find."""
    if top in sys.builtin_module_names:
        return "built-in"
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            spec = find(top, None)
        except (ImportError, ValueError, AttributeError, TypeError) as exc:
            return f"a finder says {type(exc).__name__}"
        if spec is None:
            continue
        if spec.origin in ("built-in", "frozen"):
            return spec.origin
        places = [spec.origin] if spec.origin not in (None, "namespace") else []
        places += list(spec.submodule_search_locations or ())
        if not places:
            return "an installed module"
        for place in places:
            real = Path(os.path.realpath(place))
            if not any(_inside(real, root) for root in real_roots):
                return str(place)
    return None


def _module_file(root: Path, parts: list[str]) -> Path | None:
    """`root/a/b.py` or `root/a/b/__init__.py` for module a.b (a folder without
    __init__.py holds no class)."""
    here = root
    for part in parts[:-1]:
        here = here / part
        if not here.is_dir():
            return None
    last = here / parts[-1]
    for candidate in (last.with_name(last.name + ".py"), last / "__init__.py"):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None
