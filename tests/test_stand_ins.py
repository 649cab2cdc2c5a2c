"""Stand-ins for missing bring-your-own modules: each role does the simplest real thing."""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import nibabel as nib
import numpy as np

from claragen.stand_ins import role_of, write_stand_ins


def test_roles_come_from_where_a_component_sits_and_what_a_transform_is_called():
    assert role_of("train.pre_transforms[0]", "MyNumpyLoader") == "loader"
    assert role_of("validate.pre_transforms[2]", "MyRandAdditiveNoised") == "transform"
    assert role_of("validate.handlers[1]", "MyLoaderHandler") == "handler"
    assert role_of("train.loss", "MyDiceLoss") == "loss"
    assert role_of("train.model", "MyNet") == "network"


def test_a_byoc_loader_is_stood_in_for_by_one_that_reads_the_keys_it_names(
    tmp_path, monkeypatch
):
    """trn_BYOC_DataLoader's MyNumpyLoader is its only loader: a pass-through stand-in
    would hand a file name to EnsureChannelFirstd ("Metadata not available")."""
    loader = SimpleNamespace(
        path="myNpLoader.MyNumpyLoader", locator="train.pre_transforms[0]"
    )
    noise = SimpleNamespace(
        path="myNpLoader.MyNoise", locator="train.pre_transforms[3]"
    )
    config = SimpleNamespace(every_component=lambda: [loader, noise])
    names = write_stand_ins([config], tmp_path / "mmar", tmp_path / "si")
    assert names == ["myNpLoader.MyNoise", "myNpLoader.MyNumpyLoader"]

    image = tmp_path / "img.nii.gz"
    nib.save(
        nib.Nifti1Image(np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.eye(4)),
        image,
    )
    monkeypatch.syspath_prepend(str(tmp_path / "si"))
    sys.modules.pop("myNpLoader", None)
    module = importlib.import_module("myNpLoader")
    try:
        data = module.MyNumpyLoader(fields=["image"], shape="DHW")(
            {"image": str(image)}
        )
        assert tuple(data["image"].shape) == (2, 3, 4)
        assert float(data["image"].sum()) == float(sum(range(24)))
        assert module.MyNoise(fields="image")(data) is data
    finally:
        sys.modules.pop("myNpLoader", None)
