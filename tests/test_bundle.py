"""The bundle target's translation of the engines lowering into MONAI bundle syntax."""

import ast
import json
import os

import pytest
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
    assert {"_target_": "my_mod.MyHandler", "every": 2} in bundle["train"]["handlers"]


# -- MONAI's bundle specification (issue 28, item 7) ----------------------------------

# The fields metadata.json must have (MONAI's bundle specification, mb_specification;
# its optional_packages_version is required_packages_version in MONAI 1.x, which warns
# and renames the older one).
REQUIRED_METADATA = ("version", "changelog", "monai_version", "pytorch_version",
                     "numpy_version", "required_packages_version", "task", "description",
                     "authors", "copyright", "network_data_format")  # fmt: skip


def _bundle(tmp_path):
    from tests.test_golden import compile_example

    return compile_example(tmp_path, target="bundle") / "J0001" / "configs"


def test_the_bundle_follows_monais_ids_and_roots(tmp_path):
    train = json.loads((_bundle(tmp_path) / "train.json").read_text())
    assert train["network_def"]["_target_"] == "monai.networks.nets.UNet"
    assert train["network"] == "$@network_def.to(@device)"
    assert "model" not in train and "model_def" not in train
    assert train["optimizer"]["params"] == "$@network.parameters()"
    assert train["bundle_root"] == "."
    # the data and checkpoints are the MMAR's, by its absolute path, not the cwd's
    assert os.path.isabs(train["mmar_root"])
    assert train["dataset_dir"] == "$os.path.join(@mmar_root, @DATA_ROOT)"
    # what it writes is the bundle's own: models/ under bundle_root
    assert train["mmar_ckpt_dir"] == "$os.path.join(@bundle_root, @MMAR_CKPT_DIR)"
    evaluate = json.loads((_bundle(tmp_path / "e") / "evaluate.json").read_text())
    assert evaluate["mmar_ckpt"] == "$os.path.join(@bundle_root, @MMAR_CKPT)"


def test_metadata_has_every_field_the_specification_requires(tmp_path):
    meta = json.loads((_bundle(tmp_path) / "metadata.json").read_text())
    missing = [key for key in REQUIRED_METADATA if key not in meta]
    assert not missing
    image = meta["network_data_format"]["inputs"]["image"]
    pred = meta["network_data_format"]["outputs"]["pred"]
    assert (image["num_channels"], pred["num_channels"]) == (1, 2)


def test_monais_verify_net_in_out_passes(tmp_path):
    """MONAI's own check: network_def built from train.json, run on an input of the
    metadata's shape and channels, gives the metadata's output channels."""
    from monai.bundle import verify_net_in_out

    configs = _bundle(tmp_path)
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(configs / "metadata.json"),
        config_file=str(configs / "train.json"),
        device="cpu",
    )


@pytest.mark.skipif(
    not os.environ.get("CLARAGEN_MONAI_META_SCHEMA"),
    reason="MONAI's verify_metadata downloads its schema (set CLARAGEN_MONAI_META_SCHEMA "
    "to a local copy of meta_schema_20240725.json)",
)
def test_monais_verify_metadata_passes(tmp_path):
    from monai.bundle import verify_metadata

    verify_metadata(
        meta_file=str(_bundle(tmp_path) / "metadata.json"),
        filepath=os.environ["CLARAGEN_MONAI_META_SCHEMA"],
    )


def test_monais_workflows_find_every_property_of_the_specification(tmp_path):
    """MONAI's ConfigWorkflow, on synthetic data: a train workflow finds every required
    (and each optional) property in train.json, an inference one in evaluate.json
    (dataset_dir, train::trainer::max_epochs, ...; found missing by the attack on issue
    28)."""
    from monai.bundle import ConfigWorkflow

    from tests.conftest import synthetic_data
    from tests.test_golden import compile_example

    data = synthetic_data(tmp_path / "data", 2, 1, (32, 32, 32))
    configs = compile_example(tmp_path / "c", target="bundle") / "J0001" / "configs"
    overrides = {"dataset_dir": str(data), "dataset_json": str(data / "dataset.json")}
    for config, kind, extra in (
        ("train.json", "train", {"mmar_ckpt_dir": str(tmp_path / "m")}),
        ("evaluate.json", "infer", {"mmar_eval_output_path": str(tmp_path / "e")}),
    ):
        workflow = ConfigWorkflow(
            config_file=str(configs / config), meta_file=str(configs / "metadata.json"),
            workflow_type=kind, **overrides, **extra)  # fmt: skip
        workflow.initialize()
        assert workflow.check_properties() == [], config


def test_the_bundle_sets_the_backend_flags_the_scripts_set(tmp_path):
    """cudnn_benchmark and tf32: the plain and engines scripts set them, the bundle's
    initialize did not (found by an attack on issue 28); MONAI's parser runs them."""
    import torch
    from monai.bundle import ConfigParser

    from tests.test_golden import compile_example

    def edit(cfg):
        cfg.update({"cudnn_benchmark": True, "tf32": False})

    out = compile_example(tmp_path, target="bundle", edit=edit) / "J0001"
    plain = compile_example(tmp_path / "p", target="plain", edit=edit) / "J0001"
    text = (plain / "train.py").read_text()
    assert "torch.backends.cudnn.benchmark = True" in text
    train = json.loads((out / "configs" / "train.json").read_text())
    assert "$setattr(torch.backends.cudnn, 'benchmark', True)" in train["initialize"]
    before = (torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32)
    try:
        flags = [line for line in train["initialize"] if line.startswith("$setattr(")]
        ConfigParser({"initialize": flags}).get_parsed_content("initialize")
        assert torch.backends.cudnn.benchmark is True
        assert torch.backends.cudnn.allow_tf32 is False
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.allow_tf32 = before
