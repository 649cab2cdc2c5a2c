from claragen.transpiler.passes.disabled import prune_disabled
from claragen.transpiler.passes.variables import resolve_variables
from tests.conftest import ENV, build, minimal


def pruned(tmp_path, cfg, env=ENV):
    config, ctx = build(tmp_path, cfg, env)
    return prune_disabled(resolve_variables(config, ctx), ctx), ctx


def test_disabled_components_leave_lists(tmp_path):
    cfg = minimal()
    cfg["dont_load_ckpt_model"] = True
    cfg["train"]["handlers"].insert(
        0,
        {"name": "CheckpointLoader", "disabled": "{dont_load_ckpt_model}", "args": {}},
    )
    out, ctx = pruned(tmp_path, cfg)
    assert [h.class_name for h in out.sections["train"]["handlers"]] == ["StatsHandler"]
    assert not ctx.diags.errors


def test_alternatives_collapse_to_the_enabled_one(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"] = [
        {"name": "DiceLoss", "disabled": True},
        {"name": "FocalLoss", "disabled": False},
    ]
    out, _ = pruned(tmp_path, cfg)
    assert out.sections["train"]["loss"].class_name == "FocalLoss"


def test_zero_or_two_enabled_alternatives_are_errors(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"] = [{"name": "DiceLoss"}, {"name": "FocalLoss"}]
    _, ctx = pruned(tmp_path, cfg)
    (err,) = ctx.diags.errors
    assert err.message.startswith("train.loss is a list of alternatives with 2 enabled")
    cfg["train"]["loss"] = [{"name": "DiceLoss", "disabled": True}]
    _, ctx = pruned(tmp_path / "b", cfg)
    assert "with none enabled" in ctx.diags.errors[0].message


def test_disabled_must_be_a_boolean(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["disabled"] = "maybe"
    _, ctx = pruned(tmp_path, cfg)
    assert (
        ctx.diags.errors[0].message == "'disabled' of train.loss must be true or false"
    )
