"""The 3.x component table: each Clara 3.x class, its MONAI (or torch) port (SPEC 8), and
the args Clara documents for it (`requires`, `takes`: ../shared/CLARA_COMPONENTS.md).

    "ScaleByResolution": Port("Spacingd", {"target_resolution": "pixdim"},
                              convert=c.scale_by_resolution,
                              requires=("fields", "target_resolution"), takes=("is_label",))

`add` holds Clara's own default of an arg the MONAI class needs (taken silently: it is
what Clara did); `choose` the value NVIDIA's 4.x ports took where Clara documents no
default (a W109 warning names it). Every arg of `requires` and `takes` has a fate: the
common renames (legacy.COMMON_RENAMES), the port's renames, its `convert`, its `drop`, or
TF_ONLY; the property tests (tests/dialects/test_ports.py) check each one.
"""

from __future__ import annotations

from claragen.transpiler.dialects import conversions as c
from claragen.transpiler.dialects.legacy import Port

NETWORK = {"spatial_dims": 3, "in_channels": c.image_channels}
UNET = {"channels": c.UNET_CHANNELS, "strides": c.UNET_STRIDES, "num_res_units": 2,
        "norm": "batch"}  # fmt: skip
# TensorFlow-era args of many classes, with no meaning in MONAI: dropped with a note
# unless a port renames them (LoadNifti's dtype is LoadImaged's).
TF_ONLY = {
    "data_format": "MONAI is channel-first",
    "dtype": "MONAI keeps float32 tensors",
    "do_summary": "every metric is logged to TensorBoard",
    "do_print": "every metric is logged",
}
# Why an arg of several ports has no MONAI counterpart (the note the code shows).
DROP_REASONS = {
    "final_activation": "the loss and post-transforms apply it",
    "pretrain_weight_name": "TensorFlow weights, not PyTorch's",
    "pretrain_weight_url": "nothing is downloaded",
    "plane": "AHNet takes no anisotropic axis",
    "reg_weight": "it is the optimizer's weight_decay",
    "weight_decay": "it is the optimizer's weight_decay",
    "batches_to_gen_at_once": "a TensorFlow prefetch",
    "use_locking": "a TensorFlow graph option",
    "name": "a TensorFlow op name",
    "interrupt": "a debugging pause of Clara's",
}
POS_NEG = ("label_field", "pos", "neg", "batch_size")
SAVE_NIFTI = (
    "use_identity",
    "revert_canonical",
    "transpose_axes",
    "squeeze",
    "interrupt",
)

# 3.x name -> its port. Citations: SPEC 8 tables ("DOC-TFMAP", the NVIDIA ports).
COMPONENTS: dict[str, Port] = {
    # transforms
    "LoadNifti": Port("LoadImaged", {"dtype": "dtype"}, drop=("nii_is_channels_first",),
                      convert=c.load_image, requires=("fields",),
                      takes=("dtype", "nii_is_channels_first", "as_closest_canonical")),
    "LoadPng": Port("LoadImaged", {"dtype": "dtype"}, requires=("fields",), takes=("dtype",)),
    "LoadJpg": Port("LoadImaged", {"dtype": "dtype"}, requires=("fields",), takes=("dtype",)),
    "ConvertToChannelsFirst": Port("EnsureChannelFirstd", requires=("fields",)),
    "ScaleByResolution": Port("Spacingd", {"target_resolution": "pixdim"},
                              convert=c.scale_by_resolution,
                              requires=("fields", "target_resolution"), takes=("is_label",)),
    "ScaleByFactor": Port("Zoomd", {"factor": "zoom"}, requires=("fields", "factor")),
    "ScaleToShape": Port("Resized", {"target_shape": "spatial_size"},
                         requires=("fields", "target_shape")),
    "ScaleIntensityRange": Port("ScaleIntensityRanged", {"dtype": "dtype"},
                                requires=("fields", "a_min", "a_max", "b_min", "b_max"),
                                takes=("clip", "dtype")),
    "NormalizeNonzeroIntensities": Port("NormalizeIntensityd",
                                        add={"nonzero": True, "channel_wise": True},
                                        requires=("fields",)),
    "CenterData": Port("NormalizeIntensityd", note="approximation: CenterData -> "
                       "NormalizeIntensityd (subtrahend/divisor kept)", requires=("fields",)),
    "FastCropByPosNegRatio": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("batches_to_gen_at_once",), convert=c.pos_neg_crop,
        requires=("fields", "size"), takes=(*POS_NEG, "batches_to_gen_at_once")),
    "CropByPosNegRatio": Port("RandCropByPosNegLabeld",
                              {"size": "spatial_size", "batch_size": "num_samples"},
                              drop=("batches_to_gen_at_once",), convert=c.pos_neg_crop,
                              requires=("fields", "size"),
                              takes=(*POS_NEG, "batches_to_gen_at_once")),
    "CropByPosNegRatioLabelOnly": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("batches_to_gen_at_once",), convert=c.pos_neg_crop,
        requires=("fields", "size"), takes=(*POS_NEG, "batches_to_gen_at_once")),
    "FastPosNegRatioCropROI": Port(
        "RandCropByPosNegLabeld", {"size": "spatial_size", "batch_size": "num_samples"},
        drop=("deform", "rotation", "rotation_degree", "scale", "scale_factor", "fast_crop"),
        convert=c.pos_neg_crop,
        note="approximation: the crop's deformation, rotation and scaling are not ported",
        requires=("size",),
        takes=("image_field", *POS_NEG, "fast_crop", "deform", "rotation",
               "rotation_degree", "scale", "scale_factor")),
    "CropFixedSizeRandomCenter": Port("RandSpatialCropd", {"size": "roi_size"},
                                      add={"random_size": False},
                                      requires=("fields", "size")),
    "CropSubVolumeCenter": Port("CenterSpatialCropd", {"size": "roi_size"},
                                requires=("fields", "size")),
    "CropRandomSizeWithDisplacement": Port(
        "RandSpatialCropd", {"lower_size": "roi_size"}, add={"random_size": True},
        drop=("max_displacement",),
        note="approximation: CropRandomSizeWithDisplacement -> RandSpatialCropd",
        requires=("fields", "lower_size"), takes=("max_displacement",)),
    "CropForegroundObject": Port("CropForegroundd", choose={"source_key": "image"},
                                 requires=("fields",)),
    "PadCropWithFixedSize": Port("ResizeWithPadOrCropd", {"size": "spatial_size"},
                                 requires=("fields", "size")),
    "SymmetricPadderDiv": Port("DivisiblePadd", {"div_int": "k"},
                               requires=("fields", "div_int")),
    "RandomAxisFlip": Port("RandAxisFlipd", choose={"prob": 0.5}, requires=("fields",),
                           takes=("probability",)),
    "RandomSpatialFlip": Port("RandAxisFlipd", choose={"prob": 0.5},
                              note="approximation: RandomSpatialFlip -> RandAxisFlipd",
                              requires=("fields",), takes=("probability",)),
    "RandomRotate3D": Port("RandRotate90d", choose={"prob": 0.5},
                           note="approximation: RandomRotate3D -> RandRotate90d",
                           requires=("fields",), takes=("probability",)),
    "RandomRotate2D": Port("RandRotated", choose={"prob": 0.5}, convert=c.random_rotate_2d,
                           requires=("fields",), takes=("angle", "is_random", "probability")),
    "RandomZoom": Port("RandZoomd", {"lower_limits": "min_zoom", "upper_limits": "max_zoom"},
                       choose={"prob": 0.5}, convert=c.random_zoom,
                       takes=("image_field", "label_field", "lower_limits", "upper_limits",
                              "probability")),
    "ScaleIntensityOscillation": Port("RandScaleIntensityd", {"magnitude": "factors"},
                                      choose={"prob": 0.5, "factors": 0.1},
                                      requires=("fields",),
                                      takes=("magnitude", "probability")),
    "ScaleShiftIntensity": Port(
        "RandShiftIntensityd", {"shift": "offsets"}, choose={"prob": 0.5, "offsets": 0.1},
        drop=("scale",),
        note="approximation: ScaleShiftIntensity -> RandShiftIntensityd (as the 4.x port)",
        requires=("fields",), takes=("scale", "shift")),
    "AddGaussianNoise": Port("RandGaussianNoised", add={"prob": 0.5},
                             convert=c.gaussian_noise, requires=("fields",),
                             takes=("probability", "variance")),
    "AddExtremePointsChannel": Port(
        "AddExtremePointsChanneld", {"image_field": "keys", "permutation": "pert"},
        add={"sigma": 3, "rescale_min": -1.0, "rescale_max": 1.0},
        drop=("points_channel_field",),
        requires=("image_field", "label_field"),
        takes=("dtype", "sigma", "permutation", "rescale_min", "rescale_max",
               "points_channel_field")),
    "RandomSharpen": Port("RandGaussianSharpend", requires=("fields",),
                          takes=("probability",)),
    "RandomGaussianSmooth": Port("RandGaussianSmoothd", requires=("fields",),
                                 takes=("probability",)),
    "RandomMRBiasField": Port("RandBiasFieldd", requires=("fields",),
                              takes=("probability",)),
    "AdjustContrast": Port("RandAdjustContrastd", requires=("fields",),
                           takes=("probability",)),
    "RepeatChannel": Port("RepeatChanneld", {"repeat_times": "repeats"},
                          requires=("fields", "repeat_times")),
    "ConvertToMultiChannelBasedOnBratsClasses": Port(
        "ConvertToMultiChannelBasedOnBratsClassesd", convert=c.brats_classes,
        requires=("fields",), takes=("class_names", "dtype")),
    "SaveAsNifti": Port("SaveImaged", {"out_dir": "output_dir", "dtype": "output_dtype"},
                        drop=SAVE_NIFTI, convert=c.save_nifti, requires=("fields",),
                        takes=("out_dir", "dtype", "compressed", *SAVE_NIFTI)),
    "ArgmaxAcrossChannels": Port("AsDiscreted", add={"argmax": True},
                                 convert=c.keys_to_engine_names, requires=("fields",),
                                 takes=("dtype",)),
    "ThresholdValues": Port("AsDiscreted", choose={"threshold": 0.5},
                            convert=c.keys_to_engine_names, requires=("fields",),
                            takes=("threshold",)),
    "KeepLargestCC": Port("KeepLargestConnectedComponentd", convert=c.keys_to_engine_names,
                          requires=("fields",)),
    "RestoreOriginalShape": Port("Invertd", convert=c.restore_original_shape,
                                 requires=("field",), takes=("is_label", "src_field")),
    "ProcessMulticlassPreds": Port("AsDiscreted", convert=c.process_multiclass_preds,
                                   requires=("field",)),
    "SplitBasedOnLabel": Port("SplitDimd", convert=c.split,
                              requires=("field", "label_names")),
    "SplitAcrossChannels": Port("SplitDimd", convert=c.split, requires=("field",),
                                takes=("channel_names",)),
    # networks
    "SegAhnet": Port("AHNet", {"num_classes": "out_channels", "n_spatial_dim": "spatial_dims"},
                     add={"spatial_dims": 2, "in_channels": c.image_channels, "pretrained": False},
                     drop=("pretrain_weight_url", "plane", "final_activation"),
                     convert=c.seg_ahnet, requires=("num_classes",),
                     takes=("if_use_psp", "plane", "pretrain_weight_name",
                            "pretrain_weight_url", "final_activation", "dtype",
                            "data_format", "n_spatial_dim")),
    "SegResnet": Port("SegResNet", {"num_classes": "out_channels"}, add=NETWORK,
                      drop=("reg_weight", "final_activation"), convert=c.seg_resnet,
                      requires=("num_classes",),
                      takes=("init_filters", "blocks_down", "blocks_up", "dropout_prob",
                             "reg_weight", "final_activation", "use_group_norm",
                             "use_group_normG", "use_batch_norm", "use_vae", "dtype",
                             "data_format")),
    "Unet": Port("UNet", {"num_classes": "out_channels"}, add={**NETWORK, **UNET},
                 drop=("use_group_norm", "use_batch_norm", "final_activation"),
                 convert=c.keras_unet,
                 requires=("num_classes",),
                 takes=("nf_enc", "nf_dec", "use_batch_norm", "use_group_norm",
                        "final_activation", "dtype", "data_format")),
    "DenseNet121": Port("DenseNet121", {"num_classes": "out_channels"},
                        add={"spatial_dims": 2, "in_channels": c.image_channels},
                        drop=("weight_decay", "pretrain_weight_name"),
                        convert=c.densenet_classes,
                        takes=("num_classes", "weight_decay", "data_format",
                               "pretrain_weight_name")),
    # losses
    "Dice": Port("DiceLoss", {"smooth": "smooth_dr", "top_smooth": "smooth_nr"},
                 add={"smooth_nr": 0.0}, drop=("label_weights",), convert=c.dice_loss,
                 takes=("data_format", "skip_background", "squared_pred", "jaccard",
                        "smooth", "top_smooth", "is_onehot_targets", "label_weights")),
    "Focal": Port("FocalLoss", convert=c.focal_loss, takes=("skip_background", "gamma")),
    "CrossEntropy": Port("DiceCELoss", add={"lambda_dice": 0.0},
                         convert=c.onehot_activated, drop=("skip_background", "smooth"),
                         note="Clara's CrossEntropy -> DiceCELoss with lambda_dice=0: "
                              "cross-entropy on one-channel labels",
                         takes=("data_format", "skip_background", "smooth",
                                "is_onehot_targets")),
    "CrossEntropyDice": Port("DiceCELoss", convert=c.onehot_activated,
                             takes=("is_onehot_targets",)),
    "FocalDice": Port("DiceFocalLoss", convert=c.onehot_activated,
                      takes=("is_onehot_targets",)),
    "BinaryClassificationLoss": Port("BCEWithLogitsLoss"),
    "MulticlassClassificationLoss": Port("CrossEntropyLoss"),
    "WeightedMulticlassClassificationLoss": Port("CrossEntropyLoss",
                                                 convert=c.class_weights,
                                                 takes=("class_weights",)),
    # optimizers and learning-rate policies
    "Adam": Port("Adam", {"learning_rate": "lr", "epsilon": "eps"},
                 drop=("use_locking", "name"), convert=c.tf_optimizer,
                 takes=("learning_rate", "beta1", "beta2", "epsilon", "use_locking",
                        "name")),
    "NovoGrad": Port("Novograd", {"learning_rate": "lr", "epsilon": "eps"},
                     add={"betas": [0.95, 0.98]}, drop=("use_locking", "name"),
                     convert=c.tf_optimizer,
                     takes=("learning_rate", "beta1", "beta2", "epsilon", "weight_decay",
                            "grad_averaging", "use_locking", "name")),
    "Momentum": Port("SGD", {"learning_rate": "lr", "use_nesterov": "nesterov"},
                     drop=("use_locking", "name"), convert=c.with_learning_rate,
                     requires=("momentum",),
                     takes=("learning_rate", "use_nesterov", "use_locking", "name")),
    "DecayOnStep": Port("StepLR", {"decay_freq": "step_size", "decay_ratio": "gamma"},
                        requires=("decay_ratio", "decay_freq")),
    "ReducePoly": Port("PolynomialLR", {"poly_power": "power"},
                       convert=c.epochs_bound("total_iters"), requires=("poly_power",)),
    "ReduceCosine": Port("CosineAnnealingLR", drop=("rate",), convert=c.epochs_bound("T_max"),
                         takes=("rate",)),
    # inferers and metrics
    "TFScanWindowInferer": Port("SlidingWindowInferer", {"batch_size": "sw_batch_size"},
                                add={"overlap": 0.5}, convert=c.sliding_window,
                                note="approximation: overlap 0.5, as NVIDIA's ports",
                                requires=("roi_size",), takes=("batch_size",)),
    "TFSimpleInferer": Port("SimpleInferer"),
    "ComputeAverageDice": Port(
        "MeanDice", drop=("report_path", "is_2d", "logit_thresh", "is_one_hot_targets"),
        convert=c.average_dice, requires=("name", "field"),
        takes=("label_field", "is_2d", "remove_bg", "logit_thresh", "is_one_hot_targets",
               "report_path", "do_summary", "do_print", "is_key_metric")),
    "ComputeAUC": Port("ROCAUC", {"auc_average": "average"},
                       drop=("class_index", "report_path", "include_list"),
                       convert=c.roc_auc, requires=("name", "field", "label_field"),
                       takes=("report_path", "auc_average", "class_index", "include_list",
                              "do_summary", "do_print", "is_key_metric")),
}  # fmt: skip

# 3.x components with no MONAI equivalent (SPEC 8, marked with a cross).
# The components whose arguments Clara documents in full (CLARA_COMPONENTS.md status D,
# for the component itself): an argument a config gives one of them that neither Clara
# nor its MONAI port knows is an error (E401). The others are known in part (observed
# in NVIDIA's configs, documented for the library class they wrap, or only listed): an
# argument we do not know there is a warning (W100) that says it is left out, never an
# error that stops a config that ran (issue 29, item 5).
SIGNATURE_COMPLETE = frozenset(
    {"AddGaussianNoise", "AddExtremePointsChannel", "BinaryClassificationLoss",
     "MulticlassClassificationLoss", "WeightedMulticlassClassificationLoss", "Adam",
     "Momentum", "DecayOnStep", "ReduceCosine", "ComputeAverageDice", "ComputeAUC"}
)  # fmt: skip

NO_EQUIVALENT = {
    "ComputeAverage": "it averages a tag computed by an aux_op",
    "DiceMaskedOutput": "an aux_op of the TensorFlow graph",
    "NegLoss": "an aux_op of the TensorFlow graph",
    "ComputeAccuracy": "an aux_op of the TensorFlow graph",
    "ComputeBinaryPreds": "an aux_op of the TensorFlow graph",
    "ComputeMulticlassAverage": "no MONAI metric averages multiclass classification so",
    "BoundaryDiceLoss": "no MONAI loss",
    "Alexnet": "MONAI has no AlexNet",
    "ReduceOnPlateau": "torch's ReduceLROnPlateau steps on a validation metric, which "
    "claragen does not wire yet",
    "ScaleBySpacing": "Clara documents no arguments for it",
    "LoadImageMasksFromNumpy": "Clara documents no arguments for it",
    "ConvertToMultiChannelBasedOnLabel": "Clara documents no arguments for it",
    "TRTISScanWindowInferer": "Triton inference is out of scope",
    "TRTISSimpleInferer": "Triton inference is out of scope",
}
# 3.x transforms that MONAI does not need: left out, with a note at the next transform.
DROPPED = {
    "ConvertToChannelsLast": "MONAI is channel-first; the Keras layout is not needed",
    "CopyProperties": "MONAI's meta dicts carry the affine with each item",
    "MergeBatchDims": "list_data_collate flattens crop samples",
}
