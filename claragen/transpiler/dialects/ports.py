"""The 3.x component table: each Clara 3.x class, its MONAI (or torch) port (SPEC 8).

    {"name": "ScaleByResolution#ScaleImg", "args": {"fields": ["image"],
     "target_resolution": [1.0, 1.0, 1.0]}}
    -> {"name": "Spacingd", "args": {"keys": ["image"], "pixdim": [1.0, 1.0, 1.0],
        "mode": "bilinear"}}

Each 3.x component has a `Port` in `COMPONENTS`: its MONAI class, renamed, added and
dropped args, and a named function (conversions.py) for anything more. An approximation
leaves a note that the generated code shows at that spot; a component with no MONAI
equivalent is an error that names it and the BYOC way out. The 3.x and 4.0 dialects both
port through `port_component`.
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects import conversions as c
from claragen.transpiler.dialects.legacy import (
    COMMON_RENAMES,
    Port,
    Porting,
    add_note,
    set_arg,
)
from claragen.transpiler.ir import Component, Config, Slot

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
                              convert=c.scale_by_resolution),
    "ScaleByFactor": Port("Zoomd", {"factor": "zoom"}),
    "ScaleToShape": Port("Resized", {"target_shape": "spatial_size"}),
    "ScaleIntensityRange": Port("ScaleIntensityRanged", drop=("a_offset",)),
    "NormalizeNonzeroIntensities": Port("NormalizeIntensityd",
                                        add={"nonzero": True, "channel_wise": True}),
    "CenterData": Port("NormalizeIntensityd", note="approximation: CenterData -> "
                       "NormalizeIntensityd (subtrahend/divisor kept)"),
    "FastCropByPosNegRatio": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("batches_to_gen_at_once",), convert=c.pos_neg_crop),
    "CropByPosNegRatio": Port("RandCropByPosNegLabeld",
                              {"size": "spatial_size", "batch_size": "num_samples"},
                              convert=c.pos_neg_crop),
    "FastPosNegRatioCropROI": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("deform", "rotation", "rotation_degree", "scale", "scale_factor", "fast_crop"),
        convert=c.pos_neg_crop,
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
                       add={"prob": 0.5}, convert=c.random_zoom),
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
                                 convert=c.keys_to_engine_names),
    "ThresholdValues": Port("AsDiscreted", convert=c.keys_to_engine_names),
    # networks
    "SegAhnet": Port("AHNet", {"num_classes": "out_channels", "n_spatial_dim": "spatial_dims"},
                     add={**NETWORK, "pretrained": False},
                     drop=("pretrain_weight_name", "plane", "final_activation"),
                     convert=c.seg_ahnet),
    "SegResnet": Port("SegResNet", {"num_classes": "out_channels"}, add=NETWORK,
                      drop=("reg_weight", "final_activation"), convert=c.seg_resnet),
    "Unet": Port("UNet", {"num_classes": "out_channels"}, add={**NETWORK, **UNET},
                 drop=("nf_enc", "nf_dec", "use_group_norm", "use_batch_norm",
                       "final_activation"),
                 note="approximation: Unet -> MONAI UNet as NVIDIA's own port built it, "
                      "not a literal translation"),
    "DenseNet121": Port("DenseNet121", {"num_classes": "out_channels"},
                        add={"spatial_dims": 2, "in_channels": 3},
                        drop=("weight_decay", "data_format", "pretrain_weight_name")),
    # losses
    "Dice": Port("DiceLoss", drop=("data_format",), convert=c.dice_loss),
    "Focal": Port("FocalLoss", convert=c.focal_loss),
    "BinaryClassificationLoss": Port("BCEWithLogitsLoss"),
    # optimizers and learning-rate policies
    "Adam": Port("Adam", convert=c.with_learning_rate),
    "NovoGrad": Port("Novograd", convert=c.with_learning_rate),
    "Momentum": Port("SGD", {"momentum": "momentum"}, convert=c.with_learning_rate),
    "DecayOnStep": Port("StepLR", {"decay_freq": "step_size", "decay_ratio": "gamma"}),
    "ReducePoly": Port("PolynomialLR", {"poly_power": "power"},
                       convert=c.epochs_bound("total_iters")),
    "ReduceCosine": Port("CosineAnnealingLR", drop=("rate",), convert=c.epochs_bound("T_max")),
    # inferers and metrics
    "TFScanWindowInferer": Port("SlidingWindowInferer", {"batch_size": "sw_batch_size"},
                                add={"overlap": 0.5}, convert=c.sliding_window,
                                note="approximation: overlap 0.5, as NVIDIA's ports"),
    "TFSimpleInferer": Port("SimpleInferer"),
    "ComputeAverageDice": Port("MeanDice", drop=("report_path", "is_2d"),
                               convert=c.average_dice),
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
            comp = add_note(
                comp.with_arg(name, None), f"3.x arg {name!r} has no MONAI equivalent"
            )
            renamed.append((name, None))
    comp = dataclasses.replace(comp, renamed=comp.renamed + tuple(renamed))

    if port.convert is not None:
        comp = port.convert(comp, p)
    for name, default in port.add.items():
        if comp.arg(name) is None:
            comp = set_arg(comp, name, default, p)
    if old != port.target:
        comp = add_note(comp, f"Clara 3.x {old} -> {port.target}")
    return add_note(comp, port.note) if port.note else comp


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
