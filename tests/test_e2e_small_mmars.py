"""Small MMARs built by the tests: BYOC components and CheckpointLoader, compiled and run."""

import json
import sys

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests import scriptrunner
from tests.conftest import CORPUS, ENV, minimal, synthetic_data, write

CUSTOM_LOSS = '''
from monai.losses import DiceLoss

class MyDiceLoss(DiceLoss):
    """A BYOC loss: Dice with a marker that the test can see."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        print("MyDiceLoss in use")
'''


def byoc_mmar(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"] = {"path": "myLoss.MyDiceLoss", "args": {"to_onehot_y": True,
                                                                 "softmax": True}}  # fmt: skip
    write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg, indent=2))
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    write(tmp_path, "mmar/custom/myLoss.py", CUSTOM_LOSS)
    return tmp_path / "mmar"


def tiny_data(mmar):
    """Two 16^3 cases in MMAR/data, listed by MMAR/config/dataset.json."""
    data = synthetic_data(mmar / "data", 2, 0, (16, 16, 16))
    (mmar / "config" / "dataset.json").write_text((data / "dataset.json").read_text())


def compile_mmar(mmar, out):
    comp = Compilation(mmar / "config" / "config_train.json", CompileOptions(),
                       env_path=mmar / "config" / "environment.json", mmar_root=mmar)  # fmt: skip
    compile_to_dir(comp, out)
    return (out / "J0001" / "train.py").read_text()


def test_byoc_import_comes_from_custom_and_is_never_run_at_compile_time(tmp_path):
    mmar = byoc_mmar(tmp_path)
    (mmar / "custom" / "myLoss.py").write_text(
        "raise SystemExit('imported at compile time')\n"
    )
    text = compile_mmar(mmar, tmp_path / "out")
    assert 'sys.path.insert(0, os.path.join(args.mmar_root, "custom"))' in text
    assert "    from myLoss import MyDiceLoss\n" in text
    assert "loss_function = MyDiceLoss(to_onehot_y=True, softmax=True)" in text


@pytest.mark.e2e
def test_byoc_script_runs(tmp_path):
    mmar = byoc_mmar(tmp_path)
    compile_mmar(mmar, tmp_path / "out")
    tiny_data(mmar)
    proc = scriptrunner.run(
        [sys.executable, str(tmp_path / "out" / "J0001" / "train.py"), "--epochs", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MyDiceLoss in use" in proc.stdout
    result = json.loads((mmar / "models" / "result.json").read_text())
    assert result["key_metric"] == "loss" and result["best_epoch"] == 1


@pytest.mark.e2e
def test_checkpoint_loader_resumes_from_the_saved_model(tmp_path):
    """CheckpointLoader, disabled through a variable, then enabled with --set."""
    cfg = minimal()
    cfg["dont_load_ckpt_model"] = True
    cfg["train"]["handlers"] = [
        {"name": "CheckpointLoader", "disabled": "{dont_load_ckpt_model}",
         "args": {"load_path": "{MMAR_CKPT}", "load_dict": {"model": "@model"}}},
        {"name": "CheckpointSaver",
         "args": {"save_dir": "{MMAR_CKPT_DIR}", "save_dict": {"model": "@model"},
                  "save_final": True, "final_filename": "model.pt"}},
    ]  # fmt: skip
    write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg, indent=2))
    write(tmp_path, "mmar/config/environment.json",
          json.dumps({**ENV, "MMAR_CKPT": "models/model.pt"}))  # fmt: skip
    mmar = tmp_path / "mmar"
    tiny_data(mmar)

    first = compile_mmar(mmar, tmp_path / "first")
    assert "torch.load(args.mmar_ckpt" not in first  # (it loads resume.pt on --resume)
    script = tmp_path / "first" / "J0001" / "train.py"
    proc = scriptrunner.run([sys.executable, str(script), "--epochs", "1"])
    assert proc.returncode == 0, proc.stderr[-3000:]

    comp = Compilation(mmar / "config" / "config_train.json",
                       CompileOptions(set_values=(("dont_load_ckpt_model", "false"),)),
                       env_path=mmar / "config" / "environment.json", mmar_root=mmar)  # fmt: skip
    compile_to_dir(comp, tmp_path / "second")
    second = (tmp_path / "second" / "J0001" / "train.py").read_text()
    assert (
        "checkpoint = torch.load(args.mmar_ckpt, map_location=device, weights_only=True)"
        in second
    )
    script = tmp_path / "second" / "J0001" / "train.py"
    proc = scriptrunner.run([sys.executable, str(script), "--epochs", "1"])
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.e2e
def test_smoke_command_runs_the_example(tmp_path):
    from claragen.smoke import smoke
    from tests.conftest import EXAMPLE

    config = EXAMPLE / "config"
    result = smoke(config / "config_train.json", config / "environment.json",
                   workdir=tmp_path, validation=config / "config_validation.json")  # fmt: skip
    assert result.passed, result.reason
    assert (result.stage, result.reason.split(" = ")[0]) == (
        "validate",
        "val_mean_dice",
    )
    assert (
        json.loads((tmp_path / "models" / "result.json").read_text())["best_epoch"] == 1
    )
    assert set(json.loads((tmp_path / "eval" / "metrics.json").read_text())) == {
        "val_mean_dice", "val_acc",
    }  # fmt: skip


def test_smoke_reports_a_compile_failure(tmp_path):
    from claragen.smoke import smoke

    cfg = minimal()
    cfg["train"]["loss"]["name"] = "NoSuchLoss"
    path = write(tmp_path, "config_train.json", json.dumps(cfg))
    result = smoke(path, workdir=tmp_path / "work")
    assert (result.passed, result.stage) == (False, "compile")
    assert "unknown component 'NoSuchLoss'" in result.reason


def test_stand_ins_replace_only_missing_byoc_modules_and_say_so(tmp_path):
    """A config whose custom/ module is absent runs with a stand-in, named in the
    result; without --stand-ins the same run fails naming the missing module."""
    from claragen.smoke import smoke

    config = (
        CORPUS
        / "clara-train-examples"
        / ("PyTorch__NoteBooks__GettingStarted__config__trn_BYOC_transform.json")
    )
    if not config.is_file():
        pytest.skip("needs ../shared/corpus")
    plain = smoke(config, workdir=tmp_path / "a")
    assert not plain.passed and "myTransformation" in plain.reason
    stood = smoke(config, workdir=tmp_path / "b", stand_ins=True)
    assert stood.passed, stood
    assert stood.stand_ins == ("myTransformation.MyRandAdditiveNoised",)
    assert "stand-ins for missing BYOC: myTransformation.MyRandAdditiveNoised" in str(
        stood
    )
    module = (tmp_path / "b" / "stand_ins" / "myTransformation.py").read_text()
    assert "class MyRandAdditiveNoised:  # stand-in transform" in module


def test_deepgrow_trains_on_the_engines_with_its_click_interaction(tmp_path):
    """DeepGrow (4.1 with custom deepgrow.*): MONAI's Interaction on the engines target,
    2D slices, its stats handler stood in for."""
    from claragen.smoke import smoke

    config = (
        CORPUS
        / "clara-train-examples"
        / ("PyTorch__NoteBooks__AIAA__deepgrow_2D__config__config_train.json")
    )
    if not config.is_file():
        pytest.skip("needs ../shared/corpus")
    result = smoke(config, workdir=tmp_path, stand_ins=True)
    assert result.passed, result
    assert result.stand_ins == ("deepgrow.handler.DeepgrowStatsHandler",)
    script = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "iteration_update=train_iteration" in script
    assert '"--image-size",' in script
