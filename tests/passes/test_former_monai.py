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
