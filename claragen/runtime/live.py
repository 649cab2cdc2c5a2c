"""Seeing a search: a live table while it runs, a leaderboard at the end (rich).

On a terminal the table redraws in place; elsewhere (CI, `make demo`, a log file) each
job's start and end is one line. Everything shown is shown as it is: job names, reasons,
values and titles come from configs and scripts, and no rich markup in them is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text


@dataclass
class JobRow:
    job: str
    name: str = ""
    worker: str = ""
    status: str = "queued"
    score: float | None = None
    started: float | None = None
    elapsed: float | None = None
    reason: str = ""

    def elapsed_text(self) -> str:
        if self.elapsed is not None:
            return f"{self.elapsed:.1f} s"
        if self.started is not None:
            return f"{time.monotonic() - self.started:.0f} s"
        return ""


def _score(score: float | None) -> str:
    return "" if score is None else f"{score:.4f}"


class Display:
    def __init__(self, title: str, console: Console | None = None) -> None:
        self.console = console or Console()
        self.title = title
        self.rows: dict[str, JobRow] = {}
        self.live: Live | None = None

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self.live = Live(self.table(), console=self.console, refresh_per_second=2)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(None, None, None)
            self.live = None

    def table(self) -> Table:
        table = Table(title=Text(self.title))
        for column in ("job", "worker", "status", "score", "elapsed"):
            table.add_column(column, justify="right" if column == "score" else "left")
        for row in self.rows.values():
            if row.status == "queued":
                continue
            table.add_row(*map(Text, (row.name or row.job, row.worker, row.status,
                                      _score(row.score), row.elapsed_text())))  # fmt: skip
        return table

    def update(self, row: JobRow) -> None:
        self.rows[row.job] = row
        if self.live is not None:
            self.live.update(self.table())
        elif row.status == "running":
            self.note(f"start {row.name} on {row.worker}")
        elif row.status in ("ok", "failed"):
            what = _score(row.score) if row.status == "ok" else f"FAILED: {row.reason}"
            self.note(f"end   {row.name}: {what} ({row.elapsed_text()})")

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)


def leaderboard(rows: list[JobRow], values: dict[str, dict], title: str) -> Table:
    """Jobs by score, best first; failed jobs last with their reason."""
    table = Table(title=Text(title))
    for column in ("rank", "job", "score", "status", "values"):
        table.add_column(column)
    ok = sorted((r for r in rows if r.score is not None), key=lambda r: -r.score)  # type: ignore[operator]
    failed = [r for r in rows if r.score is None and r.status == "failed"]
    for i, row in enumerate(ok + failed, start=1):
        shown = ", ".join(
            f"{k.rsplit(':', 1)[-1]}={v}" for k, v in values.get(row.job, {}).items()
        )
        status = row.status if row.status == "ok" else f"failed: {row.reason[:60]}"
        table.add_row(*map(Text, (str(i) if row.score is not None else "-",
                                  row.name or row.job, _score(row.score), status,
                                  shown)))  # fmt: skip
    return table
