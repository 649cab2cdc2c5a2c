"""Following a job's progress.jsonl (runtime/progress.py), the study on disk that records
every job (runtime/study.py), and the pruner's verdicts (runtime/monitor.py)."""

import json
import os

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from claragen.runtime.live import JobRow, clip, leaderboard, shown_values
from claragen.runtime.monitor import Monitor
from claragen.runtime.progress import Follower
from claragen.runtime.study import SearchStudy, choice_label
from claragen.transpiler.space import SearchArg, SearchParam


def line(epoch: int, value: float | None, epochs: int = 4, epoch_s: float = 2.0) -> str:
    metrics = {} if value is None else {"val_mean_dice": value}
    return json.dumps({"epoch": epoch, "epochs": epochs, "time": 1e9 + epoch,
                       "epoch_s": epoch_s, "lr": 1e-3, "key_metric": "val_mean_dice",
                       "metrics": {**metrics, "loss": 0.5}}) + "\n"  # fmt: skip


def test_only_complete_well_formed_lines_are_read(tmp_path):
    path = tmp_path / "progress.jsonl"
    follower = Follower(path)
    assert follower.poll() == []  # not written yet
    path.write_text(line(1, 0.1) + line(2, 0.2)[:20])  # the second line half-written
    assert [e.epoch for e in follower.poll()] == [1]
    with open(path, "a") as f:
        f.write(line(2, 0.2)[20:])
        f.write(
            '{"epoch": "3"}\n[1, 2]\nnot json\n{"epoch": 0, "time": 1, "epoch_s": 1}\n'
        )
        f.write(line(3, float("nan")).replace("NaN", '"x"'))
    new = follower.poll()
    assert [e.epoch for e in new] == [2, 3]  # the malformed lines are skipped
    assert new[1].value is None and new[1].metrics == {"loss": 0.5}
    assert follower.latest_value() == ("val_mean_dice", 0.2)
    assert follower.eta() == pytest.approx(1 * 2.0)  # 1 epoch left at 2 s each
    assert follower.poll() == []


def test_a_restarted_file_is_read_again_and_a_resumed_epoch_replaces_the_old(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text(line(1, 0.1) + line(2, 0.2))
    follower = Follower(path)
    follower.poll()
    path.write_text(line(1, 0.3))  # a fresh run of the script starts the file again
    assert [e.value for e in follower.poll()] == [0.3] and follower.restarted
    assert [e.epoch for e in follower.epochs] == [1]
    with open(path, "a") as f:
        f.write(line(2, 0.4) + line(2, 0.5))  # --resume redid epoch 2
    follower.poll()
    assert [(e.epoch, e.value) for e in follower.epochs] == [(1, 0.3), (2, 0.5)]


def test_a_link_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    target.write_text(line(1, 0.9))
    os.symlink(target, tmp_path / "progress.jsonl")
    assert Follower(tmp_path / "progress.jsonl").poll() == []


PARAMS = (
    SearchParam(":lr", "", "variable", "lr", "float", (SearchArg("lr"),),
                low=1e-4, high=1e-2),
    SearchParam("net:channels", "net", "component", "net", "enum",
                (SearchArg("channels"),), choices=([[8, 16]], [[16, 32]])),
    SearchParam("loss:x", "loss", "component", "loss", "enum", (SearchArg("x"),),
                choices=(["dice"], ["ce"])),
)  # fmt: skip


def load(path):
    return optuna.load_study(
        study_name="r", storage=JournalStorage(JournalFileBackend(str(path)))
    )


def test_every_job_is_a_trial_once_across_a_resume(tmp_path):
    path = tmp_path / "optuna.log"
    study = SearchStudy(path, "r", PARAMS, "GridController")
    values = {":lr": 1e-3, "net:channels": [[8, 16]], "loss:x": ["ce"]}
    study.start("J1", "W1_1_J1", values)
    study.report("J1", 1, 0.2)
    study.end("J1", "ok", 0.4)
    study.start("J2", "W1_2_J2", values)
    study.report("J2", 1, 0.1)  # ... and the search is killed here
    again = SearchStudy(path, "r", PARAMS, "GridController")
    again.start("J2", "W1_3_J2", values)  # J2 runs again: in a trial of its own
    again.report("J2", 1, 0.3)
    again.end("J2", "failed", None)
    again.end("J1", "ok", 0.4)  # the journal's end, seen again: nothing changes
    trials = load(path).trials
    assert [t.user_attrs["job"] for t in trials] == ["J1", "J2", "J2"]
    assert [t.state for t in trials] == [TrialState.COMPLETE] + [TrialState.FAIL] * 2
    assert trials[0].value == 0.4 and trials[0].intermediate_values == {1: 0.2}
    # the cut-short attempt ended, marked; the rerun has a trial (and epochs) of its own
    assert trials[1].user_attrs["replaced_by_rerun"] is True
    assert trials[1].intermediate_values == {1: 0.1}
    assert trials[2].intermediate_values == {1: 0.3}
    assert trials[2].user_attrs["name"] == "W1_3_J2"
    assert "replaced_by_rerun" not in trials[0].user_attrs
    # the values as the config writes them, with the space's distributions
    assert trials[0].params == {"lr": 1e-3, "net:channels": "[8, 16]", "loss:x": "ce"}
    assert trials[0].distributions["loss:x"].choices == ("dice", "ce")
    assert load(path).user_attrs == {"controller": "GridController", "pruner": "none"}


def test_choice_labels_are_the_python_values():
    assert choice_label("net:channels", [[16, 32]]) == "[16, 32]"
    assert choice_label("loss:x", ["dice"]) == "dice"
    assert choice_label("t:p", [0.5]) == 0.5
    # an enum of two args: both, by name
    assert choice_label("t[2]:a,b", [1, 2]) == '{"a": 1, "b": 2}'
    assert shown_values({"net:channels": [[16, 32]], ":lr": 0.001}) == (
        "net:channels=[16, 32], lr=0.001"
    )


class FakeExecutor:
    def __init__(self):
        self.stopped = []

    def stop(self, spec, reason):
        self.stopped.append((spec.name, reason))


class Spec:
    def __init__(self, folder, name):
        self.folder, self.name = folder, name


@pytest.mark.parametrize("pruner", ["median", "asha", "hyperband"])
def test_a_job_behind_the_others_is_stopped_before_its_last_epoch(tmp_path, pruner):
    """Three jobs that learn, then one that does not: the pruner stops it, mid-run."""
    study = SearchStudy(tmp_path / "optuna.log", "r", PARAMS, "tpe", pruner, epochs=4)
    executor = FakeExecutor()
    monitor = Monitor(executor, study)
    values = {":lr": 1e-3}
    for n, job in enumerate(["J1", "J2", "J3"], start=1):
        study.start(job, f"W1_{n}_{job}", values)
        for epoch in range(1, 5):
            study.report(job, epoch, 0.2 * epoch)
        study.end(job, "ok", 0.8)
    folder = tmp_path / "W1_4_J4"
    (folder / "models").mkdir(parents=True)
    study.start("J4", "W1_4_J4", values)
    monitor.started("J4", Spec(folder, "W1_4_J4"))
    row = JobRow("J4", "W1_4_J4", status="running")
    for epoch in range(1, 5):
        with open(folder / "models" / "progress.jsonl", "a") as f:
            f.write(line(epoch, 0.01))
        monitor.poll("J4", row)
        if executor.stopped:
            break
    assert executor.stopped, "not pruned"
    ((name, reason),) = executor.stopped
    assert name == "W1_4_J4" and epoch < 4 and f"at epoch {epoch} ({pruner})" in reason
    assert (
        row.epoch == f"{epoch}/4" and row.metric == 0.01 and row.eta == (4 - epoch) * 2
    )
    assert monitor.ended("J4", row) == reason
    study.end("J4", "pruned", 0.01)
    assert load(tmp_path / "optuna.log").trials[-1].state == TrialState.PRUNED


def test_the_leaderboard_ranks_ok_jobs_then_pruned_then_failed_and_says_ties():
    rows = [JobRow("J1", "W1_1_J1", status="ok", score=0.5, elapsed=3.0),
            JobRow("J2", "W2_1_J2", status="pruned", score=0.1,
                   reason="at epoch 2 (median): val_mean_dice 0.1000"),
            JobRow("J3", "W1_2_J3", status="failed", reason="ValueError: " + "word " * 40),
            JobRow("J4", "W2_2_J4", status="ok", score=0.5, elapsed=61.0)]  # fmt: skip
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(leaderboard(rows, {"J1": {"net:channels": [[16, 32]]}}, "lb"))
    text = console.export_text()
    lines = [ln for ln in text.splitlines() if "_J" in ln]
    assert [ln.split("_J")[1][0] for ln in lines] == ["1", "4", "2", "3"]
    assert [ln.split()[1] for ln in lines] == ["1", "2", "-", "-"]
    assert "ok (tie)" in lines[0] and "channels=[16, 32]" in lines[0]
    assert "pruned at epoch 2 (median)" in lines[2] and "1m01s" in lines[1]
    assert clip("ValueError: " + "word " * 40).endswith("word...")


def test_the_live_table_shows_epoch_metric_and_eta_and_after_ctrl_c_no_job_runs():
    from rich.console import Console

    from claragen.runtime.live import Display

    console = Console(width=200, record=True)
    display = Display("t", console)
    row = JobRow("J1", "W1_1_J1", "W1", "running", started=0.0)
    row.epoch, row.metric, row.eta = "3/20", 0.4125, 95.0
    display.progress(row)  # not a terminal: a line per epoch
    assert "W1_1_J1 epoch 3/20: 0.4125, ETA 1m35s" in console.export_text(clear=False)
    text = Console(width=200, record=True)
    text.print(display.table())
    shown = text.export_text()
    assert all(s in shown for s in ("3/20", "0.4125", "1m35s", "running"))
    display.interrupted()
    after = Console(width=200, record=True)
    after.print(display.table())
    shown = after.export_text()
    assert "running" not in shown and "interrupted" in shown and "1m35s" not in shown


def test_a_loss_scored_search_ranks_the_lowest_first_everywhere():
    from claragen.runtime import ranking
    from claragen.runtime.handlers import MMARHandler

    rows = [JobRow("J1", "W1_1_J1", status="ok", score=0.5, elapsed=3.0),
            JobRow("J2", "W2_1_J2", status="ok", score=0.2, elapsed=3.0),
            JobRow("J3", "W1_2_J3", status="pruned", score=0.9),
            JobRow("J4", "W2_2_J4", status="pruned", score=0.7)]  # fmt: skip
    for direction, order in (("minimize", ["2", "1", "4", "3"]),
                             ("maximize", ["1", "2", "3", "4"])):  # fmt: skip
        from rich.console import Console

        console = Console(width=200, record=True)
        console.print(leaderboard(rows, {}, "lb", direction=direction))
        lines = [ln for ln in console.export_text().splitlines() if "_J" in ln]
        assert [ln.split("_J")[1][0] for ln in lines] == order
    assert ranking.reached(0.1, 0.15, "minimize") and not ranking.reached(
        0.1, 0.15, "maximize"
    )
    assert ranking.best([0.3, 0.1, 0.2], float, "minimize") == 0.1
    assert ranking.direction_of("loss") == "minimize"
    assert ranking.direction_of("val_mean_dice") == "maximize"
    # MMARHandler: stop_threshold is reached by a loss at or below it
    from claragen.runtime.context import Context, ContextKey

    handler, ctx = MMARHandler(stop_threshold=0.15), Context()
    ctx.set_prop(ContextKey.DIRECTION, "minimize")
    ctx.set_prop(ContextKey.JOB_DIR, "/nonexistent/W1_1_J1")
    ctx.set_prop(ContextKey.SCORE, 0.1)
    handler.end_job(ctx)
    assert ctx.stop_work_asked()


def test_the_score_direction_is_the_compiled_key_metric(tmp_path):
    from claragen.runtime.engine import Search, SearchOptions
    from claragen.transpiler.context import CompileOptions
    from claragen.transpiler.pipeline import Compilation
    from tests.conftest import EXAMPLE, compilation, minimal

    example = Compilation(EXAMPLE / "config" / "config_train.json", CompileOptions(),
                          env_path=EXAMPLE / "config" / "environment.json")  # fmt: skip
    for comp, expected in ((compilation(tmp_path, minimal()), "minimize"),
                           (example, "maximize")):  # fmt: skip
        options = SearchOptions(run_id="r", output=tmp_path / "automl", workers=[])
        search = Search(comp, None, [], options)
        search.prepare()
        assert search.direction == expected
        assert search.header["direction"] == expected


def test_an_interrupted_job_ends_its_trial_at_once(tmp_path):
    """Ctrl-C: the running job's trial ends FAIL there and then, marked interrupted
    (issue 30: it stayed RUNNING until a resume); the resume runs it in a new trial."""
    path = tmp_path / "optuna.log"
    study = SearchStudy(path, "r", PARAMS, "GridController", metric="val_dice")
    values = {":lr": 1e-3, "net:channels": [[8, 16]], "loss:x": ["ce"]}
    study.start("J1", "W1_1_J1", values)
    study.fail("J1", "interrupted")
    (trial,) = load(path).trials
    assert trial.state == TrialState.FAIL and trial.user_attrs["interrupted"] is True
    again = SearchStudy(path, "r", PARAMS, "GridController", metric="val_dice")
    again.start("J1", "W1_2_J1", values)
    again.end("J1", "ok", 0.5)
    states = [t.state for t in load(path).trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]
    assert load(path).metric_names == ["val_dice"]


def live_table(width, height, metric="val_mean_dice"):
    from rich.console import Console

    from claragen.runtime.live import Display

    display = Display("t", Console(width=width, height=height))
    display.metric, display.total, display.workers = metric, 40, 2
    for i in range(1, 31):
        row = JobRow(f"J{i}", f"W1_{i}_J{i}", "W1", "ok" if i % 10 else "pruned",
                     score=i / 100, elapsed=60.0)  # fmt: skip
        display.rows[row.job] = row
    for i in (31, 32):
        row = JobRow(f"J{i}", f"W{i - 30}_9_J{i}", f"W{i - 30}", "running", started=0.0)
        row.epoch, row.metric, row.eta = "3/20", 0.5, 30.0
        display.rows[row.job] = row
    out = Console(width=width, height=height, record=True)
    out.print(display.table())
    return out.export_text()


@pytest.mark.parametrize(("width", "height"), [(160, 20), (80, 24), (80, 12)])
def test_the_live_table_keeps_the_running_jobs_in_view_with_a_summary(width, height):
    """Issue 30: 30 rows on 20 lines cut the running jobs off, no summary said where
    the search stood, and the column was "metric", not the key metric's name (an
    attack then found a wrapped fold line pushing them off an 80x24 terminal)."""
    text = live_table(width, height)
    lines = text.splitlines()
    assert len(lines) <= height, text
    assert "W1_9_J31" in text and "W2_9_J32" in text  # both running jobs
    flat = " ".join(text.split())
    assert "earlier ended jobs not shown" in flat
    (header,) = [ln for ln in lines if "┃ job" in ln]
    assert "val_mean_dice" in header and "metric" not in header.replace("_", " ")
    # 8 jobs left on 2 workers at 60 s each, after the running ones' 30 s
    assert ("30/40 ended (27 ok, 3 pruned), 2 running; best val_mean_dice 0.2900 "
            "(W1_29_J29); about 4m30s left") in flat  # fmt: skip
    if height == 20:
        assert "W1_30_J30" in text and "W1_1_J1 " not in text  # the newest ended


def test_the_live_table_right_aligns_the_key_metric():
    line = next(ln for ln in live_table(160, 60).splitlines() if "W1_9_J31" in ln)
    cells = [c for c in line.split("│") if c.strip()]
    assert cells[4].endswith("0.5000 ")  # (right-aligned, as the score)
