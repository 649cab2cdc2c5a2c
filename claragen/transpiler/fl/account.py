"""The fate of every setting, component and arg of one Clara FL config (issue 31).

    account(server_config, "server") -> [Item("aggregator", "InTimeAccumulateWeighted
        Aggregator.aggregation_weights", "map", "each site's weight ..."), ...]

Nothing is silent: an item the table does not know has the fate "unknown", a component
of the user's own (a BYO `path`) the fate "byoc", and an object that names no class
(`{}`, or Clara's notebooks' filters switched off as `"name2": ...`) the fate "none". The job's README and the
warnings are made from these items.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claragen.transpiler.fl.table import (
    COMPONENTS,
    NO_COUNTERPART,
    SETTINGS,
    clara_name,
    port_fate,
)

# keys that hold components (one, or a list), by where they sit
COMPONENT_SLOTS = frozenset({
    "aggregator", "model_persistor", "shareable_generator", "handlers", "inbound_filters",
    "outbound_filters", "pre_processors", "post_processors", "model_saver",
    "admin_cmd_modules", "result_processors", "model_validator", "server_trainer",
    "client_trainer", "privacy", "req_processors", "model_reader_writer",
})  # fmt: skip
OBJECTS = ("client", "cross_site_validation")  # objects of settings and components
UNKNOWN, BYOC, NONE = "unknown", "byoc", "none"


@dataclass(frozen=True)
class Item:
    where: str  # "servers.num_rounds", "client.outbound_filters[0]"
    what: str  # the setting, or "Class" / "Class.arg"
    fate: str  # table.FATES, UNKNOWN, BYOC or NONE (an object that names no class)
    how: str


def account(config: dict[str, Any], kind: str) -> list[Item]:
    items: list[Item] = []
    for key, value in config.items():
        if key == "servers" and isinstance(value, list):
            for server in value:
                for k in server if isinstance(server, dict) else ():
                    items.append(_setting(kind, f"servers.{k}"))
        elif key in OBJECTS and isinstance(value, dict):
            for k, v in value.items():
                if k in COMPONENT_SLOTS:
                    items += _components(f"{key}.{k}", v)
                else:
                    items.append(_setting(kind, f"{key}.{k}"))
        elif key in COMPONENT_SLOTS:
            items += _components(key, value)
        else:
            items.append(_setting(kind, key))
    return items


def _setting(kind: str, where: str) -> Item:
    fate = SETTINGS.get((kind, where))
    if fate is None:
        return Item(where, where, UNKNOWN, "a setting claragen does not know")
    return Item(where, where, fate.fate, fate.how)


def _components(where: str, value: Any) -> list[Item]:
    if isinstance(value, list):
        return [i for n, v in enumerate(value) for i in _components(f"{where}[{n}]", v)]
    if not isinstance(value, dict):
        return [Item(where, where, UNKNOWN, "not a component")]
    name, path = value.get("name"), value.get("path")
    if name is None and path is None:  # `{}`, or an entry switched off ("name2": ...)
        keys = ", ".join(sorted(value)) or "none"
        return [Item(where, "-", NONE, f"no component (no name or path; keys: {keys})")]
    clara = clara_name(name, path)
    if clara is None:
        return [Item(where, str(path), BYOC, "the user's own class (BYOC)")]
    if clara in NO_COUNTERPART:
        return [Item(where, clara, UNKNOWN, NO_COUNTERPART[clara])]
    port = COMPONENTS.get(clara)
    if port is None:
        return [
            Item(where, clara, UNKNOWN, "a Clara FL component claragen does not know")
        ]
    items = [Item(where, clara, port_fate(port), port.how or f"-> {port.target}")]
    for arg in value.get("args") or {}:
        fate = port.args.get(arg)
        items.append(
            Item(f"{where}.{arg}", f"{clara}.{arg}", fate.fate, fate.how)
            if fate is not None
            else Item(f"{where}.{arg}", f"{clara}.{arg}", UNKNOWN,
                      f"an arg of {clara} claragen does not know")  # fmt: skip
        )
    return items
