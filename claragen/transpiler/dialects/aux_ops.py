"""Clara 3.x aux ops and the `ComputeAverage` metrics that read their tags.

aux_ops: [{"name": "DiceMaskedOutput", "args": {"tags": ["dice"]}}]
metrics: [{"name": "ComputeAverage", "args": {"name": "val_dice", "field": "dice"}}]
-> metrics: [MeanDice(include_background=...)]
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects.legacy import Porting, literal, make
from claragen.transpiler.dialects.ports import port_component
from claragen.transpiler.ir import Component, Config, Lit, Slot


def port_aux_ops(config: Config, ctx: PassContext) -> Config:
    """aux_ops feed ComputeAverage metrics by tag: DiceMaskedOutput's tag -> MeanDice; a
    NegLoss tag (the negated loss) has no metric here and is left out where not key."""
    train = config.sections.get("train", {})
    aux = train.get("aux_ops")
    if not isinstance(aux, list):
        return config
    tags: dict[str, Component] = {}
    for op in aux:
        names = literal(op, "tags") or [literal(op, "tag")]
        for tag in names if isinstance(names, list) else [names]:
            if isinstance(tag, str):
                tags[tag] = op
    p = Porting(config, ctx)
    used: set[int] = set()

    def metric(comp: Component) -> Component | None:
        tag = literal(comp, "field")
        op = (
            tags.get(tag)
            if comp.name == "ComputeAverage" and isinstance(tag, str)
            else None
        )
        if op is None:
            return comp
        used.add(id(op))
        attrs = {"log_label": Lit(comp.span, literal(comp, "name", tag))}
        if literal(comp, "is_key_metric", False):
            attrs["is_key_metric"] = Lit(comp.span, True)
        if op.name == "DiceMaskedOutput":
            skip = bool(literal(op, "skip_background", False))
            new = make("MeanDice", comp.locator, comp.span,
                       {"include_background": not skip,
                        "output_transform": "#monai.handlers.from_engine(['pred', 'label'])"},
                       ctx, note=f"Clara 3.x ComputeAverage of DiceMaskedOutput "
                       f"(line {op.span.line}) -> MeanDice")  # fmt: skip
            return dataclasses.replace(new, attrs=tuple(attrs.items()))
        if "is_key_metric" in attrs:
            port_component(op, p)  # no equivalent: the error says so
            return comp
        ctx.diags.warning(
            "W101",
            comp.span,
            f"the metric {literal(comp, 'name', tag)!r} averages the {op.name} aux op, which "
            "has no MONAI equivalent; it is left out",
        )
        return None

    sections = {}
    for name, slots in config.sections.items():
        new: dict[str, Slot] = {}
        for key, slot in slots.items():
            if key == "metrics" and isinstance(slot, list):
                slot = [m for m in (metric(c) for c in slot) if m is not None]
            new[key] = slot
        sections[name] = new
    for op in aux:
        if id(op) not in used:  # it fed the TensorFlow graph's summaries only
            ctx.diags.warning(
                "W101",
                op.span,
                f"the aux op {op.name!r} feeds no metric ({op.locator}); it is left out",
            )
    sections["train"] = {k: v for k, v in sections["train"].items() if k != "aux_ops"}
    return dataclasses.replace(config, sections=sections)
