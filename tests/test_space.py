"""Reading the search space: every form, and each bad input pinned to its line and column."""

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation
from claragen.transpiler.space import read_space
from tests.conftest import ENV, EXAMPLE, build, errors_of, minimal


def space_of(tmp_path, cfg, env=None):
    """The space as the compiler reads it (once, in `build`)."""
    config, ctx = build(tmp_path, cfg, env)
    return ctx.space, ctx.diags


def test_reading_is_a_pure_function_of_the_config(tmp_path):
    config, ctx = build(tmp_path, minimal())
    assert read_space(config, ctx.diags) == ctx.space


def test_the_example_space():
    comp = Compilation(EXAMPLE / "config" / "config_train.json", CompileOptions())
    _, ctx = comp.build()
    space, diags = ctx.space, ctx.diags
    assert not diags.items
    summary = [(p.id, p.kind, p.domain, p.type, p.span.line) for p in space.params]
    assert summary == [
        (":learning_rate", "variable", "lr", "float", 11),
        (":mySearchLoss1,mySearchLoss2", "tag", "transform", "enum", 17),
        ("train.model:channels", "component", "net", "enum", 57),
        ("train.model:num_res_units", "component", "net", "enum", 63),
        ("train.pre_transforms[2]:a_min,a_max", "component", "transform", "enum", 91),
        ("train.pre_transforms[5]:prob", "component", "transform", "float", 120),
    ]
    prob = space.param("train.pre_transforms[5]:prob")
    assert (prob.low, prob.high, prob.args[0].alias, prob.args[0].const) == (
        0.0, 1.0, "myProb", "MY_PROB",
    )  # fmt: skip
    assert space.aliases == {
        "mySearchLoss1": (":mySearchLoss1,mySearchLoss2", 0),
        "mySearchLoss2": (":mySearchLoss1,mySearchLoss2", 1),
        "myProb": ("train.pre_transforms[5]:prob", 0),
    }
    assert space.param("train.model:channels").choices == (
        [[16, 32, 64, 128, 256]], [[8, 16, 32, 64, 128]],
    )  # fmt: skip


def test_bare_string_args_attributes_and_at_tags(tmp_path):
    cfg = minimal()
    cfg["search"] = [{"type": "enum", "args": ["@flip"], "targets": [[True], [False]]}]
    cfg["train"]["model"]["search"] = [
        {
            "type": "enum",
            "args": "num_res_units",
            "targets": [[1], [2]],
            "domain": "net",
        }
    ]
    cfg["train"]["pre_transforms"][1]["search"] = [
        {"type": "enum", "args": ["@disabled"], "targets": [[True], [False]]}
    ]
    cfg["train"]["pre_transforms"][0]["apply"] = {"@disabled": "flip"}
    space, diags = space_of(tmp_path, cfg)
    assert not diags.errors
    ids = {p.id: p.kind for p in space.params}
    assert ids == {
        ":@flip": "tag",
        "train.model:num_res_units": "component",
        "train.pre_transforms[1]:@disabled": "component",
    }
    assert space.aliases["flip"] == (":@flip", 0)


def test_same_arg_names_get_qualified_constants(tmp_path):
    cfg = minimal()
    cfg["train"]["pre_transforms"] += [
        {"name": "RandFlipd", "args": {"keys": "image", "prob": 0.1},
         "search": [{"type": "float", "args": ["prob"], "targets": [0, 1]}]},
        {"name": "RandRotate90d", "args": {"keys": "image", "prob": 0.1},
         "search": [{"type": "float", "args": ["prob"], "targets": [0, 1]}]},
    ]  # fmt: skip
    space, _ = space_of(tmp_path, cfg)
    assert [p.args[0].const for p in space.params] == [
        "RAND_FLIPD_PROB",
        "RAND_ROTATE90D_PROB",
    ]


def errors(tmp_path, cfg):
    _, diags = space_of(tmp_path, cfg)
    return [(e.span.line, e.span.column, e.message, e.help) for e in diags.errors]


def with_search(item, where="model"):
    cfg = minimal()
    cfg["train"][where]["search"] = [item]
    return cfg


def test_apply_names_an_undefined_alias(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["apply"] = {"@disabled": "noSuchTag"}
    assert errors(tmp_path, cfg) == [
        (14, 22, "'apply' names the undefined alias 'noSuchTag'",
         "define it with 'arg#alias' in a search item, or as a first-level tag"),
    ]  # fmt: skip


def test_alias_defined_twice(tmp_path):
    cfg = minimal()
    item = {"type": "float", "args": ["prob#p"], "targets": [0, 1]}
    cfg["train"]["pre_transforms"] += [
        {"name": "RandFlipd", "args": {"keys": "image", "prob": 0.1}, "search": [item]},
        {
            "name": "RandRotate90d",
            "args": {"keys": "image", "prob": 0.1},
            "search": [item],
        },
    ]
    ((line, _, message, help_),) = errors(tmp_path, cfg)
    assert message == "alias 'p' is defined twice" and help_.startswith(
        "the first is on line"
    )


def test_search_arg_the_component_does_not_take(tmp_path):
    item = {"type": "enum", "args": ["chanels"], "targets": [[[4, 8]], [[2, 4]]]}
    assert errors(tmp_path, with_search(item)) == [
        (39, 13, "search names 'chanels', which UNet does not take (train.model)",
         "did you mean 'channels'?"),
    ]  # fmt: skip


def test_apply_of_an_arg_the_component_does_not_take(
    tmp_path,
):  # the 4.0-EA bug (SPEC 5)
    cfg = minimal()
    cfg["search"] = [{"type": "float", "args": ["p"], "targets": [0, 1]}]
    cfg["train"]["pre_transforms"].append(
        {
            "name": "RandGaussianNoised",
            "args": {"keys": "image"},
            "apply": {"probability": "p"},
        }
    )
    ((_, _, message, help_),) = errors(tmp_path, cfg)
    assert message == (
        "'apply' names 'probability', which RandGaussianNoised does not take "
        "(train.pre_transforms[2])"
    )
    assert help_ == "did you mean 'prob'?"


def test_enum_choice_with_the_wrong_number_of_values(tmp_path):
    item = {
        "type": "enum",
        "args": ["channels", "strides"],
        "targets": [[[4, 8], [2]], [[4]]],
    }
    ((line, col, message, _),) = errors(tmp_path, with_search(item))
    assert (line, col) == (42, 22)
    assert message == "enum choice 2 [[4]] has 1 value(s) for 2 arg(s)"


def test_float_targets_must_be_min_max(tmp_path):
    item = {"type": "float", "args": ["dropout"], "targets": [0.5, 0.1]}
    ((_, _, message, help_),) = errors(tmp_path, with_search(item))
    assert message == "float targets must be [min, max] with min < max, got [0.5, 0.1]"
    item = {"type": "float", "args": ["dropout"], "targets": [0.1, "x"]}
    assert "got [0.1, 'x']" in errors(tmp_path / "b", with_search(item))[0][2]


def test_unknown_search_type(tmp_path):
    item = {"type": "int", "args": ["num_res_units"], "targets": [1, 3]}
    assert errors(tmp_path, with_search(item)) == [
        (37, 19, "unknown search type 'int'", "use 'float' or 'enum'"),
    ]


@pytest.mark.parametrize("first", ["enum", "float"])
def test_two_items_searching_the_same_arg_are_an_error_not_a_crash(tmp_path, first):
    """Found by an attack on the stamped compile: an enum and a float item on one arg
    made two parameters of one id, and the float's value broke the enum's."""
    items = {"enum": {"domain": "t", "args": ["prob"], "type": "enum",
                      "targets": [[0.5], [1.0]]},
             "float": {"domain": "t", "args": ["prob"], "type": "float",
                       "targets": [0, 1]}}  # fmt: skip
    second = "float" if first == "enum" else "enum"
    cfg = minimal()
    cfg["train"]["pre_transforms"].append({
        "name": "RandGaussianNoised", "args": {"keys": "image", "prob": 0.5},
        "search": [items[first], items[second]]})  # fmt: skip
    (error,) = errors_of(tmp_path, cfg, ENV)
    assert "searches 'train.pre_transforms[2]:prob', as the one at line" in error
