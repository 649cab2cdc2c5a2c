"""The 3.x ports that are more than renames: one named function per conversion.

Each takes the component (its class already the MONAI one, its args already renamed) and
the `Porting`, and returns the new component; an approximation leaves a note.
"""

from __future__ import annotations

import dataclasses
import math

from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects.legacy import (
    KEY_NAMES,
    Convert,
    Porting,
    add_note,
    engine_keys,
    listify,
    literal,
    make,
    set_arg,
)
from claragen.transpiler.ir import Component, ListV, Lit, Value, is_literal, to_python


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
    comp = set_arg(comp, "label_key", label, p)
    comp = set_arg(comp, "image_key", image, p)
    if comp.arg("image_threshold") is None:
        comp = set_arg(comp, "image_threshold", 0, p)
    if comp.arg("num_samples") is None:
        comp = set_arg(comp, "num_samples", 1, p)
    return comp


def random_zoom(comp: Component, p: Porting) -> Component:
    image, label = (
        literal(comp, "image_key", "image"),
        literal(comp, "label_key", "label"),
    )
    comp = comp.with_arg("image_key", None).with_arg("label_key", None)
    comp = set_arg(comp, "keys", [image, label], p)
    return set_arg(comp, "mode", ["trilinear", "nearest"], p)


def keys_to_engine_names(comp: Component, p: Porting) -> Component:
    keys = literal(comp, "keys")
    return set_arg(comp, "keys", engine_keys(keys), p) if keys is not None else comp


def seg_ahnet(comp: Component, p: Porting) -> Component:
    """`if_use_psp` -> psp_block_num; `pretrain_weight_name` -> pretrained=True: Clara
    started AH-Net's encoder from ImageNet ResNet-50 weights, the initialisation MONAI's
    AHNet(pretrained=True) loads (torchvision's, fetched once into its cache)."""
    psp = literal(comp, "if_use_psp", False)
    comp = comp.with_arg("if_use_psp", None)
    weights = comp.arg("pretrain_weight_name")
    if weights is not None:
        comp = comp.with_arg("pretrain_weight_name", None)
        named = to_python(weights) if is_literal(weights) else True  # {VAR}: a file
        if named not in ("", None, False):
            comp = add_note(
                set_arg(comp, "pretrained", True, p),
                "3.x pretrain_weight_name -> pretrained=True: ImageNet ResNet-50 "
                "weights, as Clara's (torchvision downloads them once)",
            )
    return set_arg(comp, "psp_block_num", 4 if psp else 0, p)


def keras_unet(comp: Component, p: Porting) -> Component:
    """Clara 3.x's Unet, a Keras encoder-decoder of `nf_enc` encoder and `nf_dec`
    decoder widths, has no MONAI class. The closest MONAI network is UNet with the
    encoder's widths (`nf_enc`, then the first decoder width at the bottom) and one stride
    2 per encoder level; where the config gives no widths, NVIDIA's own 4.x port's UNet.
    The architecture differs either way, and a warning names both."""
    enc = listify(literal(comp, "nf_enc"))
    dec = listify(literal(comp, "nf_dec"))
    comp = comp.with_arg("nf_enc", None).with_arg("nf_dec", None)
    clara = "Clara 3.x's Unet (a Keras encoder-decoder"
    if _ints(enc) and (dec is None or _ints(dec)):
        channels = [*enc, dec[0] if dec else enc[-1]]
        comp = set_arg(comp, "channels", channels, p)
        comp = set_arg(comp, "strides", [2] * len(enc), p)
        clara += f" of encoder widths {enc}" + (
            f" and decoder widths {dec}" if dec else ""
        )
        monai = (
            f"MONAI's UNet(channels={channels}, strides={[2] * len(enc)}): the encoder's "
            "widths are kept, its decoder mirrors the encoder"
            + (" (nf_dec's widths are not kept)" if dec else "")
        )
    else:
        monai = (
            f"MONAI's UNet(channels={UNET_CHANNELS}, strides={UNET_STRIDES}), as NVIDIA's "
            "own 4.x port built it"
        )
    message = (
        f"{clara}) has no MONAI class; it is ported as {monai}, with residual units"
    )
    p.ctx.diags.warning(
        "W102",
        comp.name_span or comp.span,
        f"{message} ({comp.locator})",
        "the trained network differs from Clara's: compare its results before you "
        'rely on them, or give your own network as "path" (BYOC)',
    )
    return add_note(comp, f"approximation: {message}")


def _ints(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


# NVIDIA's 4.x port of the 3.x Unet (port_table.UNET is built from them)
UNET_CHANNELS = [16, 32, 64, 128, 256]
UNET_STRIDES = [2, 2, 2, 2]


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
    """skip_background / is_onehot_targets are the negations of MONAI's args; Clara's
    network applied final_activation, MONAI's loss does (SPEC 8)."""
    onehot = literal(comp, "is_onehot_targets", False)
    skip = literal(comp, "skip_background", False)
    for name in ("is_onehot_targets", "skip_background"):
        comp = comp.with_arg(name, None)
    comp = set_arg(comp, "to_onehot_y", not onehot, p)
    comp = set_arg(comp, "include_background", not skip, p)
    return activated(comp, p)


def activated(comp: Component, p: Porting) -> Component:
    """A loss of MONAI's that applies the activation Clara's network applied (its
    final_activation): sigmoid=True or softmax=True, neither for a linear one."""
    if p.activation in ("sigmoid", "softmax"):
        comp = set_arg(comp, p.activation, True, p)
    return comp


def onehot_activated(comp: Component, p: Porting) -> Component:
    """CrossEntropy, CrossEntropyDice, FocalDice: labels made one-hot unless Clara was
    told they are (is_onehot_targets), and the network's activation."""
    onehot = literal(comp, "is_onehot_targets", False)
    comp = set_arg(
        comp.with_arg("is_onehot_targets", None), "to_onehot_y", not onehot, p
    )
    return activated(comp, p)


def focal_loss(comp: Component, p: Porting) -> Component:
    """As dice_loss: Clara's network applied final_activation (softmax by default), so
    MONAI's FocalLoss, which applies a sigmoid unless told, is told use_softmax."""
    skip = literal(comp, "skip_background", False)
    comp = comp.with_arg("skip_background", None)
    comp = set_arg(comp, "include_background", not skip, p)
    comp = set_arg(comp, "to_onehot_y", True, p)
    if p.activation == "softmax":
        comp = set_arg(comp, "use_softmax", True, p)
    return comp


def average_dice(comp: Component, p: Porting) -> Component:
    """ComputeAverageDice{name, field, label_field, remove_bg=True} -> MeanDice reading
    those keys, logged by name."""
    pred = engine_keys(literal(comp, "keys", "model"))
    label = literal(comp, "label_key", "label")
    remove_bg = literal(comp, "remove_bg", True)
    comp = _metric_attrs(comp.with_arg("remove_bg", None))
    comp = set_arg(
        comp, "output_transform", f"#monai.handlers.from_engine({[pred, label]!r})", p
    )
    if comp.arg("include_background") is None:
        comp = set_arg(comp, "include_background", not remove_bg, p)
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


def load_image(comp: Component, p: Porting) -> Component:
    """LoadNifti's `as_closest_canonical` is an arg of MONAI's NibabelReader, which
    LoadImaged passes its extra args to."""
    if comp.arg("as_closest_canonical") is not None and comp.arg("reader") is None:
        comp = set_arg(comp, "reader", "NibabelReader", p)
    return comp


def gaussian_noise(comp: Component, p: Porting) -> Component:
    """AddGaussianNoise takes the noise's variance (default 0.1); RandGaussianNoised its std."""
    given = comp.arg("variance")
    variance = literal(comp, "variance", 0.1)
    comp = comp.with_arg("variance", None)
    if given is not None and not isinstance(variance, int | float):
        return add_note(
            comp.with_arg("std", given),
            "approximation: the config's variance is not a number here; given as std",
        )
    std = round(float(variance) ** 0.5, 6)
    comp = set_arg(comp, "std", std, p)
    return add_note(comp, f"Clara's variance {variance} -> std {std}")


def random_rotate_2d(comp: Component, p: Porting) -> Component:
    """RandomRotate2D{angle (degrees), is_random} -> RandRotated(range_x, radians), or a
    fixed Rotated when is_random is false."""
    angle = literal(comp, "angle")
    fixed = literal(comp, "is_random", True) is False
    comp = comp.with_arg("angle", None).with_arg("is_random", None)
    radians = None
    if isinstance(angle, int | float) and not isinstance(angle, bool):
        radians = round(math.radians(angle), 6)
    elif angle is not None:
        comp = add_note(comp, "approximation: the config's angle is not a number here")
    if fixed:
        comp = dataclasses.replace(comp, name="Rotated").with_arg("prob", None)
        return set_arg(comp, "angle", radians if radians is not None else 0.0, p)
    if radians is not None:
        comp = set_arg(comp, "range_x", radians, p)
    return comp


BRATS = {
    "TC": "TC",
    "WT": "WT",
    "WC": "WT",
    "ET": "ET",
}
BRATS_ORDER = ("TC", "WT", "ET")  # the channels of MONAI's transform, in its order


def brats_classes(comp: Component, p: Porting) -> list[Component]:
    """Clara 3.x's ConvertToMultiChannelBasedOnBratsClasses made one float channel per
    name of `class_names` (TC, WC/WT, ET; all three by default), in the config's order.
    MONAI's transform makes TC, WT, ET as booleans: the port selects the named channels
    in that order where they differ, and casts to the config's `dtype` (float32 by
    default), as Clara's TensorFlow transform gave them (issue 29, items 1 and 4: a
    boolean label stopped the first Dice with `squared_pred`)."""
    names, span = literal(comp, "class_names"), comp.arg_span("class_names")
    dtype = literal(comp, "dtype", "float32")
    comp = comp.with_arg("class_names", None).with_arg("dtype", None)
    keys = comp.arg("keys")
    wanted = ([BRATS.get(str(n).upper()) for n in names]
              if isinstance(names, list) else None)  # fmt: skip
    parts = [comp]
    if names is not None and (not wanted or None in wanted):
        p.ctx.diags.error(
            "E403",
            span,
            f"ConvertToMultiChannelBasedOnBratsClasses with class_names {names!r}: "
            f"Clara documents the BraTS classes TC, WT (or WC) and ET, and no other "
            f"({comp.locator})",
            'name some of "TC", "WT", "ET", or give your own class as "path": '
            '"my_module.MyBratsClasses" (BYOC)',
        )
    elif wanted is not None and wanted != list(BRATS_ORDER):
        channels = [BRATS_ORDER.index(w) for w in wanted]
        parts.append(make(
            "Lambdad", comp.locator, comp.span,
            {"keys": keys, "func": f"lambda x: x[{channels}]"}, p.ctx,
            note=f"class_names {names}: MONAI's channels {list(BRATS_ORDER)} -> "
                 f"{wanted}, the config's",
        ))  # fmt: skip
    parts.append(make(
        "CastToTyped", comp.locator, comp.span, {"keys": keys, "dtype": str(dtype)},
        p.ctx, note=f"Clara 3.x's classes were {dtype}; MONAI's are booleans",
    ))  # fmt: skip
    return parts


def restore_original_shape(comp: Component, p: Porting) -> Component:
    """RestoreOriginalShape{field, is_label, src_field} -> Invertd of the pre-transforms."""
    field = literal(comp, "keys", "model")
    source = literal(comp, "src_field", "image")
    label = literal(comp, "is_label", False)
    for name in ("keys", "src_field", "is_label"):
        comp = comp.with_arg(name, None)
    comp = set_arg(comp, "keys", engine_keys(field), p)
    comp = set_arg(comp, "transform", "@pre_transforms", p)
    comp = set_arg(comp, "orig_keys", source, p)
    return set_arg(comp, "nearest_interp", bool(label), p)


def process_multiclass_preds(comp: Component, p: Porting) -> list[Component]:
    """ProcessMulticlassPreds{field} -> Activationsd(softmax) + AsDiscreted(argmax)."""
    keys = engine_keys(literal(comp, "keys", "model"))
    activation = dataclasses.replace(comp, name="Activationsd", args=())
    activation = set_arg(activation, "keys", keys, p)
    activation = set_arg(activation, "softmax", True, p)
    discrete = dataclasses.replace(comp, name="AsDiscreted", args=(), notes=())
    discrete = set_arg(discrete, "keys", keys, p)
    return [activation, set_arg(discrete, "argmax", True, p)]


def roc_auc(comp: Component, p: Porting) -> Component:
    """ComputeAUC{name, field, label_field} -> ROCAUC reading those keys, logged by name."""
    pred = engine_keys(literal(comp, "keys", "model"))
    label = literal(comp, "label_key", "label")
    comp = _metric_attrs(comp)
    return set_arg(
        comp, "output_transform", f"#monai.handlers.from_engine({[pred, label]!r})", p
    )


def _metric_attrs(comp: Component) -> Component:
    """A 3.x metric's `name` and `is_key_metric` args are the 4.0 component attributes."""
    name = literal(comp, "name")
    key = literal(comp, "is_key_metric", False)
    for arg in ("keys", "label_key", "name", "is_key_metric"):
        comp = comp.with_arg(arg, None)
    attrs = dict(comp.attrs)
    if name is not None:
        attrs["log_label"] = Lit(comp.span, name)
    if key:
        attrs["is_key_metric"] = Lit(comp.span, True)
    return dataclasses.replace(comp, attrs=tuple(attrs.items()))


def tf_optimizer(comp: Component, p: Porting) -> Component:
    """TensorFlow's beta1/beta2 -> torch's betas; the lr from {learning_rate}."""
    beta1, beta2 = comp.arg("beta1"), comp.arg("beta2")
    if beta1 is not None or beta2 is not None:
        defaults = (0.95, 0.98) if comp.name == "Novograd" else (0.9, 0.999)
        items = tuple(
            v if v is not None else Lit(comp.span, d)
            for v, d in zip((beta1, beta2), defaults, strict=True)
        )
        comp = comp.with_arg("beta1", None).with_arg("beta2", None)
        comp = comp.with_arg("betas", ListV(comp.span, items))
    return with_learning_rate(comp, p)


def class_weights(comp: Component, p: Porting) -> Component:
    """WeightedMulticlassClassificationLoss{class_weights} -> CrossEntropyLoss(weight)."""
    weights = literal(comp, "class_weights")
    comp = comp.with_arg("class_weights", None)
    if isinstance(weights, list) and all(isinstance(w, int | float) for w in weights):
        comp = set_arg(
            comp, "weight", f"#torch.tensor({[float(w) for w in weights]!r})", p
        )
    return comp


def save_nifti(comp: Component, p: Porting) -> Component:
    """SaveAsNifti's `compressed` (default true) is SaveImaged's .nii.gz or .nii."""
    compressed = literal(comp, "compressed", True)
    comp = keys_to_engine_names(comp.with_arg("compressed", None), p)
    return set_arg(comp, "output_ext", ".nii.gz" if compressed else ".nii", p)


def split_channels(
    comp: Component, ctx: PassContext, renames: dict[str, str] | None = None
) -> list[Component]:
    """SplitBasedOnLabel{field, label_names} -> one-hot, then one key per class;
    SplitAcrossChannels{field, channel_names} -> one key per channel. `renames` gets each
    class name -> its key (`pred_tc`), for the metrics that read them."""
    clara = comp.origin or comp.name
    field = str(
        literal(comp, "field", literal(comp, "fields", literal(comp, "keys", "model")))
    )
    key = KEY_NAMES.get(field, field)
    names = literal(comp, "label_names", literal(comp, "channel_names", [])) or []
    names = [str(n) for n in names] if isinstance(names, list) else [str(names)]
    postfixes = []
    for name in names:
        postfix = name[len(key) + 1 :] if name.startswith(f"{key}_") else name
        postfixes.append(postfix)
        if renames is not None:
            renames[name] = f"{key}_{postfix}"
    note = f"Clara 3.x {clara} -> one-hot + SplitDimd (one key per class)"
    out = []
    if clara == "SplitBasedOnLabel":
        out.append(make("AsDiscreted", comp.locator, comp.span,
                        {"keys": key, "to_onehot": len(names)}, ctx, note=note))  # fmt: skip
    args = {"keys": key, "output_postfixes": postfixes, "keepdim": True}
    if not postfixes:  # channel_names left out: MONAI numbers the keys (pred_0, ...)
        del args["output_postfixes"]
    out.append(make("SplitDimd", comp.locator, comp.span, args, ctx, note=note))
    return out


def split(comp: Component, p: Porting) -> list[Component]:
    return split_channels(comp, p.ctx)


def densenet_classes(comp: Component, p: Porting) -> Component:
    """Clara 3.x's DenseNet121 (NVIDIA's chest X-ray MMAR) gives no num_classes: the
    network's head had one output per label of the data list, whose `label_format`
    lists them (SPEC 7). The port reads that length from the MMAR's data list at compile
    time (a number of the data, said in a W109); where the data list cannot be read,
    the config must give num_classes (E402). A DenseNet121 without out_channels crashed
    at its first batch."""
    if comp.arg("out_channels") is not None:  # num_classes, renamed
        return comp
    name = comp.origin or "DenseNet121"
    try:
        data, where = p.data_list()
        count = _label_count(data)
    except (OSError, ValueError) as exc:
        count, where, why = None, "the data list", str(exc)
    else:
        why = f"{where} has no label_format and no training label vector"
    if count is None:
        p.ctx.diags.error(
            "E402",
            comp.name_span or comp.span,
            f"{name} needs its number of classes ({comp.locator}): Clara 3.x read it "
            f"from the data list's labels, and claragen could not ({why})",
            'add "num_classes": <the number of labels> to its "args"',
        )
        return comp
    p.ctx.diags.warning(
        "W109",
        comp.name_span or comp.span,
        f"{name} gets out_channels={count}, the number of labels of {where} (Clara "
        f"3.x built its head from the data list; the config gives no num_classes) "
        f"({comp.locator})",
        'give "num_classes" in its "args" to choose another',
    )
    return add_note(
        set_arg(comp, "out_channels", count, p),
        f"num_classes={count}: the labels of {where}, from which Clara 3.x built the head",
    )


def _label_count(data: object) -> int | None:
    """The length of a classification data list's `label_format`, else of its first
    training item's label vector."""
    if not isinstance(data, dict):
        return None
    labels = data.get("label_format")
    if not isinstance(labels, list):
        items = data.get("training")
        first = items[0] if isinstance(items, list) and items else None
        labels = first.get("label") if isinstance(first, dict) else None
    return len(labels) if isinstance(labels, list) and labels else None


def image_channels(p: Porting) -> tuple[Value | int, str]:
    """A 3.x network's in_channels: Clara built the network's input from the image
    pipeline's output_image_channels (default 1); 4 for BraTS's MRI sequences."""
    return (
        p.image_channels,
        "the channels of the image pipeline (output_image_channels)",
    )
