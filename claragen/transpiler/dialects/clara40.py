"""Clara 4.0: the wiring 4.0 left implicit made explicit, as 4.1 writes it (wiring.py),
and what its early-access configs kept of 3.x:

    {"name": "Dice"}                       -> DiceLoss, ported as 3.x (W106 says so)
    "handlers": [{"name": "SegmentationSaver", ...}]
                                           -> "post_transforms": [..., SaveImaged(...)]
    "aux_ops": [{"name": "DiceMaskedOutput"}]
                                           -> the metrics it fed (aux_ops.py)
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects.aux_ops import keep_raw_outputs, port_aux_ops
from claragen.transpiler.dialects.base import Dialect
from claragen.transpiler.dialects.legacy import Porting, value
from claragen.transpiler.dialects.ports import port_component
from claragen.transpiler.dialects.wiring import (
    decollated_transforms,
    split_metrics,
    wire,
)
from claragen.transpiler.ir import (
    Component,
    Config,
    Expr,
    Lit,
    Value,
    Var,
    map_components,
)


def port_clara_names(config: Config, ctx: PassContext) -> Config:
    """The 4.0 early-access configs still name Clara's own classes (`Dice`, `Focal`,
    `NovoGrad`, `ReducePoly`; INDEX.tsv notes): port them as 3.x ones."""
    p = Porting(config, ctx)

    def port(comp: Component) -> Component:
        if comp.name not in CLARA_NAMES or comp.path is not None:
            return comp
        ported = port_component(comp, p)
        ctx.diags.warning(
            "W106",
            comp.name_span or comp.span,
            f"{comp.name!r} is Clara's own class (3.x, medl), not a MONAI one: a "
            f"half-ported 4.0 config; read as {ported.name} ({comp.locator})",
            f'write "name": "{ported.name}" with its args to port it yourself',
        )
        return ported

    return map_components(config, port)


CLARA_NAMES = frozenset({"Dice", "Focal", "NovoGrad", "ReducePoly", "DecayOnStep"})


def port_aux_ops_40(config: Config, ctx: PassContext) -> Config:
    """Half-ported 4.0 early-access configs keep 3.x aux_ops (INDEX.tsv notes)."""
    return keep_raw_outputs(port_aux_ops(config, ctx), ctx)


# Handlers MONAI removed for post-transforms (SPEC 10): class -> (transform, arg renames,
# args it adds, args dropped with a note).
HANDLER_TO_TRANSFORM: dict[str, tuple[str, dict[str, str], dict[str, Any], tuple[str, ...]]] = {
    # MONAI 0.5's SegmentationSaver wrote `<image>_seg.nii.gz`, resampled to the image's
    # original affine and shape: its documented defaults, carried over explicitly (the
    # SaveImaged of today writes `_trans` on the transformed grid)
    "SegmentationSaver": (
        "SaveImaged",
        {"dtype": "output_dtype"},
        {"keys": "pred", "output_postfix": "seg", "output_ext": ".nii.gz",
         "resample": True, "mode": "nearest", "padding_mode": "border",
         "output_dtype": "float32", "squeeze_end_dims": True},
        ("batch_transform", "output_transform", "name"),
    ),
    "TransformInverter": (
        "Invertd",
        {"output_keys": "keys", "batch_keys": "orig_keys"},
        {"keys": "pred", "transform": "@pre_transforms", "orig_keys": "image"},
        ("loader", "collate_fn", "postfix", "meta_key_postfix", "post_func", "num_workers",
         "name"),
    ),
}  # fmt: skip


def handlers_to_post_transforms(config: Config, ctx: PassContext) -> Config:
    """4.0's SegmentationSaver / TransformInverter handlers -> SaveImaged / Invertd, at the
    end of the section's post_transforms (SPEC 10: the handlers were removed)."""
    sections = {}
    for name, slots in config.sections.items():
        handlers = slots.get("handlers")
        if not isinstance(handlers, list) or not any(
            h.class_name in HANDLER_TO_TRANSFORM for h in handlers
        ):
            sections[name] = slots
            continue
        kept, moved = [], []
        for h in handlers:
            rule = HANDLER_TO_TRANSFORM.get(h.class_name) if h.path is None else None
            if rule is None:
                kept.append(h)
                continue
            target, renames, add, drop = rule
            comp = dataclasses.replace(h, name=target)
            if target == "SaveImaged":
                comp = _output_key(comp, h.class_name, ctx)
            for before, after in renames.items():
                if comp.arg(before) is not None:
                    comp = comp.with_arg_renamed(before, after)

            for arg in drop:
                comp = comp.with_arg(arg, None)
            for arg, default in add.items():
                if comp.arg(arg) is None:
                    comp = comp.with_arg(arg, value(default, comp.span, ctx))
            note = (
                f"migrated: the {h.class_name} handler -> the {target} post-transform"
            )
            moved.append(dataclasses.replace(comp, notes=comp.notes + (note,)))
        _same_files(moved, ctx)
        post = slots.get("post_transforms")
        sections[name] = {
            **slots,
            "handlers": kept,
            "post_transforms": (list(post) if isinstance(post, list) else []) + moved,
        }
    return dataclasses.replace(config, sections=sections)


def _output_key(comp: Component, handler: str, ctx: PassContext) -> Component:
    """A handler's `output_transform: "lambda x: x['pred_tc']"` chose what it saved (or
    inverted): the post-transform's keys. Another output_transform is W102: the
    post-transform works on "pred"."""
    transform = comp.arg("output_transform")
    if transform is None or comp.arg("keys") is not None:
        return comp
    body = transform.tree.body if isinstance(transform, Expr) else None
    if (
        isinstance(body, ast.Lambda)
        and len(body.args.args) == 1
        and isinstance(body.body, ast.Subscript)
        and isinstance(body.body.value, ast.Name)
        and body.body.value.id == body.args.args[0].arg
        and isinstance(body.body.slice, ast.Constant)
        and isinstance(body.body.slice.value, str)
    ):
        key = body.body.slice.value
        return comp.with_arg("keys", Lit(transform.span, key))
    ctx.diags.warning(
        "W102",
        transform.span,
        f"{handler}'s output_transform has no counterpart in MONAI's "
        f'{comp.name}, which works on "pred" ({comp.locator})',
        "give the post-transform the keys it should work on",
    )
    return comp


def _same_files(moved: list[Component], ctx: PassContext) -> None:
    """Savers that write the same files (one postfix, one folder, as MONAI 0.5's
    SegmentationSaver defaulted to `_seg`) overwrite each other, as Clara's did: W102.
    """
    seen: dict[tuple[str, str], Component] = {}
    for comp in moved:
        if comp.name != "SaveImaged":
            continue
        where = tuple(_text(comp.arg(a)) for a in ("output_dir", "output_postfix"))
        if where in seen:
            first = seen[where]
            ctx.diags.warning(
                "W102",
                comp.span,
                f"{comp.locator} writes the files {first.locator} writes (one folder, "
                f"one postfix): each case's {_keys(comp)} replaces its {_keys(first)}, "
                "as Clara's savers overwrote each other",
                'give each its own "output_postfix" to keep every one',
            )
        seen.setdefault(where, comp)  # type: ignore[arg-type]


def _text(value: Value | None) -> str:
    """A value as the config wrote it, wherever it was: `{VAR}` or the literal."""
    if isinstance(value, Var):
        return "{" + value.name + "}"
    if isinstance(value, Lit):
        return repr(value.value)
    return "?" if value is None else type(value).__name__ + str(id(value))


def _keys(comp: Component) -> str:
    keys = comp.arg("keys")
    return repr(keys.value) if isinstance(keys, Lit) else "keys"


class Clara40(Dialect):
    name = "4.0"
    title = "Clara 4.0"
    code_strings = True
    RULES = (
        port_aux_ops_40,
        port_clara_names,
        handlers_to_post_transforms,
        split_metrics,
        wire,
        decollated_transforms,
    )
