"""Clara 3.x aux ops and the `ComputeAverage` metrics that read their tags.

aux_ops: [{"name": "DiceMaskedOutput", "args": {"tags": ["dice"]}}]
metrics: [{"name": "ComputeAverage", "args": {"name": "val_dice", "field": "dice"}}]
-> metrics: [MeanDice(include_background=...)]

aux_ops: [{"name": "NegLoss", "args": {"tag": "negloss"}}]
metrics: [{"name": "ComputeAverage", "args": {"name": "negloss", "field": "negloss"}}]
-> metrics: [ClaraNegLoss(loss=@loss, output_transform=...)] (written out into the script:
   the negated loss of the raw output, which CopyItemsd keeps before the post-transforms)
"""

from __future__ import annotations

import dataclasses
import math

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import did_you_mean
from claragen.transpiler.dialects.legacy import Porting, literal, make
from claragen.transpiler.dialects.ports import port_component
from claragen.transpiler.ir import Component, Config, Lit, Slot

# what ClaraNegLoss reads: the network's output and the label before the post-transforms
RAW = {"pred": "pred_raw", "label": "label_raw"}
RAW_OUTPUTS = f"#monai.handlers.from_engine({list(RAW.values())!r})"

# ComputeAverage's args (CLARA_COMPONENTS.md, 6: documented in full) and their defaults
AVERAGE_ARGS = {"name": None, "field": None, "is_key_metric": False,
                "negate_value": False, "invalid_value": math.nan, "report_path": None,
                "do_summary": True, "do_print": True}  # fmt: skip
# what the script does instead of an arg it does not honour, where it is not the default
AVERAGE_INSTEAD = {
    "invalid_value": "it averages every case whose value is not NaN",
    "report_path": "it writes no per-case report",
    "do_summary": "it logs the metric to TensorBoard as every other",
    "do_print": "it prints the metric as every other",
}


def _average_args(comp: Component, ctx: PassContext, honoured: set[str]) -> bool:
    """Check a ComputeAverage's args against Clara's documented ones: an unknown arg is
    E401; one the script does not honour, given other than its default, is W102."""
    ok = True
    for arg, _ in comp.args:
        if arg not in AVERAGE_ARGS:
            ctx.diags.error(
                "E401",
                comp.arg_span(arg),
                f"ComputeAverage takes no argument {arg!r} ({comp.locator})",
                did_you_mean(arg, AVERAGE_ARGS) or "remove it",
            )
            ok = False
        elif arg in AVERAGE_INSTEAD and arg not in honoured:
            given = literal(comp, arg, "(not a literal)")
            nan = isinstance(given, float) and math.isnan(given)
            if given == AVERAGE_ARGS[arg] or nan and arg == "invalid_value":
                continue
            ctx.diags.warning(
                "W102",
                comp.arg_span(arg),
                f"ComputeAverage's {arg}={given!r}: {AVERAGE_INSTEAD[arg]} "
                f"({comp.locator})",
                "remove it, or change the written-out metric in the script",
            )
    return ok


def port_aux_ops(config: Config, ctx: PassContext) -> Config:
    """aux_ops feed ComputeAverage metrics by tag: DiceMaskedOutput's tag -> MeanDice; a
    NegLoss tag (the negated loss) -> ClaraNegLoss; any other is left out where not key.
    """
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
        negates = op.name == "NegLoss"
        if not _average_args(comp, ctx, {"negate_value"} if negates else set()):
            return None  # (the error says why)
        attrs = {"log_label": Lit(comp.span, literal(comp, "name", tag))}
        if literal(comp, "is_key_metric", False):
            attrs["is_key_metric"] = Lit(comp.span, True)
        if op.name == "DiceMaskedOutput":
            if literal(comp, "negate_value", False) is not False:
                ctx.diags.warning(
                    "W102",
                    comp.arg_span("negate_value"),
                    f"ComputeAverage's negate_value of a Dice: the script averages "
                    f"the Dice itself, higher better ({comp.locator})",
                    "remove negate_value",
                )
            skip = bool(literal(op, "skip_background", False))
            new = make("MeanDice", comp.locator, comp.span,
                       {"include_background": not skip,
                        "output_transform": "#monai.handlers.from_engine(['pred', 'label'])"},
                       ctx, note=f"Clara 3.x ComputeAverage of DiceMaskedOutput "
                       f"(line {op.span.line}) -> MeanDice")  # fmt: skip
            return dataclasses.replace(new, attrs=tuple(attrs.items()))
        if op.name == "NegLoss":
            args = {"loss": "@loss", "output_transform": RAW_OUTPUTS}
            if (negate := comp.arg("negate_value")) is not None:
                args["negate_value"] = negate
            new = make("ClaraNegLoss", comp.locator, comp.span, args,
                       ctx, note=f"Clara 3.x ComputeAverage of NegLoss (line "
                       f"{op.span.line}): the loss negated, written out below")  # fmt: skip
            return dataclasses.replace(
                new, attrs=tuple(attrs.items()), origin="NegLoss + ComputeAverage"
            )
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


def keep_raw_outputs(config: Config, ctx: PassContext) -> Config:
    """Before a section's post-transforms (an activation, an argmax, a one-hot label), a
    copy of the output and the label as the loss reads them, where a ClaraNegLoss metric
    of the section reads them (after port_aux_ops, and after 3.x's post-transforms are
    made)."""
    sections = dict(config.sections)
    for name, slots in config.sections.items():
        metrics = slots.get("metrics")
        if not any(
            isinstance(m, Component) and m.name == "ClaraNegLoss"
            for m in (metrics if isinstance(metrics, list) else [])
        ):
            continue
        span = config.section_spans.get(name, config.span)
        copy = make("CopyItemsd", name, span,
                    {"keys": list(RAW), "names": list(RAW.values())}, ctx,
                    note="the output and the label before the post-transforms, which "
                    "ClaraNegLoss (Clara 3.x's NegLoss) reads")  # fmt: skip
        post = slots.get("post_transforms")
        sections[name] = {
            **slots,
            "post_transforms": [copy, *(post if isinstance(post, list) else [])],
        }
    return dataclasses.replace(config, sections=sections)
