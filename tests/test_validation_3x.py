"""Clara 3.x validation configs (SPEC 2.3): per-class splits, writers, model loaders."""

import pytest

from claragen.smoke import smoke
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.conftest import CORPUS

FOLDER = CORPUS / "clara-train-examples"
TRAIN = FOLDER / "Tensorflow-Deprecated__GettingStarted__config__trn_base.json"
VALIDATION = (
    FOLDER / "Tensorflow-Deprecated__GettingStarted__config__config_validation.json"
)

pytestmark = pytest.mark.skipif(not TRAIN.is_file(), reason="needs ../shared/corpus")


def compile_pair(tmp_path, validation=VALIDATION):
    comp = Compilation(TRAIN, CompileOptions(), validation_path=validation)
    compile_to_dir(comp, tmp_path / "out")
    return comp, (tmp_path / "out" / "J0001" / "validate.py").read_text()


def test_split_based_on_label_becomes_one_hot_and_split_dimd(tmp_path):
    comp, script = compile_pair(tmp_path)
    # the prediction and the label are split per class, after inference
    assert 'AsDiscreted(keys="pred", to_onehot=3)' in script
    assert (
        'keys="label",\n                output_postfixes=["class0", "class1", "class2"]'
        in script
    )
    # each per-class metric reads its own keys, with the one channel it has
    assert 'from_engine(["pred_class1", "label_class1"])' in script
    assert (
        '"mean_dice_class1": DiceMetric(reduction="mean", include_background=True)'
        in script
    )
    # writers -> SaveImaged, one file postfix per key; the frozen graph -> TorchScript
    assert 'keys="pred_class2",\n                output_postfix="pred_class2"' in script
    assert "torch.jit.load(args.mmar_torchscript" in script
    warnings = [d.message for d in comp.diags.warnings]
    assert any("CopyProperties is not needed" in w for w in warnings)
    assert any("frozen graph" in w for w in warnings)


def test_checkpoint_model_loader_reads_mmar_ckpt(tmp_path):
    validation = (
        FOLDER
        / "Tensorflow-Deprecated__FL__adminMMAR__config__config_validation_ckpt.json"
    )
    comp = Compilation(FOLDER / "Tensorflow-Deprecated__FL__adminMMAR__config__config_train.json",
                       CompileOptions(), validation_path=validation)  # fmt: skip
    compile_to_dir(comp, tmp_path / "out")
    script = (tmp_path / "out" / "J0001" / "validate.py").read_text()
    assert '"--mmar-ckpt",' in script
    assert (
        "torch.load(args.mmar_ckpt, map_location=device, weights_only=True)" in script
    )


@pytest.mark.e2e
def test_3x_validation_runs_on_an_exported_torchscript_model(tmp_path):
    result = smoke(TRAIN, validation=VALIDATION, workdir=tmp_path)
    assert result.passed, result
    assert result.stage == "validate" and "mean_dice_class1" in result.reason
    assert (tmp_path / "model.ts").is_file()
