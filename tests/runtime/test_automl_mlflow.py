"""`claragen automl` on a real MLflow server with the median pruner: a job that does not
learn is pruned, MLflow sees every epoch live (split from test_automl.py)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.runtime.test_automl import (
    automl_cmd,
    journal,
    lr_mmar,
    mlflow_runs,
    run,
)
from tests.runtime.test_automl import (
    data as data,  # noqa: F401 (a fixture: the module's synthetic data)
)

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):

    port = _free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    server = subprocess.Popen(
        [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artefacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(uri + "/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("mlflow server did not start")
            time.sleep(0.5)
    yield uri
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


class LiveSteps(threading.Thread):
    """Polls MLflow while the search runs: the most epochs a child run held while it was
    still RUNNING."""

    def __init__(self, uri: str):
        super().__init__(daemon=True)
        self.uri, self.most, self.done = uri, 0, threading.Event()

    def run(self):
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.uri)
        while not self.done.wait(0.5):
            experiment = client.get_experiment_by_name("srv-exp")
            if experiment is None:
                continue
            for r in client.search_runs([experiment.experiment_id]):
                if "mlflow.parentRunId" in r.data.tags and r.info.status == "RUNNING":
                    steps = client.get_metric_history(r.info.run_id, "val_mean_dice")
                    if client.get_run(r.info.run_id).info.status == "RUNNING":
                        self.most = max(self.most, len({m.step for m in steps}))


def test_a_job_that_does_not_learn_is_pruned_and_mlflow_sees_every_epoch_live(
    tmp_path, data, mlflow_server, monkeypatch
):
    """Three jobs one after another on a real MLflow server, the median pruner on: two
    learn (lr 1e-2, 5e-3), then one cannot (lr 0). The pruner stops it before its last epoch;
    the journal, the study, MLflow and the leaderboard agree; MLflow had each job's
    epochs while it ran."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from claragen.runtime.params import label

    rates = [0.01, 0.005, 0.0]
    mmar = lr_mmar(tmp_path, rates)
    epochs = 8
    cmd = automl_cmd(mmar, data, "--controller", "grid", "--run-id", "srv",
                     "--workers", "1", "--pruner", "median",
                     "--tracking-uri", mlflow_server, "--experiment", "srv-exp")  # fmt: skip
    cmd[cmd.index("--job-args") + 1] = cmd[cmd.index("--job-args") + 1].replace(
        "--epochs 1", f"--epochs {epochs}"
    )
    monkeypatch.setenv("COLUMNS", "200")  # the leaderboard's rows on one line each
    live = LiveSteps(mlflow_server)
    live.start()
    try:
        proc = run(cmd)
    finally:
        live.done.set()
        live.join()
    assert live.most > 1  # per-epoch metrics while the job still ran
    run_dir = mmar / "automl" / "srv"
    ends = {e["job"]: e for e in journal(run_dir) if e["event"] == "end"}
    assert [ends[j]["status"] for j in ("J1", "J2", "J3")] == ["ok", "ok", "pruned"]
    pruned_dir = run_dir / ends["J3"]["name"] / "models"
    seen = (pruned_dir / "progress.jsonl").read_text().splitlines()
    assert 1 <= len(seen) < epochs  # stopped early, by SIGTERM: it saved and wrote
    assert json.loads((pruned_dir / "result.json").read_text())["interrupted"] is True
    # pruned at an epoch; SIGTERM stops it after its current iteration (the engine reads
    # progress once a second: a fast job may have ended another epoch or two by then)
    at = int(ends["J3"]["reason"].split()[2])
    assert ends["J3"]["reason"].startswith(f"at epoch {at} (median): val_mean_dice")
    assert at <= len(seen) < epochs
    # the study on disk
    study = optuna.load_study(study_name="srv", storage=JournalStorage(
        JournalFileBackend(str(run_dir / "optuna.log"))))  # fmt: skip
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert [len(t.intermediate_values) for t in study.trials] == [epochs, epochs, at]
    assert study.trials[0].value == ends["J1"]["score"]
    assert study.metric_names == [
        "val_mean_dice"
    ]  # (optuna-dashboard: not "Objective 0")
    recommended = {e["job"]: e["params"] for e in journal(run_dir)
                   if e["event"] == "recommend"}  # fmt: skip
    # MLflow
    client, parents, children = mlflow_runs(mlflow_server, "srv-exp")
    assert [p.info.run_name for p in parents] == ["srv"]
    # every option on the parent run, the search's files as its artefacts (issue 30:
    # it had the controller and the worker count)
    job_args = cmd[cmd.index("--job-args") + 1]
    given = parents[0].data.params
    assert {k: given.get(k) for k in ("controller", "pruner", "seed", "key_metric",
                                      "direction", "experiment", "job_args")} == {
        "controller": "GridController", "pruner": "median", "seed": "0",
        "key_metric": "val_mean_dice", "direction": "maximize",
        "experiment": "srv-exp", "job_args": job_args}  # fmt: skip
    assert given["config"].endswith("config_train.json")
    files = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"config_train.json", "journal.jsonl", "optuna.log", "report.html",
            "best.json"} <= files  # fmt: skip
    best = json.loads((run_dir / "best.json").read_text())
    assert best["key_metric"] == "val_mean_dice" and best["values"][
        "learning_rate"
    ] in (rates)
    by_job = {c.data.tags["claragen.job"]: c for c in children}
    assert sorted(by_job) == ["J1", "J2", "J3"]
    assert by_job["J3"].info.status == "KILLED"
    assert by_job["J3"].data.tags["claragen.status"] == "pruned"
    for job, child in by_job.items():
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        # one name and one value per parameter: the study's, MLflow's, the journal's
        # (issue 30: MLflow had `[0.001]` for Optuna's 0.001, under another name)
        trial = study.trials[int(job[1:]) - 1]
        assert json.loads(child.data.params["learning_rate"]) == rates[int(job[1:]) - 1]
        assert {k: v for k, v in child.data.params.items() if k in trial.params} == {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in trial.params.items()
        }
        assert set(child.data.params) == {*trial.params, "claragen.job_args"}
        assert {k: label(v) for k, v in recommended[job].items()} == trial.params
        assert child.data.params["claragen.job_args"] == job_args
        series = client.get_metric_history(child.info.run_id, "val_mean_dice")
        assert [m.step for m in series] == list(range(1, len(series) + 1))
        assert len(series) == (len(seen) if job == "J3" else epochs)
        assert len({m.timestamp for m in series}) == len(series)  # each at its own time
        assert {"lr", "epoch_s", "loss", "duration_s"} <= set(child.data.metrics)
        names = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"train.py", "log.txt", "result.json", "progress.jsonl"} <= names
    # the leaderboard
    board = proc.stdout[proc.stdout.index("leaderboard of srv") :]
    assert f"pruned at epoch {at} (median)" in board
    assert "best: W1_1_J1" in proc.stdout or "best: W1_2_J2" in proc.stdout
    assert "View run" not in proc.stdout + proc.stderr  # MLflow's links stay out
