from claragen.transpiler.ir import Expr, Ref
from claragen.transpiler.passes.references import inline_refs, resolve_refs
from tests.conftest import build, minimal


def with_validate(cfg):
    cfg["validate"] = {
        "pre_transforms": [{"ref": "LoadImaged"}, {"ref": "Ensure"}],
        "evaluator": {"name": "SupervisedEvaluator", "args": {"network": "@model"}},
    }
    cfg["train"]["pre_transforms"][1]["name"] = "EnsureChannelFirstd#Ensure"
    return cfg


def test_ref_copies_the_train_component_by_name_or_alias(tmp_path):
    config, ctx = build(tmp_path, with_validate(minimal()))
    out = inline_refs(config, ctx)
    load, ensure = out.sections["validate"]["pre_transforms"]
    assert (load.class_name, load.locator) == (
        "LoadImaged",
        "validate.pre_transforms[0]",
    )
    assert ensure.class_name == "EnsureChannelFirstd"
    assert "same as train.pre_transforms[1]" in ensure.notes[-1]
    assert not ctx.diags.errors


def test_ref_to_nothing(tmp_path):
    cfg = with_validate(minimal())
    cfg["validate"]["pre_transforms"][0] = {"ref": "LoadImage"}
    config, ctx = build(tmp_path, cfg)
    inline_refs(config, ctx)
    (err,) = ctx.diags.errors
    assert err.message == "'ref': no train component is named or aliased 'LoadImage'"
    assert err.help == "did you mean 'LoadImaged'?"


def test_at_refs_look_in_their_own_section_first_then_the_other(tmp_path):
    cfg = with_validate(minimal())
    cfg["validate"]["dataset"] = {
        "name": "Dataset",
        "args": {"transform": "@pre_transforms"},
    }
    config, ctx = build(tmp_path, cfg)
    out = resolve_refs(inline_refs(config, ctx), ctx)
    assert out.sections["validate"]["dataset"].arg("transform") == Ref(
        out.sections["validate"]["dataset"].arg("transform").span,
        "pre_transforms",
        "validate",
    )
    network = out.sections["validate"]["evaluator"].arg("network")
    assert (network.name, network.section) == ("model", "train")
    params = out.sections["train"]["optimizer"].arg("params")
    assert isinstance(params, Expr) and params.refs[0].section == "train"
    assert not ctx.diags.errors


def test_reference_to_nothing_suggests(tmp_path):
    cfg = minimal()
    cfg["train"]["trainer"]["args"]["network"] = "@modle"
    config, ctx = build(tmp_path, cfg)
    resolve_refs(config, ctx)
    (err,) = ctx.diags.errors
    assert err.message == "'@modle' refers to nothing: no section has a 'modle'"
    assert err.help == "did you mean 'model'?"


def test_reference_cycle_prints_the_chain(tmp_path):
    cfg = minimal()
    cfg["train"]["optimizer"]["args"]["params"] = "@lr_scheduler"
    cfg["train"]["lr_scheduler"] = {
        "name": "StepLR",
        "args": {"optimizer": "@optimizer"},
    }
    config, ctx = build(tmp_path, cfg)
    resolve_refs(config, ctx)
    (err,) = ctx.diags.errors
    assert (
        err.message == "reference cycle: @lr_scheduler -> @optimizer -> @lr_scheduler"
    )
