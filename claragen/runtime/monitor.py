"""Watching the running jobs: each one's progress.jsonl -> its live row, its MLflow run,
its trial in the study, and the pruner's verdict.

    every loop second, for each running job:
        new epochs -> row (epoch, key metric, ETA) -> MLflow (log_epochs)
                   -> study.report(epoch, key metric) -> pruned? -> executor.stop (SIGTERM)

A failure to reach MLflow while a job runs is logged once per job and the job goes on;
its run is completed from result.json when the job ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claragen.runtime.handlers import log
from claragen.runtime.progress import Follower


@dataclass
class Watched:
    follower: Follower
    spec: Any  # JobSpec
    pruned: str | None = None  # why the pruner stopped it
    tracking_failed: bool = False


class Monitor:
    def __init__(self, executor: Any, study: Any = None, tracker: Any = None) -> None:
        self.executor = executor
        self.study = study
        self.tracker = tracker
        self.watched: dict[str, Watched] = {}

    def started(self, job: str, spec: Any) -> None:
        path = Path(spec.folder) / "models" / "progress.jsonl"
        self.watched[job] = Watched(Follower(path), spec)

    def poll(self, job: str, row: Any) -> None:
        """New epochs of a running job -> row, MLflow, study, pruner."""
        w = self.watched.get(job)
        if w is None:
            return
        new = w.follower.poll()
        if not new:
            return
        last = w.follower.last
        if last is not None:
            row.epoch = (
                f"{last.epoch}/{last.epochs}" if last.epochs else str(last.epoch)
            )
        latest = w.follower.latest_value()
        if latest is not None:
            row.metric = latest[1]
        row.eta = w.follower.eta()
        if self.tracker is not None and not w.tracking_failed:
            try:
                self.tracker.log_epochs(job, new)
            except Exception as exc:  # the job goes on; its end completes its run
                w.tracking_failed = True
                log.error("MLflow: %s's epochs not logged live: %r", job, exc)
        if self.study is None or w.pruned is not None:
            return
        for epoch in new:
            value = epoch.value
            if w.pruned is not None:  # the trial ends where the pruner stopped it
                break
            if value is None:
                continue
            if self.study.report(job, epoch.epoch, value) and w.pruned is None:
                # not after its last epoch: by then it has ended
                if epoch.epochs is None or epoch.epoch < epoch.epochs:
                    w.pruned = (
                        f"at epoch {epoch.epoch} ({self.study.pruner_name}): "
                        f"{epoch.key_metric} {value:.4f}"
                    )
                    self.executor.stop(w.spec, w.pruned)

    def follow(self, job: str, row: Any, display: Any) -> None:
        """poll, and show the row again when it reached a new epoch."""
        before = row.epoch
        self.poll(job, row)
        if row.epoch != before:
            display.progress(row)

    def ended(self, job: str, row: Any) -> str | None:
        """The job's last epochs (its script wrote them just before it exited); why it
        was pruned, if it was."""
        self.poll(job, row)
        w = self.watched.pop(job, None)
        return None if w is None else w.pruned
