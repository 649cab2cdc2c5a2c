"""Differential tests: the plain script, the engines script and the MONAI bundle of one job
train the same way: the same loss at each of the first 20 iterations (within 1e-5) and the
same validation metric, with fixed seeds on the CPU (issue 7).

The scripts report each iteration's loss in result.json; the bundle is run by MONAI's own
bundle parser (what `python -m monai.bundle run` uses) with a handler that records the
loss of each iteration.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import synthetic_data
from tests.test_golden import compile_example

pytestmark = pytest.mark.e2e

ITERATIONS = 20
TOLERANCE = 1e-5
# 8 training cases, batch 2 and 4 crops each: 4 iterations an epoch, 5 epochs
EPOCHS = 5
SIZES = {"crop_size": [16, 16, 16], "roi_size": [32, 32, 32]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("data"), 8, 1, (32, 32, 32))


def run_script(script: Path, data: Path, ckpt: Path) -> dict:
    cmd = [
        sys.executable, str(script), "--device", "cpu", "--epochs", str(EPOCHS),
        "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
        "--mmar-ckpt-dir", str(ckpt),
        "--crop-size", *map(str, SIZES["crop_size"]),
        "--roi-size", *map(str, SIZES["roi_size"]),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((ckpt / "result.json").read_text())
    return {"losses": result["iteration_losses"], "metric": result["best_value"]}


BUNDLE_RUNNER = """
import json, sys
import torch
from ignite.engine import Events
from monai.bundle import ConfigParser

config, overrides, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
parser = ConfigParser()
parser.read_config(config)
parser.update(overrides)
for step in parser.get_parsed_content("initialize"):
    pass
trainer = parser.get_parsed_content("trainer")
losses = []
trainer.add_event_handler(
    Events.ITERATION_COMPLETED, lambda e: losses.append(float(e.state.output[0]["loss"]))
)
parser.get_parsed_content("run")
evaluator = parser.get_parsed_content("evaluator")
json.dump({"losses": losses, "metric": evaluator.state.best_metric}, open(out, "w"))
"""


def run_bundle(configs: Path, data: Path, ckpt: Path, tmp: Path) -> dict:
    overrides = {
        "data_root": str(data), "dataset_json": str(data / "dataset.json"),
        "mmar_ckpt_dir": str(ckpt), "epochs": EPOCHS,
        "device": "$torch.device('cpu')", **SIZES,
    }  # fmt: skip
    out = tmp / "bundle_result.json"
    proc = subprocess.run(
        [sys.executable, "-c", BUNDLE_RUNNER, str(configs / "train.json"),
         json.dumps(overrides), str(out)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def first_divergence(runs: dict[str, dict]) -> str | None:
    """'iteration N: plain a, engines b, bundle c' for the first iteration that differs."""
    names = list(runs)
    for i in range(ITERATIONS):
        losses = {n: runs[n]["losses"][i] for n in names}
        if max(losses.values()) - min(losses.values()) > TOLERANCE:
            return f"iteration {i + 1}: " + ", ".join(
                f"{n} {v:.7f}" for n, v in losses.items()
            )
    return None


def test_first_divergence_names_the_iteration():
    runs = {
        "plain": {"losses": [1.0] * 20},
        "bundle": {"losses": [1.0] * 5 + [1.1] * 15},
    }
    assert first_divergence(runs) == "iteration 6: plain 1.0000000, bundle 1.1000000"


def test_the_three_targets_of_the_example_train_alike(tmp_path, data):
    runs = {}
    for target in ("plain", "engines"):
        out = compile_example(tmp_path / target, target=target)
        runs[target] = run_script(
            out / "J0001" / "train.py", data, tmp_path / target / "m"
        )
    out = compile_example(tmp_path / "bundle", target="bundle")
    runs["bundle"] = run_bundle(
        out / "J0001" / "configs", data, tmp_path / "bm", tmp_path
    )

    for name, run in runs.items():
        assert len(run["losses"]) >= ITERATIONS, (name, len(run["losses"]))
    assert first_divergence(runs) is None, first_divergence(runs)
    metrics = {n: r["metric"] for n, r in runs.items()}
    assert max(metrics.values()) - min(metrics.values()) <= TOLERANCE, metrics
