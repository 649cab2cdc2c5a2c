"""A search's run folder and journal against an attacker and a bad day (issue 15): records
checked before use, torn tails cut off, full disks and short writes, one process per run,
the MLflow parent run ended on every path, bounded workers, links not written through,
rich markup printed as it is.

The searches here are real (`claragen automl`, in this process, compiling the example's
jobs) but their jobs are not run: a fake executor scores each at once.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console

from claragen.cli import search as cli
from claragen.runtime.controllers import GridController
from claragen.runtime.executor import JobResult
from claragen.runtime.journal import Journal, JournalError
from claragen.runtime.live import Display, JobRow, leaderboard
from claragen.runtime.workers import WorkerSpecError, parse_workers
from tests.conftest import REPO
from tests.runtime.test_automl import make_mmar, mlflow_runs


class FakeExecutor:
    """Each job scores 0.5 at once; with `interrupt`, the first job sends this process
    SIGINT (a Ctrl-C) and waits to be aborted."""

    interrupt = False
    reason = ""
    seen: list = []  # (folder name, args) of every job run

    def __init__(self, *_, **__) -> None:
        self.aborted = threading.Event()

    def execute(self, spec):
        if FakeExecutor.interrupt:
            os.kill(os.getpid(), signal.SIGINT)
            self.aborted.wait(30)
            return JobResult("aborted", None, "stopped by the user")
        FakeExecutor.seen.append((spec.name, spec.args))
        if FakeExecutor.reason:
            reason = f"{FakeExecutor.reason}: {' '.join(spec.args)}"
            return JobResult("failed", None, reason, 0.01)
        return JobResult("ok", 0.5, "", 0.01)

    def abort(self) -> None:
        self.aborted.set()

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fake(monkeypatch):
    monkeypatch.setattr(cli, "LocalExecutor", FakeExecutor)
    monkeypatch.setattr(FakeExecutor, "interrupt", False)
    monkeypatch.setattr(FakeExecutor, "reason", "")
    monkeypatch.setattr(FakeExecutor, "seen", [])
    monkeypatch.setenv("COLUMNS", "1000")  # rich: no wrapped lines to match


@pytest.fixture
def mmar(tmp_path):
    return make_mmar(tmp_path)


def automl(mmar: Path, run_id: str = "r", *, workers: str = "2", max_jobs=None,
           resume=False, tracking=False, job_args="", controller="grid",
           **more) -> int:  # fmt: skip
    """`claragen automl -m MMAR --run-id RUN_ID ...` in this process; its exit code."""
    args = cli.AutomlArgs(
        config=None, mmar=mmar, env=None, automl_conf=None, run_id=run_id,
        workers=workers, controller=controller, max_jobs=max_jobs, seed=0,
        tracking_uri=None, resume=resume, sets=(), job_args=job_args, job_timeout=None,
        output=None, float_steps=1, target="auto", pythonpath=(), tracking=tracking,
        **more,
    )  # fmt: skip
    return cli.run_automl(args)


def output(capsys) -> str:
    """What the command printed: stdout, then stderr (where its errors go)."""
    captured = capsys.readouterr()
    return captured.out + captured.err


def events(run_dir: Path) -> list[dict]:
    text = (run_dir / "journal.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def kinds(run_dir: Path, kind: str) -> list[str]:
    return [e.get("job", "") for e in events(run_dir) if e["event"] == kind]


def journal_of(path: Path, *lines: str) -> Journal:
    header = '{"event": "search", "run_id": "r"}'
    path.write_text("".join(line + "\n" for line in (header, *lines)))
    return Journal(path)


# -- 1 records are checked before use -----------------------------------------------------

REC = '{"event": "recommend", "job": "J1", "rec_id": 1, "values": {}}'


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"event": "start", "job": "J1", "name": "../../x", "worker": 1, "round": 1}',
         "start 'name' must be a job folder"),
        ('{"event": "start", "job": "J1", "name": "W1_1_J1\\n", "worker": 1, "round": 1}',
         "start 'name' must be a job folder"),
        ('{"event": "start", "job": "J1", "name": "W1_1_J1", "worker": "1", "round": 1}',
         "start 'worker' must be a whole number"),
        ('{"event": "end", "job": "J1", "name": "W1_1_J1"}', "without 'status'"),
        ('{"event": "end", "job": "J1", "name": "W1_1_J1", "status": "ok", "score": "1"}',
         "end 'score' must be a number or null"),
        ('{"event": "tracked", "job": "J1", "mlflow_run": "x\' or \'1"}',
         "must be an MLflow run id"),
        ('{"event": "recommend", "job": "J01", "rec_id": 2, "values": {}}',
         "must be a job id"),
        ('{"event": "recommend", "job": "J3", "rec_id": 2, "values": {}}',
         "out of order"),
        ('{"event": "rm -rf"}', "unknown event 'rm -rf'"),
        ('["event", "start"]', "not a JSON object"),
        ('{"event": "search", "run_id": "again"}', "the first record must be"),
    ],
)  # fmt: skip
def test_a_journal_record_is_checked_before_it_is_used(tmp_path, line, problem):
    journal = journal_of(tmp_path / "journal.jsonl", REC, line, '{"event": "done"}')
    with pytest.raises(JournalError, match=problem) as info:
        journal.read()
    assert str(info.value).startswith(f"{journal.path}:3: ")


def test_a_journal_naming_a_folder_outside_the_run_is_refused(mmar, capsys):
    victim = mmar / "victim"  # automl/r/../../victim
    victim.mkdir()
    (victim / "precious.txt").write_text("x")
    run_dir = mmar / "automl" / "r"
    run_dir.mkdir(parents=True)
    journal_of(run_dir / "journal.jsonl", REC,
               '{"event": "start", "job": "J1", "name": "../../victim", "worker": 1, '
               '"round": 1}')  # fmt: skip
    assert automl(mmar, resume=True) == 1
    out = output(capsys)
    assert (
        f"error: {run_dir / 'journal.jsonl'}:3: start 'name' must be a job folder"
        in out
    )
    assert "another --run-id" in out and "Traceback" not in out
    assert (victim / "precious.txt").read_text() == "x"


# -- 2 torn tails and garbage ---------------------------------------------------------------


def test_a_torn_tail_is_cut_off_before_the_resume_appends(mmar, caplog):
    assert automl(mmar, max_jobs=1) == 0  # J1 ran, J2 did not
    run_dir = mmar / "automl" / "r"
    path = run_dir / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["event"] == "done"
    torn = '{"event": "start", "job": "J2", "na'  # killed mid-write
    path.write_text("".join(lines[:-1]) + torn)
    caplog.set_level("WARNING", "claragen.automl")
    assert automl(mmar, resume=True, max_jobs=2) == 0  # a resume may search further
    assert f"{len(torn)} bytes after the last complete record dropped" in caplog.text
    assert kinds(run_dir, "end") == ["J1", "J2"]  # every line parses; J1 not rerun
    assert kinds(run_dir, "done") == [""]


def test_a_torn_tail_is_left_out_on_read_and_cut_on_repair(tmp_path):
    journal = journal_of(tmp_path / "journal.jsonl", REC)
    whole = journal.path.read_bytes()
    for tail in (b'{"event": "done"}', b"\x00\xff garbage\n", b"not json\n\n{"):
        journal.path.write_bytes(whole + tail)
        assert [r["event"] for r in journal.read()] == ["search", "recommend"]
        assert journal.path.read_bytes() == whole + tail  # read changes nothing
        journal.repair()
        assert journal.path.read_bytes() == whole


def test_garbage_in_the_middle_of_the_journal_is_an_error(mmar, capsys):
    assert automl(mmar, max_jobs=1) == 0
    path = mmar / "automl" / "r" / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + "{garbage\n" + "".join(lines[2:-1]))
    assert automl(mmar, resume=True) == 1
    out = output(capsys)
    assert f"error: {path}:3: not a JSON record, and records follow it (line 4)" in out
    assert "Traceback" not in out


# -- 3 checked writes -----------------------------------------------------------------------


def fail_writes(monkeypatch, name: str, after: int = 0, partial: int = 0) -> None:
    """os.write raises ENOSPC on a file called `name` once `after` writes to it went
    through (having written `partial` bytes of the failing one first)."""
    real, seen = os.write, []

    def write(fd, data):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path.endswith(("/" + name, "/" + name + ".tmp")):  # written to .tmp, renamed
            seen.append(path)
            if len(seen) > after:
                if partial:
                    real(fd, bytes(data[:partial]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)


def test_the_journal_continues_short_writes_and_undoes_a_failed_one(
    tmp_path, monkeypatch
):
    journal = Journal(tmp_path / "journal.jsonl")
    real = os.write
    with monkeypatch.context() as m:
        m.setattr(os, "write", lambda fd, data: real(fd, bytes(data[:1])))
        journal.write("search", run_id="r")
        journal.write("recommend", job="J1", rec_id=1, values={"a": [1, 2]})
    assert [r["job"] for r in journal.read()[1:]] == ["J1"]
    before = journal.path.read_bytes()
    with monkeypatch.context() as m:
        fail_writes(m, "journal.jsonl", partial=5)
        with pytest.raises(JournalError) as info:
            journal.write("done")
    assert str(info.value) == (
        f"cannot write the journal {journal.path}: No space left on device; "
        "free space, then --resume"
    )
    assert journal.path.read_bytes() == before  # no torn record left behind


@pytest.mark.parametrize(
    "name, after, message",
    [
        ("journal.jsonl", 0, "cannot write the journal {run}/journal.jsonl"),
        ("journal.jsonl", 3, "cannot write the journal {run}/journal.jsonl"),
        ("train.py", 0, "cannot write {run}/W1_1_J1/train.py"),
        ("values.json", 1, "cannot write {run}/W2_1_J2/values.json"),
    ],
)
def test_a_full_disk_ends_the_search_with_one_line_and_it_resumes(
    mmar, monkeypatch, capsys, name, after, message
):
    run_dir = mmar / "automl" / "r"
    with monkeypatch.context() as m:
        fail_writes(m, name, after)
        assert automl(mmar) == 1
    out = output(capsys)
    expected = message.format(run=run_dir) + ": No space left on device; free space, "
    assert f"error: {expected}then --resume" in out and "Traceback" not in out
    assert automl(mmar, resume=True) == 0  # space freed
    assert sorted(kinds(run_dir, "end")) == ["J1", "J2"]


def test_every_write_of_a_search_survives_short_writes(mmar, monkeypatch):
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data[:7])))
    assert automl(mmar) == 0
    run_dir = mmar / "automl" / "r"
    assert kinds(run_dir, "end") == ["J1", "J2"]
    compile((run_dir / "W1_1_J1" / "train.py").read_text(), "train.py", "exec")
    assert json.loads((run_dir / "W2_1_J2" / "values.json").read_text())


# -- 4 one process per run ------------------------------------------------------------------

HOLD = """
import sys
from pathlib import Path
from claragen.runtime.rundir import RunLock
RunLock(Path(sys.argv[1])).acquire("r")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_run_locked_by_another_process_is_refused(mmar, capsys):
    run_dir = mmar / "automl" / "r"
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir / ".lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=REPO)  # fmt: skip
    try:
        assert holder.stdout.readline() == "locked\n"
        refusal = (f"error: the search r is running in another process (pid "
                   f"{holder.pid}); wait for it or stop it")  # fmt: skip
        assert automl(mmar) == 1  # a fresh start, in this process
        assert refusal in output(capsys)
        second = subprocess.run(
            [sys.executable, "-m", "claragen", "automl", "-m", str(mmar), "--run-id",
             "r", "--resume", "--no-tracking", "--float-steps", "1"],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
        assert second.returncode == 1, second.stdout + second.stderr
        assert refusal in second.stderr and "Traceback" not in second.stderr
        assert not (run_dir / "journal.jsonl").exists()  # nothing ran
    finally:
        holder.kill()  # SIGKILL: the kernel drops its lock
        holder.wait()
    assert automl(mmar) == 0
    assert kinds(run_dir, "end") == ["J1", "J2"]


# -- 5 the MLflow parent run ends on every path ---------------------------------------------


class Broken(GridController):
    def refine_recommendation(self, outcome, ctx):
        raise ValueError("no more ideas")


@pytest.mark.parametrize(
    "how, code, status",
    [("finished", 0, "FINISHED"), ("controller", 1, "FAILED"),
     ("ctrl-c", 130, "KILLED"), ("disk full", 1, "FAILED")],
)  # fmt: skip
def test_the_mlflow_parent_run_ends_however_the_search_ends(
    mmar, monkeypatch, how, code, status
):
    if how == "controller":
        monkeypatch.setitem(cli.BUILTIN, "grid", Broken)
    if how == "ctrl-c":
        monkeypatch.setattr(FakeExecutor, "interrupt", True)
    with monkeypatch.context() as m:
        if how == "disk full":
            fail_writes(m, "train.py")
        assert automl(mmar, workers="1", tracking=True) == code
    run_dir = mmar / "automl" / "r"
    _, parents, _ = mlflow_runs(f"sqlite:///{run_dir / 'mlflow.db'}")
    assert [p.info.status for p in parents] == [status]


# -- 6 bounded workers ----------------------------------------------------------------------


def test_a_huge_worker_count_is_a_usage_error(mmar, capsys):
    assert automl(mmar, workers="9" * 5000) == 2  # a usage error
    out = output(capsys)
    assert "error: --workers '999999" in out and "at most 1024 workers" in out
    assert len(out) < 300 and "Traceback" not in out
    with pytest.raises(WorkerSpecError, match="GPU 11111111... does not exist"):
        parse_workers("0:" + "1" * 5000, 2)
    with pytest.raises(WorkerSpecError, match="at most 1024 workers"):
        parse_workers("0:" * 1025 + "0", 1)
    assert len(parse_workers("1024", 0)) == 1024


def test_workers_beyond_max_jobs_are_not_used(mmar, caplog):
    caplog.set_level("INFO", "claragen.automl")
    assert automl(mmar, workers="1000", max_jobs=2, controller="tpe") == 0
    assert (
        "1000 workers for at most 2 jobs (--max-jobs): 2 of them are used"
        in caplog.text
    )
    run_dir = mmar / "automl" / "r"
    assert events(run_dir)[0]["workers"] == ["W1 (CPU)", "W2 (CPU)"]
    assert len(kinds(run_dir, "recommend")) <= 4  # two at first, one per score
    assert kinds(run_dir, "start") == ["J1", "J2"]


# -- 7 links in the run folder --------------------------------------------------------------


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def test_a_link_for_a_job_folder_is_replaced_not_written_through(mmar, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    run_dir = mmar / "automl" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "W1_1_J1").symlink_to(outside)
    assert automl(mmar) == 0
    assert tree(outside) == {"keep.txt": "mine"}
    assert not (run_dir / "W1_1_J1").is_symlink()
    assert (run_dir / "W1_1_J1" / "train.py").is_file()


def test_a_link_for_a_cut_short_job_on_resume_is_removed_not_followed(mmar, tmp_path):
    outside = tmp_path / "outside"
    (outside / "models").mkdir(parents=True)
    (outside / "models" / "model.pt").write_text("weights")
    run_dir = mmar / "automl" / "r"
    run_dir.mkdir(parents=True)
    journal_of(run_dir / "journal.jsonl", REC,
               '{"event": "start", "job": "J1", "name": "W1_1_J1", "worker": 1, '
               '"round": 1}')  # fmt: skip
    (run_dir / "W1_1_J1").symlink_to(outside)
    assert automl(mmar, resume=True) == 0
    assert tree(outside) == {"models/model.pt": "weights"}
    cut_short = run_dir / "W1_1_J1"  # its folder goes: the link, not what it points to
    assert not cut_short.is_symlink() and not cut_short.exists()
    assert sorted(kinds(run_dir, "end")) == ["J1", "J2"]


@pytest.mark.parametrize("name", ["journal.jsonl", ".lock", "mlflow.db", "."])
def test_a_link_for_a_file_of_the_run_is_refused(mmar, tmp_path, capsys, name):
    target = tmp_path / "outside.txt"
    target.write_text("mine")
    run_dir = mmar / "automl" / "r"
    if name == ".":
        run_dir.parent.mkdir(parents=True)
        run_dir.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
        link = run_dir
    else:
        run_dir.mkdir(parents=True)
        link = run_dir / name
        link.symlink_to(target)
    assert automl(mmar, tracking=True) == 1
    out = output(capsys)
    assert f"error: {link} is a symbolic link" in out and "Traceback" not in out
    assert target.read_text() == "mine" and not (tmp_path / "elsewhere").exists()


# -- 8 rich markup in user text -------------------------------------------------------------


def test_rich_markup_in_paths_and_job_args_is_printed_as_it_is(tmp_path, capsys):
    mmar = make_mmar(tmp_path / "a[bold]b")
    FakeExecutor.reason = "exit 2: unrecognized arguments"
    assert automl(mmar, job_args="--epochs 1 [/x]") == 1  # every job failed
    out = output(capsys)
    assert "FAILED: exit 2: unrecognized arguments: --epochs 1 [/x]" in out
    assert "failed: exit 2: unrecognized arguments: --epochs 1 [/x]" in out
    assert f"journal: {mmar / 'automl' / 'r' / 'journal.jsonl'}" in out
    assert automl(mmar, job_args="--x '[/x]") == 2  # a quote not closed
    out = output(capsys)
    assert 'error: --job-args "--x \'[/x]": No closing quotation' in out


def test_the_live_table_the_leaderboard_and_errors_show_markup_as_it_is():
    console = Console(record=True, width=300)
    display = Display("claragen automl [bold]r[/x]", console)
    rows = [JobRow("J1", "W1_1_J1[/x]", "W1 [red]", "ok", 0.5, elapsed=1.0),
            JobRow("J2", "W1_2_J2", "W1", "failed", reason="[/bold] no [link=x]")]  # fmt: skip
    for row in rows:
        display.update(row)
    console.print(display.table())
    console.print(leaderboard(rows, {"J1": {":a": "[/v]"}}, "leaderboard of [/r]"))
    cli.error(console, "pip install 'claragen[ray]' at /m[/x]")
    text = console.export_text()
    for shown in ("claragen automl [bold]r[/x]", "W1_1_J1[/x]", "W1 [red]",
                  "[/bold] no [link=x]", "a=[/v]", "leaderboard of [/r]",
                  "error: pip install 'claragen[ray]' at /m[/x]"):  # fmt: skip
        assert shown in text


# -- the command line, as a new user tries it (issue 17, point 8) --------------------------


def test_resume_needs_only_the_run_and_a_conflicting_option_is_named(mmar, capsys):
    assert automl(mmar, workers="1", max_jobs=1, job_args="--epochs 2",
                  pruner="median") == 0  # fmt: skip
    output(capsys)
    run_dir = mmar / "automl" / "r"
    header = events(run_dir)[0]
    assert header["options"]["job_args"] == "--epochs 2"
    assert header["options"]["mmar"] == str(mmar.resolve())
    path = run_dir / "journal.jsonl"  # as if killed before its end
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    # --resume --run-id r -o DIR: the run's own options, nothing else given
    args = cli.AutomlArgs(run_id="r", output=mmar / "automl", resume=True, max_jobs=2)
    assert cli.run_automl(args) == 0
    assert kinds(run_dir, "end") == ["J1", "J2"]
    assert {e["name"][:2] for e in events(run_dir) if e["event"] == "start"} == {"W1"}
    output(capsys)
    conflict = cli.AutomlArgs(run_id="r", output=mmar / "automl", resume=True,
                              controller="random", job_args="--epochs 3")  # fmt: skip
    assert cli.run_automl(conflict) == 2
    err = capsys.readouterr().err
    assert '--controller "random": the run was started with "grid"' in err
    assert '--job-args "--epochs 3": the run was started with "--epochs 2"' in err
    # an option given at its default is given: not the recorded value taken silently
    explicit = cli.AutomlArgs(run_id="r", output=mmar / "automl", resume=True,
                              pruner="none", seed=0, tracking=False)  # fmt: skip
    assert cli.run_automl(explicit) == 2
    err = capsys.readouterr().err
    assert '--pruner "none": the run was started with "median"' in err
    assert "--seed" not in err and "--tracking" not in err  # the same as recorded


def test_usage_errors_exit_2_on_stderr():
    for argv, message in (
        (
            ["automl", "--controller", "foo"],
            "'foo' is not one of 'grid', 'random', 'tpe'",
        ),
        (["automl", "--pruner", "x"], "'x' is not one of 'none', 'median'"),
        (["check", "--format", "yaml"], "'yaml' is not one of 'text', 'json'"),
        (["space", "--format", "xml"], "'xml' is not one of 'text', 'json'"),
        (["compile", "--target", "tf"], "'tf' is not one of 'plain', 'engines'"),
    ):
        proc = subprocess.run([sys.executable, "-m", "claragen", *argv],
                              capture_output=True, text=True, cwd=REPO,
                              env={**os.environ, "COLUMNS": "300"})  # fmt: skip
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert message in proc.stderr and not proc.stdout, (argv, proc.stderr)


def test_the_help_lists_the_choices_and_offers_completion():
    from typer.testing import CliRunner

    from claragen.cli import app

    runner = CliRunner()
    text = runner.invoke(app, ["automl", "--help"], env={"COLUMNS": "300"}).output
    for listed in ("grid|random|tpe", "none|median|asha|hyperband", "local|ray",
                   "plain|engines|bundle|auto"):  # fmt: skip
        assert listed in text, listed
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


def test_automl_args_defaults_are_the_command_lines():
    """`--resume` tells an option given from one left out by its default."""
    import typer.main

    from claragen.cli import app

    command = typer.main.get_command(app).commands["automl"]
    defaults = cli.AutomlArgs()
    names = {"set_": "sets", "pythonpath": "pythonpath"}
    for param in command.params:
        name = names.get(param.name, param.name)
        # --optimize and the --no-<name> flags make one field: optimize (None: left out)
        if hasattr(defaults, name) and name not in ("sets", "pythonpath", "optimize"):
            assert getattr(defaults, name) == param.default, name


def test_retrain_top_runs_the_best_again_with_the_full_settings(mmar, capsys):
    """--retrain-top 1 after a search of 2 jobs; then --resume --retrain-top 2 retrains
    one more, and none twice."""
    assert automl(mmar, job_args="--epochs 1", tracking=True, retrain_top=1,
                  retrain_args="--epochs 50") == 0  # fmt: skip
    run_dir = mmar / "automl" / "r"
    retrains = [(n, a) for n, a in FakeExecutor.seen if n.startswith("R")]
    assert retrains == [("R1_J1", ("--epochs", "1", "--epochs", "50"))]
    assert "retrained best of r" in output(capsys)
    # a crash after R1_J1 ended and before its MLflow run did: the resume ends it, once
    uri = f"sqlite:///{run_dir / 'mlflow.db'}"
    journal_path = run_dir / "journal.jsonl"
    lines = journal_path.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines if '"retrain": "R1_J1"' not in ln]
    assert len(kept) == len(lines) - 1
    journal_path.write_text("".join(kept))
    import mlflow

    client = mlflow.MlflowClient(uri)
    (r1,) = [c for c in mlflow_runs(uri)[2] if c.info.run_name == "R1_J1"]
    client.update_run(r1.info.run_id, status="RUNNING")
    FakeExecutor.seen.clear()
    args = cli.AutomlArgs(run_id="r", output=mmar / "automl", resume=True, retrain_top=2,
                          retrain_args="--epochs 50")  # fmt: skip
    assert cli.run_automl(args) == 0
    assert [n for n, _ in FakeExecutor.seen] == ["R2_J2"]  # R1_J1 had ended
    assert [e["name"] for e in events(run_dir) if e["event"] == "retrained"] == [
        "R1_J1", "R2_J2"]  # fmt: skip
    _, _, children = mlflow_runs(f"sqlite:///{run_dir / 'mlflow.db'}")
    retrain_runs = {c.info.run_name: c.data.tags["claragen.retrain_of"] for c in children
                    if "claragen.retrain_of" in c.data.tags}  # fmt: skip
    assert retrain_runs == {"R1_J1": "J1", "R2_J2": "J2"}
    assert client.get_run(r1.info.run_id).info.status == "FINISHED"
    tracked = [e.get("retrain") for e in events(run_dir) if e["event"] == "tracked"]
    assert sorted(t for t in tracked if t) == ["R1_J1", "R2_J2"]
    from claragen.runtime.report import write_report

    page = write_report(run_dir).read_text()
    assert "<h2>Retrained</h2>" in page and page.count("<tr><td>R") == 2


def test_a_cut_short_job_not_run_again_leaves_nothing_running(mmar, monkeypatch):
    """Ctrl-C cut J2 short: its trial ends FAIL (marked interrupted) and its MLflow run
    KILLED; a resume with --max-jobs 1 (J1 had ended) does not run it again, and the
    search ends with its run gone and nothing RUNNING."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    run_dir = mmar / "automl" / "r"
    uri = f"sqlite:///{run_dir / 'mlflow.db'}"

    def trials_of(job):
        study = optuna.load_study(study_name="r", storage=JournalStorage(
            JournalFileBackend(str(run_dir / "optuna.log"))))  # fmt: skip
        return [t for t in study.trials if t.user_attrs.get("job") == job]

    def runs_of(job):
        return [
            c for c in mlflow_runs(uri)[2] if c.data.tags.get("claragen.job") == job
        ]

    real = FakeExecutor.execute

    def execute(self, spec):  # J1 ends, J2 is cut short by a Ctrl-C
        monkeypatch.setattr(FakeExecutor, "interrupt", spec.job == "J2")
        return real(self, spec)

    with monkeypatch.context() as m:
        m.setattr(FakeExecutor, "execute", execute)
        automl(mmar, workers="1", max_jobs=2, tracking=True)
    monkeypatch.setattr(FakeExecutor, "interrupt", False)
    # the Ctrl-C ended them at once (issue 30: they stayed RUNNING until a resume)
    (j2,) = trials_of("J2")
    assert j2.state.name == "FAIL" and j2.user_attrs["interrupted"]
    assert [c.info.status for c in runs_of("J2")] == ["KILLED"]
    assert automl(mmar, workers="1", max_jobs=1, tracking=True, resume=True) == 0
    assert kinds(run_dir, "end") == ["J1"]
    (j2,) = trials_of("J2")
    assert j2.state.name == "FAIL" and j2.user_attrs["interrupted"]
    assert runs_of("J2") == []


def test_a_resume_with_more_jobs_replays_tpe_with_the_runs_parallel_asks(mmar, caplog):
    """8 workers under --max-jobs 6: TPE asked 6 at a time. A resume with --max-jobs 8
    must ask as the run did, or its asks after the startup trials differ from the
    journal's (and TPE would learn from values it did not recommend)."""
    assert automl(mmar, workers="8", max_jobs=6, controller="tpe") == 0
    path = mmar / "automl" / "r" / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["event"] == "done"
    path.write_text("".join(lines[:-1]))  # as if killed before its end
    caplog.set_level("WARNING", "claragen.automl")
    assert automl(mmar, workers="8", max_jobs=8, controller="tpe", resume=True) == 0
    assert "recommends other values than the journal" not in caplog.text
    ends = kinds(mmar / "automl" / "r", "end")
    assert sorted(ends, key=lambda j: int(j[1:])) == [f"J{i}" for i in range(1, 9)]


def test_automl_optimize_runs_each_jobs_train_fast_script(mmar, monkeypatch):
    """--optimize: each job folder has train.py and train_fast.py, and the job runs the
    fast one; the rewrites are recorded, so a resume runs the same scripts."""
    scripts = []
    real = FakeExecutor.execute

    def execute(self, spec):
        scripts.append(spec.script.name)
        return real(self, spec)

    monkeypatch.setattr(FakeExecutor, "execute", execute)
    assert automl(mmar, max_jobs=2, optimize=("cudnn-benchmark", "amp")) == 0
    run_dir = mmar / "automl" / "r"
    assert scripts == ["train_fast.py", "train_fast.py"]
    for name in [e["name"] for e in events(run_dir) if e["event"] == "start"]:
        fast = (run_dir / name / "train_fast.py").read_text()
        assert "- amp: autocast on CUDA" in fast
        assert "- device-cache: not applied: turned off (--no-device-cache)." in fast
        assert (run_dir / name / "train.py").is_file()
    assert events(run_dir)[0]["options"]["optimize"] == ["cudnn-benchmark", "amp"]
