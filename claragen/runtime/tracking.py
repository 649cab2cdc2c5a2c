"""MLflow tracking of a search: one parent run per search, one child run per job.

A child run starts when its job starts. It holds the job's search values as params; every
metric of every epoch, the learning rate and the epoch's seconds, logged while the job runs
(from its progress.jsonl) at their epoch and wall time; its score and duration; its status
(FINISHED, KILLED when pruned, FAILED; the tag `claragen.status` says ok / pruned / failed)
and its script, log, result.json and progress.jsonl as artefacts. Without `--tracking-uri` the store is `mlflow.db` in the run folder (artefacts
in `mlartifacts/`): zero set-up, `mlflow ui --backend-store-uri sqlite:///.../mlflow.db`.
`MLFLOW_TRACKING_URI` is honoured when `--tracking-uri` is not given; an http(s) server
must answer before the search starts.

Exactly once, across crashes: a child run carries the tag `claragen.job`; the journal
records each one logged, and a resumed search looks a job up by its tag before logging it.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime import params as names
from claragen.runtime.context import Context, ContextKey
from claragen.runtime.handlers import Handler, log
from claragen.runtime.progress import Epoch
from claragen.runtime.rundir import SearchError

EXPERIMENT = "claragen-automl"  # a search with no MMAR folder to name its experiment
JOB_TAG = "claragen.job"
JOB_ARGS = "claragen.job_args"  # a child run's param: its script's arguments
RUN_TAG = "claragen.run_id"
_KEY = re.compile(r"[^\w\-. :/]")
# a job's status -> its child run's (a pruned job was stopped early: KILLED)
RUN_STATUS = {"ok": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}


def local_uri(run_dir: Path) -> str:
    return f"sqlite:///{run_dir.resolve() / 'mlflow.db'}"


def metric_key(metric: str) -> str:
    """A metric's name as an MLflow key (letters, digits, `_-. :/`)."""
    return _KEY.sub("_", metric) or "value"


class TrackingError(SearchError):
    """The tracking store cannot take the search (the message says why and what to do)."""


def artifact_path(uri: str | None) -> Path | None:
    """The local folder of an artefact URI (`file:///...` or a plain path); None for
    any other scheme."""
    if not uri:
        return None
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme == "" and uri.startswith("/"):
        return Path(uri)
    return None


def check_server(uri: str | None, timeout: float = 5.0) -> None:
    """An http(s) tracking URI must answer MLflow's /health within `timeout` seconds:
    else a TrackingError that says so, before the search writes anything (MLflow itself
    would retry for minutes, then raise from deep inside a request)."""
    if uri is None or not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as r:
            r.read(64)
    except urllib.error.HTTPError as exc:
        if exc.code not in (401, 403):  # a server that asks for credentials is there
            raise TrackingError(
                f"MLflow at {uri}: /health answered HTTP {exc.code}; is this an MLflow "
                "server?"
            ) from None
    except (OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise TrackingError(
            f"MLflow at {uri} does not answer ({why}); start the server, give another "
            "--tracking-uri, or leave it out to track in the run folder (mlflow.db)"
        ) from None


class MLflowTracker(Handler):
    def __init__(self, tracking_uri: str, run_dir: Path, journal: Any,
                 experiment: str = EXPERIMENT) -> None:  # fmt: skip
        # a server that stops answering mid-search: a few retries, not minutes of them
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        # its run links on stdout: the search's own last line says where its runs are
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        from mlflow.tracking import MlflowClient  # the runtime's dependency

        # MLflow's console lines (run links, its database set-up) stay out of the display
        logging.getLogger("mlflow").setLevel(logging.WARNING)

        self.uri = tracking_uri
        self.run_dir = run_dir
        self.experiment_name = experiment
        if self.local:  # a FIFO or a device there would hang SQLite
            try:
                safe_io.check_regular(run_dir / "mlflow.db", 4 * 1024 * safe_io.MiB)
            except OSError as exc:
                raise TrackingError(
                    f"cannot open {run_dir / 'mlflow.db'}: {safe_io.reason(exc)}"
                ) from None
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.journal = journal
        self.parent: str | None = None
        self.experiment_id: str | None = None
        self.active: dict[str, str] = {}  # job -> its child run, while it runs
        self.steps: dict[str, set[int]] = {}  # job -> epochs logged while it ran

    @property
    def local(self) -> bool:
        """Whether the store is the run folder's own (mlflow.db): what it says about
        where artefacts go is then checked, since the run folder may come from
        elsewhere. (A server's or a user's store decides for itself.)"""
        return self.uri == local_uri(self.run_dir)

    def artifacts_inside(self, uri: str | None) -> bool:
        """Whether an artefact location of the store stays in the run folder's
        mlartifacts/, with no link on the way."""
        root = self.run_dir.resolve() / "mlartifacts"
        path = artifact_path(uri)
        return (
            path is not None
            and safe_io.no_link_on_the_way(self.run_dir.resolve(), path)
            and safe_io.inside(path, root)
        )

    def experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment_name)
        if found is not None and found.lifecycle_stage == "deleted":
            # deleted in the UI, which keeps its name: it holds the search again
            log.warning("MLflow experiment %r was deleted; it is restored for this "
                        "search", self.experiment_name)  # fmt: skip
            self.client.restore_experiment(found.experiment_id)
        if found is not None:
            if self.local and not self.artifacts_inside(found.artifact_location):
                raise TrackingError(
                    f"the run folder's MLflow store ({self.run_dir / 'mlflow.db'}) puts "
                    f"artefacts at {found.artifact_location!r}, outside "
                    f"{self.run_dir / 'mlartifacts'}; claragen writes nothing there: "
                    "remove mlflow.db (the search's own records are in its journal), or "
                    "give another --run-id"
                )
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = (self.run_dir.resolve() / "mlartifacts").as_uri()
        return self.client.create_experiment(
            self.experiment_name, artifact_location=location
        )

    def open(self, run_id: str, parent: str | None, params: dict[str, str]) -> str:
        """The parent run: the journal's on resume, else a new one."""
        self.experiment_id = self.experiment()
        if parent is None:
            run = self.client.create_run(
                self.experiment_id,
                run_name=run_id,
                tags={RUN_TAG: run_id, "mlflow.source.name": "claragen automl"},
            )
            parent = run.info.run_id
            for key, value in params.items():
                self.client.log_param(parent, key, value)
        else:
            from mlflow.exceptions import MlflowException

            try:
                self.client.update_run(parent, status="RUNNING")
            except MlflowException:  # the store lost it (a new mlflow.db): a new one
                log.warning("MLflow has no run %s (the journal's parent run): the "
                            "search gets a new one", parent)  # fmt: skip
                return self.open(run_id, None, params)
        self.parent = parent
        return parent

    def runs_of(self, job: str) -> list[str]:
        """The child runs of `job` (normally one; none before it started)."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{self.parent}' "
            f"and tags.`{JOB_TAG}` = '{job}'",
        )
        return [r.info.run_id for r in runs]

    def logged(self, job: str) -> str | None:
        """The child run of `job`, if one was made before a crash."""
        runs = self.runs_of(job)
        return runs[0] if runs else None

    def create(self, ctx: Context, start_ms: int | None = None) -> str:
        assert self.parent is not None and self.experiment_id is not None
        from mlflow.entities import Param

        job = ctx.get_prop(ContextKey.JOB_ID)
        run = self.client.create_run(
            self.experiment_id,
            run_name=ctx.get_prop(ContextKey.JOB_NAME),
            start_time=start_ms,
            tags={
                "mlflow.parentRunId": self.parent,
                JOB_TAG: job,
                "claragen.status": "running",
            },  # fmt: skip
        )
        values = ctx.get_prop(ContextKey.SEARCH_VALUES) or {}
        params = [  # by their one name, as Python values (runtime/params.py)
            Param(k, names.text(v)[:6000])
            for k, v in sorted(names.named(values).items())
        ]
        args = ctx.get_prop(ContextKey.JOB_ARGS)
        if args is not None:  # (a retrain's are the search's, then its own)
            params.append(Param(JOB_ARGS, shlex.join(args)[:6000]))
        self.client.log_batch(run.info.run_id, params=params)
        return run.info.run_id

    def start_job(self, ctx: Context) -> None:
        """The job's child run, RUNNING from the job's start. A run left by an attempt
        that a crash cut short is deleted: the job runs again from its first epoch."""
        job = ctx.get_prop(ContextKey.JOB_ID)
        for old in self.runs_of(job):
            self.client.delete_run(old)
        self.active[job] = self.create(ctx, int(time.time() * 1000))
        self.steps[job] = set()

    def log_epochs(self, job: str, epochs: list[Epoch]) -> None:
        """Epochs of a running job, as its script writes them: every metric, the learning
        rate and the epoch's seconds, each at its epoch (step) and its wall time."""
        from mlflow.entities import Metric

        rid = self.active.get(job)
        if rid is None or not epochs:
            return
        metrics = []
        for e in epochs:
            stamp = int(e.time * 1000)
            named = {**e.metrics, "epoch_s": e.epoch_s}
            if e.lr is not None:
                named["lr"] = e.lr
            metrics += [
                Metric(metric_key(k), v, stamp, e.epoch) for k, v in named.items()
            ]
        self.client.log_batch(rid, metrics=metrics)
        self.steps.setdefault(job, set()).update(e.epoch for e in epochs)

    def finalize(self, rid: str, ctx: Context) -> None:
        """The end of a child run: the epochs not logged while it ran (from result.json),
        the score and duration, status and reason, the script, log and result."""
        from mlflow.entities import Metric, RunTag

        job = ctx.get_prop(ContextKey.JOB_ID)
        folder = Path(ctx.get_prop(ContextKey.JOB_DIR))
        score = ctx.get_prop(ContextKey.SCORE)
        status = ctx.get_prop(ContextKey.JOB_STATUS) or "failed"
        result = ctx.get_prop(ContextKey.JOB_RESULT) or {}
        key_metric = metric_key(str(result.get("key_metric", "key_metric")))
        if job in self.steps:
            logged = self.steps[job]
        else:  # after a crash: what the run holds
            history = self.client.get_metric_history(rid, key_metric)
            logged = {m.step for m in history}
        now = int(time.time() * 1000)
        metrics = [
            Metric(key_metric, float(value), now, epoch)
            for epoch, value in enumerate(result.get("values") or [], start=1)
            if isinstance(value, int | float) and epoch not in logged
        ]
        if score is not None:
            metrics.append(Metric("score", float(score), now, 0))
        elapsed = ctx.get_prop(ContextKey.JOB_ELAPSED)
        if isinstance(elapsed, int | float):
            metrics.append(Metric("duration_s", float(elapsed), now, 0))
        reason = str(ctx.get_prop(ContextKey.JOB_REASON) or "")[:5000]
        tags = [RunTag("claragen.status", status), RunTag("claragen.reason", reason)]
        self.client.log_batch(rid, metrics=metrics, tags=tags)
        self.log_files(rid, [folder / a for a in ("train.py", "log.txt",
                       "models/result.json", "models/progress.jsonl")])  # fmt: skip
        self.client.set_terminated(rid, status=RUN_STATUS.get(status, "FAILED"))

    def log_files(self, rid: str, paths: list[Path]) -> None:
        """The files of `paths` that are regular files (no link) as the run's
        artefacts; none where the run folder's store would put them outside it."""
        where = self.client.get_run(rid).info.artifact_uri
        if self.local and not self.artifacts_inside(where):
            log.warning("MLflow run %s keeps its artefacts at %r, outside the run "
                        "folder: none are logged", rid, where)  # fmt: skip
            return
        for path in paths:
            if safe_io.is_own_file(path):
                self.client.log_artifact(rid, str(path))

    def retried(self, job: str, attempt: int, reason: str) -> None:
        """A failed attempt that runs again (--retries): its run ends FAILED, kept under
        `claragen.job` = `J3.<attempt>` (the job's next run is its own)."""
        self.end_running(job, "FAILED", {JOB_TAG: f"{job}.{attempt}",
                         "claragen.status": "failed", "claragen.reason": reason[:5000]})  # fmt: skip

    def interrupt(self, job: str) -> None:
        """A running job that Ctrl-C (or SIGTERM) stopped: its run ends KILLED at once,
        `claragen.status=interrupted` (a resume deletes it and runs the job again)."""
        self.end_running(job, "KILLED", {"claragen.status": "interrupted"})

    def end_running(self, job: str, status: str, tags: dict[str, str]) -> None:
        """The run of a running job ends now, `status`, with `tags` (not logged as the
        job's end: the job runs again, or a resume runs it)."""
        rid = self.active.pop(job, None)
        if rid is not None:
            for key, value in tags.items():
                self.client.set_tag(rid, key, value)
            self.client.set_terminated(rid, status=status)
        self.steps.pop(job, None)

    def end_job(self, ctx: Context) -> None:
        job = ctx.get_prop(ContextKey.JOB_ID)
        rid = self.active.pop(job, None) or self.logged(job) or self.create(ctx)
        self.finalize(rid, ctx)
        self.steps.pop(job, None)
        self.journal.write("tracked", job=job, mlflow_run=rid)

    def finish(self, status: str, best: float | None,
               artefacts: tuple[Path, ...] = ()) -> None:  # fmt: skip
        """End the parent run: the best score, and the search's files as artefacts
        (the config, the journal, the study, the report, the best job's values)."""
        if self.parent is None:
            return
        if best is not None:
            self.client.log_metric(self.parent, "best_score", best)
        self.log_files(self.parent, list(artefacts))
        self.client.set_terminated(self.parent, status=status)
        log.info("MLflow: run %s at %s", self.parent, self.uri)
