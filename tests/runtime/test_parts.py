"""The AutoML runtime's parts, each alone: workers, journal, config_automl.json,
controllers, handlers, MLflow keys, the report."""

import json

import pytest

from claragen.runtime import automl_conf
from claragen.runtime.context import Context, ContextKey, Outcome, RuntimeSpace
from claragen.runtime.controllers import GridController, RandomController, TPEController
from claragen.runtime.handlers import MMARHandler
from claragen.runtime.journal import Journal, JournalState
from claragen.runtime.report import write_report
from claragen.runtime.tracking import metric_key
from claragen.runtime.workers import Worker, WorkerSpecError, parse_workers
from claragen.transpiler.space import SearchArg, SearchParam, SearchSpace


def test_clara_worker_forms():
    assert parse_workers("0:0:1:1", 2) == [
        Worker(1, ("0",)), Worker(2, ("0",)), Worker(3, ("1",)), Worker(4, ("1",))
    ]  # fmt: skip
    assert parse_workers("0,1:2,3", 4) == [Worker(1, ("0", "1")), Worker(2, ("2", "3"))]
    assert parse_workers("3", 0) == [Worker(1), Worker(2), Worker(3)]
    assert parse_workers("1", 2) == [Worker(1, ("1",))]  # with CUDA a number is a GPU
    assert Worker(2, ("2", "3")).cuda_visible_devices == "2,3"


@pytest.mark.parametrize(
    "spec, gpus, message",
    [
        ("0:0", 0, "names GPUs, and this machine has none"),
        ("0:2", 2, "GPU 2 does not exist"),
        ("a:b", 1, "use GPU lists"),
        ("0", 0, "at least one worker"),
    ],
)
def test_bad_worker_specs_say_why(spec, gpus, message):
    with pytest.raises(WorkerSpecError, match=message):
        parse_workers(spec, gpus)


def test_journal_state_keeps_first_end_and_ignores_a_torn_line(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.write("search", run_id="r")
    journal.write("recommend", job="J1", rec_id=1, values={"a": 1})
    journal.write("start", job="J1", name="W1_1_J1", worker=1, round=1)
    journal.write("end", job="J1", name="W1_1_J1", status="ok", score=0.5)
    journal.write("recommend", job="J2", rec_id=2, values={"a": 2})
    journal.write("start", job="J2", name="W1_2_J2", worker=1, round=2)
    with open(journal.path, "a") as f:
        f.write('{"event": "end", "job": "J2", "sco')  # killed mid-write
    state = JournalState.of(journal.read())
    assert state.header["run_id"] == "r"
    assert [r["job"] for r in state.recommended] == ["J1", "J2"]
    assert list(state.ended) == ["J1"] and set(state.started) == {"J1", "J2"}
    assert not state.done


SPACE = SearchSpace(
    [
        SearchParam(":lr", "", "variable", "lr", "float", (SearchArg("lr"),), low=0.1, high=0.5),
        SearchParam("train.model:n", "train.model", "component", "net", "enum",
                    (SearchArg("n"),), choices=([1], [2], [3])),
    ]
)  # fmt: skip


def recs_of(controller, outcomes=None):
    ctx = Context()
    controller.set_search_space(RuntimeSpace(SPACE), ctx)
    recs = controller.initial_recommendation(ctx)
    for score in outcomes or []:
        recs += controller.refine_recommendation(
            Outcome(recs[len(recs) - 1].rec_id, score), ctx
        )
    return [r.values for r in recs]


def test_grid_and_random_controllers_recommend_the_compile_jobs():
    grid = recs_of(GridController(float_steps=2))
    assert len(grid) == 6 and grid[0] == {":lr": 0.1, "train.model:n": [1]}
    assert recs_of(GridController(float_steps=2, max_rounds=4)) == grid[:4]
    assert len(recs_of(RandomController(seed=3, count=5))) == 5
    assert recs_of(RandomController(seed=3, count=5)) == recs_of(
        RandomController(seed=3, count=5)
    )


def test_tpe_is_seeded_and_learns_from_scores_up_to_max_rounds():
    first = recs_of(
        TPEController(seed=1, parallel=2, max_rounds=5), [0.2, 0.4, 0.1, 0.3]
    )
    again = recs_of(
        TPEController(seed=1, parallel=2, max_rounds=5), [0.2, 0.4, 0.1, 0.3]
    )
    assert first == again and len(first) == 5  # two, then one per score, capped at 5
    for values in first:
        assert 0.1 <= values[":lr"] <= 0.5 and values["train.model:n"] in (
            [1],
            [2],
            [3],
        )
    assert recs_of(TPEController(seed=2, parallel=2)) != recs_of(
        TPEController(seed=1, parallel=2)
    )


def test_runtime_space_has_claras_targets():
    targets = RuntimeSpace(SPACE).targets
    assert targets[":lr.float"].min == 0.1 and targets[":lr.float"].max == 0.5
    assert targets["train.model:n.enum"] == [[1], [2], [3]]


def test_automl_conf_maps_claras_names_and_variables(tmp_path):
    path = tmp_path / "config_automl.json"
    path.write_text(json.dumps({
        "handlers": [
            {"name": "MMARHandler", "args": {"num_mmars_to_keep": 2, "stop_threshold": 0.9,
                                             "train_config_file": "{trainconf}"}},
            {"name": "MMARStatsHandler"}, {"name": "MMARTensorboardHandler"}],
        "executor": {"name": "MMARExecutor", "args": {"msg_destination": "file"}},
        "controller": {"name": "ReinforcementController", "args": {"max_rounds": 8}},
    }))  # fmt: skip
    conf = automl_conf.read_automl_conf(path, {"trainconf": "trn.json"})
    assert conf.train_config_file() == "trn.json"
    built = [automl_conf.build(h, automl_conf.HANDLERS, []) for h in conf.handlers]
    assert type(built[0]).__name__ == "MMARHandler" and built[0].keep == 2
    assert type(built[1]).__name__ == "StatsHandler" and built[2] is None
    controller = automl_conf.build(conf.controller, automl_conf.CONTROLLERS, [], seed=0)
    assert isinstance(controller, TPEController) and controller.max_rounds == 8


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"controller": {"name": "Bayes"}}, "unknown controller 'Bayes'"),
        ({"executor": {"name": "NGCExecutor"}}, "unknown executor 'NGCExecutor'"),
        ({"handlers": [{"args": {}}]}, "handlers\\[0\\] needs a 'name' or a 'path'"),
        ({"handlers": [{"name": "MMARHandler", "args": {"x": "{nope}"}}]},
         "unknown variable \\{nope\\}; give it with --set nope="),
        ({"controller": {"path": "nowhere.Ctl"}}, "cannot import 'nowhere'"),
    ],
)  # fmt: skip
def test_bad_automl_confs_say_what_and_where(tmp_path, conf, message):
    path = tmp_path / "config_automl.json"
    path.write_text(json.dumps(conf))
    with pytest.raises(automl_conf.AutomlConfError, match=message):
        parsed = automl_conf.read_automl_conf(path, {})
        for spec in [parsed.controller, *parsed.handlers]:
            if spec is not None:
                automl_conf.build(spec, automl_conf.CONTROLLERS, [tmp_path])


def test_mmar_handler_keeps_the_best_checkpoints_and_stops_at_the_threshold(tmp_path):
    handler = MMARHandler(num_mmars_to_keep=2, stop_threshold=0.9)
    ctx = Context()
    for name, score in [("a", 0.5), ("b", 0.7), ("c", 0.6), ("d", 0.95)]:
        (tmp_path / name / "models").mkdir(parents=True)
        (tmp_path / name / "models" / "model.pt").write_text("x")
        (tmp_path / name / "models" / "result.json").write_text("{}")
        ctx.set_prop(ContextKey.JOB_DIR, tmp_path / name)
        ctx.set_prop(ContextKey.SCORE, score)
        handler.end_job(ctx)
    kept = sorted(p.parent.parent.name for p in tmp_path.glob("*/models/model.pt"))
    assert kept == ["b", "d"]
    assert all((tmp_path / n / "models" / "result.json").exists() for n in "abcd")
    assert ctx.stop_work_asked() and "0.95" in ctx.stop_reason


def test_metric_keys_are_valid_mlflow_keys():
    assert metric_key("val_mean_dice") == "val_mean_dice"
    assert metric_key("dice[0],x") == "dice_0__x"


def test_report_is_one_html_page_with_the_leaderboard_and_plots(tmp_path):
    """A journal and its study: 3 jobs scored (two tie), one pruned, one failed."""
    from claragen.runtime.study import SearchStudy

    params = (
        SearchParam(":lr", "", "variable", "lr", "float", (SearchArg("lr"),), low=0.1, high=0.9),
        SearchParam("m:n", "m", "component", "net", "enum", (SearchArg("n"),),
                    choices=([1], [2])),
    )  # fmt: skip
    journal = Journal(tmp_path / "journal.jsonl")
    study = SearchStudy(tmp_path / "optuna.log", "r", params, "TPEController", "median")
    journal.write("search", run_id="r", controller="TPEController", seed=0,
                  pruner="median")  # fmt: skip
    jobs = [(0.4, 0.1, "ok"), (None, 0.2, "failed"), (0.6, 0.3, "ok"), (0.6, 0.5, "ok"),
            (0.1, 0.7, "pruned")]  # fmt: skip
    for i, (score, lr, status) in enumerate(jobs, start=1):
        job, name = f"J{i}", f"W1_{i}_J{i}"
        values = {":lr": lr, "m:n": [1]}
        journal.write("recommend", job=job, rec_id=i, values=values)
        study.start(job, name, values)
        for epoch in range(1, 3 if status == "pruned" else 5):
            study.report(job, epoch, (score or 0) * epoch / 4)
        study.end(job, status, score)
        reason = {"failed": "exit 1: ValueError: boom",
                  "pruned": "at epoch 2 (median): val_mean_dice 0.05"}.get(status, "")  # fmt: skip
        journal.write("end", job=job, name=name, status=status, score=score,
                      reason=reason, elapsed=1.5)  # fmt: skip
        (tmp_path / name).mkdir()
        (tmp_path / name / "log.txt").write_text("x")
    journal.write("done", status="finished")
    page = write_report(tmp_path).read_text()
    order = [page.index(f"W1_{i}_J{i}<") for i in (3, 4, 1, 5, 2)]
    assert order == sorted(order)  # by score; then pruned; then failed
    assert "failed: exit 1: ValueError: boom" in page
    assert "pruned at epoch 2 (median)" in page
    assert "2 jobs tie at score 0.6000" in page and "ok (tie)" in page
    assert "<a href='W1_1_J1/log.txt'>log</a>" in page
    assert "1 (a single value: not plotted)" in page  # m:n took one value
    for caption in ("Optimization history, with the best score so far", "Learning curves",
                    "Parallel coordinates", "Parameter importances", "Score against"):  # fmt: skip
        assert f"<figcaption>{caption}" in page, caption
    # the pruned job is in the history and the slice plots, at its last value, marked
    figures = page.split("<figure>")
    (history,) = [f for f in figures if "Optimization history" in f]
    (slices,) = [f for f in figures if "Score against each searched value" in f]
    assert "pruned: last value" in history and "pruned: last value" in slices


def _job(tmp_path, body, timeout=None):
    from claragen.runtime.executor import JobSpec

    folder = tmp_path / "W1_1_J1"
    folder.mkdir()
    script = folder / "train.py"
    script.write_text(
        "import argparse, json, os, sys, time\n"
        "p = argparse.ArgumentParser(); p.add_argument('--mmar-ckpt-dir')\n"
        "args = p.parse_args(); os.makedirs(args.mmar_ckpt_dir, exist_ok=True)\n"
        "def result(v):\n"
        "    json.dump({'best_value': v}, open(os.path.join(args.mmar_ckpt_dir, 'result.json'), 'w'))\n"
        + body
    )
    return JobSpec("J1", "W1_1_J1", folder, script, Worker(1), (), timeout)


@pytest.mark.parametrize(
    "body, status, score, reason",
    [
        ("result(0.5)\n", "ok", 0.5, ""),
        ("result(float('nan'))\n", "failed", None, "the score is nan"),
        ("print('x')\n", "failed", None, "no readable result.json"),
        ("raise SystemExit('ValueError: bad channels')\n", "failed", None,
         "exit 1: ValueError: bad channels"),
        ("time.sleep(30)\n", "failed", None, "timed out after 0.5 s"),
    ],
)  # fmt: skip
def test_a_job_fails_with_its_reason(tmp_path, body, status, score, reason):
    from claragen.runtime.executor import LocalExecutor

    result = LocalExecutor().execute(
        _job(tmp_path, body, timeout=0.5 if "sleep" in body else 60)
    )
    assert (result.status, result.score) == (status, score)
    assert result.reason.startswith(reason)
    assert (tmp_path / "W1_1_J1" / "log.txt").exists()


def test_a_stopped_job_saves_and_ends_as_pruned(tmp_path):
    """SIGTERM (the pruner's stop): the script writes its result and exits 143."""
    import threading

    from claragen.runtime.executor import LocalExecutor

    body = (
        "import signal\n"
        "def stop(*_):\n"
        "    json.dump({'best_value': 0.25, 'interrupted': True},\n"
        "              open(os.path.join(args.mmar_ckpt_dir, 'result.json'), 'w'))\n"
        "    sys.exit(143)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "open(os.path.join(args.mmar_ckpt_dir, 'up'), 'w').close()\n"
        "time.sleep(60)\n"
    )
    spec = _job(tmp_path, body, timeout=60)
    executor = LocalExecutor()
    models = spec.folder / "models"

    def stop_when_up():
        while not (models / "up").exists():
            time.sleep(0.05)
        executor.stop(spec, "at epoch 2 (median): val_mean_dice 0.2500")

    import time

    threading.Thread(target=stop_when_up, daemon=True).start()
    result = executor.execute(spec)
    assert (result.status, result.score) == ("pruned", 0.25)
    assert result.reason.startswith("at epoch 2 (median)")


def test_a_failed_jobs_reason_is_its_error_not_its_last_line(tmp_path):
    from claragen.runtime.executor import LocalExecutor

    body = (
        "print('Traceback (most recent call last):')\n"
        "print('ValueError: channels must be 5 long')\n"
        "sys.stdout.write('cache: 10%\\rcache: 100%\\n')\n"
        "sys.exit(1)\n"
    )
    result = LocalExecutor().execute(_job(tmp_path, body))
    assert result.reason == "exit 1: ValueError: channels must be 5 long"


def test_a_tracking_uris_password_stays_out_of_the_parent_runs_params():
    from claragen.runtime.summary import run_params

    given = run_params({"options": {"tracking_uri": "https://alice:s3cret@ml.example/x",
                                    "seed": 0}, "controller": "TPEController"}, "dice")  # fmt: skip
    assert given["tracking_uri"] == "https://alice@ml.example/x"
    assert given["controller"] == "TPEController" and given["key_metric"] == "dice"
    assert "s3cret" not in json.dumps(given)


def test_a_deleted_experiment_of_the_name_is_restored(tmp_path):
    """An attack found a search failing on an experiment deleted in MLflow's UI."""
    from mlflow.tracking import MlflowClient

    from claragen.runtime.tracking import MLflowTracker, local_uri

    uri = local_uri(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    old = client.create_experiment(
        "mmar", artifact_location=(tmp_path.resolve() / "mlartifacts").as_uri()
    )
    client.delete_experiment(old)
    tracker = MLflowTracker(uri, tmp_path, journal=None, experiment="mmar")
    assert tracker.experiment() == old
    assert client.get_experiment(old).lifecycle_stage == "active"
