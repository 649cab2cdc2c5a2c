"""Handlers see the search's events, with Clara's method names (SPEC 6):

    startup(ctx)                    the search starts (or resumes)
    recommendations_available(ctx)  the controller gave ContextKey.RECOMMENDATIONS
    start_job(ctx) / end_job(ctx)   JOB_NAME, CONCRETE_SEARCH_VALUE; SCORE at the end
    round_ended(ctx)                every worker finished a job since the last round
    shutdown(ctx)                   the search is over (finished, stopped or interrupted)

A bring-your-own handler subclasses `Handler` (or just has the methods it needs).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime import ranking
from claragen.runtime.context import Context, ContextKey
from claragen.runtime.ranking import MAXIMIZE, order, reached

log = logging.getLogger("claragen.automl")

EVENTS = (
    "startup",
    "recommendations_available",
    "start_job",
    "end_job",
    "round_ended",
    "shutdown",
)


class Handler:
    def startup(self, ctx: Context) -> None: ...
    def recommendations_available(self, ctx: Context) -> None: ...
    def start_job(self, ctx: Context) -> None: ...
    def end_job(self, ctx: Context) -> None: ...
    def round_ended(self, ctx: Context) -> None: ...
    def shutdown(self, ctx: Context) -> None: ...


class StatsHandler(Handler):
    """Counts jobs and scores and logs them when the search ends (Clara's StatsHandler /
    MMARStatsHandler); the live table shows each job as it ends."""

    def __init__(self, **_: Any) -> None:
        self.scores: list[float] = []
        self.failed = 0

    def end_job(self, ctx: Context) -> None:
        score = ctx.get_prop(ContextKey.SCORE)
        if score is None:
            self.failed += 1
        else:
            self.scores.append(score)

    def shutdown(self, ctx: Context) -> None:
        direction = ctx.get_prop(ContextKey.DIRECTION) or MAXIMIZE
        top = ranking.best(self.scores, float, direction)
        best = f", best score {top:.4f}" if top is not None else ""
        log.info("%d jobs ended this session, %d failed%s",
                 len(self.scores) + self.failed, self.failed, best)  # fmt: skip


class MMARHandler(Handler):
    """Keeps the checkpoints of the best `num_mmars_to_keep` jobs only, and stops the
    search once a score reaches `stop_threshold` (Clara's MMARHandler).

    `train_config_file` names the training config (the CLI reads it); `work_dir` and
    `key_mmar_content_only` have no effect: a job's folder is already only its script, log,
    result and checkpoints.
    """

    def __init__(
        self,
        num_mmars_to_keep: int = 30,
        stop_threshold: float | None = None,
        train_config_file: str | None = None,
        **_: Any,
    ) -> None:
        self.keep = int(num_mmars_to_keep)
        self.stop_threshold = stop_threshold
        self.train_config_file = train_config_file
        self.scores: dict[Path, float] = {}
        self.direction = MAXIMIZE  # of the scores: the search's (ContextKey.DIRECTION)

    def restore(self, folder: Path, score: float) -> None:
        """A job that ended before the search was resumed."""
        self.scores[Path(folder)] = score

    def end_job(self, ctx: Context) -> None:
        score = ctx.get_prop(ContextKey.SCORE)
        folder = ctx.get_prop(ContextKey.JOB_DIR)
        if score is None or folder is None:
            return
        self.direction = ctx.get_prop(ContextKey.DIRECTION) or MAXIMIZE
        self.scores[Path(folder)] = score
        self.prune()
        threshold = self.stop_threshold
        if threshold is not None and reached(score, float(threshold), self.direction):
            ctx.stop_work(
                self, f"score {score:.4f} reached stop_threshold {self.stop_threshold}"
            )

    def prune(self) -> None:
        ranked = sorted(
            self.scores, key=lambda f: order(self.scores[f], self.direction)
        )
        for folder in ranked[self.keep :]:
            strip_checkpoints(folder)


def strip_checkpoints(folder: Path) -> None:
    """A job's checkpoints (models/*.pt, *.ts) and cache go; its log, result.json,
    progress.jsonl and TensorBoard events stay."""
    models = folder / "models"
    if models.is_symlink() or not models.is_dir():  # not the job's own: nothing goes
        return
    for ckpt in sorted(models.glob("*.pt")) + sorted(models.glob("*.ts")):
        safe_io.remove_file(ckpt)  # a link goes, not what it points to
    if (models / "cache").is_dir():
        safe_io.remove_tree(models / "cache")


class CheckpointRetention(Handler):
    """--keep best (the default): the checkpoints of the `top` best jobs that ran to
    their end stay; a pruned or failed job's go as it ends, and a job's once `top`
    better ones ended. Clara's MMARHandler(num_mmars_to_keep) is the precedent: `top` is
    its count when config_automl.json has one, else 3. --keep all keeps every one."""

    def __init__(self, top: int = 3) -> None:
        self.top = top
        self.scores: dict[Path, float] = {}
        self.direction = MAXIMIZE

    def restore(self, folder: Path, score: float, status: str = "ok") -> None:
        """A job that ended before the search was resumed."""
        if status == "ok":
            self.scores[Path(folder)] = score

    def end_job(self, ctx: Context) -> None:
        folder = ctx.get_prop(ContextKey.JOB_DIR)
        if folder is None:
            return
        score = ctx.get_prop(ContextKey.SCORE)
        if ctx.get_prop(ContextKey.JOB_STATUS) != "ok" or score is None:
            strip_checkpoints(Path(folder))
            return
        self.direction = ctx.get_prop(ContextKey.DIRECTION) or MAXIMIZE
        self.scores[Path(folder)] = score
        ranked = sorted(
            self.scores, key=lambda f: order(self.scores[f], self.direction)
        )
        for other in ranked[self.top :]:
            strip_checkpoints(other)


class TimeBudget(Handler):
    """--time-budget: once the search has run this long, no job starts; the running ones
    finish (as Optuna's `optimize(timeout=...)` lets its trials finish) and the search
    ends as stopped. A resumed search has the budget again, from its own start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: float | None = None

    def startup(self, ctx: Context) -> None:
        self.started = time.monotonic()

    def end_job(self, ctx: Context) -> None:
        if self.started is None:
            return
        spent = time.monotonic() - self.started
        if spent >= self.seconds:
            ctx.stop_work(self, f"the time budget of {self.seconds:g} s is spent "
                          f"({spent:.0f} s); the jobs that ran finished")  # fmt: skip


# Without a config_automl.json: a line per finished job.
HANDLER_DEFAULTS: tuple[type[Handler], ...] = (StatsHandler,)


def fire(handlers: list[Any], event: str, ctx: Context) -> None:
    """Call `event` on every handler that has it; a handler's error is logged, not fatal."""
    for handler in handlers:
        method = getattr(handler, event, None)
        if method is None:
            continue
        try:
            method(ctx)
        except Exception as exc:  # a user's handler must not end the search
            log.error("handler %s.%s failed: %r", type(handler).__name__, event, exc)
