"""Tell the Clara dialect of a config (SPEC 1).

{"CLARA_TRAIN_VERSION": "4.1.0", ...}                -> "4.1"
{"train": {"optimizer": {"args": {"params": "#@model.parameters()"}}}} -> "4.1"
{"train": {"pre_transforms": [{"name": "LoadNifti", "args": {"fields": ...}}]}} -> "3"
anything else                                        -> "4.0"
"""

from __future__ import annotations

import re

from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.jsonparse import JArray, JNode, JObject, JString

DIALECTS = ("3", "4.0", "4.1")
# Keys and names that only the TensorFlow-era 3.x configs use, and their 4.x counterparts.
TF_MARKERS = frozenset(
    {
        "fields",
        "field",
        "LoadNifti",
        "image_pipeline",
        "lr_policy",
        "aux_ops",
        "TFScanWindowInferer",
        "TFSimpleInferer",
        "num_training_epoch_per_valid",
        "use_amp",
        "ConvertToChannelsFirst",
        "ScaleByResolution",
        "model_loader",
    }
)
MONAI_MARKERS = frozenset(
    {
        "keys",
        "LoadImaged",
        "LoadNiftid",
        "dataset",
        "dataloader",
        "SupervisedTrainer",
        "SupervisedEvaluator",
        "is_key_metric",
        "num_interval_per_valid",
        "amp",
    }
)
_CODE = re.compile(r"^(@[A-Za-z_]|#)")
NON_CODE_KEYS = ("search", "apply", "name", "path")


def _scan(node: JNode, counts: dict[str, int], in_code_context: bool = True) -> None:
    if isinstance(node, JObject):
        for key, value in node.pairs:
            if key.value in TF_MARKERS:
                counts["tf"] += 1
            if key.value in MONAI_MARKERS:
                counts["monai"] += 1
            _scan(value, counts, in_code_context and key.value not in NON_CODE_KEYS)
    elif isinstance(node, JArray):
        for item in node.items:
            _scan(item, counts, in_code_context)
    elif isinstance(node, JString):
        if node.value in TF_MARKERS:
            counts["tf"] += 1
        if node.value in MONAI_MARKERS:
            counts["monai"] += 1
        if in_code_context and _CODE.match(node.value):
            counts["code"] += 1


def detect_dialect(root: JNode) -> str:
    if isinstance(root, JObject):
        version = root.get("CLARA_TRAIN_VERSION")
        if isinstance(version, JString) and version.value.startswith("4.1"):
            return "4.1"
    counts = {"tf": 0, "monai": 0, "code": 0}
    _scan(root, counts)
    if counts["code"]:
        return "4.1"
    if counts["tf"] > counts["monai"]:
        return "3"
    return "4.0"


# Class names of the Clara 2.x / Transfer Learning Toolkit (TLT) era, before Clara 3.x
# renamed them -> the 3.x successor that Clara 3.1's mapping of old to new names gives
# (D31-TLT), or None where that page does not say.
OLDER_ERA: dict[str, str | None] = {
    "LoadNifty": "LoadNifti",
    "TransformVolumeCropROIFastPosNegRatio": "FastPosNegRatioCropROI",
    "CropSubVolumeBatchPosNegRatio": "CropByPosNegRatio",
    "VolumeTo4DArray": "ConvertToChannelsFirst",
    "ImagePipeline": None,
    "ImagePipelineWithCache": None,
    "MetricAverage": None,
    "MetricAverageFromArray": None,
    "MetricAverageFromArrayDice": None,
    "ReduceLRPoly": None,
}


def older_era_names(root: JNode) -> list[JString]:
    """The component names of `root` that only Clara 2.x / TLT configs use."""
    found: list[JString] = []

    def scan(node: JNode) -> None:
        if isinstance(node, JObject):
            for key, value in node.pairs:
                if key.value == "name" and isinstance(value, JString):
                    if value.value.split("#", 1)[0] in OLDER_ERA:
                        found.append(value)
                else:
                    scan(value)
        elif isinstance(node, JArray):
            for item in node.items:
                scan(item)

    scan(root)
    return found


def check_era(root: JNode, diags: Diagnostics) -> None:
    """A Clara 2.x / TLT config gets one diagnostic saying so, not a did-you-mean for
    each of its names (SPEC 1)."""
    names = older_era_names(root)
    if not names:
        return
    shown = sorted({n.value.split("#", 1)[0] for n in names})
    renames = ", ".join(f"{n} -> {OLDER_ERA[n]}" for n in shown if OLDER_ERA[n])
    diags.error(
        "E111",
        names[0].span,
        f"this is a Clara 2.x / Transfer Learning Toolkit config (it names "
        f"{', '.join(shown)}): claragen reads Clara 3.x and 4.x configs, and the "
        "older era is out of its scope",
        "port it to Clara 3.x first, then compile that (Clara 3.1's mapping of old "
        f"to new names: {renames or 'see its docs'}; arguments changed too)",
    )
    diags.raise_if_errors()
