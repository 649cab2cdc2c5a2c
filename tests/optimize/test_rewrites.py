"""The --optimize rewrites (claragen/transpiler/optimize/), each on the lowered script of
configs made for it: what it changes, what it keeps, when it is skipped and why."""

import dataclasses
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from claragen.cli import app
from claragen.transpiler.optimize import (
    NAMES,
    Change,
    Skip,
    amp,
    batched_metrics,
    cudnn_benchmark,
    device_cache,
    fused_optimizer,
    non_blocking,
    optimize,
    sw_batch_size,
)
from claragen.transpiler.passes.expand_jobs import Job
from claragen.transpiler.pipeline import compile_to_dir
from claragen.transpiler.targets.plain import lower_plain
from claragen.transpiler.targets.plain_script import FastLoop
from tests.conftest import ENV, EXAMPLE, compilation, minimal


def example():
    return json.loads((EXAMPLE / "config" / "config_train.json").read_text())


EXAMPLE_ENV = json.loads((EXAMPLE / "config" / "environment.json").read_text())


def lowered(tmp_path, cfg):
    comp = compilation(tmp_path, cfg, {**ENV, **EXAMPLE_ENV})
    config, ctx = comp.job_passes(*comp.build(), Job("J0001", {}))
    script = lower_plain(config, ctx, str(tmp_path), "J0001", {})
    comp.diags.raise_if_errors()
    script.fast = FastLoop()
    return script


def code_of(script, target):
    """The block building `target`, its code in black's quotes."""
    found = next(b for b in script.blocks if b.target == target)
    found.code = found.code.replace("'", '"')
    return found


def test_cudnn_benchmark_keeps_a_configs_determinism_unless_told(tmp_path):
    """An explicit cudnn_benchmark: false, or a determinism block, is the config's ask
    for reproducible results: kept, and said, unless --override-determinism."""
    script = lowered(tmp_path, example())  # "cudnn_benchmark": false, determinism
    skip = cudnn_benchmark.apply(script)
    assert isinstance(skip, Skip)
    assert "cudnn_benchmark: False and a determinism block" in skip.why
    assert script.backend_flags == ["torch.backends.cudnn.benchmark = False"]
    cfg = minimal()
    cfg["determinism"] = {"random_seed": 1}
    script = lowered(tmp_path / "seed", cfg)
    assert isinstance(cudnn_benchmark.apply(script), Skip)
    cfg["cudnn_benchmark"] = True  # on already: nothing to do, and said so (an attack
    script = lowered(tmp_path / "on", cfg)  # on issue 28: it said "reproducible")
    skip = cudnn_benchmark.apply(script)
    assert skip.why == "the config turns it on itself (cudnn_benchmark: True)"
    assert script.backend_flags == ["torch.backends.cudnn.benchmark = True"]


def test_cudnn_benchmark_replaces_the_configs_flag_or_adds_one(tmp_path):
    script = lowered(tmp_path, example())  # "cudnn_benchmark": false
    assert "torch.backends.cudnn.benchmark = False" in script.backend_flags
    script.fast = FastLoop(override_determinism=True)
    change = cudnn_benchmark.apply(script)
    assert script.backend_flags == [
        'torch.backends.cudnn.benchmark = device.type == "cuda"  # --optimize cudnn-benchmark'
    ]
    assert "the config's cudnn_benchmark: False" in change.what
    script = lowered(tmp_path / "m", minimal())  # no flag: one is added
    assert cudnn_benchmark.apply(script).what == "cuDNN autotuning on CUDA"
    assert script.backend_flags[-1].startswith(
        "torch.backends.cudnn.benchmark = device"
    )


@pytest.mark.parametrize("name", ["Adam", "AdamW", "SGD", "Adagrad"])
def test_fused_optimizer_fuses_on_cuda_only(tmp_path, name):
    cfg = minimal()
    cfg["train"]["optimizer"]["name"] = name
    script = lowered(tmp_path, cfg)
    assert isinstance(fused_optimizer.apply(script), Change)
    block = code_of(script, "optimizer")
    assert block.code.endswith('fused=device.type == "cuda")')
    assert block.comments[-1].startswith("--optimize fused-optimizer:")


@pytest.mark.parametrize(
    "change, why",
    [({"name": "SGD", "args": {"params": "#@model.parameters()", "lr": 0.1,
                               "foreach": True}}, "the config sets the optimizer's 'foreach'"),
     ({"name": "Novograd", "args": {"params": "#@model.parameters()", "lr": 0.1}},
      "Novograd takes no `fused`"),
     ({"name": "RMSprop", "args": {"params": "#@model.parameters()", "lr": 0.1}},
      "RMSprop takes no `fused`")],
)  # fmt: skip
def test_fused_optimizer_keeps_what_it_cannot_fuse(tmp_path, change, why):
    cfg = minimal()
    cfg["train"]["optimizer"] = change
    script = lowered(tmp_path, cfg)
    before = code_of(script, "optimizer").code
    result = fused_optimizer.apply(script)
    assert isinstance(result, Skip) and why in result.why
    assert code_of(script, "optimizer").code == before


def test_non_blocking_pins_the_loaders_and_keeps_a_given_pin_memory(tmp_path):
    cfg = example()
    cfg["validate"]["dataloader"]["args"]["pin_memory"] = False
    script = lowered(tmp_path, cfg)
    change = non_blocking.apply(script)
    assert script.fast.non_blocking
    assert 'pin_memory=device.type == "cuda"' in code_of(script, "train_loader").code
    assert "pin_memory=False" in code_of(script, "val_loader").code
    assert "train_loader pin their batches" in change.what
    assert "val_loader keep the config's pin_memory" in change.what
    assert change.numerics == ""


@pytest.mark.parametrize("setting, was", [(False, "False"), (True, None)])
def test_amp_turns_autocast_on_for_cuda_and_says_a_config_had_it_off(
    tmp_path, setting, was
):
    cfg = example()
    cfg["amp"] = setting
    script = lowered(tmp_path, cfg)
    change = amp.apply(script)
    assert script.train.amp == script.val.amp == 'device.type == "cuda"'
    assert script.fast.amp_dtype and change.numerics
    assert ("(the literal script: False)" in change.what) == (was is not None)


@pytest.mark.parametrize(
    "given, expected",
    [(None, '4 if device.type == "cuda" else 1'), (1, '4 if device.type == "cuda" else 1'),
     (2, '4 if device.type == "cuda" else 2'), (4, None), (16, None)],
)  # fmt: skip
def test_sw_batch_size_raises_small_window_batches_on_cuda(tmp_path, given, expected):
    cfg = example()
    args = cfg["validate"]["inferer"]["args"]
    args.pop("sw_batch_size", None)
    if given is not None:
        args["sw_batch_size"] = given
    script = lowered(tmp_path, cfg)
    before = code_of(script, "val_inferer").code
    result = sw_batch_size.apply(script)
    if expected is None:
        assert (
            isinstance(result, Skip) and f"sw_batch_size={given} is kept" in result.why
        )
        assert code_of(script, "val_inferer").code == before
    else:
        assert f"sw_batch_size={expected}" in code_of(script, "val_inferer").code


def test_sw_batch_size_needs_a_sliding_window_validation(tmp_path):
    result = sw_batch_size.apply(lowered(tmp_path, minimal()))
    assert result == Skip("sw-batch-size", "the config has no validation")


def test_optimize_copies_the_script_and_lists_every_rewrite(tmp_path):
    script = lowered(tmp_path, example())
    script.fast = None
    before = (list(script.backend_flags), script.docstring)
    fast, done = optimize(script, tuple(n for n in NAMES if n != "amp"))
    assert (script.backend_flags, script.docstring, script.fast) == (*before, None)
    assert [d.name for d in done] == list(NAMES)
    assert Skip("amp", "turned off (--no-amp)") in done
    assert "- amp: not applied: turned off (--no-amp)." in fast.docstring
    assert (
        "- fused-optimizer: torch.optim.Adam(..., fused=True) on CUDA."
        in fast.docstring
    )


runner = CliRunner()


def test_every_rewrite_has_its_no_option_and_they_need_optimize():
    text = runner.invoke(app, ["compile", "--help"], env={"COLUMNS": "300"}).output
    for name in NAMES:
        assert f"--no-{name}" in text, name
    wide = {"COLUMNS": "300"}
    result = runner.invoke(app, ["compile", "-m", str(EXAMPLE), "--no-amp"], env=wide)
    assert result.exit_code == 2 and "add --optimize" in result.output
    result = runner.invoke(app, ["compile", "-m", str(EXAMPLE), "--optimize",
                                 "--target", "engines"], env=wide)  # fmt: skip
    assert result.exit_code == 2 and "--target engines has none" in result.output
    result = runner.invoke(app, ["compile", "-m", str(EXAMPLE),
                                 "--override-determinism"], env=wide)  # fmt: skip
    assert result.exit_code == 2 and "add --optimize" in result.output


def test_override_determinism_lets_cudnn_autotune(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", "-m", str(EXAMPLE), "-o", str(out),
                                 "--optimize", "--override-determinism"])  # fmt: skip
    assert result.exit_code == 0, result.output
    fast = (out / "J0001" / "train_fast.py").read_text()
    assert 'torch.backends.cudnn.benchmark = device.type == "cuda"' in fast
    assert "the config's cudnn_benchmark: False" in fast


def items_of(script, target):
    return [item.name for item in code_of(script, target).items]


def test_device_cache_ends_the_cache_on_the_device_before_the_first_random_transform(
    tmp_path,
):
    script = lowered(tmp_path, example())
    change = device_cache.apply(script)
    assert isinstance(change, Change) and "train and validate" in change.what
    train = items_of(script, "train_transforms")
    assert train.index("EnsureTyped") == train.index("RandCropByPosNegLabeld") - 1
    assert "EnsureTyped(keys=['image', 'label'], device=train_cache_device, track_meta=False)" in (
        code_of(script, "train_transforms").code.replace('"', "'"))  # fmt: skip
    assert items_of(script, "val_transforms")[-1] == "EnsureTyped"  # all deterministic
    for loader, workers in (("train_loader", 2), ("val_loader", 2)):
        code = code_of(script, loader).code
        assert code.startswith("ThreadDataLoader(")
        assert f'num_workers=0 if device.type == "cuda" else {workers}' in code
    assert "from monai.transforms import" in "\n".join(script.imports)
    assert any("ThreadDataLoader" in line for line in script.imports)
    assert not any(" DataLoader" in line for line in script.imports)
    # non-blocking pins no batch that is on the device already; a cache kept on the
    # host (it does not fit on the device) pins its batches
    assert "pin_memory" not in non_blocking.apply(script).what
    assert (
        'pin_memory=device.type == "cuda" and train_cache_device.type != "cuda"'
        in code_of(script, "train_loader").code
    )


def test_device_cache_neither_copies_the_cache_nor_scans_for_the_crop(tmp_path):
    """MONAI's fast-training idioms (issue 28, item 9): copy_cache=False (nothing after
    the cache writes into it), and the crop's foreground/background indices computed
    once, into the cache, with the crop's own label, image and threshold."""
    script = lowered(tmp_path, example())
    device_cache.apply(script)
    for dataset in ("train_dataset", "val_dataset"):
        assert "copy_cache=False" in code_of(script, dataset).code
    train = items_of(script, "train_transforms")
    at = train.index("RandCropByPosNegLabeld")
    assert train[at - 2 : at] == ["FgBgToIndicesd", "EnsureTyped"]
    code = code_of(script, "train_transforms").code.replace('"', "'")
    assert "FgBgToIndicesd(keys='label', image_key='image', image_threshold=0)" in code
    assert (
        "fg_indices_key='label_fg_indices', bg_indices_key='label_bg_indices'" in code
    )
    cfg = example()  # a random transform before the crop: the indices would be stale
    cfg["train"]["pre_transforms"].insert(
        4, {"name": "RandFlipd", "args": {"keys": ["image", "label"], "prob": 0.5}}
    )
    script = lowered(tmp_path / "flip", cfg)
    device_cache.apply(script)
    assert "FgBgToIndicesd" not in items_of(script, "train_transforms")


@pytest.mark.parametrize(
    "dataset, why",
    [("SmartCacheDataset", "SmartCacheDataset replaces cached items while training"),
     ("Dataset", "its Dataset keeps no cache in memory")],
)  # fmt: skip
def test_device_cache_keeps_a_dataset_it_cannot_cache(tmp_path, dataset, why):
    cfg = example()
    cfg["train"]["dataset"]["name"] = dataset
    for arg in ("cache_num", "cache_rate", "num_workers"):
        if dataset == "Dataset":
            cfg["train"]["dataset"]["args"].pop(arg)
    if dataset == "SmartCacheDataset":
        args = cfg["train"]["dataset"]["args"]
        args.pop("cache_num")
        args["num_init_workers"] = args.pop("num_workers")
    script = lowered(tmp_path, cfg)
    change = device_cache.apply(script)
    assert f"train: {why}" in change.what  # validation is cached, train is kept
    assert "EnsureTyped" not in items_of(script, "train_transforms")
    assert code_of(script, "train_loader").code.startswith("DataLoader(")


def test_device_cache_keeps_metadata_for_a_transform_after_a_random_one(tmp_path):
    cfg = example()  # a Spacingd after the first random transform reads the affine
    cfg["train"]["pre_transforms"].insert(
        5,
        {"name": "Spacingd", "args": {"keys": ["image", "label"], "pixdim": [1, 1, 1]}},
    )
    script = lowered(tmp_path, cfg)
    change = device_cache.apply(script)
    train = code_of(script, "train_transforms").code.replace('"', "'")
    assert "EnsureTyped(keys=['image', 'label'], device=train_cache_device)" in train
    assert "track_meta" not in train
    assert "train keeps its metadata" in change.what
    # only random transforms and type conversions after the cache: no metadata
    script = lowered(tmp_path / "plain", example())
    assert "train keeps" not in device_cache.apply(script).what
    assert "track_meta=False" in code_of(script, "train_transforms").code


def test_device_cache_skips_a_partial_cache_and_says_a_cache_num(tmp_path):
    cfg = example()
    cfg["train"]["dataset"]["args"]["cache_rate"] = 0.5
    script = lowered(tmp_path, cfg)
    change = device_cache.apply(script)
    assert "train: its cache_rate=0.5 leaves items uncached" in change.what
    assert code_of(script, "train_loader").code.startswith("DataLoader(")
    assert "the config's cache_num (validate 9) caps the cache" in change.what


def test_device_cache_pins_no_cuda_batch_of_a_config_that_pins(tmp_path):
    cfg = example()
    cfg["train"]["dataloader"]["args"]["pin_memory"] = True
    cfg["validate"]["dataloader"]["args"]["pin_memory"] = False
    script = lowered(tmp_path, cfg)
    change = device_cache.apply(script)
    assert (
        'pin_memory=train_cache_device.type != "cuda")'
        in code_of(script, "train_loader").code
    )
    assert "pin_memory=False" in code_of(script, "val_loader").code
    assert "validate's loader pins" not in change.what
    assert "train's loader pins no batch on CUDA (pin_memory=True)" in change.what


def test_device_cache_does_not_guess_a_byoc_transform_after_the_cache(tmp_path):
    cfg = example()
    cfg["train"]["pre_transforms"].append(
        {"path": "my_transforms.MyNormd", "args": {"keys": "image"}}
    )
    result = device_cache.apply(lowered(tmp_path, cfg))
    assert "train: a transform of its own, after the cache, may not take tensors" in (
        result.what)  # fmt: skip


def test_device_cache_does_not_guess_a_byoc_transforms_randomness(tmp_path):
    cfg = example()
    cfg["train"]["pre_transforms"].insert(
        4, {"path": "my_transforms.MaybeRandom", "args": {"keys": "image"}}
    )
    cfg["validate"]["pre_transforms"] = cfg["validate"]["pre_transforms"][:1] + [
        {"path": "my_transforms.MaybeRandom", "args": {"keys": "image"}}]  # fmt: skip
    result = device_cache.apply(lowered(tmp_path, cfg))
    assert isinstance(result, Skip)
    assert "train: a transform of its own is of unknown randomness" in result.why


def test_batched_metrics_decollates_pred_and_label_only_when_nothing_else_is_read(
    tmp_path,
):
    script = lowered(tmp_path, example())
    assert isinstance(batched_metrics.apply(script), Change)
    assert script.fast.batched_metrics
    cfg = example()  # a post-transform that reads the image keeps the literal batch
    cfg["train"]["post_transforms"].append(
        {"name": "CopyItemsd", "args": {"keys": "image", "names": "image_copy"}}
    )
    script = lowered(tmp_path / "image", cfg)
    result = batched_metrics.apply(script)
    assert isinstance(result, Skip) and "'image'" in result.why
    assert not script.fast.batched_metrics
    result = batched_metrics.apply(lowered(tmp_path / "m", minimal()))
    assert result == Skip("batched-metrics", "the trainer has no train metrics")


def cached(cfg):
    cfg["train"]["dataset"]["name"] = "CacheDataset"
    cfg["train"]["dataset"]["args"]["num_workers"] = 2
    cfg["train"]["pre_transforms"].append(
        {"name": "RandFlipd", "args": {"keys": ["image", "label"], "prob": 0.5}}
    )
    return cfg


CONFIGS = {"minimal, no validation": minimal, "minimal, cached": lambda: cached(minimal()),
           "example": example}  # fmt: skip
SUBSETS = [NAMES] + [(name,) for name in NAMES]


def test_every_rewrite_alone_and_all_together_give_clean_scripts(tmp_path):
    """Each rewrite may be the only one (--no-<name> of all others) or one of all: on a
    config without validation, a cached one and the example, train_fast.py (and train.py)
    is ruff-clean (no name used that another rewrite defines, no import left unused) and
    compiles."""
    scripts = []
    for c, (label, make) in enumerate(CONFIGS.items()):
        env = {**ENV, **EXAMPLE_ENV}
        for s, names in enumerate(SUBSETS):
            out = tmp_path / f"{c}_{s}"
            comp = compilation(out, make(), env)
            comp.options = dataclasses.replace(comp.options, optimize=names)
            (job,) = compile_to_dir(comp, out / "out")["jobs"]
            assert job.get("fast"), (label, names)
            scripts.append(out / "out" / job["fast"])
            if s == 0:
                scripts.append(out / "out" / job["script"])  # and the literal one
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,B,UP",
         "--ignore", "E501", *map(str, scripts)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    for script in scripts:
        compile(script.read_text(), str(script), "exec")
