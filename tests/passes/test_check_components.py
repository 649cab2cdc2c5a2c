from claragen.transpiler.passes.check_components import check_components
from tests.conftest import build, minimal


def check(tmp_path, cfg):
    config, ctx = build(tmp_path, cfg)
    check_components(config, ctx)
    return [(e.message, e.help) for e in ctx.diags.errors]


def test_known_components_pass(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["args"] = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                                     "channels": [4, 8], "strides": [2]}  # fmt: skip
    assert check(tmp_path, cfg) == []


def test_unknown_component_suggests_the_closest(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["name"] = "DiceLos"
    assert check(tmp_path, cfg)[0] == (
        "unknown component 'DiceLos' (train.loss)",
        "did you mean 'DiceLoss'?",
    )


def test_unknown_argument_is_checked_against_the_real_signature(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["args"]["softmaxx"] = True
    assert (
        "DiceLoss takes no argument 'softmaxx' (monai.losses.DiceLoss)",
        "did you mean 'softmax'?",
    ) in check(tmp_path, cfg)


def test_byoc_components_are_not_imported(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"] = {"path": "myLoss.MyDiceLoss", "args": {"anything": 1}}
    assert not any("MyDiceLoss" in m for m, _ in check(tmp_path, cfg))
