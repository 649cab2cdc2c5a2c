"""What a Clara 4.x config wrote for MONAI 0.5-0.8 is migrated in every form it took
(found by the independent attack on issue 28's item 1): per-key lists, a removed class by
its `path`, a renamed class's renamed args, args that chose what is now always so."""

from __future__ import annotations

import pytest

from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.ir import to_python
from tests.conftest import compilation, minimal


def _post(tmp_path, args: dict, name: str = "AsDiscreted") -> dict:
    cfg = minimal()
    cfg["train"]["post_transforms"] = [{"name": name, "args": {"keys": ["pred", "label"],
                                                                **args}}]  # fmt: skip
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    (post,) = comp.run_passes(built, ctx).sections["train"]["post_transforms"]
    return {k: to_python(v) for k, v in post.args if k != "keys"}


@pytest.mark.parametrize("args, expected", [
    ({"threshold_values": [True, True]}, {"threshold": [0.5, 0.5]}),
    ({"threshold_values": [False, True], "logit_thresh": 0.3}, {"threshold": [None, 0.3]}),
    ({"threshold_values": [True, True], "logit_thresh": [0.3, 0.6]},
     {"threshold": [0.3, 0.6]}),
    ({"threshold_values": True, "logit_thresh": [0.3, 0.6]}, {"threshold": [0.3, 0.6]}),
    ({"threshold_values": [False, False], "logit_thresh": 0.3}, {}),
    ({"to_onehot": [True, False], "n_classes": [2, 3]}, {"to_onehot": [2, None]}),
    ({"to_onehot": [True, True], "n_classes": 2}, {"to_onehot": [2, 2]}),
])  # fmt: skip
def test_as_discrete_per_key_values_are_migrated_per_key(tmp_path, args, expected):
    """MONAI 0.8's AsDiscreted took a value per key for each of these."""
    for name in ("AsDiscreted", "AsDiscreteD"):
        assert _post(tmp_path / name, args, name) == expected


def test_per_key_lists_of_other_lengths_are_refused_with_what_replaced_them(tmp_path):
    with pytest.raises(CompileError) as info:
        _post(tmp_path, {"threshold_values": [True, True], "logit_thresh": [0.3]})
    (error,) = info.value.diagnostics
    assert error.code == "E401" and "threshold=<value>" in error.help


def _pre(tmp_path, comp: dict, ref: str | None = None):
    cfg = minimal()
    cfg["train"]["pre_transforms"].insert(1, comp)
    if ref:
        cfg["validate"] = {"pre_transforms": [{"ref": ref}]}
    c = compilation(tmp_path, cfg)
    built, ctx = c.build()
    return c.run_passes(built, ctx).sections["train"]["pre_transforms"][1], ctx


@pytest.mark.parametrize("path", [
    "monai.transforms.AddChanneld", "monai.transforms.AddChannelD",
    "monai.transforms.utility.dictionary.AddChannelDict",
])  # fmt: skip
def test_a_removed_class_by_its_path_is_migrated_as_by_its_name(tmp_path, path):
    comp, _ = _pre(
        tmp_path, {"path": path, "args": {"keys": "image"}}, ref="AddChanneld"
    )
    assert (comp.name, comp.path) == ("EnsureChannelFirstd", None)
    assert to_python(comp.arg("channel_dim")) == "no_channel"


def test_a_renamed_classs_renamed_args_follow_it(tmp_path):
    comp, _ = _pre(tmp_path, {"name": "SplitChanneld", "args": {
        "keys": "label", "output_postfixes": ["bg", "fg"], "channel_dim": 0}})  # fmt: skip
    assert comp.name == "SplitDimd" and to_python(comp.arg("dim")) == 0
    assert comp.arg("channel_dim") is None


def test_an_arg_that_chose_what_is_now_always_so_is_left_out_with_a_note(tmp_path):
    comp, _ = _pre(tmp_path, {"name": "RandAffined", "args": {
        "keys": "image", "prob": 0.1, "as_tensor_output": False}})  # fmt: skip
    assert comp.arg("as_tensor_output") is None
    assert any("as_tensor_output left out" in n for n in comp.notes)


def test_an_error_names_the_class_the_config_wrote_and_what_replaced_the_arg(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["args"].update({"dimensions": 3, "spatial_dims": 3})
    cfg["train"]["pre_transforms"].insert(1, {"name": "SplitChanneld", "args": {
        "keys": "label", "bogus": 1}})  # fmt: skip
    c = compilation(tmp_path, cfg)
    built, ctx = c.build()
    with pytest.raises(CompileError):
        c.run_passes(built, ctx)
    messages = {d.message: d.help for d in ctx.diags.errors}
    (dims,) = [m for m in messages if "'dimensions'" in m]
    assert messages[dims] == "write spatial_dims alone (the config gives both)"
    (bogus,) = [m for m in messages if "'bogus'" in m]
    assert "the config's SplitChanneld" in bogus


@pytest.mark.parametrize("source, arg, help_text", [
    ("#lambda x: (monai.transforms.AsDiscreteD(keys='pred', threshold_values=True)(x[0])"
     "['pred'], x[0]['label'])", "threshold_values", "threshold="),
    ("lambda x: monai.transforms.AsDiscrete(argmax=True, to_onehot=True, n_classes=2)"
     "(x['pred'])", "n_classes", "to_onehot="),
    ("lambda x: monai.transforms.AsDiscreteDict(keys='pred', thresold=0.5)(x)",
     "thresold", "'threshold'"),
])  # fmt: skip
def test_a_class_called_in_an_expression_takes_its_args_by_the_same_rules(
    tmp_path, source, arg, help_text
):
    """An old MONAI arg inside a `#` expression or a lambda was emitted as written: MONAI
    1.x swallowed it in **kwargs and the Dice was computed on soft predictions (found by
    an attack on issue 28). It is an E401, as it is on a component."""
    cfg = minimal()
    cfg["train"]["handlers"].append({"name": "StatsHandler", "args": {
        "tag_name": "x", "output_transform": source}})  # fmt: skip
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    with pytest.raises(CompileError) as raised:
        comp.run_passes(built, ctx)
    (error,) = [d for d in raised.value.diagnostics if d.code == "E401"]
    assert f"takes no argument {arg!r}" in error.message, error.message
    assert "in the expression of train.handlers[1]" in error.message
    assert help_text in error.help


@pytest.mark.parametrize("margin, written", [(20, True), (0, False), (None, False)])
def test_a_crop_with_a_margin_keeps_monai_08s_box_at_the_image_edges(
    tmp_path, margin, written
):
    """MONAI 0.8's CropForegroundd stopped a margin at the image's edges; MONAI 1.5 made
    allow_smaller=False the default, which pads past them (found by an attack on issue
    28: a 40^3 image with foreground at 5..29 and margin 20 gave 65^3; 0.8 clipped the
    box to the image, 40^3).
    The old default is written out where a margin makes it matter."""
    import torch
    from monai.transforms import CropForegroundd

    args = {"keys": ["image", "label"], "source_key": "image"}
    if margin is not None:
        args["margin"] = margin
    comp, _ = _pre(tmp_path, {"name": "CropForegroundd", "args": args})
    assert (comp.arg("allow_smaller") is not None) is written
    if written:
        assert to_python(comp.arg("allow_smaller")) is True
        assert any("allow_smaller=True, MONAI 0.8's default" in n for n in comp.notes)
        image = torch.zeros(1, 40, 40, 40)
        image[:, 5:30, 5:30, 5:30] = 1
        kwargs = {k: to_python(v) for k, v in comp.args}
        out = CropForegroundd(**kwargs)({"image": image, "label": image.clone()})
        assert tuple(out["image"].shape[1:]) == (40, 40, 40)  # 5-20 and 29+20 clipped


def test_monai_07s_num_classes_beside_a_boolean_to_onehot_is_the_class_count(tmp_path):
    """MONAI 0.7/0.8 named the count num_classes too; it was refused with a message
    about n_classes (an attack on issue 28)."""
    for name in ("AsDiscreted", "AsDiscreteD"):
        assert _post(tmp_path / name, {"to_onehot": True, "num_classes": 3}, name) == {
            "to_onehot": 3}  # fmt: skip
