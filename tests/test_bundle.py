"""The bundle target's translation of the engines lowering into MONAI bundle syntax."""

import ast
import json

from typer.testing import CliRunner

from claragen.cli import app
from claragen.transpiler.targets.bundle import Translator
from claragen.transpiler.targets.engines import EnginesScript
from claragen.transpiler.targets.plain_script import Block
from tests.conftest import ENV, minimal, write


def translator(*imports: str, byoc: tuple[str, ...] = ()) -> Translator:
    script = EnginesScript(
        docstring="", source_name="c.json", device_default="cpu", device_help="",
        key_label="", key_engine="", blocks=[Block([], "model", "UNet()")],
        imports=list(imports), byoc_imports=list(byoc),
        constants=[("EPOCHS", "2", "")],
    )  # fmt: skip
    return Translator(script)


def value(t: Translator, code: str):
    return t.value(ast.parse(code, mode="eval").body)


def test_calls_become_target_components_with_named_args():
    t = translator("from monai.transforms import Compose, LoadImaged")
    assert value(t, "Compose([LoadImaged(keys='image')])") == {
        "_target_": "monai.transforms.Compose",
        "transforms": [{"_target_": "monai.transforms.LoadImaged", "keys": "image"}],
    }
    assert value(t, "torch.optim.Adam(params=model.parameters(), lr=-1e-4)") == {
        "_target_": "torch.optim.Adam", "params": "$@model.parameters()", "lr": -1e-4,
    }  # fmt: skip


def test_ids_options_and_lambda_parameters():
    t = translator()
    assert value(t, "EPOCHS") == "@EPOCHS"
    assert value(t, "args.epochs") == "@epochs"
    assert value(t, "lambda model: model['loss']") == "$lambda model: model['loss']"


def test_a_class_the_table_does_not_hold_keeps_its_positional_args_in_code():
    t = translator(byoc=("from my_mod import Compose",))
    assert value(t, "Compose(1, k=2)") == "$my_mod.Compose(1, k=2)"
    assert value(t, "Compose(k=2)") == {"_target_": "my_mod.Compose", "k": 2}


def test_byoc_modules_are_imported_by_the_bundle(tmp_path):
    cfg = minimal()
    cfg["train"]["handlers"].append({"path": "my_mod.MyHandler", "args": {"every": 2}})
    config = write(tmp_path, "config/config_train.json", json.dumps(cfg, indent=2))
    write(tmp_path, "config/environment.json", json.dumps(ENV))
    result = CliRunner().invoke(
        app, ["compile", str(config), "-o", str(tmp_path / "out"), "--target", "bundle"]
    )
    assert result.exit_code == 0, result.output
    bundle = json.loads((tmp_path / "out/J0001/configs/train.json").read_text())
    assert "$import my_mod" in bundle["imports"]
    assert {"_target_": "my_mod.MyHandler", "every": 2} in bundle["train_handlers"]
