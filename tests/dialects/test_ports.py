"""Property tests of the 3.x ports, generated from the port table and its record of what
Clara documents (port_table.COMPONENTS: `requires`, `takes`; CLARA_COMPONENTS.md).

For every legacy component: a config with only the args Clara requires, and one with every
arg Clara documents, compile with no error (rule: "it ran in Clara, so it compiles"); the
scripts pass `ruff check` and `compile()`; the ported transform, network, loss or metric,
taken from the generated code, runs on small tensors; a misspelt arg gets a did-you-mean
by the config's own name.
"""

import ast
import json
import subprocess
import sys

import pytest

from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.dialects.port_table import (
    COMPONENTS,
    DROPPED,
    NO_EQUIVALENT,
    SIGNATURE_COMPLETE,
)
from claragen.transpiler.pipeline import compile_to_dir
from tests.conftest import EXAMPLE, compilation

SPLEEN_3X = EXAMPLE.parent / "spleen_3x" / "config" / "config_train.json"
V3 = [32, 32, 32]
# A value of the documented type for every arg of the table.
SAMPLES = {
    "fields": "image", "field": "model", "label_field": "label", "image_field": "image",
    "size": V3, "target_resolution": [1.0, 1.0, 1.0], "factor": 1.0, "target_shape": V3,
    "a_min": -57, "a_max": 164, "b_min": 0.0, "b_max": 1.0, "clip": True,
    "dtype": "float32", "nii_is_channels_first": False, "as_closest_canonical": True,
    "is_label": False, "pos": 1, "neg": 1, "batch_size": 2, "batches_to_gen_at_once": 4,
    "fast_crop": True, "deform": False, "rotation": False, "rotation_degree": 20,
    "scale": 0.1, "scale_factor": 0.1, "lower_size": [24, 24, 24], "max_displacement": 4,
    "div_int": 16, "probability": 0.5, "angle": 15, "is_random": True,
    "lower_limits": [0.9, 0.9, 0.9], "upper_limits": [1.1, 1.1, 1.1], "magnitude": 0.1,
    "shift": 0.1, "variance": 0.04, "sigma": 3, "permutation": 0, "rescale_min": -1.0,
    "rescale_max": 1.0, "points_channel_field": "points", "repeat_times": 2,
    "class_names": ["TC", "WT", "ET"], "out_dir": "{MMAR_CKPT_DIR}", "compressed": True,
    "use_identity": False, "revert_canonical": False, "transpose_axes": [0, 1, 2],
    "squeeze": False, "interrupt": False, "threshold": 0.5, "src_field": "image",
    "num_classes": 2, "if_use_psp": False, "plane": "z", "pretrain_weight_name": "w.h5",
    "pretrain_weight_url": "https://example.invalid/w.h5", "final_activation": "softmax",
    "data_format": "channels_first", "n_spatial_dim": 3, "init_filters": 8,
    "blocks_down": "1,2,2,4", "blocks_up": "1,1,1", "dropout_prob": 0.2,
    "reg_weight": 1e-5, "use_group_norm": True, "use_group_normG": 8,
    "use_batch_norm": False, "use_vae": False, "nf_enc": "32,64", "nf_dec": "64,32",
    "weight_decay": 1e-5, "skip_background": False, "squared_pred": False,
    "jaccard": False, "smooth": 1e-5, "top_smooth": 0.0, "is_onehot_targets": False,
    "label_weights": [1.0, 1.0], "gamma": 2.0, "class_weights": [1.0, 2.0],
    "learning_rate": 1e-4, "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8,
    "use_locking": False, "name": "val_metric", "grad_averaging": False, "momentum": 0.9,
    "use_nesterov": True, "decay_ratio": 0.1, "decay_freq": 100, "poly_power": 0.9,
    "rate": 0.5, "roi_size": V3, "is_2d": False, "remove_bg": True, "logit_thresh": 0.5,
    "is_one_hot_targets": False, "report_path": "report", "do_summary": True,
    "do_print": True, "is_key_metric": True, "auc_average": "macro", "class_index": 1,
    "include_list": [1], "label_names": ["background", "organ"],
    "channel_names": ["background", "organ"],
}  # fmt: skip
# Components that run on the network's output ("model" -> "pred"), not on loaded images.
ON_PREDICTIONS = {"ArgmaxAcrossChannels", "ThresholdValues", "KeepLargestCC",
                  "RestoreOriginalShape", "ProcessMulticlassPreds", "SaveAsNifti",
                  "SplitBasedOnLabel", "SplitAcrossChannels"}  # fmt: skip
FIELDS_OF = {"ConvertToMultiChannelBasedOnBratsClasses": "label"}
SLOTS = {
    "networks": ("train", "model"), "losses": ("train", "loss"),
    "lr_scheduler": ("train", "lr_policy"), "optim": ("train", "optimizer"),
    "inferers": ("validate", "inferer"), "handlers": ("validate", "metrics"),
}  # fmt: skip


def _text(diag) -> str:
    return f"{diag.code} {diag.message} help: {diag.help}"


def role(name: str) -> str:
    from claragen.transpiler import symbols

    module = symbols.lookup(COMPONENTS[name].target).module
    if module == "monai.transforms":
        return "post_transforms" if name in ON_PREDICTIONS else "transforms"
    if module == "torch.nn":
        return "losses"
    return next(k for k in SLOTS if k in module)


LOADERS = {"LoadNifti", "LoadPng", "LoadJpg"}
BOTH = ["image", "label"]


def config_with(name: str, args: dict) -> dict:
    """The 3.x spleen config with the component in its place; a transform comes after
    loading and the channel (what the smoke test runs), a post-transform in validate."""
    cfg = json.loads(SPLEEN_3X.read_text())
    comp = {"name": name, "args": args}
    kind = role(name)
    if kind == "transforms":
        if "fields" in args:
            args["fields"] = BOTH if name in LOADERS else FIELDS_OF.get(name, "image")
        load = {"name": "LoadNifti", "args": {"fields": BOTH}}
        first = {"name": "ConvertToChannelsFirst", "args": {"fields": BOTH}}
        if name in LOADERS:
            cfg["train"]["pre_transforms"] = [comp, first]
        elif name == "ConvertToChannelsFirst":
            cfg["train"]["pre_transforms"] = [load, comp]
        else:
            cfg["train"]["pre_transforms"] = [load, first, comp]
    elif kind == "post_transforms":
        if "fields" in args:
            args["fields"] = "model"  # the network's output in Clara 3.x
        cfg["validate"]["post_transforms"] = [comp]
    elif kind == "handlers":
        cfg["validate"]["metrics"] = [comp]
    else:
        section, key = SLOTS[kind]
        cfg[section][key] = comp
    return cfg


def args_of(name: str, every: bool) -> dict:
    port = COMPONENTS[name]
    names = port.clara_args if every else port.requires
    return {a: SAMPLES[a] for a in names}


# (a port whose required args are all it takes is one case: both would compile the same)
CASES = [(n, every) for n in COMPONENTS for every in (False, True)
         if not every or set(COMPONENTS[n].requires) != set(COMPONENTS[n].clara_args)]  # fmt: skip
# A 3.x classification data list (SPEC 7): DenseNet121 without num_classes has one output
# per label of its label_format.
DATA_LISTS = {"DenseNet121": {"label_format": [1, 1], "training": [
    {"image": "a.png", "label": [0, 1]}]}}  # fmt: skip


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Every case compiled once: (name, every) -> (output folder, error texts)."""
    root = tmp_path_factory.mktemp("ports")
    results = {}
    for name, every in CASES:
        case = root / f"{name}_{'every' if every else 'required'}"
        if name in DATA_LISTS:  # what the port reads of the MMAR's data list
            (case / "config").mkdir(parents=True)
            (case / "config" / "dataset_0.json").write_text(
                json.dumps(DATA_LISTS[name])
            )
        comp = compilation(case, config_with(name, args_of(name, every)))
        try:
            compile_to_dir(comp, case / "out")
            errors = []
        except CompileError as exc:
            errors = [_text(d) for d in exc.diagnostics if d.severity == "error"]
        results[name, every] = (case / "out", errors)
    return root, results


def test_the_table_documents_every_arg_it_ports():
    """Each port's renames and drops are args Clara documents (or the TF-only ones)."""
    for name, port in COMPONENTS.items():
        for arg in (*port.renames, *port.drop):
            assert arg in port.clara_args or arg in {"dtype", "data_format"}, (
                name,
                arg,
            )
        for arg in port.clara_args:
            assert arg in SAMPLES, f"{name}: no sample value for {arg!r}"


@pytest.mark.parametrize(("name", "every"), CASES, ids=[f"{n}-{'every' if e else 'required'}" for n, e in CASES])  # fmt: skip
def test_a_port_compiles_with_the_args_clara_required_or_documented(
    compiled, name, every
):
    _, results = compiled
    out, errors = results[name, every]
    assert not errors, "\n".join(errors)
    script = out / "J0001" / "train.py"
    compile(script.read_text(), str(script), "exec")


def test_the_ported_scripts_pass_ruff(compiled):
    root, _ = compiled
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "-q", str(root)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.parametrize("name", [n for n in COMPONENTS if COMPONENTS[n].clara_args])
def test_a_misspelt_arg_gets_a_did_you_mean_by_its_clara_name(tmp_path, name):
    args = args_of(name, True)
    arg = next(iter(args))
    wrong = arg[:-1] + ("x" if arg[-1] != "x" else "y")
    args[wrong] = args.pop(arg)
    comp = compilation(tmp_path, config_with(name, args))
    with pytest.raises(CompileError) as info:  # a misspelling: an error, even where
        compile_to_dir(comp, tmp_path / "out")  # Clara's args are known in part
    text = "\n".join(_text(d) for d in info.value.diagnostics)
    assert f"takes no argument {wrong!r}" in text
    assert f"did you mean {arg!r}" in text


@pytest.mark.parametrize("name", sorted(NO_EQUIVALENT))
def test_what_has_no_monai_equivalent_is_an_e403_with_the_byoc_way_out(tmp_path, name):
    cfg = json.loads(SPLEEN_3X.read_text())
    cfg["train"]["pre_transforms"].append({"name": name, "args": {}})
    comp = compilation(tmp_path, cfg)
    with pytest.raises(CompileError) as info:
        compile_to_dir(comp, tmp_path / "out")
    (error,) = [d for d in info.value.diagnostics if d.code == "E403"]
    assert f'"path": "my_module.{name}" (BYOC)' in _text(error)


@pytest.mark.parametrize("name", sorted(DROPPED))
def test_what_monai_does_not_need_is_left_out_with_a_note(tmp_path, name):
    cfg = json.loads(SPLEEN_3X.read_text())
    cfg["train"]["pre_transforms"].insert(
        2, {"name": name, "args": {"fields": "image"}}
    )
    comp = compilation(tmp_path, cfg)
    compile_to_dir(comp, tmp_path / "out")
    assert any(d.code == "W101" and name in d.message for d in comp.diags.warnings)
    text = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert f"# Clara 3.x {name} (line " in text


# -- the ported objects, taken from the generated code, run --------------------------------


def _statement(script: str, target: str) -> ast.stmt:
    """The assignment to `target` in main() of a generated script."""
    tree = ast.parse(script)
    main = next(
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"
    )
    for node in ast.walk(main):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == target for t in node.targets
        ):
            return node
    raise AssertionError(f"no {target} = ... in main()")


def _namespace(script: str) -> dict:
    """The generated module's imports and constants (importing it runs nothing else)."""
    namespace: dict = {"__name__": "ported", "__file__": "/nonexistent/train.py"}
    exec(compile(script, "train.py", "exec"), namespace)
    namespace["args"] = namespace["parse_args"]([])
    namespace["args"].crop_size = (16, 16, 16)
    namespace["args"].roi_size = (16, 16, 16)
    namespace["device"] = __import__("torch").device("cpu")
    return namespace


def _built(out, target: str):
    script = (out / "J0001" / "train.py").read_text()
    namespace = _namespace(script)
    statement = _statement(script, target)
    for node in ast.walk(
        statement
    ):  # no download in a test: the architecture is built,
        if (
            isinstance(node, ast.keyword) and node.arg == "pretrained"
        ):  # not the weights
            node.value = ast.copy_location(ast.Constant(False), node.value)
    module = ast.Module(body=[statement], type_ignores=[])
    exec(compile(module, "train.py", "exec"), namespace)
    return namespace[target]


def _keywords(out, target: str) -> dict:
    """The literal keyword args of the call assigned to `target`."""
    script = (out / "J0001" / "train.py").read_text()
    call = _statement(script, target).value
    while isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
        call = call.func.value  # UNet(...).to(device)
    return {
        k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)
    }


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """One small NIfTI image and label pair."""
    import nibabel
    import numpy as np

    root = tmp_path_factory.mktemp("volume")
    rng = np.random.default_rng(0)
    image = rng.normal(size=(40, 40, 40)).astype(np.float32) * 100
    label = np.zeros((40, 40, 40), np.uint8)
    label[10:30, 10:30, 10:30] = 1
    paths = {}
    for key, data in (("image", image), ("label", label)):
        paths[key] = str(root / f"{key}.nii.gz")
        nibabel.save(
            nibabel.Nifti1Image(data, np.diag([1.5, 1.5, 2.0, 1.0])), paths[key]
        )
    return paths


SMOKED = [
    (n, e)
    for n, e in CASES
    if role(n) in ("transforms", "post_transforms", "networks", "losses", "handlers")
]


@pytest.mark.parametrize(("name", "every"), SMOKED, ids=[f"{n}-{'every' if e else 'required'}" for n, e in SMOKED])  # fmt: skip
def test_the_ported_component_runs(compiled, volume, name, every):
    import torch

    _, results = compiled
    out, errors = results[name, every]
    assert not errors
    kind = role(name)
    if kind == "transforms":
        result = _built(out, "train_transforms")(dict(volume))
        items = result if isinstance(result, list) else [result]
        assert all(item["image"].ndim == 4 for item in items)
        # Clara 3.x's TensorFlow transforms gave float tensors (CLARA_COMPONENTS.md:
        # dtype float32 where documented); a boolean label stopped a squared-pred Dice
        # (issue 29, item 1)
        for item in items:
            for key in ("image", "label"):
                assert item[key].dtype.is_floating_point, (key, item[key].dtype)
    elif kind == "post_transforms":
        if name in ("RestoreOriginalShape", "SaveAsNifti"):
            pytest.skip("runs on a prediction of the validation loop (make corpus)")
        pred = torch.rand(2, 40, 40, 40)
        if name == "SplitBasedOnLabel":  # it splits a label map (after the argmax)
            pred = torch.randint(0, 2, (1, 40, 40, 40)).float()
        result = _built(out, "val_post_transforms")({"pred": pred, "label": pred[:1]})
        assert result["pred"].shape[-3:] == (40, 40, 40)
    elif kind == "networks":
        model = _built(out, "model").eval()
        kwargs = _keywords(out, "model")
        if (
            name == "SegAhnet"
        ):  # Clara's pretrain_weight_name: ImageNet ResNet-50 weights
            assert kwargs["pretrained"] is every
        dims = kwargs.get("spatial_dims", 3)
        size = (
            1,
            kwargs.get("in_channels", 1),
            *([32] * dims if dims == 3 else [64, 64]),
        )
        with torch.no_grad():
            y = model(torch.rand(size))
        assert y.shape[1] == 2
    elif kind == "handlers":  # a metric: the plain loop's monai.metrics class
        (metric,) = _built(out, "val_metrics").values()
        label = (torch.rand(2, 1, 8, 8, 8) > 0.5).float()
        onehot = torch.cat([1 - label, label], dim=1)
        if type(metric).__name__ == "ROCAUCMetric":
            metric(torch.rand(4, 2), torch.tensor([[1, 0], [0, 1], [1, 0], [0, 1]]))
        else:
            metric(onehot, onehot)
        value = metric.aggregate()
        value = value[0] if isinstance(value, list | tuple) else value
        assert 0.0 <= float(value) <= 1.0
    else:
        loss = _built(out, "loss_function")
        if (
            "CrossEntropyLoss" in type(loss).__name__
            and "Dice" not in type(loss).__name__
        ):
            value = loss(torch.rand(4, 2), torch.tensor([0, 1, 1, 0]))
        elif type(loss).__name__ == "BCEWithLogitsLoss":
            value = loss(torch.rand(4, 1), torch.rand(4, 1).round())
        else:
            label = (torch.rand(1, 1, 16, 16, 16) > 0.5).float()
            value = loss(torch.rand(1, 2, 16, 16, 16), label)
        assert torch.isfinite(value)


@pytest.mark.parametrize("data, expected", [
    ({"label_format": [1] * 15, "training": []}, 15),
    ({"training": [{"image": "a.png", "label": [0, 1, 0, 1]}]}, 4),
    ({"training": [{"image": "a.nii.gz", "label": "a_seg.nii.gz"}]}, None),
    (None, None),
])  # fmt: skip
def test_a_3x_densenet_without_num_classes_has_one_output_per_label(
    tmp_path, data, expected
):
    """NVIDIA's 3.x chest X-ray MMAR gives DenseNet121 no num_classes: its head had one
    output per label of the data list. The port was emitted without out_channels and
    crashed at its first batch (issue 29, item 2); now it reads the count from the data
    list (a W109 says so), or, where it cannot, the config must give it (E402)."""
    cfg = config_with("DenseNet121", {"weight_decay": 1e-5})
    if data is not None:
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "dataset_0.json").write_text(json.dumps(data))
    comp = compilation(tmp_path, cfg)
    if expected is None:
        with pytest.raises(CompileError) as info:
            compile_to_dir(comp, tmp_path / "out")
        (error,) = [d for d in info.value.diagnostics if d.code == "E402"]
        assert "needs its number of classes" in error.message
        assert '"num_classes"' in error.help
        return
    compile_to_dir(comp, tmp_path / "out")
    (warning,) = [d for d in comp.diags.items if d.code == "W109"
                  and "DenseNet121" in d.message]  # fmt: skip
    assert f"out_channels={expected}" in warning.message
    assert _keywords(tmp_path / "out", "model")["out_channels"] == expected


@pytest.mark.parametrize("names, channels", [
    (None, 3), (["TC", "WT", "ET"], 3), (["WT"], 1), (["ET", "TC"], 2), (["wc"], 1),
])  # fmt: skip
def test_brats_classes_gives_the_named_channels_as_floats(tmp_path, names, channels):
    """Clara 3.x made one float32 channel per name of class_names, in their order; MONAI
    makes TC, WT, ET as booleans (issue 29, items 1 and 4: a subset was E403)."""
    import torch

    args = {"fields": "label"}
    if names is not None:
        args["class_names"] = names
    comp = compilation(
        tmp_path, config_with("ConvertToMultiChannelBasedOnBratsClasses", args)
    )
    compile_to_dir(comp, tmp_path / "out")
    transforms = _built(tmp_path / "out", "train_transforms")
    label = torch.tensor([0, 1, 2, 4]).reshape(1, 4, 1, 1).float()
    steps = [t for t in transforms.transforms if type(t).__name__ != "LoadImaged"
             and type(t).__name__ != "EnsureChannelFirstd"]  # fmt: skip
    item = {"label": label}
    for step in steps:
        item = step(item)
    assert item["label"].dtype == torch.float32
    assert item["label"].shape[0] == channels
    mapping = {"TC": [0, 1, 0, 1], "WT": [0, 1, 1, 1], "ET": [0, 0, 0, 1]}
    wanted = [n.upper().replace("WC", "WT") for n in (names or ["TC", "WT", "ET"])]
    assert item["label"].flatten(1).tolist() == [mapping[n] for n in wanted]


def test_brats_classes_outside_tc_wt_et_is_an_e403(tmp_path):
    args = {"fields": "label", "class_names": ["NCR"]}
    comp = compilation(
        tmp_path, config_with("ConvertToMultiChannelBasedOnBratsClasses", args)
    )
    with pytest.raises(CompileError) as info:
        compile_to_dir(comp, tmp_path / "out")
    (error,) = [d for d in info.value.diagnostics if d.code == "E403"]
    assert "TC, WT (or WC) and ET" in error.message


def clara_statuses() -> dict[str, list[str]]:
    """CLARA_COMPONENTS.md: each component's rows' status marks (D, D-lib, O, L, ...)."""
    from tests.conftest import SHARED

    rows: dict[str, list[str]] = {}
    current = None
    for line in (SHARED / "CLARA_COMPONENTS.md").read_text().splitlines():
        if not line.startswith("|") or line.startswith(
            ("|---", "| component", "| mark")
        ):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0]:
            current = cells[0].replace("(", " ").split()[0]
        if current:
            rows.setdefault(current, []).append(cells[-1])
    return rows


def test_the_ports_that_take_only_documented_args_are_those_clara_documents():
    """SIGNATURE_COMPLETE: exactly the ports whose every row in CLARA_COMPONENTS.md is
    documented for the component itself (status D)."""
    rows = clara_statuses()
    documented = {
        name for name in COMPONENTS
        if rows.get(name) and all(s == "D" or s.startswith("D (") for s in rows[name])
    }  # fmt: skip
    assert documented == SIGNATURE_COMPLETE


def test_an_unknown_arg_of_a_partly_known_pipeline_is_a_warning(tmp_path):
    """A real MMAR gives SegmentationImagePipelineWithCache `caches_data: true`; Clara's
    reference knows its args in part, so it was an E401 that stopped a config that ran
    (issue 29, item 5). ClassificationImagePipeline is documented in full."""
    cfg = json.loads(SPLEEN_3X.read_text())
    pipe = cfg["train"]["image_pipeline"]
    pipe["name"] = "SegmentationImagePipelineWithCache"
    pipe["args"]["caches_data"] = True
    comp = compilation(tmp_path, cfg)
    compile_to_dir(comp, tmp_path / "out")
    (warning,) = [d for d in comp.diags.items if d.code == "W100"]
    assert "'caches_data' is not one Clara documents" in warning.message
    pipe["name"] = "ClassificationImagePipeline"
    with pytest.raises(CompileError) as info:
        compile_to_dir(compilation(tmp_path / "c", cfg), tmp_path / "c" / "out")
    assert any(d.code == "E401" and "'caches_data'" in d.message
               for d in info.value.diagnostics)  # fmt: skip


def test_an_arg_like_none_we_know_of_a_partly_known_port_is_a_warning(tmp_path):
    """SegResnet's args are observed only: an arg like none we know (Clara may have
    taken it) is a W100 that says it is left out; a misspelt one (skip_backgrond of Dice,
    which silently changed the loss as a W100: an attack on issue 29) is an E401."""
    cfg = config_with("SegResnet", {"num_classes": 2, "use_pyramid_pooling": True})
    comp = compilation(tmp_path, cfg)
    compile_to_dir(comp, tmp_path / "out")
    (warning,) = [d for d in comp.diags.items if d.code == "W100"]
    assert "'use_pyramid_pooling' is not one Clara documents" in warning.message
    cfg = config_with("Dice", {"skip_backgrond": True})
    with pytest.raises(CompileError) as info:
        compile_to_dir(compilation(tmp_path / "d", cfg), tmp_path / "d" / "out")
    assert any("takes no argument 'skip_backgrond'" in d.message
               for d in info.value.diagnostics)  # fmt: skip
