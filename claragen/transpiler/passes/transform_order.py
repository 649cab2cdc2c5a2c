"""A spatial transform before the channel is made first reads a spatial axis as the channel.

    "pre_transforms": [LoadImaged, Spacingd, AddChanneld, ...]
    -> warning[W110]: Spacingd (pre_transforms[1]) runs before EnsureChannelFirstd
       (pre_transforms[2]) on 'image': ...

MONAI 0.5's LoadImaged gave arrays with their meta dicts and its spatial transforms read
the channel from them loosely; since MONAI 0.9 every spatial transform takes a channel-first
MetaTensor, so the 4.0-era order resamples the wrong axes. The pass says so; it does not
reorder the user's pipeline.
"""

from __future__ import annotations

from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Component, Config, is_literal, to_python

CHANNEL_FIRST = frozenset({"EnsureChannelFirstd", "AddChanneld"})
LOADERS = frozenset({"LoadImaged", "LoadNiftid", "LoadNumpyd", "LoadPNGd"})
# Dictionary transforms that take channel-first data and move or resample its axes.
SPATIAL = frozenset({
    "Spacingd", "Orientationd", "CropForegroundd", "RandCropByPosNegLabeld",
    "RandCropByLabelClassesd", "RandSpatialCropd", "RandSpatialCropSamplesd",
    "CenterSpatialCropd", "SpatialCropd", "Resized", "Zoomd", "RandZoomd", "RandFlipd",
    "RandAxisFlipd", "Flipd", "RandRotate90d", "Rotate90d", "RandRotated", "Rotated",
    "RandAffined", "Affined", "Rand3DElasticd", "Rand2DElasticd", "SpatialPadd",
    "DivisiblePadd", "BorderPadd", "ResizeWithPadOrCropd",
})  # fmt: skip


def literal_keys(comp: Component) -> set[str]:
    """The keys a transform names literally (none where they are computed)."""
    value = comp.arg("keys")
    data = to_python(value) if value is not None and is_literal(value) else None
    if isinstance(data, str):
        return {data}
    return {k for k in data if isinstance(k, str)} if isinstance(data, list) else set()


def check_order(transforms: list[Component], ctx: PassContext) -> None:
    loaded: set[str] = set()
    first: set[str] = set()
    for i, comp in enumerate(transforms):
        name = comp.class_name
        keys = literal_keys(comp)
        if name in LOADERS:
            loaded |= keys
        elif name in CHANNEL_FIRST:
            first |= keys
        elif name in SPATIAL and comp.path is None:
            early = sorted((keys & loaded) - first)
            later = next(
                (c for c in transforms[i + 1 :] if c.class_name in CHANNEL_FIRST
                 and literal_keys(c) & set(early)),
                None,
            )  # fmt: skip
            if early and later is not None:
                ctx.diags.warning(
                    "W110",
                    comp.name_span or comp.span,
                    f"{name} ({comp.locator}) runs before {later.class_name} "
                    f"({later.locator}) on {', '.join(map(repr, early))}: in MONAI "
                    "0.9 and later it reads the first spatial axis as the channel",
                    f"move {later.class_name} right after the loader, before {name}",
                )
                first |= set(early)  # said once per pipeline


def check_transform_order(config: Config, ctx: PassContext) -> Config:
    for slots in config.sections.values():
        for key, slot in slots.items():
            if key.endswith("transforms") and isinstance(slot, list):
                check_order([c for c in slot if isinstance(c, Component)], ctx)
    return config
