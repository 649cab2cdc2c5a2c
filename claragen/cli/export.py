"""`claragen export-best RUN_DIR -o DIR`: the best job of a search as a config of its own
(its values written in, the search blocks removed) beside its script."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claragen.cli.inputs import make_compilation
from claragen.gates import show


def export_best_command(
    run_dir: Annotated[Path, typer.Argument(help="automl/<run_id>")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write it into")],
) -> None:
    """Write the best job of a search into DIR: config/config_train.json with the job's
    values written in and every search and apply block removed (as Clara's
    remove_search_augs did), the job's train.py beside it, and best.json."""
    from claragen.runtime.export import best_job, export_best
    from claragen.runtime.rundir import SearchError
    from claragen.transpiler.diagnostics import CompileError
    from claragen.transpiler.passes.expand_jobs import Job

    try:
        header, rec, _ = best_job(run_dir)
        options = header.get("options") or {}
        sets = [f"{k}={v}" for k, v in options.get("sets") or []]
        comp = make_compilation(
            Path(str(header.get("config"))),
            Path(options["env"]) if options.get("env") else None,
            sets, Path(options["mmar"]) if options.get("mmar") else None, None,
            "grid", options.get("float_steps") or 3,
        )  # fmt: skip
        config, base = comp.build()
        _, ctx = comp.job_passes(config, base, Job(rec["job"], rec["values"]))
        written = export_best(run_dir, out, tuple(base.space.params),
                              frozenset(ctx.inert_params))  # fmt: skip
    except (SearchError, CompileError, OSError, ValueError) as exc:
        show.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for path in written:
        show.echo(str(path))
