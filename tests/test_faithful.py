"""The generated script is what Clara trained (issue 28): the default job is the config's
own values, and every command-line option reaches every value derived from it."""

import json

import pytest

from claragen.transpiler.pipeline import Compilation, CompileOptions, compile_to_dir
from tests.conftest import compile_edited_example


def _compile(tmp_path, edit=None, sets=(), target="plain", jobs="default"):
    manifest, comp = compile_edited_example(tmp_path, edit, sets, target, jobs)
    return [
        (tmp_path / "out" / j["script"]).read_text() for j in manifest["jobs"]
    ], comp


def test_the_default_job_keeps_each_components_own_value(tmp_path):
    """`RandGaussianNoised(prob=0.1)` applies `myProb` (0.5 on RandShiftIntensityd):
    train.sh, without AutoML, trained 0.1."""
    (script,), _ = _compile(tmp_path)
    assert 'RandGaussianNoised(keys="image", prob=0.1)' in script
    assert 'RandShiftIntensityd(keys="image", offsets=0.1, prob=MY_PROB)' in script


def test_a_searched_job_applies_its_value_to_every_user_of_the_alias(tmp_path):
    scripts, _ = _compile(tmp_path, jobs="random:2")
    for script in scripts:
        assert 'RandGaussianNoised(keys="image", prob=MY_PROB)' in script


def _cosine(cfg):
    cfg["train"]["lr_scheduler"] = {
        "name": "CosineAnnealingLR",
        "args": {"optimizer": "@optimizer", "T_max": "{epochs}"},
    }
    cfg["train"]["trainer"]["args"]["max_epochs"] = "{epochs}"


def test_epochs_reaches_every_value_derived_from_it(tmp_path):
    """`python train.py --epochs 10` anneals over 10 epochs, and the checkpoints' train_conf
    says 10 (it annealed over the compiled 1260 and said 1260)."""
    for target in ("plain", "engines"):
        (script,), _ = _compile(tmp_path / target, _cosine, target=target)
        assert "T_max=args.epochs" in script, target
        assert "TRAIN_CONF.update({'epochs': args.epochs})" in script.replace('"', "'")
        main = script[script.index("def main(") :]
        assert main.index("TRAIN_CONF.update") < main.index("T_max=args.epochs")


def test_a_variable_inside_an_expression_is_substituted_and_follows_its_option(
    tmp_path,
):
    """SPEC 4.1: `{VAR}` is substituted into every string, `#` expressions and lambdas
    too (they were E204); `{epochs}` there is `args.epochs`, in every target."""

    def edit(cfg):
        _cosine(cfg)
        cfg["train"]["lr_scheduler"]["args"]["T_max"] = "#{epochs} * 2"
        cfg["train"]["optimizer"]["args"]["lr"] = "#{learning_rate} / 2"

    for target in ("plain", "engines"):
        (script,), _ = _compile(tmp_path / target, edit, target=target)
        assert "T_max=args.epochs * 2" in script, target
        assert "lr=LEARNING_RATE / 2" in script, target
    compile_edited_example(tmp_path / "bundle", edit, target="bundle")
    train = json.loads((tmp_path / "bundle/out/J0001/configs/train.json").read_text())
    assert train["lr_scheduler"]["T_max"] == "$@epochs * 2"

    def lam(cfg):
        cfg["train"]["lr_scheduler"] = {"name": "LambdaLR", "args": {
            "optimizer": "@optimizer", "lr_lambda": "lambda e: 1 - e / {epochs}"}}  # fmt: skip

    (script,), _ = _compile(tmp_path / "lambda", lam)
    assert "lr_lambda=lambda e: 1 - e / args.epochs" in script

    from claragen.transpiler.diagnostics import CompileError

    def unknown(cfg):
        cfg["train"]["lr_scheduler"]["args"]["step_size"] = "#{nosuch} * 2"

    with pytest.raises(CompileError) as info:
        _compile(tmp_path / "unknown", unknown)
    assert [d.code for d in info.value.diagnostics if d.severity == "error"] == ["E200"]


def test_a_variable_inside_a_string_of_an_expression_is_substituted(tmp_path):
    """`#float("{learning_rate}")` crashed on the text "{learning_rate}", and
    `#"{MMAR_CKPT_DIR}" + "/tb"` wrote into a folder of that name (found by a review of
    issue 28); a format string's `{}` and an f-string stay as written."""

    def edit(cfg):
        cfg["train"]["optimizer"]["args"]["lr"] = '#float("{learning_rate}")'
        cfg["train"]["handlers"][4]["args"]["log_dir"] = '#"{MMAR_CKPT_DIR}" + "/tb"'
        cfg["train"]["lr_scheduler"]["args"]["gamma"] = '#float("{}".format(0.1))'

    (script,), _ = _compile(tmp_path, edit)
    assert "lr=float(str(LEARNING_RATE))" in script
    assert 'SummaryWriter(log_dir=str(args.mmar_ckpt_dir) + "/tb")' in script
    assert 'gamma=float("{}".format(0.1))' in script


def test_val_interval_reaches_every_value_derived_from_it(tmp_path):
    def edit(cfg):
        cfg["train"]["handlers"][1]["args"]["interval"] = "{num_interval_per_valid}"
        cfg["train"]["lr_scheduler"]["args"]["step_size"] = "{num_interval_per_valid}"

    (script,), _ = _compile(tmp_path, edit)
    assert "step_size=args.val_interval" in script
    assert "'num_interval_per_valid': args.val_interval" in script.replace('"', "'")


def test_a_value_no_option_sets_stays_a_literal(tmp_path):
    def edit(cfg):
        cfg["train"]["lr_scheduler"]["args"]["step_size"] = "{epochs}"
        cfg["train"]["trainer"]["args"]["max_epochs"] = 7  # --epochs is not {epochs}

    (script,), _ = _compile(tmp_path, edit)
    assert "step_size=1260" in script and "TRAIN_CONF.update" not in script


# -- Clara 3.x semantics (item 4) ------------------------------------------------------


def _compile_3x(tmp_path, edit=None):
    import shutil

    from tests.conftest import EXAMPLE

    mmar = tmp_path / "spleen_3x"
    shutil.copytree(
        EXAMPLE.parent / "spleen_3x", mmar, ignore=shutil.ignore_patterns("data")
    )
    path = mmar / "config" / "config_train.json"
    cfg = json.loads(path.read_text())
    if edit:
        edit(cfg)
    path.write_text(json.dumps(cfg, indent=2))
    comp = Compilation(path, CompileOptions(), env_path=mmar / "config" / "environment.json",
                       mmar_root=mmar)  # fmt: skip
    compile_to_dir(comp, tmp_path / "out")
    return (tmp_path / "out" / "J0001" / "train.py").read_text(), comp


def test_each_3x_seed_seeds_its_generator(tmp_path):
    """Clara 3.x's docs: python_seed is PYTHONHASHSEED, random_seed Python's random,
    numpy_seed NumPy's, tf_seed the framework's. They were all random_seed."""
    script, _ = _compile_3x(tmp_path)
    main = script[script.index("def main(") :]
    lines = [line.strip() for line in main.splitlines()]
    at = lines.index("set_determinism(seed=SEED)")
    assert lines[at + 1 : at + 5] == [
        "# PYTHONHASHSEED reaches the processes this one starts",
        'os.environ.update(PYTHONHASHSEED="20191201")  # determinism.python_seed',
        "numpy.random.seed(654321)  # determinism.numpy_seed",
        "torch.manual_seed(11111)  # determinism.tf_seed: TensorFlow's, now torch's",
    ]
    assert "SEED = 123456" in script


def test_a_seed_that_is_no_number_is_an_error(tmp_path):
    from claragen.transpiler.diagnostics import CompileError

    def edit(cfg):
        cfg["determinism"]["numpy_seed"] = "abc"

    with pytest.raises(CompileError) as info:
        _compile_3x(tmp_path, edit)
    assert any("determinism.numpy_seed must be a whole number" in d.message
               for d in info.value.diagnostics)  # fmt: skip


def test_ahnet_keeps_its_imagenet_initialisation(tmp_path):
    script, _ = _compile_3x(tmp_path)
    assert "pretrained=True" in script and "pretrained=False" not in script


def test_the_keras_unet_is_a_warning_naming_both_architectures(tmp_path):
    def edit(cfg):
        cfg["train"]["model"] = {"name": "Unet", "args": {
            "num_classes": 2, "nf_enc": "32,64,64,64", "nf_dec": "64,64,64,64,64,32,32"}}  # fmt: skip

    script, comp = _compile_3x(tmp_path, edit)
    (warning,) = [d for d in comp.diags.warnings if d.code == "W102"]
    assert (
        "Clara 3.x's Unet (a Keras encoder-decoder of encoder widths [32, 64, 64, 64]"
        in (warning.message)
    )
    assert "MONAI's UNet(channels=[32, 64, 64, 64, 64], strides=[2, 2, 2, 2])" in (
        warning.message
    )
    assert (
        "channels=[32, 64, 64, 64, 64]" in script and "strides=[2, 2, 2, 2]" in script
    )


# -- what SegmentationSaver wrote (item 5) ----------------------------------------------


@pytest.mark.e2e
def test_segmentation_saver_writes_seg_files_on_the_original_grid(tmp_path):
    """A 4.0 SegmentationSaver (MONAI 0.5) wrote `<image>_seg.nii.gz`, resampled to the
    image's original affine and shape; it became a SaveImaged that wrote `_trans` files
    on the grid CropForegroundd left. The pair is trained and validated on synthetic data
    (smoke), and each written file is compared with its image."""
    import nibabel as nib
    import numpy as np

    from claragen.smoke import smoke
    from tests.conftest import CORPUS

    folder = CORPUS / "clara-train-examples"
    train = (
        folder / "PyTorch__NoteBooks__GettingStarted__config__config_train_Unet.json"
    )
    validation = folder / "PyTorch__NoteBooks__GettingStarted__config__config_validation@968a924.json"  # fmt: skip
    if not validation.is_file():
        pytest.skip("needs ../shared/corpus")
    assert "CropForegroundd" in validation.read_text()  # the grid changes on the way
    result = smoke(train, validation=validation, workdir=tmp_path)
    assert result.passed, result
    written = sorted((tmp_path / "eval").rglob("*.nii.gz"))
    assert written and all(p.name.endswith("_seg.nii.gz") for p in written)
    for path in written:
        case = path.name.removesuffix("_seg.nii.gz")
        image = nib.load(next((tmp_path / "data").rglob(f"{case}.nii.gz")))
        seg = nib.load(path)
        assert seg.shape[:3] == image.shape
        assert np.allclose(seg.affine, image.affine)


# -- warnings that were missing (item 8) ---------------------------------------------------


def test_a_validation_interval_past_the_epochs_is_a_warning(tmp_path):
    def edit(cfg):
        cfg["epochs"] = 2
        cfg["train"]["handlers"][1]["args"]["interval"] = 5

    _, comp = _compile(tmp_path, edit)
    (warning,) = [d for d in comp.diags.warnings if d.code == "W111"]
    assert "validates every 5 epochs and the config trains 2" in warning.message
    _, comp = _compile(tmp_path / "ok")
    assert not [d for d in comp.diags.warnings if d.code == "W111"]


def test_an_invertd_over_a_spatial_transform_stays(tmp_path):
    from claragen.transpiler.passes.migrate import drop_empty_inverts
    from tests.conftest import build, minimal

    cfg = minimal()
    cfg["train"]["pre_transforms"].append(
        {"name": "Spacingd", "args": {"keys": "image", "pixdim": [1, 1, 1]}}
    )
    cfg["train"]["post_transforms"] = [
        {"name": "Invertd", "args": {"keys": "pred", "transform": "@pre_transforms",
                                     "orig_keys": "image"}}]  # fmt: skip
    config, ctx = build(tmp_path, cfg)
    from claragen.transpiler.passes.references import resolve_refs

    config = resolve_refs(config, ctx)
    kept = drop_empty_inverts(config, ctx).sections["train"]["post_transforms"]
    assert [c.class_name for c in kept] == ["Invertd"]
    cfg["train"]["pre_transforms"].pop()  # LoadImaged, EnsureChannelFirstd: nothing
    cfg["train"]["post_transforms"].append(
        {"name": "Activationsd", "args": {"keys": "pred"}}
    )
    config, ctx = build(tmp_path / "none", cfg)
    config = resolve_refs(config, ctx)
    (after,) = drop_empty_inverts(config, ctx).sections["train"]["post_transforms"]
    assert after.notes == (
        "Invertd (line 97) left out: it inverts nothing of train.pre_transforms",
    )  # the script says where it departs from the config
    assert [d.code for d in ctx.diags.warnings] == ["W101"]


def test_the_script_finds_its_mmar_wherever_out_moves(tmp_path):
    """MMAR_ROOT was relative to the script: moving out/ lost the MMAR. It is the MMAR's
    absolute path; a script whose MMAR is gone asks for --mmar-root."""
    import shutil

    (script,), _ = _compile(tmp_path)
    moved = tmp_path / "elsewhere" / "train.py"
    moved.parent.mkdir()
    shutil.move(str(tmp_path / "out"), str(moved.parent / "out"))
    namespace: dict = {"__name__": "x", "__file__": str(moved)}
    exec(compile(script, str(moved), "exec"), namespace)
    args = namespace["parse_args"]([])
    mmar = (tmp_path / "spleen_41").resolve()
    assert args.data_root == str(mmar / "data")
    shutil.move(str(mmar), str(tmp_path / "gone"))
    with pytest.raises(SystemExit):
        namespace["parse_args"]([])
    assert namespace["parse_args"](["--mmar-root", str(tmp_path / "gone")]).mmar_root


def test_a_handler_arg_from_epochs_follows_the_option(tmp_path):
    """`"save_interval": "{epochs}"` (a review's finding: it became W104 and 0 in the
    plain loop once {epochs} followed --epochs): an interval checkpoint every
    args.epochs epochs, as the engines target builds it."""

    def edit(cfg):
        cfg["train"]["handlers"][2]["args"]["save_interval"] = "{epochs}"

    (script,), comp = _compile(tmp_path, edit)
    assert "if epoch % args.epochs == 0:" in script
    assert not [d for d in comp.diags.warnings if d.code == "W104"]
