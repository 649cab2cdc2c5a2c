"""The 3.x ports that are more than renames: one named function per conversion.

Each takes the component (its class already the MONAI one, its args already renamed) and
the `Porting`, and returns the new component; an approximation leaves a note.
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler.dialects.legacy import (
    Convert,
    Porting,
    add_note,
    engine_keys,
    listify,
    literal,
    set_arg,
)
from claragen.transpiler.ir import Component, Lit


def scale_by_resolution(comp: Component, p: Porting) -> Component:
    label = literal(comp, "is_label", False)
    comp = comp.with_arg("is_label", None)
    return set_arg(comp, "mode", "nearest" if label else "bilinear", p)


def pos_neg_crop(comp: Component, p: Porting) -> Component:
    """FastCropByPosNegRatio / FastPosNegRatioCropROI -> RandCropByPosNegLabeld."""
    image = literal(comp, "image_key") or literal(comp, "keys") or "image"
    image = image[0] if isinstance(image, list) else image
    label = literal(comp, "label_key", "label")
    comp = set_arg(comp, "keys", [image, label], p)
    comp = set_arg(comp, "image_key", image, p)
    if comp.arg("image_threshold") is None:
        comp = set_arg(comp, "image_threshold", 0, p)
    if comp.arg("num_samples") is None:
        comp = set_arg(comp, "num_samples", 1, p)
    return comp


def random_zoom(comp: Component, p: Porting) -> Component:
    image, label = literal(comp, "image_key", "image"), literal(
        comp, "label_key", "label"
    )
    comp = comp.with_arg("image_key", None).with_arg("label_key", None)
    comp = set_arg(comp, "keys", [image, label], p)
    return set_arg(comp, "mode", ["trilinear", "nearest"], p)


def keys_to_engine_names(comp: Component, p: Porting) -> Component:
    keys = literal(comp, "keys")
    return set_arg(comp, "keys", engine_keys(keys), p) if keys is not None else comp


def seg_ahnet(comp: Component, p: Porting) -> Component:
    psp = literal(comp, "if_use_psp", False)
    comp = comp.with_arg("if_use_psp", None)
    return set_arg(comp, "psp_block_num", 4 if psp else 0, p)


def seg_resnet(comp: Component, p: Porting) -> Component:
    if literal(comp, "use_vae", False):
        p.ctx.diags.error(
            "E403",
            comp.span,
            f"SegResnet with use_vae has no direct MONAI port ({comp.locator})",
            'use MONAI\'s SegResNetVAE through "path": "monai.networks.nets.SegResNetVAE"',
        )
    for name in ("blocks_down", "blocks_up"):
        if comp.arg(name) is not None:
            comp = set_arg(comp, name, listify(literal(comp, name)), p)
    groups = literal(comp, "use_group_normG", 8)
    filters = literal(comp, "init_filters", 8)
    if isinstance(filters, int) and isinstance(groups, int) and filters % groups:
        groups = filters  # MONAI's GroupNorm needs channels divisible by groups
        comp = add_note(
            comp, f"approximation: {filters} norm groups, since {filters} filters"
        )

    norm = (
        ["GROUP", {"num_groups": groups}]
        if literal(comp, "use_group_norm", True)
        else "batch"
    )
    for name in ("use_vae", "use_group_norm", "use_group_normG", "use_batch_norm"):
        comp = comp.with_arg(name, None)
    return set_arg(comp, "norm", norm, p)


def dice_loss(comp: Component, p: Porting) -> Component:
    onehot = literal(comp, "is_onehot_targets", False)
    skip = literal(comp, "skip_background", False)
    smooth = literal(comp, "smooth")
    for name in ("is_onehot_targets", "skip_background", "smooth"):
        comp = comp.with_arg(name, None)
    comp = set_arg(comp, "to_onehot_y", not onehot, p)
    comp = set_arg(comp, "include_background", not skip, p)
    comp = set_arg(comp, "sigmoid" if p.activation == "sigmoid" else "softmax", True, p)
    if smooth is not None:
        comp = set_arg(set_arg(comp, "smooth_nr", smooth, p), "smooth_dr", smooth, p)
    return comp


def focal_loss(comp: Component, p: Porting) -> Component:
    skip = literal(comp, "skip_background", False)
    comp = comp.with_arg("skip_background", None)
    comp = set_arg(comp, "include_background", not skip, p)
    return set_arg(comp, "to_onehot_y", True, p)


def average_dice(comp: Component, p: Porting) -> Component:
    field = literal(comp, "keys", "model")
    pred = engine_keys(field)
    label = literal(comp, "label_key", "label")
    name = literal(comp, "name")
    key = literal(comp, "is_key_metric", False)
    for arg in ("keys", "label_key", "name", "is_key_metric"):
        comp = comp.with_arg(arg, None)
    comp = set_arg(
        comp, "output_transform", f"#monai.handlers.from_engine({[pred, label]!r})", p
    )
    attrs = dict(comp.attrs)
    if name is not None:
        attrs["log_label"] = Lit(comp.span, name)
    if key:
        attrs["is_key_metric"] = Lit(comp.span, True)
    comp = dataclasses.replace(comp, attrs=tuple(attrs.items()))
    if comp.arg("include_background") is None:
        comp = set_arg(comp, "include_background", False, p)
    return comp


def with_learning_rate(comp: Component, p: Porting) -> Component:
    """3.x fed the optimizer {learning_rate} itself (SPEC 2.1)."""
    if comp.arg("lr") is None and "learning_rate" in p.config.globals:
        comp = set_arg(comp, "lr", "{learning_rate}", p)
    return comp


def sliding_window(comp: Component, p: Porting) -> Component:
    return (
        comp
        if comp.arg("sw_batch_size") is not None
        else set_arg(comp, "sw_batch_size", 1, p)
    )


def epochs_bound(name: str) -> Convert:
    def convert(comp: Component, p: Porting) -> Component:
        return set_arg(comp, name, "{epochs}", p) if comp.arg(name) is None else comp

    convert.__name__ = f"{name}_from_epochs"
    return convert
