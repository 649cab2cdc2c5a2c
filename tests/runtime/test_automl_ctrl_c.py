"""`claragen automl` stopped by Ctrl-C, with each executor: the jobs die, the run
resumes (split from test_automl.py)."""

import shlex
import signal
import subprocess
import time

import pytest

from tests.conftest import REPO
from tests.runtime.test_automl import (
    CLARAGEN,
    automl_cmd,
    journal,
    make_mmar,
    mlflow_runs,
    processes_of,
    run,
    study_of,
)
from tests.runtime.test_automl import (
    data as data,  # noqa: F401 (a fixture: the module's synthetic data)
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_ctrl_c_kills_the_jobs_and_leaves_a_resumable_run(tmp_path, data, executor):
    mmar = make_mmar(tmp_path)
    cmd = automl_cmd(mmar, data, "--controller", "grid", "--run-id", "c",
                     "--executor", executor)  # fmt: skip
    run_dir = mmar / "automl" / "c"
    runner = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (run_dir / "journal.jsonl").exists() and any(
            e["event"] == "start" for e in journal(run_dir)
        ):
            break
        time.sleep(0.2)
    runner.send_signal(signal.SIGINT)
    output, _ = runner.communicate(
        timeout=60
    )  # promptly: the jobs are killed, not awaited
    assert runner.returncode == 130, output[-2000:]
    assert not processes_of(run_dir)
    events = [e["event"] for e in journal(run_dir)]
    assert "interrupted" in events and "end" not in events and "done" not in events
    assert "running" not in output.split("interrupted")[-1]  # no job left "running"
    # the trials and the MLflow runs of the jobs it stopped ended at once (issue 30:
    # they were left RUNNING until a resume)
    started = [e["job"] for e in journal(run_dir) if e["event"] == "start"]
    trials = study_of(run_dir).trials
    assert [t.user_attrs["job"] for t in trials] == started
    assert all(t.state.name == "FAIL" and t.user_attrs["interrupted"] for t in trials)
    _, _, children = mlflow_runs(f"sqlite:///{run_dir / 'mlflow.db'}")
    assert {c.info.status for c in children} <= {"KILLED"}
    assert {c.data.tags["claragen.status"] for c in children} <= {"interrupted"}
    # the hint works as printed: the run recorded its options
    hint = output.split("resume with ", 1)[1].splitlines()[0]
    assert hint.startswith("claragen automl --resume --run-id c -o ")
    run([*CLARAGEN, *shlex.split(hint)[1:]])
    ends = [e["job"] for e in journal(run_dir) if e["event"] == "end"]
    assert sorted(ends) == ["J1", "J2"]
    # each job it stopped runs again in a trial of its own; the others in their first
    trials = study_of(run_dir).trials
    assert sorted(t.user_attrs["job"] for t in trials if t.state.name == "COMPLETE") == [
        "J1", "J2"]  # fmt: skip
    assert len(trials) == 2 + len(started)
    header = journal(run_dir)[0]
    assert header["options"]["executor"] == executor
