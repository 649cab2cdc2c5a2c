"""MLflow tracking of a search: one parent run per search, one child run per job.

A child run holds the job's search values as params, its per-epoch key metric as a metric
series, its score, its status (FINISHED / FAILED) and its script, log and result.json as
artefacts. Without `--tracking-uri` the store is `mlflow.db` in the run folder (artefacts
in `mlartifacts/`): zero set-up, `mlflow ui --backend-store-uri sqlite:///.../mlflow.db`.

Exactly once, across crashes: a child run carries the tag `claragen.job`; the journal
records each one logged, and a resumed search looks a job up by its tag before logging it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from claragen.runtime.context import Context, ContextKey
from claragen.runtime.handlers import Handler, log

EXPERIMENT = "claragen-automl"
JOB_TAG = "claragen.job"
RUN_TAG = "claragen.run_id"
_KEY = re.compile(r"[^\w\-. :/]")


def local_uri(run_dir: Path) -> str:
    return f"sqlite:///{run_dir.resolve() / 'mlflow.db'}"


def param_key(param_id: str) -> str:
    """MLflow keys take letters, digits, `_-. :/`: `train.pre_transforms[5]:prob` ->
    `train.pre_transforms.5:prob`, `:learning_rate` -> `learning_rate`."""
    key = _KEY.sub("_", param_id.replace("[", ".").replace("]", ""))
    return key.lstrip(":") or "value"  # ":learning_rate" (a variable) -> learning_rate


class MLflowTracker(Handler):
    def __init__(self, tracking_uri: str, run_dir: Path, journal: Any) -> None:
        from mlflow.tracking import MlflowClient  # the runtime's dependency

        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.run_dir = run_dir
        self.journal = journal
        self.parent: str | None = None
        self.experiment_id: str | None = None

    def experiment(self) -> str:
        found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = (self.run_dir.resolve() / "mlartifacts").as_uri()
        return self.client.create_experiment(EXPERIMENT, artifact_location=location)

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
            self.client.update_run(parent, status="RUNNING")
        self.parent = parent
        return parent

    def logged(self, job: str) -> str | None:
        """The child run of `job`, if one was logged before a crash."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{self.parent}' "
            f"and tags.`{JOB_TAG}` = '{job}'",
        )
        return runs[0].info.run_id if runs else None

    def log_job(self, ctx: Context) -> str:
        assert self.parent is not None and self.experiment_id is not None
        job = ctx.get_prop(ContextKey.JOB_ID)
        name = ctx.get_prop(ContextKey.JOB_NAME)
        folder = Path(ctx.get_prop(ContextKey.JOB_DIR))
        score = ctx.get_prop(ContextKey.SCORE)
        result = ctx.get_prop(ContextKey.JOB_RESULT) or {}
        from mlflow.entities import Metric, Param, RunTag

        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={"mlflow.parentRunId": self.parent, JOB_TAG: job},
        )
        rid = run.info.run_id
        values = ctx.get_prop(ContextKey.SEARCH_VALUES) or {}
        params = [
            Param(param_key(k), json.dumps(v)[:6000]) for k, v in sorted(values.items())
        ]
        now = 0
        metrics = []
        key_metric = param_key(str(result.get("key_metric", "key_metric")))
        for epoch, value in enumerate(result.get("values") or [], start=1):
            if isinstance(value, int | float):
                metrics.append(Metric(key_metric, float(value), now, epoch))
        if score is not None:
            metrics.append(Metric("score", float(score), now, 0))
        tags = [
            RunTag("claragen.status", ctx.get_prop(ContextKey.JOB_STATUS)),
            RunTag(
                "claragen.reason", str(ctx.get_prop(ContextKey.JOB_REASON) or "")[:5000]
            ),
        ]
        self.client.log_batch(rid, metrics=metrics, params=params, tags=tags)
        for artefact in ("train.py", "log.txt", "models/result.json"):
            if (folder / artefact).is_file():
                self.client.log_artifact(rid, str(folder / artefact))
        status = "FINISHED" if score is not None else "FAILED"
        self.client.set_terminated(rid, status=status)
        return rid

    def end_job(self, ctx: Context) -> None:
        job = ctx.get_prop(ContextKey.JOB_ID)
        rid = self.logged(job) or self.log_job(ctx)
        self.journal.write("tracked", job=job, mlflow_run=rid)

    def finish(self, status: str, best: float | None) -> None:
        if self.parent is None:
            return
        if best is not None:
            self.client.log_metric(self.parent, "best_score", best)
        self.client.set_terminated(self.parent, status=status)
        log.info("MLflow: run %s at %s", self.parent, self.uri)
