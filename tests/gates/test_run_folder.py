"""Run and output folder state is not trusted (issue 27, class 4): what claragen reads back
goes through safe_io (a FIFO where a file should be is refused, not waited on; a link is
not followed; a file over its bound is refused), and MLflow's artefacts stay under the
run folder whatever the run folder's store says.

The searches run in this process with the fake executor of test_run_safety (each job
scores at once); a call that could hang runs in a thread with a deadline."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from claragen.cli import search as cli
from claragen.gates import safe_io
from claragen.runtime.report import write_report
from tests.gates.common import compile_cli, invoke
from tests.runtime.test_automl import make_mmar
from tests.runtime.test_run_safety import FakeExecutor, automl, output


@pytest.fixture(autouse=True)
def fake(monkeypatch):
    monkeypatch.setattr(cli, "LocalExecutor", FakeExecutor)
    monkeypatch.setattr(FakeExecutor, "interrupt", False)
    monkeypatch.setattr(FakeExecutor, "reason", "")
    monkeypatch.setattr(FakeExecutor, "seen", [])
    monkeypatch.setenv("COLUMNS", "1000")


def no_hang(fn, *fifos, seconds: float = 60):
    """fn()'s result, or a failure when it blocks (a FIFO waited on): the FIFOs are
    then opened from here, so that the blocked call returns."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 (handed back to the test)
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in fifos:
            for mode in (os.O_RDONLY, os.O_WRONLY):
                try:
                    os.close(os.open(fifo, mode | os.O_NONBLOCK))
                except OSError:
                    pass
        thread.join(10)
        pytest.fail(f"{fn} blocked on {fifos}")
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def run(tmp_path, capsys):
    mmar = make_mmar(tmp_path)
    assert automl(mmar, workers="1", max_jobs=1, tracking=True) == 0, output(capsys)
    return mmar, mmar / "automl" / "r"


def fifo_at(path):
    safe_io.remove_tree(path)
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("name", ["journal.jsonl", "optuna.log"])
def test_a_fifo_in_the_run_folder_stops_neither_report_nor_resume(run, capsys, name):
    mmar, run_dir = run
    fifo = fifo_at(run_dir / name)
    if name == "journal.jsonl":
        with pytest.raises(ValueError, match="no regular file"):
            no_hang(lambda: write_report(run_dir), fifo)
    else:
        no_hang(lambda: write_report(run_dir), fifo)  # the report, without the study
    code = no_hang(lambda: automl(mmar, workers="1", max_jobs=2, resume=True,
                                  tracking=True), fifo)  # fmt: skip
    out = output(capsys)
    assert code == 1 and name in out and "no regular file" in out, out


@pytest.mark.parametrize("garbage", ["not json\n", '{"op_code": 99}\n', "[]\n"])
def test_a_damaged_study_is_one_error_on_resume(run, capsys, garbage):
    mmar, run_dir = run
    with open(run_dir / "optuna.log", "a") as f:
        f.write(garbage)
    code = automl(mmar, workers="1", max_jobs=2, resume=True, tracking=True)
    out = output(capsys)
    assert code in (0, 1) and "Traceback" not in out, out
    if code == 1:
        assert "optuna.log" in out, out


def test_a_journal_over_its_bound_is_refused(run, monkeypatch):
    _, run_dir = run
    monkeypatch.setitem(safe_io.LIMITS, "journal", 100)
    with pytest.raises(ValueError, match="more than claragen reads"):
        write_report(run_dir)


def sql(run_dir, query, *args):
    with sqlite3.connect(run_dir / "mlflow.db") as db:
        db.execute(query, args)


def test_the_stores_artefact_location_is_not_followed_on_resume(run, capsys, tmp_path):
    mmar, run_dir = run
    outside = tmp_path / "outside"
    outside.mkdir()
    sql(run_dir, "UPDATE experiments SET artifact_location = ?", outside.as_uri())
    code = automl(mmar, workers="1", max_jobs=2, resume=True, tracking=True)
    out = output(capsys)
    assert code == 1 and "outside" in out and "mlflow.db" in out, out
    assert list(outside.iterdir()) == []


def test_a_runs_artefact_uri_outside_the_folder_gets_no_artefact(run, capsys, tmp_path):
    mmar, run_dir = run
    outside = tmp_path / "outside"
    outside.mkdir()
    sql(run_dir, "UPDATE runs SET artifact_uri = ?", outside.as_uri())
    from claragen.runtime.tracking import MLflowTracker, local_uri

    tracker = MLflowTracker(local_uri(run_dir), run_dir, None)
    assert not tracker.artifacts_inside(outside.as_uri())
    assert tracker.artifacts_inside((run_dir / "mlartifacts" / "1").resolve().as_uri())


def test_a_link_inside_mlartifacts_is_not_written_through(run, capsys, tmp_path):
    mmar, run_dir = run
    outside = tmp_path / "outside"
    outside.mkdir()
    store = run_dir / "mlartifacts"
    for child in list(store.iterdir()):
        safe_io.remove_tree(child)
        os.symlink(outside, child)  # mlartifacts/<experiment> -> outside
    code = automl(mmar, workers="1", max_jobs=2, resume=True, tracking=True)
    assert code in (0, 1), output(capsys)
    assert list(outside.iterdir()) == []


def test_diff_refuses_what_an_output_folder_should_not_hold(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert compile_cli("-m", make_mmar(tmp_path), "-o", a)[0] == 0
    assert compile_cli("-m", make_mmar(tmp_path / "2"), "-o", b)[0] == 0
    fifo = fifo_at(a / "J0001" / "train.py")
    code, out = no_hang(lambda: invoke("diff", a, b), fifo)
    assert code == 1 and "no regular file" in out, out
    safe_io.remove_tree(fifo)
    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1\n")
    os.symlink(secret, a / "J0001" / "train.py")
    code, out = invoke("diff", a, b)
    assert code == 1 and "symbolic link" in out and "SECRET" not in out, out
    manifest = a / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"J0001/train.py"',
                                                     '"../secret.py"'))  # fmt: skip
    code, out = invoke("diff", a, b)
    assert code == 1 and "SECRET" not in out, out
    fifo_at(manifest)
    code, out = no_hang(lambda: invoke("diff", a, b), manifest)
    assert code == 1, out


def journal_lines(run_dir):
    import json

    return [
        json.loads(line)
        for line in (run_dir / "journal.jsonl").read_text().splitlines()
    ]


def rewrite_journal(run_dir, records):
    import json

    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    (run_dir / "journal.jsonl").write_text(text)


def test_edited_recorded_options_are_not_taken_on_resume(
    run, capsys, tmp_path, monkeypatch
):
    """A journal's options decide what runs and where it writes; edited, their seal no
    longer holds: none is taken, and the error lists them for the user to read."""
    mmar, run_dir = run
    records = journal_lines(run_dir)
    records = [r for r in records if r["event"] != "done"]
    records[0]["options"]["job_args"] = f"--mmar-ckpt-dir {tmp_path / 'OUTSIDE'}"
    records[0]["options"]["pythonpath"] = [str(tmp_path / "evil")]
    rewrite_journal(run_dir, records)
    ran = list(FakeExecutor.seen)
    code, out = invoke("automl", "--resume", "--run-id", "r", "-o", mmar / "automl")
    assert code == 2 and "did not record them on this machine" in out, out
    assert "--pythonpath" in out and "OUTSIDE" in out  # shown, to be read
    assert not (tmp_path / "OUTSIDE").exists() and FakeExecutor.seen == ran


def test_a_run_folder_from_another_machine_resumes_only_with_its_options_given(
    run, capsys, monkeypatch, tmp_path
):
    mmar, run_dir = run
    monkeypatch.setenv("CLARAGEN_KEY_FILE", str(tmp_path / "other" / "run.key"))
    code, out = invoke("automl", "--resume", "--run-id", "r", "-o", mmar / "automl")
    assert code == 2 and "did not record them" in out, out
    code = automl(mmar, workers="1", max_jobs=2, resume=True, tracking=True)
    assert code == 0, output(capsys)  # the options given again: it goes on


@pytest.mark.parametrize(
    "job_args", ["--mmar-ckpt-dir /tmp/x", "--epochs 1 --mmar-root=/x"]
)
def test_job_args_may_not_set_what_the_search_sets_for_each_job(
    tmp_path, capsys, job_args
):
    mmar = make_mmar(tmp_path)
    assert automl(mmar, workers="1", max_jobs=1, job_args=job_args) == 2
    assert "is set by the search for each job" in output(capsys)


def test_a_store_that_lost_the_parent_run_gets_a_new_one_on_resume(run, capsys):
    mmar, run_dir = run
    (parent,) = [
        r["mlflow_run"] for r in journal_lines(run_dir) if r["event"] == "parent"
    ]
    for table in ("tags", "params", "metrics", "latest_metrics", "runs"):
        sql(run_dir, f"DELETE FROM {table} WHERE run_uuid = ?", parent)
    code = automl(mmar, workers="1", max_jobs=2, resume=True, tracking=True)
    out = output(capsys)
    assert code == 0 and "Traceback" not in out, out
    parents = [r for r in journal_lines(run_dir) if r["event"] == "parent"]
    assert len(parents) == 2  # the first, and the new one


def test_diff_follows_no_job_folder_that_is_a_link(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert compile_cli("-m", make_mmar(tmp_path), "-o", a)[0] == 0
    assert compile_cli("-m", make_mmar(tmp_path / "2"), "-o", b)[0] == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "train.py").write_text("SECRET = 1\n")
    safe_io.remove_tree(a / "J0001")
    os.symlink(outside, a / "J0001")
    code, out = invoke("diff", a, b)
    assert code == 1 and "SECRET" not in out and "symbolic link" in out, out


def test_the_training_config_of_config_automl_json_stays_in_config(tmp_path, capsys):
    import json

    mmar = make_mmar(tmp_path)
    (tmp_path / "secret.txt").write_text("SECRET_LINE\n")
    conf = {"handlers": [{"name": "MMARHandler",
                          "args": {"train_config_file": "../../secret.txt"}}]}  # fmt: skip
    (mmar / "config" / "config_automl.json").write_text(json.dumps(conf))
    (mmar / "config" / "config_train.json").rename(mmar / "config" / "other.json")
    assert automl(mmar, workers="1", max_jobs=1) == 1
    out = output(capsys)
    assert "must be a file name of the MMAR's config/ folder" in out, out
    assert "SECRET_LINE" not in out


def test_printed_commands_are_quoted_for_a_shell(tmp_path):
    """The resume hint and the options of a foreign journal are printed to be pasted:
    a shell reads back exactly the words, and runs nothing they hold."""
    import shlex

    from claragen.runtime import recorded

    hostile = '/tmp/mm$(touch PWNED)`id`"x'
    words = recorded._words("--job-args", "--epochs 1 $(touch x); echo")
    assert shlex.split(shlex.join(words)) == [
        "--job-args",
        "--epochs 1 $(touch x); echo",
    ]
    assert recorded._words("--pythonpath", [hostile, "b"]) == [
        "--pythonpath",
        hostile,
        "--pythonpath",
        "b",
    ]
    from claragen.runtime.engine import Search
    from claragen.runtime.options import resume_hint

    class Options:
        run_id, output = "r", hostile

    search = Search.__new__(Search)
    search.options = Options()
    hint = resume_hint(search.options)
    assert shlex.split(hint) == ["claragen", "automl", "--resume", "--run-id", "r",
                                 "-o", hostile]  # fmt: skip
