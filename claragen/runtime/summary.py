"""What a search leaves when it ends: beside its jobs, for its MLflow parent run to hold,
`best.json` (the best job, its score and values by their one name) and `report.html`,
with the config, the journal and the study. Written through the run folder's one gate
(rundir.write_file); a file that cannot be made is logged, never raised (the search's
own end must not be hidden)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from claragen.runtime.handlers import log
from claragen.runtime.params import named, text
from claragen.runtime.rundir import SearchError, write_file


def run_params(header: dict[str, Any], key_metric: str | None) -> dict[str, str]:
    """Every option of the search (as its journal records them, the controller, seed,
    pruner and direction the engine settled on) and its key metric, as the MLflow parent
    run's params."""
    options = dict(header.get("options") or {})
    options.update({k: v for k, v in header.items()
                    if k not in ("options", "options_seal", "run_id")})  # fmt: skip
    options["key_metric"] = key_metric
    if isinstance(options.get("tracking_uri"), str):  # its password stays out
        options["tracking_uri"] = without_password(options["tracking_uri"])
    return {k: text(v)[:6000] for k, v in sorted(options.items())}


def without_password(uri: str) -> str:
    """`https://alice:s3cret@host/` -> `https://alice@host/`."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def best_record(job: str, name: str, score: float, values: dict, **more: Any) -> dict:
    """best.json's record of a job (the search's, export-best's): its values by their
    one name and by the config's ids."""
    return {"job": job, "name": name, "score": score, **more,
            "values": named(values), "config_values": values}  # fmt: skip


def write_best(run_dir: Path, best: Any, key_metric: str | None) -> Path | None:
    """best.json: the best job that ran to its end (None: there is none)."""
    if best is None:
        return None
    data = best_record(best.job, best.row.name, best.result.score, best.rec.values,
                       key_metric=key_metric)  # fmt: skip
    path = run_dir / "best.json"
    try:
        write_file(path, json.dumps(data, indent=2) + "\n")
    except SearchError as exc:
        log.error("%s", exc)
        return None
    return path


def write_report(run_dir: Path) -> Path | None:
    from claragen.runtime.report import write_report  # (matplotlib, Optuna's plots)

    try:
        return write_report(run_dir)
    except Exception as exc:  # a report that cannot be drawn ends no search
        log.error("the report of %s was not written: %r", run_dir, exc)
        return None


def artefacts(run_dir: Path, header: dict[str, Any], best: Any,
              key_metric: str | None) -> tuple[Path, ...]:  # fmt: skip
    """The files of a search that ended, made where they are the search's own."""
    made = [write_best(run_dir, best, key_metric), write_report(run_dir)]
    config = Path(str(header.get("config", "")))
    files = [config, run_dir / "journal.jsonl", run_dir / "optuna.log", *made]
    return tuple(p for p in files if p is not None and p.name)


def interrupted(study: Any, tracker: Any, jobs: list[str]) -> None:
    """The jobs Ctrl-C (or SIGTERM) stopped: each trial FAIL, each MLflow run KILLED,
    at once (study.fail, tracking.interrupt)."""
    for job in jobs:
        study.fail(job, "interrupted")
        if tracker is not None:
            try:
                tracker.interrupt(job)
            except Exception as exc:  # (a resume deletes the run all the same)
                log.error("MLflow: %s's run not ended: %r", job, exc)


def to_display(display: Any, search: Any) -> None:
    """What the live table says of the search as a whole: the key metric's name (its
    column), how many jobs it runs (--max-jobs, else as many as the controller
    recommends), its workers and which way the scores go."""
    display.metric = search.key_metric() or "metric"
    from claragen.runtime.controllers import ListController

    rounds = getattr(search.controller, "max_rounds", None)
    if isinstance(search.controller, ListController):
        rounds = len(search.jobs)  # (grid, random: every job recommended at once)
    limits = [n for n in (search.options.max_jobs, rounds) if n]
    display.total = min(limits) if limits else None
    display.workers, display.direction = len(search.options.workers), search.direction


def track_open(search: Any, state: Any) -> None:
    """The search's MLflow parent run, with every option as its params: the journal's
    (a resume), else a new one; the jobs that ended before a crash and are not in MLflow
    yet are logged."""
    if search.tracker is None:
        return
    params = run_params(search.header, search.key_metric())
    parent = search.tracker.open(search.options.run_id, state.parent_run, params)
    if parent != state.parent_run:  # a new one (the first, or the store lost it)
        search.journal.write("parent", mlflow_run=parent)
    for ej in search.finished():  # ended before a crash, not yet in MLflow
        if ej.job not in state.tracked:
            search.job_context(ej)
            search.tracker.end_job(search.ctx)
