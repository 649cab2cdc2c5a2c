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

from claragen.gates import show
from claragen.runtime.params import named as named_values
from claragen.runtime.params import text as param_text
from claragen.runtime.ranking import MAXIMIZE, ranked, ties


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
    epoch: str = ""  # "3/20": the last epoch its progress.jsonl lists
    metric: float | None = None  # its key metric's latest value
    eta: float | None = None  # seconds left, from its mean epoch time

    def elapsed_text(self) -> str:
        if self.elapsed is not None:
            return _duration(self.elapsed)
        if self.started is not None:
            return _duration(time.monotonic() - self.started)
        return ""

    def eta_text(self) -> str:
        if self.status != "running" or self.eta is None:
            return ""
        return _duration(self.eta)


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


RIGHT = ("epoch", "metric", "score", "elapsed", "ETA")


def _score(score: float | None) -> str:
    return "" if score is None else f"{score:.4f}"


# the lines of a live table that are not a job's: title, header, rules (the caption's
# are counted apart)
FRAME = 5


class Display:
    def __init__(self, title: str, console: Console | None = None) -> None:
        self.console = console or show.console()
        self.title = title
        self.rows: dict[str, JobRow] = {}
        self.live: Live | None = None
        self.metric = "metric"  # the key metric's name (the engine sets it)
        self.total: int | None = None  # jobs the search runs, where known
        self.workers = 1
        self.direction = MAXIMIZE

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self.live = show.live(self.console, self.table())
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self.table())
            self.live.__exit__(None, None, None)
            self.live = None

    def table(self) -> Table:
        """The jobs that started, the running ones always shown (last); the ended ones
        folded into one line, oldest first, where the terminal has no room for them;
        under it a summary: jobs ended of all, the best so far, the time left."""
        columns = [
            (c, {"justify": "right" if c in RIGHT or c == self.metric else "left",
                 "no_wrap": True})
            for c in ("job", "worker", "status", "epoch", self.metric, "score",
                      "elapsed", "ETA")
        ]  # fmt: skip
        started = [row for row in self.rows.values() if row.status != "queued"]
        running = [row for row in started if row.status == "running"]
        ended = [row for row in started if row.status != "running"]
        caption = self.summary(ended, running)
        fold = (
            "; 999 earlier ended jobs not shown (the leaderboard lists them at the end)"
        )
        # the caption's lines, a fold's words with it, and one for wrapping at a word
        lines = -(-(len(caption) + len(fold)) // max(self.console.size.width, 20)) + 1
        room = max(0, self.console.size.height - FRAME - lines - len(running))
        shown = ended[len(ended) - room :] if room else []
        if len(shown) < len(ended):
            caption += (f"; {len(ended) - len(shown)} earlier ended jobs not shown "
                        "(the leaderboard lists them at the end)")  # fmt: skip
        rows = [
            (row.name or row.job, row.worker, row.status, row.epoch,
             _score(row.metric), _score(row.score), row.elapsed_text(), row.eta_text())
            for row in shown + running
        ]  # fmt: skip
        return show.table(self.title, columns, rows, caption)

    def summary(self, ended: list[JobRow], running: list[JobRow]) -> str:
        """`5/12 ended (4 ok, 1 pruned), 2 running; best val_mean_dice 0.8123
        (W1_3_J3); about 4m10s left`."""
        counts = {
            s: sum(r.status == s for r in ended) for s in ("ok", "pruned", "failed")
        }
        said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        total = f"/{self.total}" if self.total else ""
        text = f"{len(ended)}{total} ended" + (f" ({said})" if said else "")
        text += f", {len(running)} running" if running else ""
        ok, _, _ = ranked(ended, lambda r: r.status, lambda r: r.score, self.direction)
        if ok:
            text += f"; best {self.metric} {ok[0].score:.4f} ({ok[0].name})"
        left = self.time_left(ended, running)
        return text + (f"; about {_duration(left)} left" if left is not None else "")

    def time_left(self, ended: list[JobRow], running: list[JobRow]) -> float | None:
        """The jobs not yet ended, at the mean time of those that ran to their end, on
        the workers; None before one did, or when the total is not known."""
        times = [r.elapsed for r in ended if r.status == "ok" and r.elapsed]
        if not times or not self.total:
            return None
        mean = sum(times) / len(times)
        queued = max(self.total - len(ended) - len(running), 0)
        now = max([r.eta or 0.0 for r in running], default=0.0)
        return now + mean * queued / max(self.workers, 1)

    def update(self, row: JobRow) -> None:
        self.rows[row.job] = row
        if self.live is not None:
            self.live.update(self.table())
        elif row.status == "running":
            self.note(f"start {row.name} on {row.worker}")
        elif row.status in ("ok", "failed", "pruned"):
            what = {"ok": _score(row.score), "failed": f"FAILED: {row.reason}",
                    "pruned": f"pruned {row.reason}"}[row.status]  # fmt: skip
            self.note(f"end   {row.name}: {what} ({row.elapsed_text()})")

    def progress(self, row: JobRow) -> None:
        """A running job's new epoch: the table redraws; elsewhere, a line."""
        self.rows[row.job] = row
        if self.live is not None:
            self.live.update(self.table())
        else:
            metric = "" if row.metric is None else f": {row.metric:.4f}"
            eta = f", ETA {row.eta_text()}" if row.eta_text() else ""
            self.note(f"      {row.name} epoch {row.epoch}{metric}{eta}")

    def interrupted(self) -> None:
        """After Ctrl-C: no job is left shown as running."""
        for row in self.rows.values():
            if row.status == "running":
                row.status, row.eta = "interrupted", None
                if row.started is not None:
                    row.elapsed = time.monotonic() - row.started

    def note(self, text: str) -> None:
        show.line(self.console, text)


def clip(text: str, width: int = 80) -> str:
    """`text` cut at a word boundary to at most `width` characters, with "..." when cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 3].rsplit(" ", 1)[0].rstrip(" ,;:")
    return (cut or text[: width - 3]) + "..."


def shown_values(values: dict, sep: str = ", ") -> str:
    """`learning_rate=0.0003, train.model:channels=[16, 32, 64]`: a job's values ({param
    id: value}) by their one name, as Python values (runtime/params.py)."""
    return sep.join(
        f"{show.text(key)}={show.text(param_text(v))}"
        for key, v in named_values(values).items()
    )


def leaderboard(rows: list[JobRow], values: dict[str, dict], title: str,
                width: int | None = None, direction: str = MAXIMIZE) -> Table:  # fmt: skip
    """Jobs by score, best first; then pruned jobs (by the score they reached), then
    failed ones with their reason. Jobs of equal score are said to tie."""
    # on a narrow console the values keep room for `learning_rate=0.0008` on a line
    narrow = width is not None and width < 140
    columns = [
        ("rank", {}), ("job", {}), ("score", {"justify": "right"}),
        ("status", {"max_width": max(12, width // 7) if narrow else None}),  # type: ignore[operator]
        ("elapsed", {"justify": "right"}),
        ("values", {"min_width": 25 if narrow else None, "overflow": "fold"}),
    ]  # fmt: skip
    cells = []
    ok, pruned, failed = ranked(rows, lambda r: r.status, lambda r: r.score, direction)
    tied = ties(r.score for r in ok)  # type: ignore[misc]
    rank = 0
    for row in ok + pruned + failed:
        if row in ok:
            rank += 1
            status = "ok (tie)" if round(row.score, 4) in tied else "ok"  # type: ignore[arg-type]
            shown_rank = str(rank)
        else:
            sep = " " if row.status == "pruned" else ": "
            status = (
                f"{row.status}{sep}{clip(row.reason)}" if row.reason else row.status
            )
            shown_rank = "-"
        cells.append((shown_rank, row.name or row.job, _score(row.score), status,
                      row.elapsed_text(), shown_values(values.get(row.job, {}), "\n")))  # fmt: skip
    return show.table(title, columns, cells)
