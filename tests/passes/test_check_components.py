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


def _valid():
    cfg = minimal()
    cfg["train"]["model"]["args"] = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                                     "channels": [4, 8], "strides": [2]}  # fmt: skip
    return cfg


def test_a_transform_without_a_required_argument_is_an_error(tmp_path):
    cfg = _valid()
    cfg["train"]["pre_transforms"] = [
        {"name": "ScaleIntensityRanged", "args": {"keys": "image", "a_min": -57}}
    ]
    assert check(tmp_path, cfg) == [
        (
            "ScaleIntensityRanged needs the argument 'a_max', which "
            "the config does not give (train.pre_transforms[0])",
            "add 'a_max': ... to its \"args\"",
        )
    ]


def test_required_arguments_the_generated_code_passes_are_not_asked_for(tmp_path):
    cfg = _valid()  # the optimizer's params and the dataset's data come from the wiring
    cfg["train"]["optimizer"] = {"name": "Adam", "args": {"lr": 0.1}}
    assert check(tmp_path, cfg) == []
