"""The AutoML engine: controller -> scheduler -> workers -> executor, handlers on events.

    recommendations (controller) -> queue -> a free worker compiles the job into
    automl/<run_id>/W<worker>_<round>_J<job>/train.py and runs it -> score -> controller

The engine thread owns the controller, the handlers and the journal; worker threads only
run jobs. Every step is journalled before it is acted on (journal.py), so `--resume`
replays the journal through a fresh controller (same seed, same calls, same
recommendations), keeps every job that ended and runs the others again.

One process at a time runs a search (a lock in its run folder), and the engine writes
nothing of the run folder through a link (rundir.py). However a search ends (finished,
stopped, Ctrl-C, an error), its MLflow parent run is ended with it.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime import ranking, seal
from claragen.runtime.context import (
    Context,
    ContextKey,
    Outcome,
    Recommendation,
    RuntimeSpace,
    SearchResult,
    concrete_search_value,
)
from claragen.runtime.executor import JobResult, JobSpec, LocalExecutor
from claragen.runtime.handlers import CheckpointRetention, fire, log
from claragen.runtime.journal import Journal, JournalError, JournalState
from claragen.runtime.live import Display, JobRow, leaderboard
from claragen.runtime.monitor import Monitor
from claragen.runtime.options import (
    SearchOptions,
    check_run_id,
    epochs_of,
    grid_cut,
    reopened,
    resume_hint,
)
from claragen.runtime.params import named
from claragen.runtime.ranking import MAXIMIZE, MINIMIZE, direction_of
from claragen.runtime.retries import retry
from claragen.runtime.rundir import (
    RunLock,
    SearchError,
    check_run_dir,
    fresh_folder,
    remove,
    write_file,
)
from claragen.runtime.summary import artefacts, interrupted, to_display, track_open
from claragen.runtime.workers import Worker
from claragen.transpiler.passes.apply_search import default_values
from claragen.transpiler.passes.expand_jobs import Job, JobSpecError
from claragen.transpiler.pipeline import Compilation
from claragen.transpiler.render import Renderer

# How a search ended -> the status of its MLflow parent run.
MLFLOW_STATUS = {"finished": "FINISHED", "stopped": "FINISHED", "interrupted": "KILLED"}
__all__ = ["Search", "SearchError", "SearchOptions", "check_run_id"]


@dataclass
class EngineJob:
    job: str  # "J3"
    rec: Recommendation
    row: JobRow
    spec: JobSpec | None = None
    result: JobResult | None = None


@dataclass
class Search:
    """One search: what to compile, who recommends, who listens."""

    compilation: Compilation
    controller: Any
    handlers: list[Any]
    options: SearchOptions
    tracker: Any = None  # MLflowTracker
    header: dict[str, Any] = field(default_factory=dict)
    executor: Any = None  # LocalExecutor (default) or RayExecutor

    def __post_init__(self) -> None:
        self.run_dir = self.options.output / check_run_id(self.options.run_id)
        self.journal = Journal(self.run_dir / "journal.jsonl")
        self.run_lock = RunLock(self.run_dir / ".lock")
        if self.executor is None:
            self.executor = LocalExecutor()
        self.jobs: list[EngineJob] = []
        self.rounds: dict[int, int] = {}  # worker -> jobs started on it
        self.ended = 0
        self.interrupted = False  # Ctrl-C or SIGTERM seen
        self.ctx = Context()
        self.study: Any = None  # SearchStudy, made by prepare()
        self.retrained: list[JobRow] = []  # --retrain-top's rows
        self.monitor = Monitor(self.executor)
        self.direction = MAXIMIZE  # of the scores: known once prepare() compiled a job
        self.cut_short: set[str] = set()  # jobs a crash cut short (they rerun)
        self.attempts: dict[str, int] = {}  # job -> its retries so far (--retries)

    # -- compile ------------------------------------------------------------------

    def prepare(self) -> None:
        config, base = self.compilation.build()
        self.config, self.base = config, base
        self.space = RuntimeSpace(base.space)
        self.renderer = Renderer()
        self.ctx.set_prop(ContextKey.SEARCH_SPACE, self.space)
        self.ctx.set_prop(ContextKey.RUN_DIR, self.run_dir)
        self.ctx.set_prop(ContextKey.RUN_ID, self.options.run_id)
        # the config's own values: the default job's, which TPE runs first
        self.ctx.set_prop(
            ContextKey.DEFAULT_VALUES, default_values(self.config, self.base)
        )
        self.direction = self.score_direction()
        self.header.setdefault("direction", self.direction)
        self.ctx.set_prop(ContextKey.DIRECTION, self.direction)

    def score_direction(self) -> str:
        """Which way the scores go: the key metric of the job with the config's own
        values, compiled once here (a config without a key metric is scored by its
        loss, which is better lower)."""
        job = Job("J0000", default_values(self.config, self.base))
        self.compilation.compile_job(self.config, self.base,
                                     self.run_dir / job.id, job, self.renderer)  # fmt: skip
        if (
            f"{job.id}/train.py" in self.compilation.minimizing
        ):  # the config's saver says
            return MINIMIZE
        return direction_of(self.compilation.key_metrics.get(f"{job.id}/train.py"))

    def key_metric(self) -> str | None:
        """The key metric's name, as the job with the config's own values logs it."""
        return self.compilation.key_metrics.get("J0000/train.py") or None

    def open_study(self) -> None:
        """The study on disk, once the journal says this is the run's own start or resume."""
        from claragen.runtime.study import SearchStudy  # imports optuna

        path = self.run_dir / "optuna.log"
        try:
            self.study = SearchStudy(
                path, self.options.run_id, self.space.params,
                self.header.get("controller", type(self.controller).__name__),
                self.options.pruner, epochs_of(self.options.job_args), self.direction,
                self.options.pruner_warmup, self.options.pruner_startup,
                self.key_metric(),
            )  # fmt: skip
        except OSError as exc:
            raise SearchError(
                f"cannot open the study {path}: {safe_io.reason(exc)}"
            ) from None
        except Exception as exc:  # Optuna's replay of a study that is not this run's
            raise SearchError(
                f"the study {path} does not fit this search ({type(exc).__name__}: "
                f"{exc}); move it away and --resume, and the study starts again"
            ) from None
        self.monitor = Monitor(self.executor, self.study, self.tracker)

    def compile_job(self, ej: EngineJob, folder: Path) -> Path:
        script = self.compilation.compile_job(
            self.config, self.base, folder, Job(ej.job, ej.rec.values), self.renderer
        )
        fast = None
        if self.compilation.options.optimize:  # --optimize: the job runs train_fast.py
            fast = self.compilation.compile_fast(
                Job(ej.job, ej.rec.values), self.renderer
            )
        fresh_folder(folder)
        write_file(folder / "train.py", script)
        if fast is not None:
            write_file(folder / "train_fast.py", fast)
        values = json.dumps(ej.rec.values, indent=2, sort_keys=True)
        write_file(folder / "values.json", values + "\n")
        return folder / ("train.py" if fast is None else "train_fast.py")

    # -- recommendations ------------------------------------------------------------

    def accept(self, recs: list[Recommendation], journalled: list[dict]) -> None:
        """Number new recommendations J1, J2, ...; journal them (or, replaying, check
        them against the journal, whose values win)."""
        for rec in recs:
            index = len(self.jobs)
            job = f"J{index + 1}"
            if index < len(journalled):
                old = journalled[index]
                if json.dumps(old["values"], sort_keys=True) != json.dumps(
                    rec.values, sort_keys=True
                ):
                    log.warning(
                        "%s: the controller recommends other values than the journal "
                        "holds (is it seeded?); the journal's are used",
                        job,
                    )
                    rec = Recommendation(
                        rec.rec_id, SearchResult(self.space, old["values"])
                    )
            else:
                self.journal.write("recommend", job=job, rec_id=rec.rec_id,
                                   values=rec.values, params=named(rec.values))  # fmt: skip
            self.jobs.append(EngineJob(job, rec, JobRow(job)))
        if recs:
            self.ctx.set_prop(ContextKey.RECOMMENDATIONS, recs)
            fire(self.handlers, "recommendations_available", self.ctx)

    def outcome(self, ej: EngineJob, score: float | None, status: str,
                epochs: list | None = None) -> Outcome:  # fmt: skip
        """What the controller is told; `epochs`: the job's [epoch, key metric] pairs
        (a pruned job's, for a sampler that weighs pruned trials by them)."""
        extra: dict[str, Any] = {"intermediate": {int(s): v for s, v in epochs or ()}}
        if status == "pruned":  # a controller that knows no pruning sees a failure
            return Outcome(ej.rec.rec_id, None, ej.rec, ej.row.name,
                           {**extra, "pruned_score": score}, status)  # fmt: skip
        return Outcome(ej.rec.rec_id, score, ej.rec, ej.row.name, extra, status)

    # -- start / resume ---------------------------------------------------------------

    def lock(self) -> None:
        """Make the run folder (or check the one there) and take its lock: a second
        process on the same run ends with who holds it."""
        check_run_dir(self.run_dir)
        self.run_lock.acquire(self.options.run_id)

    def open(self) -> JournalState:
        exists = self.journal.path.exists() or self.journal.path.is_symlink()
        if self.options.resume and not exists:
            raise SearchError(f"--resume: {self.run_dir} holds no search to resume")
        if not self.options.resume and exists:
            raise SearchError(
                f"{self.run_dir} holds a search already; add --resume to continue it, "
                "or give another --run-id"
            )
        state = JournalState.of(self.journal.repair())
        reopened(state, self.options, self.journal)
        self.attempts = dict(state.retried)
        self.open_study()
        if state.header is None:
            header = dict(self.header)
            if isinstance(header.get("options"), dict):  # what --resume may take back
                header["options_seal"] = seal.seal(header["options"])
            self.journal.write("search", run_id=self.options.run_id, **header)
        if not state.done:
            fire(self.handlers, "startup", self.ctx)
        self.ask("set_search_space", self.space, self.ctx)
        initial = self.ask("initial_recommendation", self.ctx)
        if (cut := grid_cut(self.controller, len(initial), self.options.max_jobs)) and (
            not state.done
        ):
            log.warning(cut)
        self.accept(initial, state.recommended)
        for job in state.end_order:  # replay: the same calls in the same order
            end = state.ended[job]
            index = int(job[1:]) - 1  # J3 is the third recommendation
            if index >= len(self.jobs):
                raise SearchError(
                    f"the journal's {job} was never recommended on replay"
                )
            ej = self.jobs[index]
            ej.row = JobRow(job, end["name"], end.get("worker_label", ""), end["status"],
                            end.get("score"), elapsed=end.get("elapsed"), reason=end.get("reason", ""))  # fmt: skip
            ej.result = JobResult(
                end["status"], end.get("score"), end.get("reason", "")
            )
            self.ended += 1
            self.accept(
                self.ask(
                    "refine_recommendation",
                    self.outcome(
                        ej, end.get("score"), end["status"], end.get("values")
                    ),
                    self.ctx,
                ),
                state.recommended,
            )
        for job, start in state.started.items():
            worker = int(start["worker"])
            self.rounds[worker] = max(self.rounds.get(worker, 0), int(start["round"]))
            if job not in state.ended:  # cut short: its folder goes, the job reruns
                remove(self.run_dir / start["name"])  # a checked W1_2_J3
                self.cut_short.add(job)
        for ej in self.finished():  # ended, but a crash came before its trial ended
            self.study.end(ej.job, ej.result.status, ej.result.score)  # type: ignore[union-attr]
        for handler in self.handlers:
            restore = getattr(handler, "restore", None)
            for ej in self.finished():
                if not (restore and ej.result and ej.result.score is not None):
                    continue
                folder = self.run_dir / ej.row.name
                if isinstance(handler, CheckpointRetention):  # ours: it knows statuses
                    handler.restore(folder, ej.result.score, ej.result.status)
                else:
                    restore(folder, ej.result.score)
        return state

    def finished(self) -> list[EngineJob]:
        return [ej for ej in self.jobs if ej.result is not None]

    # -- the loop ---------------------------------------------------------------------

    def job_context(self, ej: EngineJob) -> None:
        self.ctx.set_prop(ContextKey.JOB_ID, ej.job)
        self.ctx.set_prop(ContextKey.JOB_NAME, ej.row.name)
        self.ctx.set_prop(ContextKey.JOB_DIR, self.run_dir / ej.row.name)
        self.ctx.set_prop(ContextKey.SEARCH_VALUES, dict(ej.rec.values))
        self.ctx.set_prop(
            ContextKey.CONCRETE_SEARCH_VALUE, concrete_search_value(ej.rec.values)
        )
        self.ctx.set_prop(ContextKey.JOB_ARGS, self.options.job_args)
        result = ej.result
        self.ctx.set_prop(ContextKey.SCORE, None if result is None else result.score)
        self.ctx.set_prop(
            ContextKey.JOB_STATUS, None if result is None else result.status
        )
        self.ctx.set_prop(
            ContextKey.JOB_REASON, None if result is None else result.reason
        )
        self.ctx.set_prop(
            ContextKey.JOB_RESULT, None if result is None else result.result
        )

    def start(self, ej: EngineJob, worker: Worker, display: Display) -> JobSpec:
        round_ = self.rounds.get(worker.index, 0) + 1
        self.rounds[worker.index] = round_
        name = f"W{worker.index}_{round_}_{ej.job}"
        folder = self.run_dir / name
        ej.row = JobRow(ej.job, name, str(worker), "running")
        ej.row.started = time.monotonic()
        script = self.compile_job(ej, folder)
        self.journal.write(
            "start", job=ej.job, name=name, worker=worker.index, round=round_
        )
        self.job_context(ej)
        self.study.start(ej.job, name, ej.rec.values)
        if self.tracker is not None:
            try:
                self.tracker.start_job(self.ctx)
            except Exception as exc:  # the job runs; its end makes its run
                log.error("MLflow: %s's run not started: %r", name, exc)
        fire(self.handlers, "start_job", self.ctx)
        display.update(ej.row)
        ej.spec = JobSpec(ej.job, name, folder, script, worker, self.options.job_args,
                          self.options.job_timeout, self.mmar_root(),
                          self.processes(ej, worker), self.threads())  # fmt: skip
        self.monitor.started(ej.job, ej.spec)
        return ej.spec

    def threads(self) -> int:
        """A CPU job's share of this machine's cores: theirs over the workers'."""
        return max(1, (os.cpu_count() or 1) // len(self.options.workers))

    def mmar_root(self) -> Path | None:
        root = self.compilation.mmar_root
        return root.resolve() if root is not None else None

    def processes(self, ej: EngineJob, worker: Worker) -> int:
        """A multi_gpu job on a worker of several GPUs runs one process per GPU (torchrun),
        as Clara ran it on all of its worker's GPUs; anything else runs one process."""
        if f"{ej.job}/train.py" in self.compilation.distributed:
            return max(len(worker.gpus), 1)
        return 1

    def end(self, ej: EngineJob, result: JobResult, display: Display) -> None:
        pruned = self.monitor.ended(ej.job, ej.row)
        if pruned is not None and result.status == "pruned":
            result.reason = pruned
        if retry(self, ej, result, display):  # --retries: it runs again, queued
            return
        ej.result = result
        ej.row.status, ej.row.score = result.status, result.score
        ej.row.elapsed, ej.row.reason = result.elapsed, result.reason
        epochs = [[s, v] for s, v in sorted(self.study.intermediate(ej.job).items())]
        self.journal.write("end", job=ej.job, name=ej.row.name, status=result.status,
                           score=result.score, reason=result.reason,
                           elapsed=round(result.elapsed, 3), worker_label=ej.row.worker,
                           values=epochs)  # fmt: skip
        self.study.end(ej.job, result.status, result.score)
        display.update(ej.row)
        self.job_context(ej)
        self.ctx.set_prop(ContextKey.JOB_ELAPSED, result.elapsed)
        fire(self.handlers, "end_job", self.ctx)
        if self.tracker is not None:
            try:
                self.tracker.end_job(self.ctx)
            except Exception as exc:  # the search goes on; --resume logs it later
                log.error("MLflow: %s not tracked: %r", ej.row.name, exc)
        self.ended += 1
        if self.ended % len(self.options.workers) == 0:
            fire(self.handlers, "round_ended", self.ctx)
        recs = self.ask(
            "refine_recommendation",
            self.outcome(ej, result.score, result.status, epochs),
            self.ctx,
        )
        self.accept(recs, [])

    def ask(self, method: str, *args: Any) -> Any:
        """Call the controller. A controller that raises (a user's own, say) ends the
        search with where it raised; the journal keeps what ran, for --resume."""
        try:
            return getattr(self.controller, method)(*args)
        except SearchError:  # a usage the controller refuses (--enqueue): it says why
            raise
        except JobSpecError as exc:  # a grid too large to expand: the space, not a bug
            raise SearchError(
                f"{exc} ({type(self.controller).__name__}); or cap it with --max-jobs "
                "and --controller random or tpe"
            ) from exc
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            raise SearchError(
                f"the controller {type(self.controller).__name__}.{method} raised "
                f"{type(exc).__name__}: {exc} ({frame.filename}:{frame.lineno}); "
                f"fix it, then resume with --resume --run-id {self.options.run_id}"
            ) from exc

    def stop_running(self, running: dict[Future, tuple[EngineJob, Worker]]) -> None:
        """Kill the running jobs (they count as not run: a resume runs them again) and
        journal the interruption; their trials end FAIL and their MLflow runs KILLED at
        once, marked interrupted, not left RUNNING until a resume."""
        self.executor.abort()
        wait(list(running))
        try:
            self.journal.write("interrupted")
        except JournalError:  # the error that stopped the search says more
            pass
        interrupted(self.study, self.tracker, [ej.job for ej, _ in running.values()])

    def started_count(self) -> int:
        return sum(1 for ej in self.jobs if ej.row.status != "queued")

    def run(self, display: Display) -> str:
        """Run the search to its end; the status: finished, stopped or interrupted. The
        run folder is locked while it runs; its MLflow parent run ends however it ends
        (FINISHED, KILLED on Ctrl-C or SIGTERM, FAILED on an error)."""
        status = "failed"
        try:
            self.lock()
            self.prepare()
            state = self.open()
            track_open(self, state)
            to_display(display, self)
            if state.done:
                if not self.options.retrain_top:
                    display.note(
                        f"{self.run_dir}: the search had finished; nothing to run"
                    )
                status = "finished"
            else:
                status = self.search(display)
            if self.options.retrain_top and status in ("finished", "stopped"):
                from claragen.runtime.retrain import retrain

                self.retrained = retrain(self, display, self.options.retrain_top,
                                         self.options.retrain_args)  # fmt: skip
            return status
        except KeyboardInterrupt:  # before the loop's own handling of it
            status = "interrupted"
            raise
        finally:
            self.finish_tracking(status)
            self.run_lock.release()

    def search(self, display: Display) -> str:
        """The loop, with Ctrl-C and SIGTERM turned into a clean stop; whatever ends it
        early stops the running jobs first (they count as not run)."""
        running: dict[Future, tuple[EngineJob, Worker]] = {}
        status = "finished"
        # Ctrl-C and SIGTERM set a flag that the loop reads at least once a second: an
        # exception raised wherever the signal lands can be swallowed (a weakref
        # callback, a __del__), a flag cannot.
        self.interrupted = False
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._on_signal)
        pool = ThreadPoolExecutor(
            len(self.options.workers), thread_name_prefix="worker"
        )
        try:
            with display:
                self.loop(pool, running, display)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: kill the jobs, keep the journal
            status = "interrupted"
            self.stop_running(running)
            display.interrupted()
            display.note(f"interrupted: resume with {resume_hint(self.options)}")
        except BaseException:  # the controller, a write, a compile: the error says
            self.stop_running(running)
            raise
        finally:
            pool.shutdown(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if status == "finished":
            self.close_not_rerun()
            if self.ctx.stop_work_asked():
                status = "stopped"
                self.journal.write(
                    "stop", reason=self.ctx.stop_reason, by=self.ctx.stopped_by
                )
                display.note(f"stopped: {self.ctx.stop_reason}")
            self.journal.write("done", status=status)
        fire(self.handlers, "shutdown", self.ctx)
        return status

    def close_not_rerun(self) -> None:
        """Jobs a crash cut short that the search did not run again before it ended
        (--max-jobs or a stop came first): their trial ends FAIL and the run of their
        cut attempt goes, so the search ends with nothing RUNNING."""
        for ej in self.jobs:
            if ej.result is not None or ej.job not in self.cut_short:
                continue
            self.study.fail(ej.job, "not_run_again")
            if self.tracker is not None:
                try:
                    for rid in self.tracker.runs_of(ej.job):
                        self.tracker.client.delete_run(rid)
                except Exception as exc:
                    log.error("MLflow: %s's cut-short run not deleted: %r", ej.job, exc)

    def finish_tracking(self, status: str) -> None:
        """End the MLflow parent run; an MLflow error is logged, not raised (it would
        hide the error that ended the search)."""
        if self.tracker is None:
            return
        best = self.best()
        try:
            files = artefacts(self.run_dir, self.header, best, self.key_metric())
            self.tracker.finish(MLFLOW_STATUS.get(status, "FAILED"),
                                None if best is None else best.result.score,  # type: ignore[union-attr]
                                files)  # fmt: skip
        except Exception as exc:
            log.error("MLflow: the run of the search was not ended: %r", exc)

    def loop(
        self,
        pool: ThreadPoolExecutor,
        running: dict[Future, tuple[EngineJob, Worker]],
        display: Display,
    ) -> None:
        """Start queued jobs on free workers; end each job as it finishes; until no job
        is queued (within --max-jobs, and no stop was asked) and none is running."""
        free = list(self.options.workers)
        limit = self.options.max_jobs
        while True:
            if self.interrupted:
                raise KeyboardInterrupt
            while free and not self.ctx.stop_work_asked():
                ej = next((e for e in self.jobs if e.row.status == "queued"), None)
                if ej is None or (limit is not None and self.started_count() >= limit):
                    break
                worker = free.pop(0)
                spec = self.start(ej, worker, display)
                running[pool.submit(self.executor.execute, spec)] = (ej, worker)
            if not running:
                return
            done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                ej, worker = running.pop(future)
                self.end(ej, future.result(), display)
                free.append(worker)
                free.sort(key=lambda w: w.index)
            for ej, _ in running.values():
                self.monitor.follow(ej.job, ej.row, display)
            if display.live is not None:
                display.live.update(display.table())

    def _on_signal(self, signum: int, frame: object) -> None:
        self.interrupted = True

    def best(self) -> EngineJob | None:
        scored = [
            ej
            for ej in self.finished()
            if ej.result and ej.result.status == "ok" and ej.result.score is not None
        ]
        return ranking.best(scored, lambda ej: ej.result.score, self.direction)  # type: ignore[union-attr]

    def leaderboard(self, width: int | None = None):
        values = {ej.job: ej.rec.values for ej in self.jobs}
        rows = [ej.row for ej in self.finished()]
        return leaderboard(rows, values, f"leaderboard of {self.options.run_id}", width,
                           self.direction)  # fmt: skip
