"""The search blocks of the default job: the config's own values, free tags' first choice."""

import json

from claragen.transpiler.passes.apply_search import apply_search, read_search
from tests.conftest import EXAMPLE, build, minimal


def example(tmp_path):
    cfg = json.loads((EXAMPLE / "config" / "config_train.json").read_text())
    env = json.loads((EXAMPLE / "config" / "environment.json").read_text())
    return build(tmp_path, cfg, env)


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
    transforms = {c.class_name: c for c in out.sections["train"]["pre_transforms"]}
    assert transforms["RandShiftIntensityd"].arg("prob").value == 0.5
    # "apply": {"prob": "myProb"}: the aliased prob is equal in both transforms
    assert transforms["RandGaussianNoised"].arg("prob").value == 0.5
    model = out.sections["train"]["model"]
    assert [v.value for v in model.arg("channels").items] == [16, 32, 64, 128, 256]
    assert out.globals["learning_rate"].value == 2e-4


def test_job_values_replace_the_defaults(tmp_path):
    config, ctx = example(tmp_path)
    ctx.job_values = {
        ":learning_rate": 5e-4,
        ":mySearchLoss1,mySearchLoss2": [False, True],
        "train.pre_transforms[5]:prob": 0.25,
    }
    out = apply_search(config, ctx)
    assert out.globals["learning_rate"].value == 5e-4
    dice, focal = out.sections["train"]["loss"]
    assert (dice.disabled.value, focal.disabled.value) == (False, True)
    transforms = {c.class_name: c for c in out.sections["train"]["pre_transforms"]}
    assert transforms["RandGaussianNoised"].arg("prob").value == 0.25


def test_search_items_are_read_with_ids_and_aliases(tmp_path):
    config, ctx = example(tmp_path)
    shift = config.sections["train"]["pre_transforms"][5]
    (param,) = read_search(shift.search, shift.locator, ctx.diags)
    assert param.id == "train.pre_transforms[5]:prob"
    assert (param.type, param.targets, param.args[0].alias) == (
        "float",
        [0, 1],
        "myProb",
    )


def test_apply_of_an_undefined_alias(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["apply"] = {"@disabled": "noSuchTag"}
    config, ctx = build(tmp_path, cfg)
    apply_search(config, ctx)
    (err,) = ctx.diags.errors
    assert err.message == "'apply' names the undefined alias 'noSuchTag'"


def test_unknown_search_type(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["search"] = [
        {"type": "int", "args": ["channels"], "targets": [1, 2]}
    ]
    config, ctx = build(tmp_path, cfg)
    apply_search(config, ctx)
    assert [e.message for e in ctx.diags.errors] == ["unknown search type 'int'"]
