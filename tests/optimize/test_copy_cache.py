"""copy_cache=False (--optimize device-cache) only where nothing after the cache writes
into it (found by an attack on issue 28: a crop's view of the cache, then
NormalizeIntensityd(nonzero=True), trained every later epoch on data earlier epochs had
changed, and train_fast.py's losses left train.py's from the second epoch on).

device_cache.READ_ONLY is the allowlist of transforms that never write into what they
are given; each member is checked here on MONAI itself, on views of a cached item, as a
crop before it would hand them on.
"""

from __future__ import annotations

import json

import pytest
import torch

from claragen.transpiler.optimize import NAMES, device_cache
from tests.optimize.test_rewrites import code_of, example, lowered
from tests.test_differential import start_script, wait_all
from tests.test_golden import compile_example

KEYS = ["image", "label"]
CROP = {"spatial_size": [8, 8, 8], "num_samples": 2}
# Args for each transform of the allowlist: what a config gives it, with every random
# choice taken (prob 1); None: keys only.
ARGS = {
    "RandCropByPosNegLabeld": {"label_key": "label", "pos": 1, "neg": 1, **CROP},
    "RandSpatialCropd": {"roi_size": [8, 8, 8]},
    "RandSpatialCropSamplesd": {"roi_size": [8, 8, 8], "num_samples": 2},
    "RandCropByLabelClassesd": {"label_key": "label", "num_classes": 2, **CROP},
    "RandWeightedCropd": {"w_key": "image", **CROP},
    "RandFlipd": {"prob": 1.0, "spatial_axis": 0},
    "RandAxisFlipd": {"prob": 1.0},
    "RandRotate90d": {"prob": 1.0},
    "RandRotated": {"prob": 1.0, "range_x": 0.3},
    "RandAffined": {"prob": 1.0, "rotate_range": 0.2, "mode": "nearest"},
    "RandZoomd": {"prob": 1.0, "min_zoom": 0.8, "max_zoom": 1.2},
    "Rand3DElasticd": {"prob": 1.0, "sigma_range": (5, 7), "magnitude_range": (50, 150)},
    "Rand2DElasticd": {"prob": 1.0, "spacing": (4, 4), "magnitude_range": (1, 2)},
    "RandShiftIntensityd": {"prob": 1.0, "offsets": 0.1},
    "RandScaleIntensityd": {"prob": 1.0, "factors": 0.1},
    "RandGaussianNoised": {"prob": 1.0},
    "RandGaussianSmoothd": {"prob": 1.0},
    "RandGaussianSharpend": {"prob": 1.0},
    "RandAdjustContrastd": {"prob": 1.0},
    "RandHistogramShiftd": {"prob": 1.0},
    "RandBiasFieldd": {"prob": 1.0},
    "RandCoarseDropoutd": {"prob": 1.0, "holes": 2, "spatial_size": 4},
    "RandCoarseShuffled": {"prob": 1.0, "holes": 2, "spatial_size": 4},
    "RandScaleIntensityFixedMeand": {"prob": 1.0, "factors": 0.1},
    "RandSimulateLowResolutiond": {"prob": 1.0},
    "RandGibbsNoised": {"prob": 1.0},
    "RandKSpaceSpikeNoised": {"prob": 1.0},
    "RandRicianNoised": {"prob": 1.0},
    "ToTensord": None, "EnsureTyped": None, "CastToTyped": None, "Identityd": None,
    "ScaleIntensityd": None,
    "ScaleIntensityRanged": {"a_min": 0, "a_max": 50, "b_min": 0, "b_max": 1, "clip": True},
    "ThresholdIntensityd": {"threshold": 0.5},
    "SpatialPadd": {"spatial_size": [20, 20, 20]},
    "DivisiblePadd": {"k": 16},
    "CenterSpatialCropd": {"roi_size": [8, 8, 8]},
    "AsDiscreted": {"threshold": 0.5},
}  # fmt: skip
# Those that write into what they are given: the check below must find them.
WRITERS = {
    "NormalizeIntensityd": {"nonzero": True, "channel_wise": True},
    "RandStdShiftIntensityd": {"prob": 1.0, "factors": 0.1},
}


def writes_into_its_input(name: str, args: dict | None) -> bool:
    """Whether the MONAI transform `name` changes a cached item it is given views of."""
    import monai.transforms
    from monai.data import MetaTensor

    two_d = name == "Rand2DElasticd"
    shape = (1, 16, 16) if two_d else (1, 16, 16, 16)
    window = (slice(None), *[slice(2, 14)] * (len(shape) - 1))
    for seed in range(3):
        torch.manual_seed(seed)
        cached = {
            "image": MetaTensor(torch.rand(shape) * 100 * (torch.rand(shape) > 0.3)),
            "label": MetaTensor((torch.rand(shape) > 0.5).float()),
        }
        before = {k: v.clone() for k, v in cached.items()}
        if two_d and args:
            args = {**args, "spatial_size": None}
        transform = getattr(monai.transforms, name)(keys=KEYS, **(args or {}))
        if hasattr(transform, "set_random_state"):
            transform.set_random_state(seed)
        transform({k: v[window] for k, v in cached.items()})
        if any(not torch.equal(before[k], cached[k]) for k in KEYS):
            return True
    return False


def test_every_transform_of_the_allowlist_is_checked():
    assert set(ARGS) == device_cache.READ_ONLY


@pytest.mark.parametrize("name", sorted(device_cache.READ_ONLY))
def test_no_transform_of_the_allowlist_writes_into_the_cache(name):
    assert not writes_into_its_input(name, ARGS[name])


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_the_check_finds_the_transforms_that_write_in_place(name):
    assert name not in device_cache.READ_ONLY
    assert writes_into_its_input(name, WRITERS[name])


def normalized(cfg):
    """The example, with NormalizeIntensityd after its crop, and loaders without worker
    processes (a worker's writes would stay in its own copy of the cache)."""
    pre = cfg["train"]["pre_transforms"]
    at = next(i for i, t in enumerate(pre) if t["name"] == "RandCropByPosNegLabeld")
    pre.insert(at + 1, {"name": "NormalizeIntensityd",
                        "args": {"keys": "image", "nonzero": True, "channel_wise": True}})  # fmt: skip
    for section in ("train", "validate"):
        cfg[section]["dataloader"]["args"]["num_workers"] = 0
    return cfg


def test_a_transform_that_writes_in_place_after_the_cache_keeps_its_copy(tmp_path):
    script = lowered(tmp_path, normalized(example()))
    change = device_cache.apply(script)
    assert "copy_cache" not in code_of(script, "train_dataset").code
    assert "train's cache is copied per item: NormalizeIntensityd" in change.what
    assert "copy_cache=False" in code_of(script, "val_dataset").code  # nothing after it


@pytest.mark.e2e
def test_train_fast_py_trains_on_the_cache_train_py_trains_on(tmp_path):
    """The attack's run: train.py and train_fast.py of the example with
    NormalizeIntensityd after its crop give the same loss at every iteration of three
    epochs (with copy_cache=False they parted at the second)."""
    from tests.conftest import synthetic_data

    data = synthetic_data(tmp_path / "data", 4, 1, (32, 32, 32))
    out = compile_example(tmp_path / "c", edit=normalized, optimize=NAMES) / "J0001"
    sizes = ["--crop-size", "16", "16", "16", "--roi-size", "32", "32", "32"]
    runs = wait_all({
        script: start_script(out / f"{script}.py", data, tmp_path / script, sizes, 3)
        for script in ("train", "train_fast")
    })  # fmt: skip
    literal, fast = runs["train"]["losses"], runs["train_fast"]["losses"]
    assert len(literal) == len(fast) >= 6
    assert (
        max(abs(a - b) for a, b in zip(literal, fast, strict=True)) <= 1e-5
    ), json.dumps([literal, fast])
