"""--retries N (issue 30, item 9), as Optuna's RetryFailedTrialCallback: a failed job
runs again with the same values, up to N times; the failed attempt's trial stays FAIL
(marked retried) and its MLflow run FAILED, apart; the job's end is its last attempt's.
"""

import json

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from claragen.runtime.executor import JobResult
from tests.runtime import test_run_safety as safety
from tests.runtime.test_automl import mlflow_runs
from tests.runtime.test_run_safety import FakeExecutor, automl, kinds

fake = safety.fake  # (its autouse fixture: the executor that runs no script)
mmar = safety.mmar


@pytest.fixture
def flaky(monkeypatch):
    """J1 fails its first `fails` attempts; every other job scores at once."""
    attempts: dict[str, int] = {}

    def execute(self, spec):
        attempts[spec.job] = attempts.get(spec.job, 0) + 1
        if spec.job == "J1" and attempts["J1"] <= flaky.fails:
            return JobResult("failed", None, f"RuntimeError: attempt {attempts['J1']}")
        return JobResult("ok", 0.5, "", 0.01)

    monkeypatch.setattr(FakeExecutor, "execute", execute)
    flaky.attempts = attempts
    return flaky


def study(run_dir):
    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.log")))
    return optuna.load_study(study_name=run_dir.name, storage=storage)


def test_a_failed_job_runs_again_and_its_attempt_stays_apart(mmar, flaky):
    flaky.fails = 1
    assert automl(mmar, workers="1", max_jobs=2, tracking=True, retries=2) == 0
    run_dir = mmar / "automl" / "r"
    records = [
        json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()
    ]
    (retry,) = [r for r in records if r["event"] == "retry"]
    assert retry["job"] == "J1" and retry["reason"] == "RuntimeError: attempt 1"
    ends = {r["job"]: r["status"] for r in records if r["event"] == "end"}
    assert ends == {"J1": "ok", "J2": "ok"}  # a retry counts against no --max-jobs
    trials = [(t.user_attrs["job"], t.state.name, t.user_attrs.get("retried"))
              for t in study(run_dir).trials]  # fmt: skip
    assert trials == [("J1", "FAIL", True), ("J1", "COMPLETE", None),
                      ("J2", "COMPLETE", None)]  # fmt: skip
    _, _, children = mlflow_runs(f"sqlite:///{run_dir / 'mlflow.db'}")
    runs = {c.data.tags["claragen.job"]: c.info.status for c in children}
    assert runs == {"J1.1": "FAILED", "J1": "FINISHED", "J2": "FINISHED"}


def test_a_job_that_keeps_failing_ends_failed_after_its_retries(mmar, flaky):
    flaky.fails = 99
    automl(mmar, workers="1", max_jobs=1, retries=2)
    assert flaky.attempts["J1"] == 3
    run_dir = mmar / "automl" / "r"
    assert kinds(run_dir, "retry") == ["J1", "J1"] and kinds(run_dir, "end") == ["J1"]
    states = [t.state.name for t in study(run_dir).trials]
    assert states == ["FAIL", "FAIL", "FAIL"]


def test_without_retries_a_failed_job_ends_at_once(mmar, flaky):
    flaky.fails = 1
    automl(mmar, workers="1", max_jobs=1)
    assert flaky.attempts["J1"] == 1
    assert kinds(mmar / "automl" / "r", "retry") == []
