"""Drop disabled components; a list of alternatives must leave exactly one (SPEC 3).

"handlers": [{"name": "CheckpointLoader", "disabled": true}, {"name": "StatsHandler"}]
-> "handlers": [StatsHandler]

"loss": [{"name": "DiceLoss", "disabled": false}, {"name": "FocalLoss", "disabled": true}]
-> "loss": DiceLoss
"""

from __future__ import annotations

import dataclasses
import json

from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Component, Config, Lit, Slot

# Sections whose value is a list of components; any other key holds one component, and a
# list there is a list of alternatives of which exactly one is enabled.
LIST_SLOTS = frozenset(
    {
        "pre_transforms",
        "post_transforms",
        "handlers",
        "additional_metrics",
        "metrics",
        "aux_ops",
        "batch_transforms",
        "label_transforms",
        "writers",
        "val_metrics",
    }
)


def is_disabled(comp: Component, ctx: PassContext) -> bool:
    if comp.disabled is None:
        return False
    if isinstance(comp.disabled, Lit) and isinstance(comp.disabled.value, bool):
        return comp.disabled.value
    if isinstance(comp.disabled, Lit) and comp.disabled.value in (
        "true",
        "false",
        "True",
        "False",
    ):
        return comp.disabled.value.lower() == "true"
    ctx.diags.error(
        "E303",
        comp.disabled.span,
        f"'disabled' of {comp.locator} must be true or false",
        'use a boolean, or a variable that holds one: "disabled": "{dont_load_ckpt_model}"',
    )
    return False


def prune_disabled(config: Config, ctx: PassContext) -> Config:
    sections: dict[str, dict[str, Slot]] = {}
    for section, slots in config.sections.items():
        new: dict[str, Slot] = {}
        for key, slot in slots.items():
            if isinstance(slot, Component):
                if not is_disabled(slot, ctx):
                    new[key] = slot
            elif isinstance(slot, list):
                enabled = [c for c in slot if not is_disabled(c, ctx)]
                if key in LIST_SLOTS or not slot:
                    new[key] = enabled
                elif len(enabled) == 1:
                    new[key] = enabled[0]
                else:
                    names = ", ".join(
                        f"{c.class_name} (line {c.span.line})" for c in slot
                    )
                    what = "none" if not enabled else f"{len(enabled)}"
                    ctx.diags.error(
                        "E304",
                        slot[0].span,
                        f"{section}.{key} is a list of alternatives with {what} enabled; "
                        f"exactly one must be: {names}" + _job_values(slot, ctx),
                        "set 'disabled' (or an 'apply' of '@disabled') so that one stays",
                    )
                    new[key] = (enabled or slot)[0]  # so that '@key' still resolves
            else:
                new[key] = slot
        sections[section] = new
    return dataclasses.replace(config, sections=sections)


def _job_values(slot: list[Component], ctx: PassContext) -> str:
    """', in job J0003 with :d1,d2 = [true, true]': the search values that caused it."""
    params = [p for c in slot for p in ctx.disabled_by.get(c.locator, [])]
    if ctx.job_values is None or not params:
        return ""
    shown = ", ".join(
        f"{p} = {json.dumps(ctx.job_values[p])}"
        for p in dict.fromkeys(params)
        if p in ctx.job_values
    )
    return f", in job {ctx.job_id} with {shown}" if shown else ""
