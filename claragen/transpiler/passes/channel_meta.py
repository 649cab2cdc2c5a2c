"""Where MONAI 1.x can no longer find a key's channel (issue 29, item 3).

MONAI 0.8, which Clara 4.x ran on, kept an image's metadata in a dict beside it
(`label_meta_dict`): a user's `Lambdad` between `LoadImaged` and `EnsureChannelFirstd`
that replaced the label (binarised it with numpy) left that dict alone, and
EnsureChannelFirstd read its `original_channel_dim` there. MONAI 1.x keeps the
metadata on the tensor, and where the lambda's result is of numpy's making MONAI turns
it back into a tensor with none, so EnsureChannelFirstd stops at the first case
("Unknown original_channel_dim in the MetaTensor meta dict").

This pass follows each key through a transform list: LoadImaged loads it, a Lambdad
that overwrites it may replace its metadata, and where an EnsureChannelFirstd then reads
the key's channel, that Lambdad's result is given the metadata of what the lambda was
given (`monai.data.MetaTensor(BODY, meta=x.meta)`), as MONAI 0.8 kept it: the channel is
the file's own, whatever the lambda calls and whatever the file's channels (a first
version told EnsureChannelFirstd `channel_dim="no_channel"`, which made a 4D image 5D).
"""

from __future__ import annotations

import ast
import dataclasses

from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects.legacy import add_note
from claragen.transpiler.ir import Component, Config, Expr, Lit
from claragen.transpiler.passes.transform_order import literal_keys

LOADERS = frozenset({"LoadImaged"})
REPLACERS = frozenset({"Lambdad"})  # their function's result may carry no metadata
READERS = frozenset({"EnsureChannelFirstd"})


def channel_dims(items: list) -> list:
    """The transform list, each Lambdad whose key an EnsureChannelFirstd reads after it
    made to keep that key's metadata."""
    lost: dict[str, int] = {}  # key -> where the Lambdad that replaced it is in `out`
    out: list = []
    for comp in items:
        if not isinstance(comp, Component) or comp.path is not None:
            out.append(comp)
            continue
        keys = literal_keys(comp)
        name = comp.class_name
        if name in LOADERS:
            for key in keys:
                lost.pop(key, None)
        elif name in REPLACERS and _overwrites(comp):
            lost.update({key: len(out) for key in keys})
        elif name in READERS and comp.arg("channel_dim") is None:
            for at in sorted({lost.pop(k) for k in keys if k in lost}):
                out[at] = _keeping_metadata(out[at])
        out.append(comp)
    return out


def _overwrites(comp: Component) -> bool:
    """A Lambdad with `overwrite` false, or a new key's name, leaves its key alone."""
    overwrite = comp.arg("overwrite")
    return overwrite is None or (isinstance(overwrite, Lit) and overwrite.value is True)


def _keeping_metadata(comp: Component) -> Component:
    """`lambda x: BODY` -> `lambda x: monai.data.MetaTensor(BODY, meta=x.meta)`: what
    the lambda makes, with the metadata of what it was given. A function that is not a
    lambda of one argument is left as it is."""
    func = comp.arg("func")
    if not isinstance(func, Expr) or not isinstance(func.tree.body, ast.Lambda):
        return comp
    lam = func.tree.body
    if len(lam.args.args) != 1 or lam.args.vararg or lam.args.kwarg:
        return comp
    arg = lam.args.args[0].arg
    meta_tensor = ast.Attribute(ast.Attribute(ast.Name("monai"), "data"), "MetaTensor")
    body = ast.Call(meta_tensor, [lam.body],
                    [ast.keyword("meta", ast.Attribute(ast.Name(arg), "meta"))])  # fmt: skip
    tree = ast.fix_missing_locations(ast.Expression(ast.Lambda(lam.args, body)))
    kept = dataclasses.replace(func, tree=tree, source=ast.unparse(tree))
    note = ("its result keeps the metadata of what it is given, as MONAI 0.8 kept it "
            "beside the image: EnsureChannelFirstd reads the channel there")  # fmt: skip
    comp = comp.with_arg("func", kept)
    return dataclasses.replace(comp, notes=(*comp.notes, note))


def migrate_channel_dims(config: Config, ctx: PassContext) -> Config:
    """Every transform list of the config (pre- and post-transforms of each section),
    after the references (a 3.x `ref` to a ported transform is a copy of its parts)."""
    # the 3.x ports write their own channel handling; their BraTS classes follow it
    each = classes_after_channels_first if config.dialect == "3" else channel_dims
    sections = {
        section: {
            key: (
                each(slot)
                if isinstance(slot, list) and key.endswith("transforms")
                else slot
            )
            for key, slot in slots.items()
        }
        for section, slots in config.sections.items()
    }
    return dataclasses.replace(config, sections=sections)


def classes_after_channels_first(comps: list[Component]) -> list[Component]:
    """Clara 3.x made a BraTS label's classes channels-last, before or after its
    ConvertToChannelsFirst, and got (3, H, W, D) either way. MONAI's conversion stacks
    the classes first, and an EnsureChannelFirstd after it adds a channel to them: a 5D
    label. A conversion before its key's EnsureChannelFirstd (with the parts of its
    port) moves to just after it."""
    out = list(comps)
    for comp in comps:
        if (
            not isinstance(comp, Component)
            or comp.class_name != "ConvertToMultiChannelBasedOnBratsClassesd"
        ):
            continue
        at = next(i for i, c in enumerate(out) if c is comp)
        end = at + 1  # the parts of its port follow it, of its locator
        while end < len(out) and getattr(out[end], "locator", None) == comp.locator:
            end += 1
        parts = out[at:end]
        keys = literal_keys(comp)
        later = [i for i in range(end, len(out)) if isinstance(out[i], Component)
                 and out[i].class_name == "EnsureChannelFirstd"
                 and keys & literal_keys(out[i])]  # fmt: skip
        if later and keys:
            note = "after the label is channel-first, as MONAI's conversion needs it"
            moved = [add_note(parts[0], note), *parts[1:]]
            out = out[:at] + out[end : later[0] + 1] + moved + out[later[0] + 1 :]
    return out
