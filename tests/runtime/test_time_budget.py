"""--time-budget (issue 30, item 9): once the search has run that long no job starts;
the running ones finish and the search ends as stopped."""

import time

import pytest

from claragen.cli.search import UsageError, parse_duration
from claragen.runtime.context import Context
from claragen.runtime.handlers import TimeBudget


@pytest.mark.parametrize(("text", "seconds"),
                         [("90", 90), ("90s", 90), ("45m", 2700), ("2h", 7200),
                          ("1.5h", 5400)])  # fmt: skip
def test_a_budget_is_a_duration(text, seconds):
    assert parse_duration("--time-budget", text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5m", "2 days", "h"])
def test_anything_else_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--time-budget"):
        parse_duration("--time-budget", text)


def test_the_search_stops_starting_jobs_once_its_budget_is_spent():
    ctx = Context()
    budget = TimeBudget(0.2)
    budget.startup(ctx)
    budget.end_job(ctx)  # within the budget: the next job starts
    assert not ctx.stop_work_asked()
    time.sleep(0.25)
    budget.end_job(ctx)
    assert ctx.stop_work_asked()
    assert "time budget of 0.2 s is spent" in ctx.stop_reason


def test_the_budget_is_an_option_a_resume_may_change():
    from claragen.runtime.recorded import FREE, OPTIONS

    assert OPTIONS["time_budget"] == "--time-budget" and "time_budget" in FREE


def test_a_search_the_budget_stopped_goes_on_when_resumed_with_more_time(
    tmp_path, monkeypatch
):
    """Over without a new budget (`--resume` finds nothing to run); `--resume
    --time-budget` gives it more time, as Optuna's optimize called again with a new
    timeout: the jobs it had not run run, the ones that ran do not run again."""
    from tests.runtime import test_run_safety as safety
    from tests.runtime.test_run_safety import FakeExecutor, automl, kinds

    monkeypatch.setattr(safety.cli, "LocalExecutor", FakeExecutor)
    monkeypatch.setattr(FakeExecutor, "interrupt", False)
    monkeypatch.setattr(FakeExecutor, "reason", "")
    monkeypatch.setattr(FakeExecutor, "seen", [])
    mmar = safety.make_mmar(tmp_path)
    run_dir = mmar / "automl" / "r"
    monkeypatch.setattr(TimeBudget, "end_job", lambda self, ctx: ctx.stop_work(
        self, "the time budget of 1 s is spent"))  # fmt: skip  # (spent after a job)
    assert automl(mmar, workers="1", time_budget="1") == 0
    assert kinds(run_dir, "end") == ["J1"] and kinds(run_dir, "done") == [""]
    automl(mmar, workers="1", resume=True)  # no new budget: it is over
    assert kinds(run_dir, "end") == ["J1"] and kinds(run_dir, "reopen") == []
    monkeypatch.undo()
    monkeypatch.setattr(safety.cli, "LocalExecutor", FakeExecutor)
    assert automl(mmar, workers="1", resume=True, time_budget="2h") == 0
    ends = kinds(run_dir, "end")
    assert ends[0] == "J1" and len(ends) > 1 and len(set(ends)) == len(ends)
    assert kinds(run_dir, "reopen") == [""]
    assert [e["status"] for e in safety.events(run_dir) if e["event"] == "done"] == [
        "stopped", "finished"]  # fmt: skip
    assert automl(mmar, workers="1", resume=True) == 0  # its journal reads back: over
    assert kinds(run_dir, "end") == ends


def test_only_the_budget_reopens_not_a_handler_of_a_similar_name(tmp_path, monkeypatch):
    """A search a user's handler stopped (here one named TimeBudgetAlert) is over, with or
    without --time-budget on the resume (an attack found the name's prefix was enough).
    """
    from claragen.runtime import handlers
    from claragen.runtime.options import BUDGET
    from tests.runtime import test_run_safety as safety
    from tests.runtime.test_run_safety import FakeExecutor, automl, kinds

    assert BUDGET == f"{TimeBudget.__module__}.{TimeBudget.__qualname__}"

    class TimeBudgetAlert(handlers.Handler):
        def end_job(self, ctx):
            ctx.stop_work(self, "alert")

    monkeypatch.setattr(safety.cli, "LocalExecutor", FakeExecutor)
    monkeypatch.setattr(FakeExecutor, "interrupt", False)
    monkeypatch.setattr(FakeExecutor, "reason", "")
    monkeypatch.setattr(FakeExecutor, "seen", [])
    monkeypatch.setattr(safety.cli, "HANDLER_DEFAULTS", (TimeBudgetAlert,))
    mmar = safety.make_mmar(tmp_path)
    run_dir = mmar / "automl" / "r"
    assert automl(mmar, workers="1") == 0
    (stop,) = [e for e in safety.events(run_dir) if e["event"] == "stop"]
    assert stop["by"].endswith(".TimeBudgetAlert")
    automl(mmar, workers="1", resume=True, time_budget="2h")
    assert kinds(run_dir, "end") == ["J1"] and kinds(run_dir, "reopen") == []
