"""End to end: synthetic NIfTI data -> compile the example -> run train.py on the CPU."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import scriptrunner
from tests.conftest import synthetic_data
from tests.test_golden import compile_example

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("data"), 4, 1, (48, 48, 40))


def run_script(script, data, ckpt, *extra):
    cmd = [
        sys.executable, str(script), "--device", "cpu",
        "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
        "--mmar-ckpt-dir", str(ckpt), "--crop-size", "32", "32", "32",
        "--roi-size", "32", "32", "32", *extra,
    ]  # fmt: skip
    return scriptrunner.run(cmd, timeout=600)


def test_generated_script_trains_and_writes_result_json(tmp_path, data):
    out = compile_example(tmp_path)
    ckpt = tmp_path / "models"
    proc = run_script(out / "J0001" / "train.py", data, ckpt, "--epochs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((ckpt / "result.json").read_text())
    assert result["key_metric"] == "val_mean_dice"
    assert result["best_epoch"] == 1
    assert 0.0 <= result["best_value"] <= 1.0
    assert result["values"] == [result["best_value"]]
    (epoch,) = result["epochs"]
    assert set(epoch) == {"epoch", "loss", "train_acc", "val_mean_dice", "val_acc"}
    assert result["wall_time_s"] > 0
    # CheckpointSaver: best key metric (validate) and final (train); TensorBoard events.
    assert (ckpt / "model.pt").is_file() and (ckpt / "model_final.pt").is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in ckpt.iterdir())
    assert "val_mean_dice: best" in proc.stderr


def test_checkpoint_holds_model_and_train_conf(tmp_path, data):
    import torch

    out = compile_example(tmp_path)
    ckpt = tmp_path / "models"
    assert (
        run_script(out / "J0001" / "train.py", data, ckpt, "--epochs", "1").returncode
        == 0
    )
    state = torch.load(ckpt / "model_final.pt", map_location="cpu")
    assert set(state) == {"model", "optimizer", "lr_scheduler", "train_conf"}
    assert state["train_conf"]["learning_rate"] == 2e-4


def test_validation_script_loads_the_trained_checkpoint(tmp_path, data):
    out = compile_example(tmp_path)
    ckpt = tmp_path / "models"
    assert (
        run_script(out / "J0001" / "train.py", data, ckpt, "--epochs", "1").returncode
        == 0
    )
    evaluation = tmp_path / "eval"
    proc = scriptrunner.run(
        [sys.executable, str(out / "J0001" / "validate.py"), "--device", "cpu",
         "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
         "--mmar-ckpt", str(ckpt / "model.pt"), "--mmar-eval-output-path", str(evaluation),
         "--roi-size", "32", "32", "32"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert set(metrics) == {"val_mean_dice", "val_acc"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    # the config's MetricsSaver, as MONAI's handler writes it (the engines test: the same)
    assert REPORTS <= {p.name for p in evaluation.iterdir()}
    rows = (evaluation / "val_mean_dice_raw.csv").read_text().splitlines()
    cases = json.loads((data / "dataset.json").read_text())["validation"]
    assert len(rows) == 1 + len(cases)  # a header, then one row per case
    assert all(Path(c["image"]).name in "".join(rows) for c in cases)
    summary = (evaluation / "val_mean_dice_summary.csv").read_text()
    assert "mean" in summary and "90percentile" in summary


REPORTS = {"metrics.csv", "val_mean_dice_raw.csv", "val_mean_dice_summary.csv"}


def test_engines_target_trains_and_validates_like_the_plain_loop(tmp_path, data):
    """The engines script (MONAI's SupervisedTrainer) of the example trains, saves, scores
    the same as the plain loop, and its validate.py reads the checkpoint."""
    import torch

    scores = {}
    for target in ("plain", "engines"):
        out = compile_example(tmp_path / target, target=target)
        ckpt = tmp_path / target / "models"
        ckpt.mkdir(parents=True)
        (ckpt / "progress.jsonl").write_text('{"epoch": 7}\n')  # an earlier run's
        proc = run_script(out / "J0001" / "train.py", data, ckpt, "--epochs", "1")
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads((ckpt / "result.json").read_text())
        assert result["key_metric"] == "val_mean_dice" and result["best_epoch"] == 1
        scores[target] = result["best_value"]
        # progress.jsonl: this run's epochs only, each with its metrics, lr and times
        (line,) = (ckpt / "progress.jsonl").read_text().splitlines()
        progress = json.loads(line)
        assert set(progress) == {"epoch", "epochs", "time", "epoch_s", "lr",
                                 "key_metric", "metrics"}, progress  # fmt: skip
        assert progress["epoch"] == progress["epochs"] == 1 and progress["lr"] == 2e-4
        assert progress["key_metric"] == "val_mean_dice"
        assert 0 < progress["epoch_s"] <= result["wall_time_s"]
        assert progress["metrics"] == {
            k: v for k, v in result["epochs"][0].items() if k != "epoch"
        }
        assert progress["metrics"]["val_mean_dice"] == result["best_value"]
        assert (ckpt / "model_final.pt").is_file()
        # one checkpoint format for every target (README "The generated script")
        best = torch.load(ckpt / "model.pt", map_location="cpu", weights_only=True)
        assert set(best) == {"model", "train_conf"}, (target, set(best))
        assert best["train_conf"]["learning_rate"] == 2e-4
        final = torch.load(ckpt / "model_final.pt", weights_only=True)
        assert set(final) == {"model", "optimizer", "lr_scheduler", "train_conf"}
    assert abs(scores["plain"] - scores["engines"]) < 1e-5, scores

    out = tmp_path / "engines" / "out"
    evaluation = tmp_path / "eval"
    best = tmp_path / "engines" / "models" / "model.pt"
    proc = scriptrunner.run(
        [sys.executable, str(out / "J0001" / "validate.py"), "--device", "cpu",
         "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
         "--mmar-ckpt", str(best), "--mmar-eval-output-path", str(evaluation),
         "--roi-size", "32", "32", "32"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert set(metrics) == {"val_mean_dice", "val_acc"}
    assert abs(metrics["val_mean_dice"] - scores["engines"]) < 0.05
    assert REPORTS <= {p.name for p in evaluation.iterdir()}


def test_bundle_target_runs_with_monai_bundle_run_and_scores_like_the_plain_loop(
    tmp_path, data
):
    """`python -m monai.bundle run` of the example's bundle trains one epoch, saves the
    checkpoints, and reaches the plain script's validation score."""
    plain = compile_example(tmp_path / "plain", target="plain")
    proc = run_script(plain / "J0001" / "train.py", data, tmp_path / "plain" / "models",
                      "--epochs", "1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    score = json.loads((tmp_path / "plain" / "models" / "result.json").read_text())

    out = compile_example(tmp_path / "bundle", target="bundle")
    ckpt = tmp_path / "bundle" / "models"
    configs = out / "J0001" / "configs"
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run",
         "--config_file", str(configs / "train.json"),
         "--meta_file", str(configs / "metadata.json"),
         "--dataset_dir", str(data), "--dataset_json", str(data / "dataset.json"),
         "--mmar_ckpt_dir", str(ckpt), "--epochs", "1", "--device", "$torch.device('cpu')",
         "--crop_size", "[32, 32, 32]", "--roi_size", "[32, 32, 32]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ckpt / "model_final.pt").is_file() and (ckpt / "model.pt").is_file()
    found = re.search(r"Key metric: val_mean_dice best value: ([0-9.e-]+)",
                      proc.stdout + proc.stderr)  # fmt: skip
    assert found, proc.stderr[-3000:]
    assert abs(float(found.group(1)) - score["best_value"]) < 1e-5

    # configs/evaluate.json: the validation config, on the checkpoint the bundle saved
    proc = subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run",
         "--config_file", str(configs / "evaluate.json"),
         "--dataset_dir", str(data), "--dataset_json", str(data / "dataset.json"),
         "--mmar_ckpt", str(ckpt / "model.pt"), "--device", "$torch.device('cpu')",
         "--mmar_eval_output_path", str(tmp_path / "eval"), "--roi_size", "[32, 32, 32]"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.search(r"Key metric: val_mean_dice best value: ([0-9.e-]+)",
                      proc.stdout + proc.stderr)  # fmt: skip
    assert found, proc.stderr[-3000:]
    assert abs(float(found.group(1)) - score["best_value"]) < 0.05
