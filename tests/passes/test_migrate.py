"""The MONAI API migration: each rule, and each rule checked against the installed MONAI."""

import warnings

import pytest

from claragen.transpiler.ir import to_python
from claragen.transpiler.passes.migrate import CLASS_RENAMES, migrate_monai
from claragen.transpiler.symbols import lookup
from tests.conftest import build, minimal


def migrated(tmp_path, cfg):
    config, ctx = build(tmp_path, cfg)
    return migrate_monai(config, ctx)


def post(*components):
    cfg = minimal()
    cfg["train"]["post_transforms"] = list(components)
    return cfg


def args_of(comp):
    return {k: to_python(v) for k, v in comp.args}


def test_unet_dimensions_become_spatial_dims(tmp_path):
    model = migrated(tmp_path, minimal()).sections["train"]["model"]
    assert "spatial_dims" in args_of(model) and "dimensions" not in args_of(model)
    assert model.notes == ("migrated: dimensions -> spatial_dims",)


@pytest.mark.parametrize(
    "args, expected",
    [
        ({"to_onehot": True, "n_classes": 2}, {"to_onehot": 2}),
        (
            {"to_onehot": 2, "n_classes": 2},
            {"to_onehot": 2},
        ),  # the corpus' config_train_Unet
        ({"threshold_values": True, "logit_thresh": 0.3}, {"threshold": 0.3}),
        # MONAI 1.x refuses a boolean to_onehot: per key, and off (a review's finding)
        ({"to_onehot": [True, True], "n_classes": 2}, {"to_onehot": [2, 2]}),
        ({"to_onehot": [True, False], "n_classes": 3}, {"to_onehot": [3, None]}),
        ({"to_onehot": False, "n_classes": 2}, {}),
        ({"to_onehot": False}, {}),
        ({"to_onehot": [False, False]}, {}),
        ({"threshold_values": False, "logit_thresh": 0.3}, {}),
    ],
)
def test_as_discrete(tmp_path, args, expected):
    out = migrated(
        tmp_path, post({"name": "AsDiscreted", "args": {"keys": "pred", **args}})
    )
    (comp,) = out.sections["train"]["post_transforms"]
    assert args_of(comp) == {"keys": "pred", **expected}


def test_removed_classes_are_renamed_with_their_new_args(tmp_path):
    out = migrated(tmp_path, post({"name": "AddChanneld", "args": {"keys": "pred"}}))
    (comp,) = out.sections["train"]["post_transforms"]
    assert comp.class_name == "EnsureChannelFirstd"
    assert args_of(comp) == {"keys": "pred", "channel_dim": "no_channel"}


def test_load_image_keeps_meta_dicts_when_the_config_reads_them(tmp_path):
    cfg = minimal()
    cfg["train"]["handlers"].append(
        {
            "name": "StatsHandler",
            "args": {"output_transform": "lambda x: x['image_meta_dict']"},
        }
    )
    out = migrated(tmp_path, cfg)
    load = out.sections["train"]["pre_transforms"][0]
    assert args_of(load)["image_only"] is False


def test_every_rename_target_exists_and_the_old_names_are_gone():
    import monai.handlers
    import monai.networks.nets
    import monai.transforms

    for old, (new, extra, renames) in CLASS_RENAMES.items():
        symbol = lookup(new)
        assert symbol is not None, new
        assert all(symbol.accepts(arg) for arg, _ in extra), (new, extra)
        assert all(symbol.accepts(arg) for _, arg in renames), (new, renames)
        assert lookup(old) is None, f"{old} exists again; drop the rename"
        for module in (monai.transforms, monai.handlers, monai.networks.nets):
            assert not hasattr(module, old), f"{old} exists again; drop the rename"


def test_renamed_transforms_construct_with_their_added_args():
    import monai.transforms

    warnings.simplefilter("ignore")
    for _, (new, extra, _renames) in CLASS_RENAMES.items():
        cls = getattr(monai.transforms, new, None)
        if cls is not None and new.endswith("d"):
            cls(keys="image", **dict(extra))


def test_migrated_forms_construct_in_the_installed_monai_and_old_forms_do_not():
    from monai.networks.nets import UNet
    from monai.transforms import AsDiscreted

    warnings.simplefilter("ignore")
    UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=[4, 8], strides=[2])
    with pytest.raises(TypeError):
        UNet(dimensions=3, in_channels=1, out_channels=2, channels=[4, 8], strides=[2])
    AsDiscreted(keys="pred", to_onehot=2)
    with pytest.raises((TypeError, ValueError)):
        AsDiscreted(keys="pred", to_onehot=True, n_classes=2)


def _pre(*components):
    cfg = minimal()
    cfg["train"]["pre_transforms"] = list(components)
    return cfg


SLICES = {
    "name": "FindAllValidSlicesd",
    "path": "deepgrow.transforms.FindAllValidSlicesd",
    "args": {"label": "label", "sids": "sids"},
}
SEED = {
    "name": "AddInitialSeedPointd",
    "path": "deepgrow.transforms.AddInitialSeedPointd",
    "args": {"label": "label", "guidance": "guidance", "sids": "sids"},
}


def _resized(size):
    return {"name": "Resized", "args": {"keys": ["image"], "spatial_size": size}}


def test_valid_slices_of_2d_labels_are_dropped_with_a_note(tmp_path):
    config = migrated(tmp_path, _pre(_resized([64, 64]), SLICES, SEED))
    pre = config.sections["train"]["pre_transforms"]
    assert [c.class_name for c in pre] == ["Resized", "AddInitialSeedPointd"]
    assert any("FindAllValidSlicesd" in n and "2D" in n for n in pre[1].notes)


def test_valid_slices_of_3d_labels_stay(tmp_path):
    config = migrated(tmp_path, _pre(_resized([64, 64, 32]), SLICES, SEED))
    pre = config.sections["train"]["pre_transforms"]
    assert [c.class_name for c in pre] == [
        "Resized",
        "FindAllValidSlicesd",
        "AddInitialSeedPointd",
    ]


def test_to_onehot_true_without_a_class_count_is_an_error(tmp_path):
    """MONAI 0.8 read the count from n_classes; MONAI 1.x raises on a boolean."""
    config, ctx = build(
        tmp_path,
        post({"name": "AsDiscreteD", "args": {"keys": "pred", "to_onehot": True}}),
    )
    from claragen.transpiler.passes.canonical import canonical_names

    migrate_monai(canonical_names(config, ctx), ctx)
    (error,) = ctx.diags.errors
    assert error.code == "E401" and "to_onehot=True needs the number of classes" in (
        error.message
    )
