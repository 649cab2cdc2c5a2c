"""The default job is the config as Clara trained it without AutoML (issue 28, item 2,
and the attack on it): a free tag changes nothing, except in a list of alternatives that
needs a choice (W101 for each component it leaves out); a searched arg the config leaves
out stays out. And Clara 3.x ports that change meaning say so (item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import EXAMPLE, compile_edited_example

CORPUS = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "clara-train-examples"
)
ENV = EXAMPLE / "config" / "environment.json"
runner = CliRunner()
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus")


def compile_corpus(tmp_path, name: str) -> tuple[str, str]:
    """(J0001/train.py, the compiler's output) of a corpus config."""
    result = runner.invoke(app, ["compile", str(CORPUS / name), "-e", str(ENV),
                                 "-o", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.output
    return (tmp_path / "out" / "J0001" / "train.py").read_text(), result.output


@needs_corpus
@pytest.mark.parametrize("name", [
    "PyTorch__NoteBooks__AutoML__config__trn_autoML_Transform.json",
    "Tensorflow-Deprecated__AutoML__config__trn_autoML_Transform.json",
])  # fmt: skip
def test_a_free_tag_on_transforms_leaves_them_as_the_config_has_them(tmp_path, name):
    """`apply: {"@disabled": "myTransformDisable"}` on two transforms, the tag searched
    over [[true], [false]]: without AutoML both train (the 3.x file even says
    "disabled": false)."""
    script, output = compile_corpus(tmp_path, name)
    assert ":@myTransformDisable = (the config's own)" in script
    assert "RandShiftIntensityd(" in script
    assert (
        "RandFlipd(" in script or "RandAxisFlipd(" in script
    )  # 3.x: RandomSpatialFlip
    assert "W101" not in output
    grid = runner.invoke(app, ["compile", str(CORPUS / name), "-e", str(ENV), "-o",
                               str(tmp_path / "grid"), "--jobs", "grid"])  # fmt: skip
    assert grid.exit_code == 0, grid.output
    scripts = [p.read_text() for p in sorted((tmp_path / "grid").glob("J*/train.py"))]
    assert {"RandShiftIntensityd(" in s for s in scripts} == {False, True}


@needs_corpus
def test_a_list_of_alternatives_takes_the_first_choice_with_a_warning(tmp_path):
    script, output = compile_corpus(
        tmp_path, "PyTorch__NoteBooks__AutoML__config__trn_autoML_Loss_Optimizer.json"
    )
    assert "loss_function = FocalLoss(" in script and "DiceLoss" not in script
    warned = [line for line in output.splitlines() if "warning[W101]" in line]
    assert len(warned) == 2
    assert "DiceLoss (train.loss[0]) is left out of the default job" in warned[0]
    assert "Adam (train.optimizer[0]) is left out of the default job" in warned[1]


def test_a_searched_arg_the_config_leaves_out_stays_out(tmp_path):
    """UNet without `norm`, `norm` searched: the default job is UNet's own default; a
    grid job sets it. The same for a float (`prob`, MONAI's default 0.1)."""

    def edit(cfg):
        model = cfg["train"]["model"]
        model["args"].pop("norm")
        model["search"].append({"type": "enum", "args": ["norm"], "domain": "net",
                                "targets": [["batch"], ["instance"]]})  # fmt: skip
        cfg["train"]["pre_transforms"][5]["args"].pop("prob")

    manifest, _ = compile_edited_example(tmp_path, edit)
    script = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "NORM" not in script and "norm=" not in script
    assert "MY_PROB" not in script
    assert 'RandShiftIntensityd(keys="image", offsets=0.1)' in script
    assert "train.model:norm = (the config's own)" in script
    assert manifest["jobs"][0]["values"]["train.model:norm"] is None
    compile_edited_example(tmp_path / "grid", edit, jobs="random:1")
    searched = (tmp_path / "grid" / "out" / "J0001" / "train.py").read_text()
    assert "norm=NORM" in searched and "prob=MY_PROB" in searched


def _compile_3x(tmp_path, edit):
    from tests.test_faithful import _compile_3x

    return _compile_3x(tmp_path, edit)


def test_3x_focal_loss_applies_the_networks_softmax(tmp_path):
    """Clara 3.x's networks applied final_activation (softmax unless told); MONAI's
    FocalLoss applies a sigmoid unless use_softmax."""

    def focal(activation):
        def edit(cfg):
            cfg["train"]["loss"] = {"name": "Focal", "args": {"skip_background": True}}
            if activation:
                cfg["train"]["model"]["args"]["final_activation"] = activation

        return edit

    script, _ = _compile_3x(tmp_path / "softmax", focal(None))
    flat = " ".join(script.split())
    assert ("FocalLoss( include_background=False, to_onehot_y=True, use_softmax=True )"
            in flat)  # fmt: skip
    script, _ = _compile_3x(tmp_path / "sigmoid", focal("sigmoid"))
    assert "FocalLoss(include_background=False, to_onehot_y=True)" in script


def test_a_3x_arg_without_counterpart_is_a_warning_an_option_off_is_nothing(tmp_path):
    def edit(cfg):
        cfg["train"]["pre_transforms"].append({"name": "ScaleShiftIntensity", "args": {
            "fields": "image", "scale": 0.2, "shift": 0.1, "probability": 0.5}})  # fmt: skip
        cfg["train"]["pre_transforms"].append({"name": "ScaleShiftIntensity", "args": {
            "fields": "image", "scale": 0, "shift": 0.1, "probability": 0.5}})  # fmt: skip

    script, comp = _compile_3x(tmp_path, edit)
    warned = [
        d for d in comp.diags.items if d.code == "W102" and "'scale'" in d.message
    ]
    assert len(warned) == 1
    assert ("Clara 3.x ScaleShiftIntensity's 'scale' (0.2) has no counterpart in "
            "MONAI's RandShiftIntensityd") in warned[0].message  # fmt: skip
    assert script.count("3.x arg 'scale'") == 1  # the one that was 0 says nothing


def test_every_space_value_of_the_default_job_is_shown(tmp_path):
    manifest, _ = compile_edited_example(tmp_path)
    values = manifest["jobs"][0]["values"]
    assert values[":mySearchLoss1,mySearchLoss2"] == [True, False]  # a list: a choice
    assert json.dumps(values)  # None where the config's own stays


def test_alternatives_the_config_chooses_itself_keep_its_choice(tmp_path):
    """`loss[1].disabled = true`: the config's own values leave DiceLoss, as Clara
    trained it; the default job took the tag's first choice, FocalLoss, which the config
    disables (found by a review of issue 28)."""

    def edit(cfg):
        cfg["train"]["loss"][1]["disabled"] = True

    _, comp = compile_edited_example(tmp_path, edit)
    script = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "loss_function = DiceLoss(" in script and "FocalLoss" not in script
    assert ":mySearchLoss1,mySearchLoss2 = (the config's own)" in script
    assert not [d for d in comp.diags.items if d.code == "W101"]


def test_the_default_job_records_the_first_level_values_it_trains_with(tmp_path):
    """A searched first-level value that environment.json or --set changes: the script
    trained with the new value while the manifest and docstring said the config's own
    (found by an attack on issue 28)."""
    for sets, expected in (((), 2e-4), ((("learning_rate", "7e-4"),), 7e-4)):
        manifest, _ = compile_edited_example(tmp_path / str(expected), sets=sets)
        (job,) = manifest["jobs"]
        assert job["values"][":learning_rate"] == expected
        text = (tmp_path / str(expected) / "out" / "J0001" / "train.py").read_text()
        assert f":learning_rate = {expected}" in text
        assert f"LEARNING_RATE = {expected}" in text
