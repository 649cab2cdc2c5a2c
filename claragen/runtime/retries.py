"""--retries N: a job that fails runs again with the same values, up to N times, as
Optuna's RetryFailedTrialCallback has it: the failed attempt's trial stays FAIL (user
attr `retried`) and a new trial runs the same params; its MLflow run stays, FAILED, under
`claragen.job` = `J3.1` (the first attempt's), and the journal's `retry` record keeps
its folder and reason, so a resume counts the attempts made. A retry does not count
against --max-jobs, nor is the controller told of the failed attempt: it hears the
job's last outcome. A pruned job is not retried; neither is one a Ctrl-C stopped."""

from __future__ import annotations

from typing import Any

from claragen.runtime.handlers import log
from claragen.runtime.live import JobRow


def retry(search: Any, ej: Any, result: Any, display: Any) -> bool:
    """Whether the failed job `ej` runs again (queued, its attempt recorded)."""
    done = search.attempts.get(ej.job, 0)
    if result.status != "failed" or done >= search.options.retries:
        return False
    search.attempts[ej.job] = done + 1
    search.journal.write("retry", job=ej.job, name=ej.row.name, reason=result.reason)
    search.study.fail(ej.job, "retried")
    if search.tracker is not None:
        try:
            search.tracker.retried(ej.job, done + 1, result.reason)
        except Exception as exc:  # (the job's next run is made all the same)
            log.error("MLflow: %s's failed attempt not ended: %r", ej.row.name, exc)
    display.note(f"retry {ej.row.name} ({done + 1} of {search.options.retries}): "
                 f"{result.reason}")  # fmt: skip
    ej.row = JobRow(ej.job)  # queued: the loop starts it on the next free worker
    return True
