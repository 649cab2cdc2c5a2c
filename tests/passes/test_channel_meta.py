"""A user's Lambdad between LoadImaged and EnsureChannelFirstd (issue 29, item 3): in
MONAI 0.8 the channel metadata lived in a dict beside the image and survived the lambda;
in MONAI 1.x the lambda's result carries none, and EnsureChannelFirstd stopped at the
first case. The pass gives EnsureChannelFirstd the channel of such keys."""

from __future__ import annotations

import numpy as np
import pytest

from claragen.transpiler.ir import to_python
from tests.conftest import compilation, minimal

BINARISE = {"name": "Lambdad", "args": {"keys": "label",
                                        "func": "lambda x: numpy.where(x > 0, 1, 0)"}}  # fmt: skip


def _pre(tmp_path, transforms):
    cfg = minimal()
    cfg["train"]["pre_transforms"] = transforms
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    return comp.run_passes(built, ctx).sections["train"]["pre_transforms"], ctx


def _args(comp):
    return {k: to_python(v) for k, v in comp.args}


def test_a_lambda_on_the_label_gives_its_channel_first_the_channel(tmp_path):
    load = {"name": "LoadImaged", "args": {"keys": ["image", "label"]}}
    first = {"name": "EnsureChannelFirstd", "args": {"keys": ["image", "label"]}}
    items, ctx = _pre(tmp_path, [load, BINARISE, first])
    assert [c.class_name for c in items] == ["LoadImaged", "Lambdad",
                                             "EnsureChannelFirstd", "EnsureChannelFirstd"]  # fmt: skip
    assert _args(items[2]) == {"keys": "image"}  # its metadata survived
    assert _args(items[3]) == {"keys": "label", "channel_dim": "no_channel"}
    (warning,) = [d for d in ctx.diags.items if d.code == "W102"]
    assert "channel_dim='no_channel' for 'label'" in warning.message
    assert "Lambdad before it (train.pre_transforms[1])" in warning.message


@pytest.mark.parametrize("transforms", [
    # no lambda between; a lambda after; a reload after it; the config's own channel_dim
    [{"name": "LoadImaged", "args": {"keys": "label"}},
     {"name": "EnsureChannelFirstd", "args": {"keys": "label"}}],
    [{"name": "LoadImaged", "args": {"keys": "label"}},
     {"name": "EnsureChannelFirstd", "args": {"keys": "label"}}, BINARISE],
    [BINARISE, {"name": "LoadImaged", "args": {"keys": "label"}},
     {"name": "EnsureChannelFirstd", "args": {"keys": "label"}}],
    [{"name": "LoadImaged", "args": {"keys": "label"}}, BINARISE,
     {"name": "EnsureChannelFirstd", "args": {"keys": "label", "channel_dim": -1}}],
])  # fmt: skip
def test_nothing_changes_where_the_metadata_is_there(tmp_path, transforms):
    items, ctx = _pre(tmp_path, transforms)
    assert [c.class_name for c in items] == [t["name"] for t in transforms]
    assert not [d for d in ctx.diags.items if d.code == "W102"]


def test_the_generated_transforms_run_on_a_nifti(tmp_path):
    """The compiled pipeline runs on MONAI 1.x (it stopped at the first case)."""
    import nibabel

    from tests.conftest import compile_edited_example

    image = np.random.default_rng(0).normal(size=(8, 8, 8)).astype(np.float32)
    for name in ("image", "label"):
        nibabel.save(
            nibabel.Nifti1Image(image, np.eye(4)), str(tmp_path / f"{name}.nii")
        )

    def edit(cfg):
        cfg["train"]["pre_transforms"][1:1] = [BINARISE]

    compile_edited_example(tmp_path / "c", edit, target="plain")
    text = (tmp_path / "c/out/J0001/train.py").read_text()
    assert 'EnsureChannelFirstd(keys="label", channel_dim="no_channel")' in text
    from tests.dialects.test_ports import _built

    transforms = _built(tmp_path / "c/out", "train_transforms")
    first = [t.__class__.__name__ for t in transforms.transforms].index(
        "ScaleIntensityRanged"
    )
    item = {"image": str(tmp_path / "image.nii"), "label": str(tmp_path / "label.nii")}
    for step in transforms.transforms[:first]:  # load, binarise, channel first
        item = step(item)
    assert item["image"].shape == item["label"].shape == (1, 8, 8, 8)
    assert set(item["label"].unique().tolist()) <= {0, 1}
