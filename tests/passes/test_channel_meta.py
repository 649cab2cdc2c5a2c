"""A user's Lambdad between LoadImaged and EnsureChannelFirstd (issue 29, item 3): in
MONAI 0.8 the channel metadata lived in a dict beside the image and survived the lambda;
in MONAI 1.x a lambda's numpy result carries none, and EnsureChannelFirstd stopped at
the first case. The pass gives the lambda's result the metadata it was given."""

from __future__ import annotations

import numpy as np
import pytest

from claragen.transpiler.ir import to_python
from tests.conftest import compilation, minimal

BINARISE = {"name": "Lambdad", "args": {"keys": "label",
                                        "func": "lambda x: numpy.where(x > 0, 1, 0)"}}  # fmt: skip
LOAD = {"name": "LoadImaged", "args": {"keys": ["image", "label"]}}
FIRST = {"name": "EnsureChannelFirstd", "args": {"keys": ["image", "label"]}}
KEPT = "lambda x: monai.data.MetaTensor(numpy.where(x > 0, 1, 0), meta=x.meta)"


def _pre(tmp_path, transforms):
    cfg = minimal()
    cfg["train"]["pre_transforms"] = transforms
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    return comp.run_passes(built, ctx).sections["train"]["pre_transforms"], ctx


def _func(comp) -> str:
    return comp.arg("func").source


def test_a_lambda_before_channel_first_keeps_the_metadata(tmp_path):
    items, _ = _pre(tmp_path, [LOAD, BINARISE, FIRST])
    assert [c.class_name for c in items] == [
        "LoadImaged",
        "Lambdad",
        "EnsureChannelFirstd",
    ]
    assert _func(items[1]) == KEPT
    assert any("as MONAI 0.8 kept it" in n for n in items[1].notes)
    assert {k: to_python(v) for k, v in items[2].args} == {"keys": ["image", "label"]}


@pytest.mark.parametrize("transforms", [
    # no channel first after it; a reload between; the config's own channel_dim; a
    # lambda that writes another key, or none
    [LOAD, FIRST, BINARISE],
    [BINARISE, LOAD, FIRST],
    [LOAD, BINARISE, {"name": "EnsureChannelFirstd",
                      "args": {"keys": "label", "channel_dim": -1}}],
    [LOAD, {"name": "Lambdad", "args": {**BINARISE["args"], "overwrite": False}}, FIRST],
    [LOAD, {"name": "Lambdad", "args": {**BINARISE["args"], "overwrite": "l2"}}, FIRST],
])  # fmt: skip
def test_nothing_changes_where_no_channel_first_reads_what_a_lambda_replaced(
    tmp_path, transforms
):
    items, _ = _pre(tmp_path, transforms)
    lambdas = [c for c in items if c.class_name == "Lambdad"]
    assert [_func(c) for c in lambdas] == ["lambda x: numpy.where(x > 0, 1, 0)"]


@pytest.mark.parametrize("func, shape", [
    ("lambda x: numpy.where(x > 0, 1, 0)", (8, 8, 8)),  # a label file without channels
    ("lambda x: (x > 0).astype(numpy.float32)", (8, 8, 8)),
    ("lambda x: x * 2", (8, 8, 8, 2)),  # an image of two channels (BraTS-like)
    ("lambda x: numpy.where(x > 0, 1, 0)", (8, 8, 8, 2)),
])  # fmt: skip
def test_the_compiled_transforms_run_on_a_nifti(tmp_path, func, shape):
    """The compiled pipeline, taken from train.py, runs on MONAI 1.x, for a file with
    channels and one without (it stopped at the first case; a first fix made a file
    with channels 5D)."""
    import nibabel

    from tests.conftest import compile_edited_example
    from tests.dialects.test_ports import _built

    data = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    for name in ("image", "label"):
        nibabel.save(
            nibabel.Nifti1Image(data, np.eye(4)), str(tmp_path / f"{name}.nii")
        )

    def edit(cfg):
        cfg["train"]["pre_transforms"][1:1] = [
            {"name": "Lambdad", "args": {"keys": ["image", "label"], "func": func}}
        ]

    compile_edited_example(tmp_path / "c", edit, target="plain")
    transforms = _built(tmp_path / "c/out", "train_transforms")
    names = [t.__class__.__name__ for t in transforms.transforms]
    item = {"image": str(tmp_path / "image.nii"), "label": str(tmp_path / "label.nii")}
    for step in transforms.transforms[: names.index("ScaleIntensityRanged")]:
        item = step(item)
    channels = shape[3] if len(shape) == 4 else 1
    assert item["image"].shape == item["label"].shape == (channels, 8, 8, 8)
