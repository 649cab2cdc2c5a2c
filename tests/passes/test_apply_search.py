"""apply_search alone: one job's values, or the config's own (the default job)."""

import json

from claragen.transpiler.ir import SearchValue, to_python
from claragen.transpiler.passes.apply_search import apply_search, default_values
from tests.conftest import EXAMPLE, build


def example(tmp_path):
    cfg = json.loads((EXAMPLE / "config" / "config_train.json").read_text())
    env = json.loads((EXAMPLE / "config" / "environment.json").read_text())
    return build(tmp_path, cfg, env)


def transforms(config):
    return {c.class_name: c for c in config.sections["train"]["pre_transforms"]}


def test_free_tags_take_their_first_enum_choice(tmp_path):
    config, ctx = example(tmp_path)
    out = apply_search(config, ctx)
    dice, focal = out.sections["train"]["loss"]
    assert (dice.class_name, dice.disabled.value) == ("DiceLoss", True)  # mySearchLoss1
    assert (focal.class_name, focal.disabled.value) == (
        "FocalLoss",
        False,
    )  # mySearchLoss2
    assert not ctx.diags.errors


def test_searched_args_keep_the_config_values_and_aliases_carry_them(tmp_path):
    config, ctx = example(tmp_path)
    out = apply_search(config, ctx)
    shift, noise = (
        transforms(out)["RandShiftIntensityd"],
        transforms(out)["RandGaussianNoised"],
    )
    assert isinstance(shift.arg("prob"), SearchValue)
    assert (shift.arg("prob").const, to_python(shift.arg("prob"))) == ("MY_PROB", 0.5)
    # "apply": {"prob": "myProb"} acts in AutoML jobs only: the default job is what Clara
    # trained without AutoML, RandGaussianNoised's own prob (issue 28, item 2)
    assert to_python(noise.arg("prob")) == 0.1
    assert not isinstance(noise.arg("prob"), SearchValue)
    channels = out.sections["train"]["model"].arg("channels")
    assert (channels.const, to_python(channels)) == ("CHANNELS", [16, 32, 64, 128, 256])
    assert out.globals["learning_rate"].value == 2e-4
    assert out.searched["learning_rate"] == ("LEARNING_RATE", ":learning_rate")


def test_default_values_are_the_config_values_and_first_choices(tmp_path):
    config, ctx = example(tmp_path)
    assert default_values(config, ctx) == {
        ":learning_rate": 2e-4,
        ":mySearchLoss1,mySearchLoss2": [True, False],
        "train.model:channels": [[16, 32, 64, 128, 256]],
        "train.model:num_res_units": [2],
        "train.pre_transforms[2]:a_min,a_max": [-57, 164],
        "train.pre_transforms[5]:prob": 0.5,
    }


def test_job_values_replace_the_defaults(tmp_path):
    config, ctx = example(tmp_path)
    ctx.job_values = {
        ":learning_rate": 5e-4,
        ":mySearchLoss1,mySearchLoss2": [False, True],
        "train.pre_transforms[5]:prob": 0.25,
        "train.pre_transforms[2]:a_min,a_max": [-60, 150],
    }
    out = apply_search(config, ctx)
    assert out.globals["learning_rate"].value == 5e-4
    dice, focal = out.sections["train"]["loss"]
    assert (dice.disabled.value, focal.disabled.value) == (False, True)
    # a job's value reaches every component that applies its alias
    noise = transforms(out)["RandGaussianNoised"].arg("prob")
    assert to_python(noise) == 0.25 and noise == transforms(out)[
        "RandShiftIntensityd"
    ].arg("prob")
    scale = transforms(out)["ScaleIntensityRanged"]
    assert (to_python(scale.arg("a_min")), to_python(scale.arg("a_max"))) == (-60, 150)
    assert ctx.disabled_by["train.loss[0]"] == [":mySearchLoss1,mySearchLoss2"]
