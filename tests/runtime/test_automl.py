"""`claragen automl` end to end: real searches of the 4.1 example on tiny synthetic data,
each job its generated script run as a subprocess on the CPU."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, REPO, synthetic_data

pytestmark = pytest.mark.e2e
CLARAGEN = [sys.executable, "-m", "claragen"]
GOOD = [16, 32, 64, 128, 256]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("data"), 3, 1, (32, 32, 24))


def make_mmar(tmp_path: Path, model_search: list | None = None, **files: str) -> Path:
    """The example MMAR with a small search: the loss (2 choices), floats at their
    midpoint (--float-steps 1), and `model_search` on the network."""
    mmar = tmp_path / "mmar"
    (mmar / "config").mkdir(parents=True)
    config = json.loads((EXAMPLE / "config" / "config_train.json").read_text())
    config["search"] = [s for s in config["search"] if s["type"] == "enum"]
    config["train"]["model"]["search"] = model_search or []
    del config["train"]["pre_transforms"][2]["search"]
    (mmar / "config" / "config_train.json").write_text(json.dumps(config, indent=2))
    for name in ("environment.json", "dataset_0.json"):
        (mmar / "config" / name).write_text((EXAMPLE / "config" / name).read_text())
    for name, text in files.items():
        path = mmar / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return mmar


def automl_cmd(mmar: Path, data: Path, *extra: str) -> list[str]:
    job_args = (f"--epochs 1 --device cpu --data-root {data} --dataset-json "
                f"{data / 'dataset.json'} --crop-size 16 16 16 --roi-size 32 32 32")  # fmt: skip
    return [*CLARAGEN, "automl", "-m", str(mmar), "--workers", "2", "--float-steps", "1",
            "--job-args", job_args, *extra]  # fmt: skip


def run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def journal(run_dir: Path) -> list[dict]:
    return [
        json.loads(line)
        for line in (run_dir / "journal.jsonl").read_text().splitlines()
    ]


def processes_of(run_dir: Path) -> list[str]:
    """Command lines of the processes that run a script of `run_dir`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(run_dir) in cmdline and "train.py" in cmdline:
            found.append(cmdline)
    return found


def study_of(run_dir: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.log")))
    return optuna.load_study(study_name=run_dir.name, storage=storage)


def mlflow_runs(uri: str, experiment: str = "mmar"):
    """The runs of a search's experiment (default: its MMAR folder's name)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def test_a_failing_job_is_recorded_and_the_others_are_scored(tmp_path, data):
    mmar = make_mmar(tmp_path, [{"type": "enum", "args": ["channels"], "domain": "net",
                                 "targets": [[GOOD], [[8]]]}])  # fmt: skip
    proc = run(automl_cmd(mmar, data, "--controller", "grid", "--max-jobs", "2",
                          "--run-id", "fail"))  # fmt: skip
    run_dir = mmar / "automl" / "fail"
    ends = {e["job"]: e for e in journal(run_dir) if e["event"] == "end"}
    assert ends["J1"]["status"] == "ok" and 0 <= ends["J1"]["score"] <= 1
    assert ends["J2"]["status"] == "failed" and ends["J2"]["score"] is None
    assert "channels" in ends["J2"]["reason"]  # the script's own error, from its log
    assert "Traceback" in (run_dir / ends["J2"]["name"] / "log.txt").read_text()
    assert "\r" not in (run_dir / ends["J1"]["name"] / "log.txt").read_text()  # no bars
    assert "leaderboard of fail" in proc.stdout and "failed:" in proc.stdout
    _, parents, children = mlflow_runs(f"sqlite:///{run_dir / 'mlflow.db'}")
    assert sorted(c.info.status for c in children) == ["FAILED", "FINISHED"]
    # the HTML report of the run
    page = run([*CLARAGEN, "report", str(run_dir)]).stdout.strip()
    assert "Leaderboard" in Path(page).read_text()


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    import urllib.request

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


def lr_mmar(tmp_path: Path, rates: list[float]) -> Path:
    """The example MMAR searching only its learning rate, over `rates`, with DiceLoss."""
    mmar = make_mmar(tmp_path)
    path = mmar / "config" / "config_train.json"
    config = json.loads(path.read_text())
    config["search"] = [{"domain": "lr", "type": "enum", "args": ["learning_rate"],
                         "targets": [[r] for r in rates]},
                        {"domain": "transform", "type": "enum",  # DiceLoss only
                         "args": ["mySearchLoss1", "mySearchLoss2"],
                         "targets": [[False, True]]}]  # fmt: skip
    path.write_text(json.dumps(config, indent=2))
    return mmar


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


BYOC = '''
import json
from claragen.runtime.context import ContextKey, Recommendation, SearchResult
from claragen.runtime.handlers import Handler


class FirstChoices:
    """Recommends the first choice of every enum, then the second, then stops."""

    def __init__(self, max_rounds=2):
        self.max_rounds, self.given = max_rounds, 0

    def set_search_space(self, space, ctx):
        self.space = space

    def _next(self):
        if self.given >= self.max_rounds:
            return []
        i = self.given
        values = {p.id: p.choices[i % len(p.choices)] if p.type == "enum"
                  else (p.low + p.high) / 2 for p in self.space.params}
        self.given += 1
        return [Recommendation(self.given, SearchResult(self.space, values))]

    def initial_recommendation(self, ctx):
        return self._next()

    def refine_recommendation(self, outcome, ctx):
        return self._next()


class Broken(FirstChoices):
    def refine_recommendation(self, outcome, ctx):
        raise ValueError("no more ideas")


class EventLog(Handler):
    def __init__(self, path):
        self.path = path

    def _log(self, event, ctx):
        record = {"event": event, "job": ctx.get_prop(ContextKey.JOB_NAME),
                  "score": ctx.get_prop(ContextKey.SCORE),
                  "values": ctx.get_prop(ContextKey.CONCRETE_SEARCH_VALUE)}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\\n")

    def startup(self, ctx): self._log("startup", ctx)
    def recommendations_available(self, ctx): self._log("recommendations_available", ctx)
    def start_job(self, ctx): self._log("start_job", ctx)
    def end_job(self, ctx): self._log("end_job", ctx)
    def shutdown(self, ctx): self._log("shutdown", ctx)
'''


def test_byoc_controller_and_handler_given_by_path(tmp_path, data):
    events = tmp_path / "events.jsonl"
    conf = {
        "controller": {"name": "mine", "path": "myAutoML.FirstChoices", "args": {"max_rounds": 2}},
        "handlers": [{"path": "myAutoML.EventLog", "args": {"path": "{eventlog}"}},
                     {"name": "MMARHandler", "args": {"num_mmars_to_keep": 1}}],
    }  # fmt: skip
    mmar = make_mmar(tmp_path, **{"custom/myAutoML.py": BYOC,
                                  "config/config_automl.json": json.dumps(conf)})  # fmt: skip
    run(automl_cmd(mmar, data, "--set", f"eventlog={events}", "--set", "run_id=byo"))
    run_dir = mmar / "automl" / "byo"
    log = [json.loads(line) for line in events.read_text().splitlines()]
    kinds = [e["event"] for e in log]
    assert kinds[:2] == ["startup", "recommendations_available"]
    assert kinds[-1] == "shutdown"
    assert kinds.count("start_job") == 2 and kinds.count("end_job") == 2
    ends = [e for e in log if e["event"] == "end_job"]
    assert {e["job"] for e in ends} == {
        "W1_1_J1",
        "W1_2_J2",
    }  # one at a time: J2 after J1
    assert all(isinstance(e["score"], float) for e in ends)
    by_job = {e["job"]: e["values"] for e in ends}
    assert by_job["W1_1_J1"][":mySearchLoss1,mySearchLoss2"] == [True, False]
    assert by_job["W1_2_J2"][":mySearchLoss1,mySearchLoss2"] == [False, True]
    values = json.loads((run_dir / "W1_2_J2" / "values.json").read_text())
    assert values[":mySearchLoss1,mySearchLoss2"] == [False, True]
    # MMARHandler kept the checkpoints of the best job only
    assert len(list(run_dir.glob("*/models/model.pt"))) == 1


def test_no_tracking_runs_the_search_without_mlflow(tmp_path, data):
    mmar = make_mmar(tmp_path)
    run(automl_cmd(mmar, data, "--controller", "grid", "--max-jobs", "1",
                   "--run-id", "n", "--no-tracking"))  # fmt: skip
    run_dir = mmar / "automl" / "n"
    assert [e["event"] for e in journal(run_dir)].count("end") == 1
    assert not (run_dir / "mlflow.db").exists() and not (run_dir / "mlruns").exists()


def test_a_controller_that_raises_ends_the_search_with_where_and_no_traceback(
    tmp_path, data
):
    conf = {"controller": {"name": "mine", "path": "myAutoML.Broken"}}
    mmar = make_mmar(tmp_path, **{"custom/myAutoML.py": BYOC,
                                  "config/config_automl.json": json.dumps(conf)})  # fmt: skip
    proc = subprocess.run(automl_cmd(mmar, data, "--run-id", "b"), capture_output=True,
                          text=True, timeout=600, cwd=REPO)  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    assert (
        "error: the controller Broken.refine_recommendation raised ValueError: "
        in output
    )
    assert "myAutoML.py:" in output and "--resume --run-id b" in output
    events = journal(mmar / "automl" / "b")
    assert [e["event"] for e in events][-1] == "interrupted"
    assert [e["job"] for e in events if e["event"] == "end"] == ["J1"]


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


def test_a_config_without_a_key_metric_is_ranked_by_its_loss_lower_first(
    tmp_path, data
):
    """No validation and no train key metric: the score is the mean training loss, so
    the study minimises, the leaderboard and --retrain-top put the lowest loss first."""
    mmar = lr_mmar(tmp_path, [0.0, 0.05])
    path = mmar / "config" / "config_train.json"
    config = json.loads(path.read_text())
    del config["validate"], config["train"]["key_metric"]
    del config["train"]["trainer"]["args"]["key_train_metric"]
    config["train"]["handlers"] = [h for h in config["train"]["handlers"]
                                   if h["name"] != "ValidationHandler"]  # fmt: skip
    path.write_text(json.dumps(config, indent=2))
    cmd = automl_cmd(mmar, data, "--controller", "grid", "--run-id", "loss",
                     "--no-tracking", "--retrain-top", "1")  # fmt: skip
    at = cmd.index("--job-args") + 1
    cmd[at] = (
        cmd[at].replace("--epochs 1", "--epochs 3").replace(" --roi-size 32 32 32", "")
    )
    proc = run(cmd)
    run_dir = mmar / "automl" / "loss"
    records = journal(run_dir)
    assert records[0]["direction"] == "minimize"
    ends = {e["job"]: e for e in records if e["event"] == "end"}
    assert {e["status"] for e in ends.values()} == {"ok"}
    learns = ends["J2"]["score"] < ends["J1"]["score"]  # lr 0.05 against lr 0
    assert learns, ends
    board = proc.stdout[proc.stdout.index("leaderboard of loss") :]
    assert board.index(ends["J2"]["name"]) < board.index(ends["J1"]["name"])
    (retrain,) = [e for e in records if e["event"] == "retrain"]
    assert retrain["job"] == "J2"
    result = json.loads(
        (run_dir / ends["J2"]["name"] / "models" / "result.json").read_text()
    )
    assert (result["key_metric"], result["direction"]) == ("loss", "minimize")
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="loss", storage=JournalStorage(
        JournalFileBackend(str(run_dir / "optuna.log"))))  # fmt: skip
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert study.best_trial.user_attrs["job"] == "J2"
