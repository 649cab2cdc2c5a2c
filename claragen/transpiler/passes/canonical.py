"""Every class by its own name, before any rule sees it (issue 28, item 1).

    {"name": "AsDiscreteD", "args": {"threshold_values": true}}
    -> {"name": "AsDiscreted", ...}      # origin: "AsDiscreteD"

MONAI exports a class under several names (`AsDiscreted`, `AsDiscreteD`,
`AsDiscreteDict`; `UNet`, `Unet`); the component table records, from the class objects
themselves, which name is the class's own (`symbols.aliases`). A class MONAI removed keeps
its aliases' rule too: `AddChannelD` and `AddChannelDict` are `AddChanneld`, which the
migration pass moves to today's class. The pass runs right after the dialect's lowering,
whose rules key on Clara's own names (3.x classes, the `Dice` of a half-ported 4.0 config,
4.0's handlers), which are not MONAI's aliases; every later pass (search, references,
migration rules, checks, targets, optimizations) keys on one spelling and cannot be walked
around by another. The name the
config wrote stays in `origin`, for messages and for `ref`; the script is the same either
way, since both names are one class.
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler import symbols, written
from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Component, Config, Value, map_components, map_config
from claragen.transpiler.monai_history import CLASS_RENAMES


def canonical_component(comp: Component) -> Component:
    if comp.path is not None:
        module, _, name = comp.path.rpartition(".")
        own = symbols.canonical(name)
        older = CLASS_RENAMES.keys() | written.REPLACED
        if module.split(".")[0] == "monai" and own in older:
            # a class MONAI removed, by its path: named as by "name", for the migration
            return dataclasses.replace(comp, name=own, path=None,
                                       origin=comp.origin or comp.path)  # fmt: skip
        if own == name or symbols.lookup_path(comp.path) is None:
            return comp
        return dataclasses.replace(
            comp, path=f"{module}.{own}", origin=comp.origin or name
        )
    if comp.name is None or symbols.canonical(comp.name) == comp.name:
        return comp
    return dataclasses.replace(
        comp, name=symbols.canonical(comp.name), origin=comp.origin or comp.name
    )


def canonical_names(config: Config, ctx: PassContext) -> Config:
    def nested(value: Value) -> Value:
        return canonical_component(value) if isinstance(value, Component) else value

    return map_components(map_config(config, nested), canonical_component)
