"""device-cache on the CPU gives the literal script's samples: the train transforms of
train.py and train_fast.py, built as each script builds them, turn the same NIfTI case
(an anisotropic affine, so that a transform reading the metadata gives another shape
without it) into the same tensors under the same random state."""

import ast
import dataclasses
import runpy

import nibabel as nib
import numpy as np
import pytest
import torch

from claragen.transpiler.pipeline import compile_to_dir
from tests.conftest import ENV, compilation
from tests.optimize.test_rewrites import EXAMPLE_ENV, example


def train_transforms(path):
    """The script's `train_transforms = ...` statement, run in the script's globals (the
    module imported as a module: nothing of main() runs but that statement)."""
    tree = ast.parse(path.read_text())
    stmt = next(
        node for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "train_transforms"
    )  # fmt: skip
    ns = runpy.run_path(str(path), run_name="not_main")
    ns["device"], ns["args"] = torch.device("cpu"), ns["parse_args"]([])
    ns["train_cache_device"] = ns["device"]  # (train_fast.py: cache_device_for(...))
    exec(compile(ast.Module([stmt], []), str(path), "exec"), ns)
    return ns["train_transforms"]


def with_spacing(cfg):
    """A Spacingd after the first random transform: it reads the affine."""
    cfg["train"]["pre_transforms"].insert(
        5,
        {"name": "Spacingd", "args": {"keys": ["image", "label"], "pixdim": [1, 1, 1]}},
    )
    return cfg


@pytest.mark.parametrize("make", [example, lambda: with_spacing(example())],
                         ids=["example", "spacing after a random transform"])  # fmt: skip
def test_device_cache_gives_the_literal_samples_on_the_cpu(tmp_path, make):
    cfg = make()
    cfg["train"]["pre_transforms"][4]["args"]["spatial_size"] = [8, 8, 8]
    comp = compilation(tmp_path, cfg, {**ENV, **EXAMPLE_ENV})
    comp.options = dataclasses.replace(comp.options, optimize=("device-cache",))
    (job,) = compile_to_dir(comp, tmp_path / "out")["jobs"]
    fast_code = (tmp_path / "out" / job["fast"]).read_text()
    assert "EnsureTyped(" in fast_code
    rng = np.random.default_rng(0)
    image = rng.normal(size=(20, 20, 12)).astype("float32")
    label = np.zeros((20, 20, 12), "float32")
    label[5:15, 5:15, 3:9] = 1
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    case = {}
    for key, data in (("image", image), ("label", label)):
        nib.save(nib.Nifti1Image(data, affine), tmp_path / f"{key}.nii.gz")
        case[key] = str(tmp_path / f"{key}.nii.gz")
    samples = []
    for script in ("script", "fast"):
        transforms = train_transforms(tmp_path / "out" / job[script])
        transforms.set_random_state(seed=0)
        samples.append(transforms(dict(case)))
    literal, fast = samples
    assert len(literal) == len(fast) == 4  # RandCropByPosNegLabeld's num_samples
    for a, b in zip(literal, fast, strict=True):
        for key in ("image", "label"):
            assert a[key].shape == b[key].shape
            assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key]))


def test_the_device_cache_falls_back_to_the_host_when_it_does_not_fit(
    tmp_path, monkeypatch, caplog
):
    """cache_device_for() of train_fast.py: the first case times the cached cases
    against the device's free memory (issue 28, item 9); without a GPU here, the free
    memory is what the test says."""
    import json
    import logging

    from tests.conftest import synthetic_data

    comp = compilation(tmp_path, example(), {**ENV, **EXAMPLE_ENV})
    comp.options = dataclasses.replace(comp.options, optimize=("device-cache",))
    compile_to_dir(comp, tmp_path / "out")
    ns = runpy.run_path(str(tmp_path / "out" / "J0001" / "train_fast.py"), run_name="x")
    root = synthetic_data(tmp_path / "d", 2, 1, (16, 16, 16))
    data = [{k: str(root / v) for k, v in case.items()}
            for case in json.loads((root / "dataset.json").read_text())["training"]]  # fmt: skip
    case = 2 * 16 * 16 * 16 * 4  # image and label, float32
    cuda, keys = torch.device("cuda"), ["image", "label"]
    assert len(data) == 1
    for free, expected in ((2 * case, cuda), (case, torch.device("cpu"))):
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d, f=free: (f, f))
        with caplog.at_level(logging.INFO):
            assert ns["cache_device_for"](cuda, data, keys, None) == expected
    assert "it stays on the host, pinned" in caplog.text
    assert ns["cache_device_for"](torch.device("cpu"), data, keys, 1).type == "cpu"
