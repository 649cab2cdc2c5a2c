"""Component names -> import paths and signatures, from the checked-in table.

`data/components.json` is written by `tools/gen_components.py` from the MONAI, torch and
ignite versions the project pins; a test keeps it in step with what is installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


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


def component_names() -> list[str]:
    return list(_table()["components"])


def lookup(name: str) -> Symbol | None:
    entry = _table()["components"].get(name)
    if entry is None:
        return None
    return Symbol(
        name=name,
        module=entry["module"],
        params=tuple(entry["params"]),
        required=tuple(entry["required"]),
        varkw=entry["varkw"],
        numeric=tuple(sorted(entry["numeric"].items())),
    )


def byoc(path: str) -> Symbol:
    module, _, name = path.rpartition(".")
    return Symbol(name=name, module=module, params=None, byoc=True)
