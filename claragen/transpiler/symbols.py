"""Component names -> import paths and signatures, from the checked-in table.

`data/components.json` is written by `tools/gen_components.py` from the MONAI, torch and
ignite versions the project pins; a test keeps it in step with what is installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


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

    def accepts(self, arg: str) -> bool:
        return self.params is None or self.varkw or arg in self.params


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


def code_strings() -> dict[str, dict[str, list[str]]]:
    """class -> {arg: the names MONAI documents for it}: the args a MONAI class resolves to
    code when they are strings (gates/byoc.py)."""
    return _table()["code_strings"]


def component_names() -> list[str]:
    return list(_table()["components"])


@cache
def qualified_names() -> frozenset[str]:
    """Every class of the table by its full name: "monai.transforms.LoadImaged"."""
    return frozenset(f"{e['module']}.{n}" for n, e in _table()["components"].items())


def lookup(name: str) -> Symbol | None:
    entry = _table()["components"].get(name)
    if entry is None:
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
