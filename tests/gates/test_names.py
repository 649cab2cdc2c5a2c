"""The names gate (claragen/gates/names.py) for MONAI's bundle language: every key that
MONAI's ConfigParser treats as a directive, and every value prefix and id separator, read
from MONAI's own constants, is refused or quoted by the bundle target (issue 27, class 1).
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from claragen.gates import names
from claragen.transpiler import symbols
from tests.conftest import REPO
from tests.gates.common import compile_cli, mmar

spec = importlib.util.spec_from_file_location(
    "gen_components", REPO / "tools" / "gen_components.py"
)
gen_components = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(gen_components)  # type: ignore[union-attr]


def monai_syntax() -> dict[str, list[str]]:
    """MONAI's bundle syntax, read from the installed MONAI now."""
    return gen_components.bundle_syntax()


def directive_keys() -> list[str]:
    return monai_syntax()["directive_keys"]


def special_texts() -> list[str]:
    syntax = monai_syntax()
    texts = [f"{p}os.system('x')" for p in syntax["value_prefixes"]]
    texts += [f"{p}train_transforms" for p in syntax["value_prefixes"]]
    texts += [f"a{s}b" for s in syntax["separators"]]
    texts += [f"{p}x" for p in syntax["key_prefixes"]]
    return texts


def test_the_table_records_monais_own_bundle_syntax():
    """`make components` read it from MONAI; the installed MONAI still says the same."""
    assert symbols.bundle_syntax() == monai_syntax()
    for key in ("_target_", "_requires_", "_mode_", "_disabled_", "_desc_", "_meta_"):
        assert key in directive_keys()  # what the attack named is among them


def bundle_of(tmp_path, edit) -> dict:
    root = mmar(tmp_path, edit)
    out = tmp_path / "out"
    code, output = compile_cli("-m", root, "-o", out, "--target", "bundle")
    assert code == 0, output
    return json.loads((out / "J0001" / "configs" / "train.json").read_text())


def components(parser):
    """Every ConfigComponent MONAI's parser makes of a bundle, with its id."""
    from monai.bundle.config_item import ConfigComponent

    parser.parse()
    resolver = parser.ref_resolver
    for item_id in list(resolver.items):
        item = resolver.get_item(item_id)
        if isinstance(item, ConfigComponent):
            yield item_id, item.get_config()


def assert_no_foreign_directive(bundle: dict, key: str) -> None:
    """MONAI's own parser sees only the components claragen wrote: each `_target_` a class
    of the table (or the config's own class), and `key` nowhere as a key."""
    from monai.bundle import ConfigParser

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                assert k != key or k == "_target_", f"{key} reached the bundle: {x}"
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(bundle)
    allowed = set(symbols.qualified_names()) | {"my_transforms.MyTransform"}
    for item_id, config in components(ConfigParser(bundle)):
        assert config["_target_"] in allowed, (item_id, config)
        extra = set(config) & (set(directive_keys()) - {"_target_"})
        assert not extra, (item_id, config)


@pytest.mark.parametrize("key", [*directive_keys(), "_anything_"])
def test_a_directive_key_as_the_arg_of_a_class_with_kwargs_is_no_directive(
    tmp_path, key
):
    """LoadImaged takes **kwargs, so the table lets any arg name through; in the bundle
    the name is only a keyword of a `$` expression's call."""

    def edit(c):
        c["train"]["pre_transforms"][0]["args"][key] = "os.system"

    assert_no_foreign_directive(bundle_of(tmp_path, edit), key)


@pytest.mark.parametrize("key", [*directive_keys(), "_anything_"])
def test_a_directive_key_as_the_arg_of_a_byoc_class_is_no_directive(tmp_path, key):
    def edit(c):
        c["train"]["pre_transforms"].append(
            {"path": "my_transforms.MyTransform", "args": {key: "os.system", "x": 1}}
        )

    assert_no_foreign_directive(bundle_of(tmp_path, edit), key)


@pytest.mark.parametrize("key", [*directive_keys(), "_anything_"])
def test_a_directive_key_inside_a_dict_arg_is_data(tmp_path, key):
    from monai.bundle import ConfigParser

    data = {key: "os.system", "keep": [1, 2]}

    def edit(c):
        c["train"]["pre_transforms"].append(
            {"path": "my_transforms.MyTransform", "args": {"d": data}}
        )

    bundle = bundle_of(tmp_path, edit)
    assert_no_foreign_directive(bundle, key)
    parser = ConfigParser(bundle)
    assert parser.get_parsed_content("train::preprocessing::transforms::2::d") == data


@pytest.mark.parametrize("text", special_texts())
def test_every_prefix_and_separator_of_monai_stays_text(tmp_path, text):
    """As a value, and as a key of a dict value, MONAI gives back the config's text (a
    value that starts with '@' is a reference in Clara's language too: E202 says so)."""
    from monai.bundle import ConfigParser

    value = not text.startswith("@")
    data = {"v": text, text: 1, "l": [text]} if value else {text: 1}
    args = {"d": data, "t": text} if value else {"d": data}

    def edit(c):
        c["train"]["pre_transforms"].append(
            {"path": "my_transforms.MyTransform", "args": args}
        )

    bundle = bundle_of(tmp_path, edit)
    parser = ConfigParser(bundle)
    base = "train::preprocessing::transforms::2"
    assert parser.get_parsed_content(f"{base}::d") == data
    if value:
        assert parser.get_parsed_content(f"{base}::t") == text


def test_check_bundle_names_each_thing_monai_would_act_on():
    ids = {"model", "device"}
    targets = {"monai.networks.nets.UNet"}
    good = {
        "imports": ["$import torch"],
        "device": "$torch.device('cpu')",
        "model": {"_target_": "monai.networks.nets.UNet", "channels": [4, 8]},
        "run": ["$@model.to(@device)"],
    }
    assert names.check_bundle(good, ids, targets) == []
    bad = {
        "a": {"_target_": "os.system"},
        "b": {"_target_": "monai.networks.nets.UNet", "_requires_": "@model"},
        "c": "%other.json::x",
        "d": "@nowhere",
        "e": "$print('@model')",
        "f": "text with a # in it",
        "g": {"+merge": 1},
        "h": "$(1).__class__",
        "imports": ["$import os; os.system('x')"],
        "i": "$not python(",
    }
    problems = names.check_bundle(bad, ids, targets)
    for key in "abcdefgh":
        assert any(p.startswith(key) for p in problems), (key, problems)
    assert any(p.startswith("imports[0]") for p in problems), problems
    assert any(p.startswith("i:") for p in problems), problems


@pytest.mark.parametrize("text", ["<script>", "a\x1b]8;;x\x07b", "'\"&"])
def test_html_text_is_escaped_with_its_control_characters(text):
    shown = names.html(text)
    assert not any(c in shown for c in "<>\"'\x1b\x07")


def test_a_nested_id_is_an_id_of_the_bundle_only_where_the_file_has_it():
    """MONAI's specification nests its ids (`train::trainer`): the gate reads `::`
    references as ids of the file, and an id it does not have stays a problem."""
    data = {
        "device": "$torch.device('cpu')",
        "train": {"trainer": {"_target_": "monai.engines.SupervisedTrainer",
                              "max_epochs": 2, "device": "@device"}},  # fmt: skip
        "run": ["$@train::trainer.run()"],
        "epochs": "@train::trainer::max_epochs",
    }
    ids = names.bundle_ids(data)
    assert {"train", "train::trainer", "train::trainer::max_epochs"} <= ids
    targets = {"monai.engines.SupervisedTrainer"}
    assert names.check_bundle(data, ids, targets) == []
    data["run"] = ["$@train::evaluator.run()"]
    data["epochs"] = "@train::nothing"
    problems = names.check_bundle(data, ids, targets)
    assert len(problems) == 2 and all("no id of the bundle" in p for p in problems)
