"""`claragen automl` killed (SIGKILL) and resumed, with each executor: each job runs
once across the kill (split from test_automl.py so that pytest-xdist spreads them)."""

import signal
import subprocess
import time

import pytest

from tests.conftest import REPO
from tests.runtime.test_automl import (
    automl_cmd,
    journal,
    make_mmar,
    mlflow_runs,
    processes_of,
    run,
)
from tests.runtime.test_automl import (
    data as data,  # noqa: F401 (a fixture: the module's synthetic data)
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_killed_search_resumes_and_runs_each_job_once(tmp_path, data, executor):
    """4 jobs on 2 workers, killed (SIGKILL) once a job has ended, then --resume. With
    `--executor ray` the jobs are tasks of a local Ray instance that each run starts."""
    mmar = make_mmar(tmp_path, [{"type": "enum", "args": ["num_res_units"], "domain": "net",
                                 "targets": [[2], [1]]}])  # fmt: skip
    cmd = automl_cmd(mmar, data, "--controller", "grid", "--run-id", "k",
                     "--executor", executor, "--pruner", "median")  # fmt: skip
    run_dir = mmar / "automl" / "k"
    runner = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while (
        time.monotonic() < deadline
    ):  # kill it once a job ended and others are running
        events = journal(run_dir) if (run_dir / "journal.jsonl").exists() else []
        if any(e["event"] == "end" for e in events):
            break
        time.sleep(0.2)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 60  # its running jobs die with it
    while processes_of(run_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not processes_of(run_dir)
    before = journal(run_dir)
    ended_before = [e["job"] for e in before if e["event"] == "end"]
    assert (
        ended_before
        and len(ended_before) < 4
        and not any(e["event"] == "done" for e in before)
    )

    proc = run(cmd + ["--resume"])
    events = journal(run_dir)
    ends = [e["job"] for e in events if e["event"] == "end"]
    assert sorted(ends) == ["J1", "J2", "J3", "J4"]  # each job ended exactly once
    assert ends[: len(ended_before)] == ended_before  # finished jobs were not run again
    assert [e["event"] for e in events].count("done") == 1
    assert [e["event"] for e in events].count("recommend") == 4
    _, parents, children = mlflow_runs(f"sqlite:///{run_dir / 'mlflow.db'}")
    assert len(parents) == 1
    assert sorted(c.data.tags["claragen.job"] for c in children) == [
        "J1",
        "J2",
        "J3",
        "J4",
    ]
    assert "leaderboard of k" in proc.stdout
    # the study: a trial per job, once, each finished, across the kill
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="k", storage=JournalStorage(
        JournalFileBackend(str(run_dir / "optuna.log"))))  # fmt: skip
    newest = {t.user_attrs["job"]: t for t in study.trials}  # in order: the rerun last
    assert sorted(newest) == ["J1", "J2", "J3", "J4"]
    assert all(t.state.name == "COMPLETE" for t in newest.values())
    replaced = [t for t in study.trials if t.user_attrs.get("replaced_by_rerun")]
    assert len(study.trials) == 4 + len(replaced)  # the cut-short attempts, marked
    assert all(t.state.name == "FAIL" for t in replaced)
