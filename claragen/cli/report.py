"""`claragen report`: the HTML page of a search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claragen.gates import show


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="automl/<run_id>")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="HTML file (default: RUN_DIR/report.html)"),
    ] = None,
) -> None:
    """Write an HTML page of a search: the leaderboard, the score of each job in time
    order, and the score against each searched value."""
    from claragen.runtime.report import write_report

    try:
        path = write_report(run_dir, out)
    except ValueError as exc:
        show.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    show.echo(str(path))
