"""Proxy search, then retrain the best: `--retrain-top K --retrain-args "--epochs 300"`.

What a Clara user did by hand after a short-epoch search: once the search has ended (or
on `--resume --retrain-top K` of a search that had), the K best jobs are compiled again
with their values into `R<rank>_J<n>/` and run with the search's job arguments followed by
`--retrain-args` (later options win: `--epochs 300` over the search's `--epochs 5`), on
the search's workers. Each is journalled (`retrain`, then `retrained`, so a resume runs
only the ones that did not end), followed live like a search job, tracked as its own
MLflow child run (tag `claragen.retrain_of`), and listed in its own leaderboard and in
the report's "Retrained" section. Retrains do not go back to the controller.
"""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from claragen.runtime.context import ContextKey, concrete_search_value
from claragen.runtime.executor import JobResult, JobSpec, read_result
from claragen.runtime.handlers import log
from claragen.runtime.journal import JournalState
from claragen.runtime.live import JobRow, leaderboard
from claragen.runtime.monitor import Monitor
from claragen.runtime.options import resume_hint
from claragen.runtime.ranking import order

RETRAIN_TAG = "claragen.retrain_of"


def best_jobs(search: Any, k: int) -> list[Any]:
    """The K best jobs that ran to their end, best first (ties: the earlier job)."""
    ok = [ej for ej in search.finished() if ej.result.status == "ok"]
    ok.sort(key=lambda ej: (order(ej.result.score, search.direction), int(ej.job[1:])))
    return ok[:k]


def retrain(search: Any, display: Any, k: int, args: tuple[str, ...]) -> list[JobRow]:
    """Run the retrains not yet ended; their rows (ended before and now), by rank."""
    state = JournalState.of(search.journal.read())
    chosen = [
        (f"R{rank}_{ej.job}", ej) for rank, ej in enumerate(best_jobs(search, k), 1)
    ]
    rows: dict[str, JobRow] = {}
    todo = []
    for name, ej in chosen:
        ended = state.retrained.get(name)
        if ended is None:
            todo.append((name, ej))
            continue
        rows[name] = JobRow(name, name, "", ended["status"], ended.get("score"),
                            elapsed=ended.get("elapsed"), reason=ended.get("reason", ""))  # fmt: skip
        if name not in state.retrain_tracked:  # ended before a crash, not in MLflow
            elapsed = ended.get("elapsed") or 0.0
            path = search.run_dir / name / "models" / "result.json"
            result = JobResult(ended["status"], ended.get("score"), ended.get("reason", ""),
                               elapsed, read_result(path, elapsed).result)  # fmt: skip
            track(search, name, ej, result)
    if not todo:
        return list(rows.values())
    display.note(f"retraining the {len(chosen)} best jobs with: {' '.join(args)}")
    monitor = Monitor(search.executor, None, search.tracker)
    workers = list(search.options.workers)
    running: dict[Any, tuple[str, Any, Any]] = {}
    pool = ThreadPoolExecutor(len(workers), thread_name_prefix="retrain")
    # Ctrl-C and SIGTERM, as during the search: a flag the loop reads each second
    search.interrupted = False
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, search._on_signal)
    try:
        while todo or running:
            if search.interrupted:
                raise KeyboardInterrupt
            while todo and workers:
                name, ej = todo.pop(0)
                worker = workers.pop(0)
                spec = start(search, name, ej, worker, args, monitor)
                rows[name] = JobRow(name, name, str(worker), "running")
                rows[name].started = time.monotonic()
                display.update(rows[name])
                running[pool.submit(search.executor.execute, spec)] = (name, ej, worker)
            done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                name, ej, worker = running.pop(future)
                finish(search, name, ej, future.result(), rows[name], monitor, display)
                workers.append(worker)
            for name, _, _ in running.values():
                monitor.follow(name, rows[name], display)
    except BaseException as exc:
        search.executor.abort()
        wait(list(running))
        if isinstance(exc, KeyboardInterrupt):
            display.note(
                f"interrupted: resume with {resume_hint(search.options)} --retrain-top {k}"
            )
        raise
    finally:
        pool.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return [rows[name] for name, _ in chosen]


def context(search: Any, name: str, ej: Any) -> None:
    ctx = search.ctx
    ctx.set_prop(ContextKey.JOB_ID, name)  # its own MLflow child run, not the job's
    ctx.set_prop(ContextKey.JOB_NAME, name)
    ctx.set_prop(ContextKey.JOB_DIR, search.run_dir / name)
    ctx.set_prop(ContextKey.SEARCH_VALUES, dict(ej.rec.values))
    ctx.set_prop(ContextKey.CONCRETE_SEARCH_VALUE, concrete_search_value(ej.rec.values))
    ctx.set_prop(
        ContextKey.JOB_ARGS, (*search.options.job_args, *search.options.retrain_args)
    )


def start(search: Any, name: str, ej: Any, worker: Any, args: tuple[str, ...],
          monitor: Monitor) -> JobSpec:  # fmt: skip
    folder = search.run_dir / name
    script = search.compile_job(ej, folder)  # a cut-short retrain's folder goes
    search.journal.write("retrain", job=ej.job, name=name)
    context(search, name, ej)
    if search.tracker is not None:
        try:
            search.tracker.start_job(search.ctx)
            rid = search.tracker.active.get(name)
            if rid is not None:
                search.tracker.client.set_tag(rid, RETRAIN_TAG, ej.job)
        except Exception as exc:
            log.error("MLflow: %s's run not started: %r", name, exc)
    spec = JobSpec(ej.job, name, folder, script, worker,
                   (*search.options.job_args, *args), None, search.mmar_root(),
                   search.processes(ej, worker), search.threads())  # fmt: skip
    monitor.started(name, spec)
    return spec


def finish(search: Any, name: str, ej: Any, result: Any, row: JobRow, monitor: Monitor,
        display: Any) -> None:  # fmt: skip
    monitor.ended(name, row)
    row.status, row.score = result.status, result.score
    row.elapsed, row.reason = result.elapsed, result.reason
    search.journal.write("retrained", job=ej.job, name=name, status=result.status,
                         score=result.score, reason=result.reason,
                         elapsed=round(result.elapsed, 3))  # fmt: skip
    display.update(row)
    track(search, name, ej, result)


def track(search: Any, name: str, ej: Any, result: Any) -> None:
    """The retrain's MLflow run ended, once: the journal's `tracked` says it was."""
    if search.tracker is None:
        return
    context(search, name, ej)
    ctx = search.ctx
    ctx.set_prop(ContextKey.SCORE, result.score)
    ctx.set_prop(ContextKey.JOB_STATUS, result.status)
    ctx.set_prop(ContextKey.JOB_REASON, result.reason)
    ctx.set_prop(ContextKey.JOB_RESULT, result.result)
    ctx.set_prop(ContextKey.JOB_ELAPSED, result.elapsed)
    try:
        rid = search.tracker.active.pop(name, None) or search.tracker.logged(name)
        if rid is None:
            rid = search.tracker.create(ctx)
            search.tracker.client.set_tag(rid, RETRAIN_TAG, ej.job)
        search.tracker.finalize(rid, ctx)
        search.journal.write("tracked", job=ej.job, retrain=name, mlflow_run=rid)
    except Exception as exc:
        log.error("MLflow: %s not tracked: %r", name, exc)


def board(search: Any, rows: list[JobRow], width: int | None = None):
    by_job = {ej.job: ej.rec.values for ej in search.jobs}
    values = {row.job: by_job.get(row.job.split("_", 1)[1], {}) for row in rows}
    return leaderboard(rows, values, f"retrained best of {search.options.run_id}", width,
                       search.direction)  # fmt: skip
