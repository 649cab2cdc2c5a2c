"""Component names -> import paths and signatures, from the checked-in table.

`data/components.json` is written by `tools/gen_components.py` from the MONAI, torch and
ignite versions the project pins; a test keeps it in step with what is installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from claragen.transpiler import written
from claragen.transpiler.monai_history import removed_own_name


@dataclass(frozen=True)
class Symbol:
    name: str  # the class name as imported
    module: str  # "monai.networks.nets"; for BYOC, the user's module
    params: (
        tuple[str, ...] | None
    )  # None: unknown (BYOC, never imported at compile time)
    required: tuple[str, ...] = ()
    varkw: bool = False
    byoc: bool = False
    numeric: tuple[
        tuple[str, str], ...
    ] = ()  # (param, annotation) that take numbers only
    # a MONAI transform: whether it is random (RandomizableTrait); None: no MONAI
    # transform, or one of unknown kind (BYOC)
    random: bool | None = None
    # every name a varkw class takes, its **kwargs' too (tools/kwargs_reach.py); None:
    # where they go cannot be read (np.pad, a reader chosen at run time), so any is taken
    kwargs: tuple[str, ...] | None = None
    # a MONAI transform: whether Invertd can undo it (InvertibleTransform); None: not one
    invertible: bool | None = None
    varargs: bool = False  # takes *args
    written: bool = (
        False  # a class the script defines itself (claragen.transpiler.written)
    )

    def accepts(self, arg: str) -> bool:
        if self.params is None or arg in self.params:
            return True
        return self.varkw and (self.kwargs is None or arg in self.kwargs)

    def names(self) -> tuple[str, ...]:
        """What a did-you-mean offers: the signature's names and what **kwargs reach."""
        return tuple(dict.fromkeys((*(self.params or ()), *(self.kwargs or ()))))


@cache
def _table() -> dict:
    text = (
        resources.files("claragen.transpiler")
        .joinpath("data/components.json")
        .read_text()
    )
    return json.loads(text)


def versions() -> dict[str, str]:
    return dict(_table()["versions"])


def bundle_syntax() -> dict[str, list[str]]:
    """What MONAI's bundle parser reads as more than data (gates/names.py)."""
    return {k: list(v) for k, v in _table()["bundle"].items()}


def default_readers() -> list[str]:
    """The image readers LoadImage(d) builds when a config names none."""
    return list(_table().get("readers", ()))


def code_strings() -> dict[str, dict[str, list[str]]]:
    """class -> {arg: the names MONAI documents for it}: the args a MONAI class resolves to
    code when they are strings (gates/byoc.py)."""
    return _table()["code_strings"]


def aliases() -> dict[str, str]:
    """MONAI's other names of a class (`AsDiscreteD`, `AsDiscreteDict`, `Unet`) -> the
    class's own name (`AsDiscreted`, `UNet`), from the class objects themselves."""
    return _table()["aliases"]


def canonical(name: str) -> str:
    """The class's own name: the table's for its names, a removed class's by MONAI's
    rule for dictionary transforms (`AddChannelD` -> `AddChanneld`); else unchanged."""
    own = _table()["aliases"].get(name)
    if own is not None or name in _table()["components"]:
        return own or name
    return removed_own_name(name) or name


def component_names() -> list[str]:
    return list(_table()["components"])


@cache
def qualified_names() -> frozenset[str]:
    """Every class of the table by its full name: "monai.transforms.LoadImaged"."""
    return frozenset(f"{e['module']}.{n}" for n, e in _table()["components"].items())


def lookup(name: str) -> Symbol | None:
    entry = _table()["components"].get(name)
    if entry is None:
        if name in written.WRITTEN:  # MONAI dropped it; the script defines it
            return replace(
                from_signature(name, "", written.signature(name)), written=True
            )
        return None
    return from_signature(name, entry["module"], entry)


def from_signature(
    name: str, module: str, sig: dict[str, Any], byoc: bool = False
) -> Symbol:
    """A symbol from `signatures.signature_of`'s dict (the table's entries are those)."""
    return Symbol(
        name=name,
        module=module,
        params=tuple(sig["params"]),
        required=tuple(sig["required"]),
        varkw=sig["varkw"],
        numeric=tuple(sorted(sig["numeric"].items())),
        byoc=byoc,
        random=sig.get("random"),
        kwargs=None if sig.get("kwargs") is None else tuple(sig["kwargs"]),
        invertible=sig.get("invertible"),
        varargs=bool(sig.get("varargs")),
    )


FRAMEWORKS = ("monai", "torch", "ignite")


def lookup_path(path: str) -> Symbol | None:
    """A `path` into MONAI, torch or ignite ("monai.networks.nets.SegResNetVAE"), checked
    against the table by its class name; None for the user's own modules (BYOC) and for
    framework classes the table does not hold."""
    module, _, name = path.rpartition(".")
    root = module.split(".", 1)[0]
    sym = lookup(name) if root in FRAMEWORKS else None
    if sym is None or not (module + ".").startswith(sym.module + "."):
        return None  # the class, in its module or a submodule of it (nets.unet.UNet)
    return sym


def byoc(path: str) -> Symbol:
    module, _, name = path.rpartition(".")
    return Symbol(name=name, module=module, params=None, byoc=True)
