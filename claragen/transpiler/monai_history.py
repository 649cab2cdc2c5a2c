"""What older MONAIs had that today's does not: the data the migration pass and the
component names rest on (no imports of the passes, so that any module may read it).

Sources: MONAI's release notes 0.5-1.0 (SPEC 8, 10).
"""

from __future__ import annotations

# Removed classes -> (current class, args to add, args renamed). SPEC 10.
CLASS_RENAMES: dict[
    str, tuple[str, tuple[tuple[str, object], ...], tuple[tuple[str, str], ...]]
] = {
    "AddChanneld": ("EnsureChannelFirstd", (("channel_dim", "no_channel"),), ()),
    "AddChannel": ("EnsureChannelFirst", (("channel_dim", "no_channel"),), ()),
    "AsChannelFirstd": ("EnsureChannelFirstd", (("channel_dim", -1),), ()),
    "AsChannelFirst": ("EnsureChannelFirst", (("channel_dim", -1),), ()),
    "SplitChanneld": ("SplitDimd", (), (("channel_dim", "dim"),)),
    "SplitChannel": ("SplitDim", (), (("channel_dim", "dim"),)),
    "LoadNiftid": ("LoadImaged", (), ()),
    "LoadNifti": ("LoadImage", (), ()),
    "LoadNumpyd": ("LoadImaged", (("reader", "NumpyReader"),), ()),
    "NiftiDataset": ("Dataset", (), ()),
    "IgniteMetric": ("IgniteMetricHandler", (), ()),
    "TorchVisionFullyConvModel": (
        "TorchVisionFCModel",
        (("use_conv", True),),
        (("n_classes", "num_classes"),),
    ),
}

# Args of an older MONAI that today's class would take through **kwargs and send where
# they do nothing (or fail late): class -> arg -> (the MONAI that had it, what replaced it).
# Each is an E401 (check_components) unless a rule below migrates it first.
_AS_DISCRETE = {
    "threshold_values": ("0.8", "threshold=<value> (0.5 for threshold_values=True)"),
    "logit_thresh": ("0.8", "threshold=<value>"),
    "n_classes": ("0.8", "to_onehot=<number of classes>"),
}
FORMER_ARGS: dict[str, dict[str, tuple[str, str]]] = {
    # any class: `dimensions` became `spatial_dims` (MONAI 0.8), which a config that
    # gives both has already
    "*": {"dimensions": ("0.8", "spatial_dims alone (the config gives both)")},
    "AsDiscrete": _AS_DISCRETE,
    "AsDiscreted": _AS_DISCRETE,
    "PatchWSIDataset": {
        "region_size": ("0.8", "patch_size=<region size>, then GridSplitd to cut it"),
        "grid_shape": ("0.8", "a GridSplitd(grid=...) transform after the read"),
        "image_reader_name": ("0.8", "reader=<backend>, e.g. reader='cuCIM'"),
    },
}


# Args of MONAI 0.8 that today's classes dropped because what they chose is now always
# so: left out, with a note (migrate.dropped_no_ops). arg -> what is now always so.
NO_OPS: dict[str, str] = {
    "as_tensor_output": "MONAI 0.9+: every transform returns tensors",
}


# Defaults that changed after MONAI 0.8, which Clara 4.x ran on: class -> arg -> (Clara
# 4.x's value, today's). A 4.x config that leaves the arg out meant the old value, which the
# migration pass writes out (with a note saying both).
CHANGED_DEFAULTS: dict[str, dict[str, tuple[object, object]]] = {
    # SaveImage resampled to the image's original affine and shape by default
    "SaveImage": {"resample": (True, False)},
    "SaveImaged": {"resample": (True, False)},
    # MONAI 0.8's bounding box with a margin stopped at the image's edges; 1.5 made
    # allow_smaller=False the default, which pads past them (a larger crop)
    "CropForeground": {"allow_smaller": (True, False)},
    "CropForegroundd": {"allow_smaller": (True, False)},
}
# A changed default that changes nothing unless this other arg is given (and not 0):
# written out only then.
MATTERS_WITH: dict[str, str] = {"allow_smaller": "margin"}


# MONAI's rule for a dictionary transform's other names (monai/transforms/*/dictionary.py:
# `AddChannelD = AddChannelDict = AddChanneld`), for the classes it no longer has
DICT_SUFFIXES = ("Dict", "D")


def removed_own_name(name: str) -> str | None:
    """`AddChannelD`/`AddChannelDict` -> `AddChanneld`, for a removed dictionary class."""
    for suffix in DICT_SUFFIXES:
        stem = name.removesuffix(suffix)
        if stem != name and stem + "d" in CLASS_RENAMES:
            return stem + "d"
    return None
