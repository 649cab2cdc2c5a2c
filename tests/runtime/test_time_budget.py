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
