"""A generated train.py stopped and resumed: atomic checkpoints, SIGTERM, --resume.

The faults come from tests/resume/probe.py, which runs the script with torch.save or
backward() patched: killed in the middle of a save, SIGTERM in the middle of an epoch.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests import scriptrunner
from tests.conftest import copy_example, synthetic_data
from tests.test_golden import compile_example

pytestmark = pytest.mark.e2e

PROBE = Path(__file__).parent / "resume" / "probe.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # 3 training cases: 2 iterations an epoch (batch size 2)
    return synthetic_data(tmp_path_factory.mktemp("data"), 4, 1, (32, 32, 32))


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    return compile_example(tmp_path_factory.mktemp("example")) / "J0001" / "train.py"


def train(script, data, ckpt, *extra, fault=None):
    """Run train.py on the CPU; with `fault` (the probe's environment), under the probe,
    in a process group of its own."""
    probe = [str(PROBE)] if fault else []
    cmd = [
        sys.executable, *probe, str(script), "--device", "cpu",
        "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
        "--mmar-ckpt-dir", str(ckpt), "--crop-size", "16", "16", "16",
        "--roi-size", "16", "16", "16", *extra,
    ]  # fmt: skip
    if not fault:  # (a fault's run is a real process of its own: it gets killed)
        return scriptrunner.run(cmd, timeout=300)
    env = {**os.environ, **fault}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env,
                          start_new_session=True)  # fmt: skip


def epochs_of(result):
    return [record["epoch"] for record in result["epochs"]]


def test_a_run_killed_while_saving_keeps_its_checkpoints_and_resumes(
    tmp_path, script, data
):
    import torch

    ckpt = tmp_path / "models"
    # killed in the first save of epoch 3 (model.pt if it improved, else resume.pt)
    proc = train(script, data, ckpt, "--epochs", "3", fault={"PROBE_KILL_SAVE": "2"})
    assert proc.returncode == 137, proc.stderr[-3000:]
    killed = Path(json.loads((ckpt / "killed.json").read_text())["path"])
    assert killed.suffix == ".tmp" and killed.is_file()  # half written
    assert (ckpt / "model.pt").read_bytes() == (ckpt / "model.pt.before").read_bytes()
    assert set(torch.load(ckpt / "model.pt")) == {"model", "train_conf"}
    resume = torch.load(ckpt / "resume.pt")
    assert resume["epoch"] == 2 and epochs_of({"epochs": resume["history"]}) == [1, 2]
    assert not (ckpt / "result.json").exists()

    proc = train(script, data, ckpt, "--epochs", "3", "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 of 3 epochs done" in proc.stderr
    result = json.loads((ckpt / "result.json").read_text())
    assert epochs_of(result) == [1, 2, 3] and result["interrupted"] is False
    assert result["epochs"][:2] == resume["history"]
    assert len(result["iteration_losses"]) == 3 * 2
    assert result["best_value"] == max(result["values"])
    assert result["values"][result["best_epoch"] - 1] == result["best_value"]


def test_sigterm_stops_after_the_iteration_and_resume_finishes_the_run(
    tmp_path, script, data
):
    import torch

    ckpt = tmp_path / "models"
    # SIGTERM to the script and its DataLoader workers, in the first iteration of epoch 2
    proc = train(script, data, ckpt, "--epochs", "2", fault={"PROBE_SIGTERM_STEP": "3"})
    assert proc.returncode == 128 + 15, proc.stderr[-3000:]
    assert "Interrupted by SIGTERM after 1 of 2 epochs" in proc.stderr
    assert "--epochs 2 --resume" in proc.stderr  # the command to go on with
    result = json.loads((ckpt / "result.json").read_text())
    assert result["interrupted"] is True and epochs_of(result) == [1]
    assert len(result["iteration_losses"]) == 3  # it finished the iteration it was in
    final = torch.load(ckpt / "model_final.pt")
    assert {"model", "optimizer", "lr_scheduler"} <= set(final)
    assert torch.load(ckpt / "resume.pt")["epoch"] == 1

    proc = train(script, data, ckpt, "--epochs", "2", "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((ckpt / "result.json").read_text())
    assert epochs_of(result) == [1, 2] and result["interrupted"] is False
    # epoch 2, cut short, is trained again from resume.pt: its one iteration is gone
    assert len(result["iteration_losses"]) == 2 * 2

    # A finished run has nothing left: it ends at once, with the same result.
    proc = train(script, data, ckpt, "--epochs", "2", "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 of 2 epochs done" in proc.stderr and "iteration" not in proc.stderr
    again = json.loads((ckpt / "result.json").read_text())
    assert {**again, "wall_time_s": 0} == {**result, "wall_time_s": 0}


def test_help_shows_a_percent_in_a_path_default(tmp_path):
    """argparse %-formats help texts: a % in environment.json is written %% there."""
    mmar = copy_example(tmp_path)
    env_path = mmar / "config" / "environment.json"
    env = json.loads(env_path.read_text())
    env["DATA_ROOT"] = "data%s%(x)d%"
    env_path.write_text(json.dumps(env, indent=2))
    comp = Compilation(
        mmar / "config" / "config_train.json",
        CompileOptions(),
        env_path=env_path,
        mmar_root=mmar,
        validation_path=mmar / "config" / "config_validation.json",
    )
    compile_to_dir(comp, tmp_path / "out")
    # validate.py's options are built the same way (add_path_options)
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "out" / "J0001" / "train.py"), "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DATA_ROOT (default: data%s%(x)d%," in " ".join(proc.stdout.split())
    assert "--resume" in proc.stdout
