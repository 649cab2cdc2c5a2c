"""Where MONAI 1.x can no longer find a key's channel (issue 29, item 3).

MONAI 0.8, which Clara 4.x ran on, kept an image's metadata in a dict beside it
(`label_meta_dict`): a user's `Lambdad` between `LoadImaged` and `EnsureChannelFirstd`
that replaced the label (binarised it with numpy) left that dict alone, and
EnsureChannelFirstd read its `original_channel_dim` there. MONAI 1.x keeps the
metadata on the tensor, and the lambda's result has none, so EnsureChannelFirstd stops
at the first case ("Unknown original_channel_dim in the MetaTensor meta dict").

This pass follows each key through a transform list: LoadImaged records the channel,
a Lambdad replaces the tensor without it, and an EnsureChannelFirstd that reads it for
such a key is given `channel_dim="no_channel"` for that key (split from the keys whose
metadata survived), with a W102 that names the assumption: a file without a channel
dimension, as Clara's configs load labels. A transform of the user's own (BYOC) may
keep the metadata or not: nothing is assumed for it.
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Component, ListV, Lit, Value

LOADERS = frozenset({"LoadImaged"})
REPLACERS = frozenset({"Lambdad"})  # they give MONAI a tensor without metadata
READERS = frozenset({"EnsureChannelFirstd"})


def channel_dims(items: list, ctx: PassContext) -> list:
    """The transform list, each EnsureChannelFirstd told the channel of the keys whose
    metadata a Lambdad replaced since they were loaded."""
    lost: dict[str, Component] = {}  # key -> the transform that replaced it
    out: list = []
    for comp in items:
        keys = _keys(comp.arg("keys")) if isinstance(comp, Component) else None
        if not isinstance(comp, Component) or comp.path is not None or keys is None:
            out.append(comp)
            continue
        name = comp.class_name
        if name in LOADERS:
            for key in keys:
                lost.pop(key, None)
        elif name in REPLACERS:
            lost.update({key: comp for key in keys})
        elif name in READERS and comp.arg("channel_dim") is None:
            gone = [k for k in keys if k in lost]
            if gone:
                kept = [k for k in keys if k not in lost]
                if kept:
                    out.append(comp.with_arg("keys", _keys_value(comp, kept)))
                out.append(_told(comp, gone, lost[gone[0]], ctx))
                continue
        out.append(comp)
    return out


def _told(comp: Component, keys: list[str], replacer: Component, ctx: PassContext):
    span = comp.arg_span("keys")
    names = ", ".join(repr(k) for k in keys)
    ctx.diags.warning(
        "W102",
        comp.name_span or comp.span,
        f"{comp.class_name} ({comp.locator}) gets channel_dim='no_channel' for {names}: "
        f"the {replacer.class_name} before it ({replacer.locator}) gives MONAI 1.x a "
        "tensor without the channel LoadImaged recorded (MONAI 0.8 kept it in a dict "
        "beside the image); a file without a channel dimension is assumed",
        "if those files have channels, give the EnsureChannelFirstd its channel_dim",
    )
    told = comp.with_arg("keys", _keys_value(comp, keys))
    told = told.with_arg("channel_dim", Lit(span, "no_channel"))
    note = (f"channel_dim='no_channel' for {names}: {replacer.class_name} dropped the "
            "channel metadata MONAI 1.x reads")  # fmt: skip
    return dataclasses.replace(told, notes=(*told.notes, note))


def _keys(value: Value | None) -> list[str] | None:
    if isinstance(value, Lit) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, ListV) and all(
        isinstance(v, Lit) and isinstance(v.value, str) for v in value.items
    ):
        return [v.value for v in value.items]  # type: ignore[union-attr]
    return None


def _keys_value(comp: Component, keys: list[str]) -> Value:
    span = comp.arg_span("keys")
    if len(keys) == 1:
        return Lit(span, keys[0])
    return ListV(span, tuple(Lit(span, k) for k in keys))


def migrate_channel_dims(config, ctx: PassContext):
    """Every transform list of the config (pre- and post-transforms of each section)."""
    if config.dialect == "3":  # the 3.x ports write their own channel handling
        return config
    sections = {
        section: {
            key: (
                channel_dims(slot, ctx)
                if isinstance(slot, list) and key.endswith("transforms")
                else slot
            )
            for key, slot in slots.items()
        }
        for section, slots in config.sections.items()
    }
    return dataclasses.replace(config, sections=sections)
