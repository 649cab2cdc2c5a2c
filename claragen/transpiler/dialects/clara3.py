"""Clara 3.x (TensorFlow era) lowered to MONAI/PyTorch components (SPEC 8).

    {"name": "ScaleByResolution#ScaleImg", "args": {"fields": ["image"],
     "target_resolution": [1.0, 1.0, 1.0]}}
    -> {"name": "Spacingd", "args": {"keys": ["image"], "pixdim": [1.0, 1.0, 1.0],
        "mode": "bilinear"}}
    "image_pipeline": SegmentationImagePipelineWithCache -> "dataset" (CacheDataset) +
                      "dataloader"
    "lr_policy": {"name": "DecayOnStep"} -> "lr_scheduler": StepLR + LrScheduleHandler
    (3.x has no trainer, evaluator nor handlers: they are made as Clara 3.x ran them)

Each 3.x component has a `Port` in `COMPONENTS`: its MONAI class, renamed, added and
dropped args, and a named function for anything more. An approximation leaves a note that
the generated code shows at that spot; a component with no MONAI equivalent is an error
that names it and the BYOC way out. Once ported, the 4.0 rules add the wiring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span, did_you_mean
from claragen.transpiler.dialects.base import Dialect
from claragen.transpiler.dialects.clara3_validation import validation_sections
from claragen.transpiler.dialects.clara40 import (
    decollated_transforms,
    split_metrics,
    wire,
)
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    ListV,
    Lit,
    Slot,
    Template,
    Value,
    Var,
    is_literal,
    to_python,
)
from claragen.transpiler.values import parse_value_string

# Args renamed wherever the target takes the new name (SPEC 8, "common renames").
COMMON_RENAMES = {
    "fields": "keys",
    "field": "keys",
    "probability": "prob",
    "label_field": "label_key",
    "image_field": "image_key",
}
# 3.x output names -> the MONAI engines' keys.
KEY_NAMES = {"model": "pred"}

Convert = Callable[[Component, "Porting"], Component]


@dataclass(frozen=True)
class Port:
    """How one 3.x component becomes a MONAI (or torch) one."""

    target: str
    renames: dict[str, str] = field(default_factory=dict)
    add: dict[str, Any] = field(default_factory=dict)  # when the config does not say
    drop: tuple[str, ...] = ()  # args with no equivalent (each leaves a note)
    convert: Convert | None = None
    note: str | None = None  # an approximation, said in the generated code


@dataclass
class Porting:
    """What a conversion may need of the rest of the config."""

    config: Config
    ctx: PassContext

    def model_arg(self, name: str, default: Any = None) -> Any:
        model = self.config.sections.get("train", {}).get("model")
        if isinstance(model, Component):
            value = model.arg(name)
            if value is not None and is_literal(value):
                return to_python(value)
        return default

    @property
    def classes(self) -> int:
        """The network's output classes (`num_classes`, `out_channels` once ported)."""
        n = self.model_arg("num_classes", self.model_arg("out_channels", 2))
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
        model = self.config.sections.get("train", {}).get("model")
        span = model.span if isinstance(model, Component) else self.config.span
        self.ctx.diags.error(
            "E602",
            span,
            f"the network's num_classes must be a positive integer, not {n!r}",
            "the post-transforms and metrics of 3.x configs are made from it",
        )
        return 2

    @property
    def activation(self) -> str:
        return str(self.model_arg("final_activation", "softmax"))


def value(data: Any, span: Span, ctx: PassContext) -> Value:
    """Python data -> IR values; strings read as 4.1 strings (`@ref`, `{VAR}`, `#expr`)."""
    if isinstance(data, dict):
        return DictV(span, tuple((k, value(v, span, ctx)) for k, v in data.items()))
    if isinstance(data, list | tuple):
        return ListV(span, tuple(value(v, span, ctx) for v in data))
    if isinstance(data, str):
        return parse_value_string(data, span, True, ctx.diags)
    return Lit(span, data)


def _arg(comp: Component, name: str, default: Any = None) -> Any:
    v = comp.arg(name)
    return to_python(v) if v is not None and is_literal(v) else default


def _set(comp: Component, name: str, data: Any, p: Porting) -> Component:
    return comp.with_arg(name, value(data, comp.arg_span(name), p.ctx))


def _note(comp: Component, text: str) -> Component:
    return dataclasses.replace(comp, notes=comp.notes + (text,))


def _listify(text: Any) -> Any:
    """3.x "1,2,2,4" -> [1, 2, 2, 4]."""
    if isinstance(text, str) and all(p.strip().isdecimal() for p in text.split(",")):
        return [int(p) for p in text.split(",")]
    return text


def _keys(data: Any) -> Any:
    if isinstance(data, list):
        return [_keys(k) if isinstance(k, str) else k for k in data]
    return KEY_NAMES.get(data, data) if isinstance(data, str) else data


# -- conversions beyond renames ------------------------------------------------------------


def scale_by_resolution(comp: Component, p: Porting) -> Component:
    label = _arg(comp, "is_label", False)
    comp = comp.with_arg("is_label", None)
    return _set(comp, "mode", "nearest" if label else "bilinear", p)


def pos_neg_crop(comp: Component, p: Porting) -> Component:
    """FastCropByPosNegRatio / FastPosNegRatioCropROI -> RandCropByPosNegLabeld."""
    image = _arg(comp, "image_key") or _arg(comp, "keys") or "image"
    image = image[0] if isinstance(image, list) else image
    label = _arg(comp, "label_key", "label")
    comp = _set(comp, "keys", [image, label], p)
    comp = _set(comp, "image_key", image, p)
    if comp.arg("image_threshold") is None:
        comp = _set(comp, "image_threshold", 0, p)
    if comp.arg("num_samples") is None:
        comp = _set(comp, "num_samples", 1, p)
    return comp


def random_zoom(comp: Component, p: Porting) -> Component:
    image, label = _arg(comp, "image_key", "image"), _arg(comp, "label_key", "label")
    comp = comp.with_arg("image_key", None).with_arg("label_key", None)
    comp = _set(comp, "keys", [image, label], p)
    return _set(comp, "mode", ["trilinear", "nearest"], p)


def keys_to_engine_names(comp: Component, p: Porting) -> Component:
    keys = _arg(comp, "keys")
    return _set(comp, "keys", _keys(keys), p) if keys is not None else comp


def seg_ahnet(comp: Component, p: Porting) -> Component:
    psp = _arg(comp, "if_use_psp", False)
    comp = comp.with_arg("if_use_psp", None)
    return _set(comp, "psp_block_num", 4 if psp else 0, p)


def seg_resnet(comp: Component, p: Porting) -> Component:
    if _arg(comp, "use_vae", False):
        p.ctx.diags.error(
            "E403",
            comp.span,
            f"SegResnet with use_vae has no direct MONAI port ({comp.locator})",
            'use MONAI\'s SegResNetVAE through "path": "monai.networks.nets.SegResNetVAE"',
        )
    for name in ("blocks_down", "blocks_up"):
        if comp.arg(name) is not None:
            comp = _set(comp, name, _listify(_arg(comp, name)), p)
    groups = _arg(comp, "use_group_normG", 8)
    filters = _arg(comp, "init_filters", 8)
    if isinstance(filters, int) and isinstance(groups, int) and filters % groups:
        groups = filters  # MONAI's GroupNorm needs channels divisible by groups
        comp = _note(
            comp, f"approximation: {filters} norm groups, since {filters} filters"
        )

    norm = (
        ["GROUP", {"num_groups": groups}]
        if _arg(comp, "use_group_norm", True)
        else "batch"
    )
    for name in ("use_vae", "use_group_norm", "use_group_normG", "use_batch_norm"):
        comp = comp.with_arg(name, None)
    return _set(comp, "norm", norm, p)


def dice_loss(comp: Component, p: Porting) -> Component:
    onehot = _arg(comp, "is_onehot_targets", False)
    skip = _arg(comp, "skip_background", False)
    smooth = _arg(comp, "smooth")
    for name in ("is_onehot_targets", "skip_background", "smooth"):
        comp = comp.with_arg(name, None)
    comp = _set(comp, "to_onehot_y", not onehot, p)
    comp = _set(comp, "include_background", not skip, p)
    comp = _set(comp, "sigmoid" if p.activation == "sigmoid" else "softmax", True, p)
    if smooth is not None:
        comp = _set(_set(comp, "smooth_nr", smooth, p), "smooth_dr", smooth, p)
    return comp


def focal_loss(comp: Component, p: Porting) -> Component:
    skip = _arg(comp, "skip_background", False)
    comp = comp.with_arg("skip_background", None)
    comp = _set(comp, "include_background", not skip, p)
    return _set(comp, "to_onehot_y", True, p)


def average_dice(comp: Component, p: Porting) -> Component:
    field = _arg(comp, "keys", "model")
    pred = _keys(field)
    label = _arg(comp, "label_key", "label")
    name = _arg(comp, "name")
    key = _arg(comp, "is_key_metric", False)
    for arg in ("keys", "label_key", "name", "is_key_metric"):
        comp = comp.with_arg(arg, None)
    comp = _set(
        comp, "output_transform", f"#monai.handlers.from_engine({[pred, label]!r})", p
    )
    attrs = dict(comp.attrs)
    if name is not None:
        attrs["log_label"] = Lit(comp.span, name)
    if key:
        attrs["is_key_metric"] = Lit(comp.span, True)
    comp = dataclasses.replace(comp, attrs=tuple(attrs.items()))
    if comp.arg("include_background") is None:
        comp = _set(comp, "include_background", False, p)
    return comp


def with_learning_rate(comp: Component, p: Porting) -> Component:
    """3.x fed the optimizer {learning_rate} itself (SPEC 2.1)."""
    if comp.arg("lr") is None and "learning_rate" in p.config.globals:
        comp = _set(comp, "lr", "{learning_rate}", p)
    return comp


def sliding_window(comp: Component, p: Porting) -> Component:
    return (
        comp
        if comp.arg("sw_batch_size") is not None
        else _set(comp, "sw_batch_size", 1, p)
    )


def epochs_bound(name: str) -> Convert:
    def convert(comp: Component, p: Porting) -> Component:
        return _set(comp, name, "{epochs}", p) if comp.arg(name) is None else comp

    convert.__name__ = f"{name}_from_epochs"
    return convert


NETWORK = {"spatial_dims": 3, "in_channels": 1}
UNET = {"channels": [16, 32, 64, 128, 256], "strides": [2, 2, 2, 2], "num_res_units": 2,
        "norm": "batch"}  # fmt: skip

# 3.x name -> its port. Citations: SPEC 8 tables ("DOC-TFMAP", the NVIDIA ports).
COMPONENTS: dict[str, Port] = {
    # transforms
    "LoadNifti": Port("LoadImaged", drop=("as_closest_canonical",)),
    "LoadPng": Port("LoadImaged"),
    "ConvertToChannelsFirst": Port("EnsureChannelFirstd"),
    "ScaleByResolution": Port("Spacingd", {"target_resolution": "pixdim"},
                              convert=scale_by_resolution),
    "ScaleByFactor": Port("Zoomd", {"factor": "zoom"}),
    "ScaleToShape": Port("Resized", {"target_shape": "spatial_size"}),
    "ScaleIntensityRange": Port("ScaleIntensityRanged", drop=("a_offset",)),
    "NormalizeNonzeroIntensities": Port("NormalizeIntensityd",
                                        add={"nonzero": True, "channel_wise": True}),
    "CenterData": Port("NormalizeIntensityd", note="approximation: CenterData -> "
                       "NormalizeIntensityd (subtrahend/divisor kept)"),
    "FastCropByPosNegRatio": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("batches_to_gen_at_once",), convert=pos_neg_crop),
    "CropByPosNegRatio": Port("RandCropByPosNegLabeld",
                              {"size": "spatial_size", "batch_size": "num_samples"},
                              convert=pos_neg_crop),
    "FastPosNegRatioCropROI": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("deform", "rotation", "rotation_degree", "scale", "scale_factor", "fast_crop"),
        convert=pos_neg_crop,
        note="approximation: the crop's deformation, rotation and scaling are not ported"),
    "CropFixedSizeRandomCenter": Port("RandSpatialCropd", {"size": "roi_size"},
                                      add={"random_size": False}),
    "CropSubVolumeCenter": Port("CenterSpatialCropd", {"size": "roi_size"}),
    "CropRandomSizeWithDisplacement": Port(
        "RandSpatialCropd", {"lower_size": "roi_size"}, add={"random_size": True},
        drop=("max_displacement",),
        note="approximation: CropRandomSizeWithDisplacement -> RandSpatialCropd"),
    "PadCropWithFixedSize": Port("ResizeWithPadOrCropd", {"size": "spatial_size"}),
    "SymmetricPadderDiv": Port("DivisiblePadd", {"div_int": "k"}),
    "RandomAxisFlip": Port("RandAxisFlipd", add={"prob": 0.5}),
    "RandomSpatialFlip": Port("RandAxisFlipd", add={"prob": 0.5},
                              note="approximation: RandomSpatialFlip -> RandAxisFlipd(prob=0.5)"),
    "RandomRotate3D": Port("RandRotate90d", add={"prob": 0.5},
                           note="approximation: RandomRotate3D -> RandRotate90d"),
    "RandomRotate2D": Port("RandRotated", drop=("angle", "is_random"), add={"prob": 0.5},
                           note="approximation: RandomRotate2D -> RandRotated"),
    "RandomZoom": Port("RandZoomd", {"lower_limits": "min_zoom", "upper_limits": "max_zoom"},
                       add={"prob": 0.5}, convert=random_zoom),
    "ScaleIntensityOscillation": Port("RandScaleIntensityd", {"magnitude": "factors"},
                                      add={"prob": 0.5}),
    "ScaleShiftIntensity": Port(
        "RandShiftIntensityd", {"shift": "offsets"}, add={"prob": 0.5}, drop=("scale",),
        note="approximation: ScaleShiftIntensity -> RandShiftIntensityd (as the 4.x port)"),
    "AddGaussianNoise": Port("RandGaussianNoised", add={"prob": 0.1}),
    "RandomSharpen": Port("RandGaussianSharpend"),
    "RandomGaussianSmooth": Port("RandGaussianSmoothd"),
    "AdjustContrast": Port("RandAdjustContrastd"),
    "RepeatChannel": Port("RepeatChanneld", {"repeat_times": "repeats"}),
    "ConvertToMultiChannelBasedOnBratsClasses": Port(
        "ConvertToMultiChannelBasedOnBratsClassesd"),
    "SaveAsNifti": Port("SaveImaged", {"out_dir": "output_dir"}, drop=("interrupt",)),
    "ArgmaxAcrossChannels": Port("AsDiscreted", add={"argmax": True},
                                 convert=keys_to_engine_names),
    "ThresholdValues": Port("AsDiscreted", convert=keys_to_engine_names),
    # networks
    "SegAhnet": Port("AHNet", {"num_classes": "out_channels", "n_spatial_dim": "spatial_dims"},
                     add={**NETWORK, "pretrained": False},
                     drop=("pretrain_weight_name", "plane", "final_activation"),
                     convert=seg_ahnet),
    "SegResnet": Port("SegResNet", {"num_classes": "out_channels"}, add=NETWORK,
                      drop=("reg_weight", "final_activation"), convert=seg_resnet),
    "Unet": Port("UNet", {"num_classes": "out_channels"}, add={**NETWORK, **UNET},
                 drop=("nf_enc", "nf_dec", "use_group_norm", "use_batch_norm",
                       "final_activation"),
                 note="approximation: Unet -> MONAI UNet as NVIDIA's own port built it, "
                      "not a literal translation"),
    "DenseNet121": Port("DenseNet121", {"num_classes": "out_channels"},
                        add={"spatial_dims": 2, "in_channels": 3},
                        drop=("weight_decay", "data_format", "pretrain_weight_name")),
    # losses
    "Dice": Port("DiceLoss", drop=("data_format",), convert=dice_loss),
    "Focal": Port("FocalLoss", convert=focal_loss),
    "BinaryClassificationLoss": Port("BCEWithLogitsLoss"),
    # optimizers and learning-rate policies
    "Adam": Port("Adam", convert=with_learning_rate),
    "NovoGrad": Port("Novograd", convert=with_learning_rate),
    "Momentum": Port("SGD", {"momentum": "momentum"}, convert=with_learning_rate),
    "DecayOnStep": Port("StepLR", {"decay_freq": "step_size", "decay_ratio": "gamma"}),
    "ReducePoly": Port("PolynomialLR", {"poly_power": "power"},
                       convert=epochs_bound("total_iters")),
    "ReduceCosine": Port("CosineAnnealingLR", drop=("rate",), convert=epochs_bound("T_max")),
    # inferers and metrics
    "TFScanWindowInferer": Port("SlidingWindowInferer", {"batch_size": "sw_batch_size"},
                                add={"overlap": 0.5}, convert=sliding_window,
                                note="approximation: overlap 0.5, as NVIDIA's ports"),
    "TFSimpleInferer": Port("SimpleInferer"),
    "ComputeAverageDice": Port("MeanDice", drop=("report_path", "is_2d"),
                               convert=average_dice),
    "ComputeAUC": Port("ROCAUC", {"auc_average": "average"},
                       drop=("name", "is_key_metric", "field", "label_field", "class_index",
                             "report_path")),
}  # fmt: skip

# 3.x components with no MONAI equivalent (SPEC 8, marked with a cross).
NO_EQUIVALENT = {
    "ConvertToChannelsLast": "MONAI is channel-first",
    "ComputeAverage": "it averages a tag computed by an aux_op",
    "DiceMaskedOutput": "an aux_op of the TensorFlow graph",
    "NegLoss": "an aux_op of the TensorFlow graph",
    "ComputeAccuracy": "an aux_op of the TensorFlow graph",
    "ComputeBinaryPreds": "an aux_op of the TensorFlow graph",
    "SplitBasedOnLabel": "split the prediction with AsDiscreted + SplitDimd by hand",
    "SplitAcrossChannels": "split the prediction with SplitDimd by hand",
    "CopyProperties": "MONAI's meta dicts carry the affine",
    "BoundaryDiceLoss": "no MONAI loss",
    "TRTISScanWindowInferer": "Triton inference is out of scope",
    "TRTISSimpleInferer": "Triton inference is out of scope",
}
# Sections 3.x had that the MONAI engines do not need.
DROPPED_SECTIONS = {"batch_transforms": "list_data_collate flattens crop samples"}


def port_component(comp: Component, p: Porting) -> Component:
    if comp.path is not None or comp.name is None:
        return comp
    if comp.name in NO_EQUIVALENT:
        p.ctx.diags.error(
            "E403",
            comp.name_span or comp.span,
            f"the Clara 3.x component {comp.name!r} has no MONAI equivalent "
            f"({NO_EQUIVALENT[comp.name]}; {comp.locator})",
            f'write one and give it as "path": "my_module.{comp.name}" (BYOC)',
        )
        return comp
    port = COMPONENTS.get(comp.name)
    if port is None:
        return comp  # a MONAI name already, or unknown: check_components says which
    old = comp.name
    comp = dataclasses.replace(comp, name=port.target, origin=comp.origin or old)
    renamed: list[tuple[str, str | None]] = []
    for before, after in {**COMMON_RENAMES, **port.renames}.items():
        if comp.arg(before) is not None:
            comp = comp.with_arg_renamed(before, after)

            renamed.append((before, after))
    for name in port.drop:
        if comp.arg(name) is not None:
            comp = _note(
                comp.with_arg(name, None), f"3.x arg {name!r} has no MONAI equivalent"
            )
            renamed.append((name, None))
    comp = dataclasses.replace(comp, renamed=comp.renamed + tuple(renamed))

    if port.convert is not None:
        comp = port.convert(comp, p)
    for name, default in port.add.items():
        if comp.arg(name) is None:
            comp = _set(comp, name, default, p)
    if old != port.target:
        comp = _note(comp, f"Clara 3.x {old} -> {port.target}")
    return _note(comp, port.note) if port.note else comp


def port_components(config: Config, ctx: PassContext) -> Config:
    p = Porting(config, ctx)

    def port(slot: Slot) -> Slot:
        if isinstance(slot, Component):
            return port_component(slot, p)
        if isinstance(slot, list):
            return [port_component(c, p) for c in slot]
        return slot

    sections = {
        s: {k: port(v) for k, v in slots.items()}
        for s, slots in config.sections.items()
    }
    return dataclasses.replace(config, sections=sections)


# -- the structure: pipelines, learning-rate policy, engines, handlers -----------------------


def make(name: str, locator: str, span: Span, args: dict[str, Any], ctx: PassContext,
         note: str | None = None, **attrs: Any) -> Component:  # fmt: skip
    comp = Component(
        span=span,
        locator=locator,
        name=name,
        args=tuple((k, value(v, span, ctx)) for k, v in args.items()),
        attrs=tuple((k, value(v, span, ctx)) for k, v in attrs.items()),
    )
    return _note(comp, note) if note else comp


PIPELINES = {
    "SegmentationImagePipeline": "Dataset",
    "ClassificationImagePipeline": "Dataset",
    "SegmentationImagePipelineWithCache": "CacheDataset",
    "SegmentationKerasImagePipelineWithCache": "CacheDataset",
}
PIPELINE_ATTRS = ("data_list_file_path", "data_file_base_dir", "data_list_key")


def port_pipeline(section: str, pipe: Component, ctx: PassContext) -> dict[str, Slot]:
    """image_pipeline -> dataset + dataloader."""
    if pipe.name not in PIPELINES:
        if pipe.name not in NO_EQUIVALENT and pipe.path is None:
            ctx.diags.error(
                "E404",
                pipe.name_span or pipe.span,
                f"unknown Clara 3.x image pipeline {pipe.name!r} ({pipe.locator})",
                did_you_mean(str(pipe.name), PIPELINES)
                or "give a MONAI dataset and dataloader instead",
            )
        elif pipe.name in NO_EQUIVALENT:
            port_component(pipe, Porting(Config("", "3", pipe.span), ctx))
        return {}
    attrs = {k: pipe.arg(k) for k in PIPELINE_ATTRS if pipe.arg(k) is not None}
    if "data_list_file_path" not in attrs:
        ctx.diags.error(
            "E405",
            pipe.span,
            f"{pipe.name} needs a 'data_list_file_path' ({pipe.locator})",
            'add "data_list_file_path": "{DATASET_JSON}"',
        )
    dataset_args: dict[str, Any] = {}
    target = PIPELINES[pipe.name]
    if target == "CacheDataset":
        dataset_args = {"cache_num": _arg(pipe, "num_cache_objects", 2**31 - 1),
                        "cache_rate": 1.0, "num_workers": _arg(pipe, "num_workers", 0)}  # fmt: skip
        if _arg(pipe, "replace_percent", 0):  # a cache that replaces items (SPEC 8)
            target = "SmartCacheDataset"
            dataset_args = {"cache_num": dataset_args["cache_num"],
                            "replace_rate": _arg(pipe, "replace_percent"),
                            "num_init_workers": dataset_args["num_workers"],
                            "num_replace_workers": dataset_args["num_workers"]}  # fmt: skip
    dataset = dataclasses.replace(
        make(target, pipe.locator, pipe.span, dataset_args, ctx,
             note=f"Clara 3.x {pipe.name} -> {target} + DataLoader"),
        attrs=tuple(attrs.items()),
    )  # fmt: skip
    batched = _arg(pipe, "batched_by_transforms", False)
    batch_size = 1 if batched else _arg(pipe, "output_batch_size", 1)
    loader = make(
        "DataLoader",
        f"{pipe.locator} (its loader)",
        pipe.span,
        {"batch_size": batch_size, "shuffle": section == "train",
         "num_workers": _arg(pipe, "num_workers", 0)},
        ctx,
        note="batched_by_transforms: the crop transform makes the batch" if batched else None,
    )  # fmt: skip
    return {"dataset": dataset, "dataloader": loader}


LR_HANDLER_ITERATION_LEVEL = {"StepLR"}  # DecayOnStep counted iterations


def structure(config: Config, ctx: PassContext) -> Config:
    """Pipelines, the lr policy, and the trainer, evaluator and handlers 3.x left implicit."""
    if config.kind == "validation":  # validation_sections gave it its 4.0 shape
        return config
    train = dict(config.sections.get("train", {}))
    validate = dict(config.sections.get("validate", {}))
    span = config.section_spans.get("train", config.span)
    val_span = config.section_spans.get("validate", span)
    for name, slots in (("train", train), ("validate", validate)):
        pipe = slots.pop("image_pipeline", None)
        if isinstance(pipe, Component):
            slots.update(port_pipeline(name, pipe, ctx))
        elif name in config.sections:
            ctx.diags.error(
                "E405", span, f"{name} has no image_pipeline", "3.x configs give one"
            )
        for key, why in DROPPED_SECTIONS.items():
            dropped = slots.pop(key, None)
            if dropped:
                first = dropped[0] if isinstance(dropped, list) else dropped
                ctx.diags.warning(
                    "W101", first.span, f"{name}.{key} is not needed ({why}); left out"
                )
        aux = slots.pop("aux_ops", None)
        for op in aux if isinstance(aux, list) else []:
            port_component(op, Porting(config, ctx))  # every aux op has no equivalent
    lr_policy = train.pop("lr_policy", None)
    given = train.get("handlers")
    handlers: list[Component] = (
        list(given)
        if isinstance(given, list)
        else [given] if isinstance(given, Component) else []
    )
    dataset = train.get("dataset")
    if isinstance(dataset, Component) and dataset.class_name == "SmartCacheDataset":
        handlers.append(make("SmartCacheHandler", dataset.locator, dataset.span,
                             {"smartcacher": "@dataset"}, ctx))  # fmt: skip
    if isinstance(lr_policy, Component):
        train["lr_scheduler"] = lr_policy
        level = lr_policy.class_name not in LR_HANDLER_ITERATION_LEVEL
        handlers.insert(0, make("LrScheduleHandler", "train.lr_policy (its handler)",
                                lr_policy.span,
                                {"print_lr": True, "epoch_level": level}, ctx))  # fmt: skip
    amp = "{use_amp}" if "use_amp" in config.globals else False
    if "trainer" not in train:
        train["trainer"] = make(
            "SupervisedTrainer",
            "train",
            span,
            {"max_epochs": "{epochs}", "amp": amp},
            ctx,
            note="made for Clara 3.x, which had no trainer component",
        )
    if not any(h.class_name == "ValidationHandler" for h in handlers) and validate:
        interval = "{num_training_epoch_per_valid}"
        if "num_training_epoch_per_valid" not in config.globals:
            interval = 1
        handlers.append(make("ValidationHandler", "train", span,
                             {"interval": interval, "epoch_level": True}, ctx))  # fmt: skip
    if not any(h.class_name == "CheckpointSaver" for h in handlers):
        handlers += [
            make("CheckpointSaver", "train", span,
                 {"save_dir": "{MMAR_CKPT_DIR}", "save_dict": ["model", "optimizer"],
                  "save_final": True}, ctx),
            make("StatsHandler", "train", span, {"tag_name": "train_loss"}, ctx),
            make("TensorBoardStatsHandler", "train", span,
                 {"log_dir": "{MMAR_CKPT_DIR}", "tag_name": "train_loss"}, ctx),
        ]  # fmt: skip
    train["handlers"] = [_loader_args(h, ctx) for h in handlers]
    if validate:
        validate.setdefault(
            "evaluator",
            make("SupervisedEvaluator", "validate", val_span, {"amp": amp}, ctx,
                 note="made for Clara 3.x, which had no evaluator component"),
        )  # fmt: skip
        validate.setdefault("post_transforms", _post_transforms(config, ctx))
        validate.setdefault("handlers", [
            make("StatsHandler", "validate", val_span,
                 {"output_transform": "lambda x: None"}, ctx),
            make("CheckpointSaver", "validate", val_span,
                 {"save_dir": "{MMAR_CKPT_DIR}", "save_dict": ["model"],
                  "save_key_metric": True}, ctx),
        ])  # fmt: skip
    sections = dict(config.sections)
    sections["train"] = train
    if validate:
        sections["validate"] = validate
    return dataclasses.replace(config, sections=sections)


def _post_transforms(config: Config, ctx: PassContext) -> list[Component]:
    """What 3.x did inside the graph: the final activation, then discrete predictions."""
    p = Porting(config, ctx)
    span = config.section_spans.get("validate", config.span)
    if p.activation == "sigmoid":
        return [
            make(
                "Activationsd", "validate", span, {"keys": "pred", "sigmoid": True}, ctx
            ),
            make(
                "AsDiscreted", "validate", span, {"keys": "pred", "threshold": 0.5}, ctx
            ),
        ]
    return [
        make("Activationsd", "validate", span, {"keys": "pred", "softmax": True}, ctx),
        make("AsDiscreted", "validate", span,
             {"keys": ["pred", "label"], "argmax": [True, False],
              "to_onehot": p.classes}, ctx),
    ]  # fmt: skip


def _loader_args(handler: Component, ctx: PassContext) -> Component:
    """3.x CheckpointLoader {checkpoint_dir} -> {load_path, load_dict}."""
    if handler.class_name != "CheckpointLoader" or handler.arg("load_path") is not None:
        return handler
    folder = handler.arg("checkpoint_dir")
    handler = handler.with_arg("checkpoint_dir", None).with_arg(
        "checkpoint_file_prefix", None
    )
    path = "{MMAR_CKPT}" if folder is None else None
    handler = handler.with_arg(
        "load_path",
        value(path, handler.span, ctx) if path else _join(folder, "model.pt"),
    )
    return handler.with_arg("load_dict", value(["model"], handler.span, ctx))


def _join(folder: Value, name: str) -> Value:
    if isinstance(folder, Var):
        return Template(folder.span, (folder, "/" + name))
    if isinstance(folder, Template):
        return dataclasses.replace(folder, parts=folder.parts + ("/" + name,))
    return Lit(folder.span, f"{to_python(folder)}/{name}")


def port_aux_ops(config: Config, ctx: PassContext) -> Config:
    """aux_ops feed ComputeAverage metrics by tag: DiceMaskedOutput's tag -> MeanDice; a
    NegLoss tag (the negated loss) has no metric here and is left out where not key."""
    train = config.sections.get("train", {})
    aux = train.get("aux_ops")
    if not isinstance(aux, list):
        return config
    tags: dict[str, Component] = {}
    for op in aux:
        names = _arg(op, "tags") or [_arg(op, "tag")]
        for tag in names if isinstance(names, list) else [names]:
            if isinstance(tag, str):
                tags[tag] = op
    p = Porting(config, ctx)
    used: set[int] = set()

    def metric(comp: Component) -> Component | None:
        tag = _arg(comp, "field")
        op = (
            tags.get(tag)
            if comp.name == "ComputeAverage" and isinstance(tag, str)
            else None
        )
        if op is None:
            return comp
        used.add(id(op))
        attrs = {"log_label": Lit(comp.span, _arg(comp, "name", tag))}
        if _arg(comp, "is_key_metric", False):
            attrs["is_key_metric"] = Lit(comp.span, True)
        if op.name == "DiceMaskedOutput":
            skip = bool(_arg(op, "skip_background", False))
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
            f"the metric {_arg(comp, 'name', tag)!r} averages the {op.name} aux op, which "
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


def amp_variable(config: Config, ctx: PassContext) -> Config:
    """3.x `use_amp` is 4.x `amp`."""
    if "use_amp" in config.globals and "amp" not in config.globals:
        globals_ = dict(config.globals)
        globals_["amp"] = config.globals["use_amp"]
        return dataclasses.replace(config, globals=globals_)
    return config


class Clara3(Dialect):
    name = "3"
    title = "Clara 3.x (TensorFlow)"
    code_strings = False
    RULES = (amp_variable, validation_sections, port_aux_ops, port_components, structure,
             split_metrics, wire, decollated_transforms)  # fmt: skip
