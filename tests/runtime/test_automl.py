"""`claragen automl` end to end: real searches of the 4.1 example on tiny synthetic data,
each job its generated script run as a subprocess on the CPU."""

import json
import subprocess
import sys
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
