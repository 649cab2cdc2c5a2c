"""Configs made for the classes of failure that issue 29 found in third-party configs the
project never saw (their files stay outside it): each compiles as Clara ran it and
survives `claragen smoke` (two iterations and a validation on synthetic data).

- brats_3x.json: a Clara 3.x BraTS pipeline (4 MRI channels, the BraTS label conversion, a
  random fixed-size crop, flips, nonzero normalisation; SegResnet with a sigmoid; Dice
  with squared_pred on one-hot targets);
- classification_3x.json: a Clara 3.x classification config (DenseNet121 on 2D images,
  multi-label, BinaryClassificationLoss, ComputeAUC);
- lambdad_41.json: Clara 4.1 with a user Lambdad between the loader and
  EnsureChannelFirstd that binarises the label with numpy.
"""

import json
import re
from pathlib import Path

import pytest

from claragen.smoke import smoke
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.conftest import write

HELD_OUT = Path(__file__).parent / "held_out"
ENV = {"DATA_ROOT": "/data", "DATASET_JSON": "config/dataset.json",
       "MMAR_CKPT_DIR": "models"}  # fmt: skip
# the MMAR's own data list: three classes in the classification one's label_format
DATA_LIST = {"label_format": [1, 1, 1],
             "training": [{"image": "a.nii.gz", "label": [0, 1, 0]}],
             "validation": [{"image": "b.nii.gz", "label": [1, 0, 0]}]}  # fmt: skip


def mmar(tmp_path: Path, name: str, cfg: dict | None = None) -> Path:
    cfg = cfg or json.loads((HELD_OUT / name).read_text())
    write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg, indent=2))
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    write(tmp_path, "mmar/config/dataset.json", json.dumps(DATA_LIST))
    return tmp_path / "mmar" / "config"


def train_py(tmp_path: Path, name: str, cfg: dict | None = None) -> str:
    config = mmar(tmp_path, name, cfg)
    comp = Compilation(config / "config_train.json", CompileOptions(),
                       env_path=config / "environment.json", mmar_root=config.parent)  # fmt: skip
    compile_to_dir(comp, tmp_path / "out")
    return (tmp_path / "out" / "J0001" / "train.py").read_text()


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(p.name for p in HELD_OUT.glob("*.json")))
def test_each_class_of_held_out_config_smoke_runs(tmp_path, name):
    config = mmar(tmp_path, name)
    result = smoke(config / "config_train.json", config / "environment.json",
                   stand_ins=True)  # fmt: skip
    assert result.passed, (result.stage, result.reason)


def test_a_classification_label_vector_reaches_the_loss_as_floats(tmp_path):
    text = train_py(tmp_path, "classification_3x.json")
    assert text.count('EnsureTyped(keys="label", dtype="float32")') == 2
    # in_channels: the pipeline's output_image_channels; out_channels: the data list's
    assert re.search(r"DenseNet121\([^)]*in_channels=1", text)
    assert re.search(r"DenseNet121\([^)]*out_channels=3", text)
    # the AUC reads the sigmoid probabilities of BinaryClassificationLoss's classes
    post = text[text.index("val_post_transforms = Compose") :].split(")\n\n", 1)[0]
    assert 'Activationsd(keys="pred", sigmoid=True)' in post
    assert "AsDiscreted" not in post


def test_a_3x_network_takes_the_pipelines_channels(tmp_path):
    text = train_py(tmp_path, "brats_3x.json")
    assert re.search(r"SegResNet\([^)]*in_channels=4", text)
    assert "# in_channels=4: the channels of the image pipeline" in text


@pytest.mark.parametrize("model_first", [False, True])
def test_the_final_activation_outlives_the_networks_port(tmp_path, model_first):
    """The post-transforms are made after the ports, which leave final_activation out:
    a sigmoid network got softmax post-transforms, and argmax over BraTS's overlapping
    classes (and the loss got its activation only where it came first)."""
    cfg = json.loads((HELD_OUT / "brats_3x.json").read_text())
    if model_first:
        cfg["train"] = {"model": cfg["train"].pop("model"), **cfg["train"]}
    text = train_py(tmp_path, "brats_3x.json", cfg)
    post = text[text.index("val_post_transforms = Compose") :].split(")\n\n", 1)[0]
    assert 'Activationsd(keys="pred", sigmoid=True)' in post
    assert "softmax" not in post
    loss = text[text.index("loss_function = DiceLoss(") :].split(")", 1)[0]
    assert "sigmoid=True" in loss


def test_brats_classes_made_before_the_channel_move_come_after_it(tmp_path):
    """Clara 3.x made the classes channels-last before ConvertToChannelsFirst moved them;
    MONAI's conversion stacks them first, and EnsureChannelFirstd after it made the
    label 5D (an attack on issue 29): the conversion, with its cast, moves after it."""
    cfg = json.loads((HELD_OUT / "brats_3x.json").read_text())
    pre = cfg["train"]["pre_transforms"]
    pre[1], pre[2] = pre[2], pre[1]
    text = train_py(tmp_path, "brats_3x.json", cfg)
    train = text[text.index("train_transforms = Compose") :]
    first = train.index("EnsureChannelFirstd(")
    assert first < train.index("ConvertToMultiChannelBasedOnBratsClassesd(")
    assert first < train.index("CastToTyped(")


def test_a_ref_to_a_ported_brats_conversion_copies_its_parts_in_order(tmp_path):
    """A 3.x validate `ref` named the conversion, whose port is the conversion and its
    cast: the ref copied the first only, and the reorder ran before the refs were
    copied, so validation's label was 5D and uncast (an attack on issue 29)."""
    cfg = json.loads((HELD_OUT / "brats_3x.json").read_text())
    pre = cfg["train"]["pre_transforms"]
    pre[1], pre[2] = pre[2], pre[1]
    cfg["validate"]["pre_transforms"] = [
        {"ref": "LoadNifti"}, {"ref": "ConvertToMultiChannelBasedOnBratsClasses"},
        {"ref": "ConvertToChannelsFirst"}, {"ref": "NormalizeNonzeroIntensities"}]  # fmt: skip
    text = train_py(tmp_path, "brats_3x.json", cfg)
    val = text[text.index("val_transforms = Compose") :].split(")\n\n", 1)[0]
    order = [n for n in ("EnsureChannelFirstd(", "ConvertToMultiChannelBasedOnBrats",
                         "CastToTyped(") if n in val]  # fmt: skip
    assert order == ["EnsureChannelFirstd(", "ConvertToMultiChannelBasedOnBrats",
                     "CastToTyped("]  # fmt: skip
    assert val.index("EnsureChannelFirstd(") < val.index("ConvertToMultiChannel")
    assert val.index("ConvertToMultiChannel") < val.index("CastToTyped(")


def _post(text: str) -> str:
    return text[text.index("val_post_transforms = Compose") :].split(")\n\n", 1)[0]


@pytest.mark.parametrize(
    "loss, expected",
    [
        ("FocalDice", "DiceFocalLoss(to_onehot_y=True, sigmoid=True)"),
        ("CrossEntropyDice", "DiceCELoss(to_onehot_y=True, sigmoid=True)"),
        ("CrossEntropy", "DiceCELoss(to_onehot_y=True, sigmoid=True, lambda_dice=0.0)"),
    ],
)
def test_every_3x_loss_applies_the_networks_activation(tmp_path, loss, expected):
    """They applied a softmax whatever the network's final_activation (an attack on
    issue 29)."""
    cfg = json.loads((HELD_OUT / "brats_3x.json").read_text())
    cfg["train"]["loss"] = {"name": loss}
    assert expected in train_py(tmp_path, "brats_3x.json", cfg)


def test_a_linear_network_gets_no_activation_and_an_unknown_one_a_warning(tmp_path):
    cfg = json.loads((HELD_OUT / "brats_3x.json").read_text())
    cfg["train"]["model"]["args"]["final_activation"] = "linear"
    text = train_py(tmp_path / "linear", "brats_3x.json", cfg)
    assert "Activationsd" not in _post(text) and "argmax=[True, False]" in _post(text)
    loss = text[text.index("loss_function = DiceLoss(") :].split(")", 1)[0]
    assert "sigmoid" not in loss and "softmax" not in loss
    cfg["train"]["model"]["args"]["final_activation"] = "tanh"
    config = mmar(tmp_path / "tanh", "brats_3x.json", cfg)
    comp = Compilation(config / "config_train.json", CompileOptions(),
                       env_path=config / "environment.json", mmar_root=config.parent)  # fmt: skip
    compile_to_dir(comp, tmp_path / "tanh" / "out")
    (warning,) = [d for d in comp.diags.warnings if "final_activation" in d.message]
    assert warning.code == "W102" and "'tanh' is none claragen knows" in warning.message


def test_a_classifications_activation_is_its_networks_else_its_losss(tmp_path):
    cfg = json.loads((HELD_OUT / "classification_3x.json").read_text())
    cfg["train"]["loss"] = [{"name": "BinaryClassificationLoss"}]  # a list of one
    assert "sigmoid=True" in _post(
        train_py(tmp_path / "a", "classification_3x.json", cfg)
    )
    cfg["train"]["loss"] = {"name": "MulticlassClassificationLoss"}
    cfg["train"]["model"]["args"]["final_activation"] = "sigmoid"
    assert "sigmoid=True" in _post(
        train_py(tmp_path / "b", "classification_3x.json", cfg)
    )
    del cfg["train"]["model"]["args"]["final_activation"]
    assert "softmax=True" in _post(
        train_py(tmp_path / "c", "classification_3x.json", cfg)
    )


def test_the_pipelines_channels_given_as_a_variable_are_the_networks(tmp_path):
    cfg = json.loads((HELD_OUT / "brats_3x.json").read_text())
    cfg["INPUT_CHANNELS"] = 4
    for section in ("train", "validate"):
        cfg[section]["image_pipeline"]["args"][
            "output_image_channels"
        ] = "{INPUT_CHANNELS}"
    assert re.search(
        r"SegResNet\([^)]*in_channels=4", train_py(tmp_path, "brats_3x.json", cfg)
    )
