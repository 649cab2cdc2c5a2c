"""A search's options (`claragen automl`'s, as the engine takes them) and the checks of
them that need no run folder."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claragen.runtime.rundir import SearchError
from claragen.runtime.workers import Worker

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def epochs_of(job_args: tuple[str, ...]) -> int | None:
    """The epoch count `--epochs N` in a job's arguments gives its script, if it does."""
    for i, arg in enumerate(job_args):
        value = arg.split("=", 1)[1] if arg.startswith("--epochs=") else None
        if arg == "--epochs" and i + 1 < len(job_args):
            value = job_args[i + 1]
        if value is not None and value.isdigit() and int(value) > 0:
            return int(value)
    return None


def grid_cut(controller: Any, jobs: int, max_jobs: int | None) -> str | None:
    """A grid that --max-jobs cuts runs its first points only, where the first
    parameters keep their first values: said, with how much of the grid runs."""
    from claragen.runtime.controllers import GridController

    if not isinstance(controller, GridController) or not max_jobs or max_jobs >= jobs:
        return None
    return (
        f"--max-jobs {max_jobs} runs {max_jobs} of the grid's {jobs} jobs, in the "
        "grid's order: the first parameters keep their first values, only the last "
        "vary; --controller tpe or random searches the whole space"
    )


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id) or ".." in run_id:
        raise SearchError(
            f"run id {run_id!r}: use letters, digits, '_', '-' and '.' (it names a folder)"
        )
    return run_id


@dataclass
class SearchOptions:
    run_id: str
    output: Path  # the automl folder; the run is output/run_id
    workers: list[Worker]
    max_jobs: int | None = None
    resume: bool = False
    job_args: tuple[str, ...] = ()
    job_timeout: float | None = None
    pruner: str = "none"  # none | median | asha | hyperband (study.py)
    pruner_warmup: int | None = None  # epochs no job is judged in (None: study.py's)
    pruner_startup: int | None = None  # jobs ended before the median judges (None: 2)
    retrain_top: int = 0  # then run the K best again with retrain_args (retrain.py)
    retrain_args: tuple[str, ...] = ()
    retries: int = 0  # a failed job runs again, up to this many times (retries.py)
    more_time: bool = (
        False  # --resume --time-budget: a search the budget stopped goes on
    )


BUDGET = "claragen.runtime.handlers.TimeBudget"  # (handlers imports torch-free runtime)


def reopened(state: Any, options: SearchOptions, journal: Any) -> bool:
    """A search its time budget stopped, resumed with a --time-budget: it goes on, with
    the new budget from the resume's start (Optuna's optimize called again with a new
    timeout). Without one it is over, as any stopped search."""
    budget = state.stop == BUDGET  # claragen's own, not a handler of a similar name
    if not (state.done and budget and options.more_time):
        return False
    journal.write("reopen", reason="--resume with --time-budget: more time")
    state.done = False
    return True


def resume_hint(options: SearchOptions) -> str:
    """The command that resumes the search, as printed after Ctrl-C."""
    return shlex.join(["claragen", "automl", "--resume", "--run-id", options.run_id,
                       "-o", str(options.output)])  # fmt: skip
