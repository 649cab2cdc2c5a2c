"""The one way text reaches a terminal: every line claragen prints, every table it draws
and every log line it emits goes through `text`, which shows control characters escaped.

A config's keys, names, tags, searched values and file names, a run folder's job names
and reasons, a script's log: any of them may hold ESC, OSC or CSI sequences (which move
the cursor, rewrite the title, hide text, or make a link), C1 controls, line and paragraph
separators, or bidi controls (which make a terminal show other text than is there). They
are written as Python writes them in a string literal (`\\x1b`, `\\u202e`); a tab and the
line breaks of claragen's own layout are kept. Nothing here reads rich markup.

tests/gates/test_show.py scans claragen for any output around this module (print,
typer.echo, a rich Console, Table or Text made elsewhere, logging set up elsewhere).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

KEPT = frozenset("\t")  # shown as it is


def text(value: Any) -> str:
    """`value` as one piece of terminal text: every character that is not printable
    (C0 and C1 controls, DEL, line breaks, line and paragraph separators, bidi and
    other format characters, unassigned ones) written as its escape."""
    shown = value if isinstance(value, str) else str(value)
    if shown.isprintable():
        return shown
    return "".join(
        (
            c
            if c.isprintable() or c in KEPT
            else c.encode("unicode_escape").decode("ascii")
        )
        for c in shown
    )


def quoted(value: Any) -> str:
    """A config string quoted as Python would (`'x'`), escapes included; other values
    as `text`."""
    return repr(value) if isinstance(value, str) else text(value)


def block(message: Any) -> str:
    """Text of several lines: each line shown as `text`, the line breaks kept."""
    return "\n".join(text(line) for line in str(message).split("\n"))


def echo(message: Any = "", err: bool = False, nl: bool = True) -> None:
    """Print `message` (its lines shown as `text`) to stdout, or stderr with `err`."""
    typer.echo(block(message), err=err, nl=nl)


def console(stderr: bool = False) -> Console:
    """A rich console that reads no markup and highlights nothing it is given."""
    return Console(stderr=stderr, highlight=False)


def line(out: Console, message: Any, style: str | None = None) -> None:
    """One message (its lines shown as `text`) on a rich console, no markup read."""
    out.print(
        block(message), style=style, highlight=False, markup=False, soft_wrap=True
    )


def table(
    title: Any,
    columns: Sequence[tuple[str, dict]],
    rows: Iterable[Sequence[Any]],
    caption: Any = None,
) -> Table:
    """A rich table whose title, caption and cells are shown as `text` (a cell may keep
    line breaks: each line is `text`); `columns` are (header, add_column's options)."""
    out = Table(
        title=Text(text(title)),
        caption=None if caption is None else Text(text(caption)),
        caption_justify="left",
    )
    for header, options in columns:
        out.add_column(text(header), **options)
    for row in rows:
        out.add_row(*(Text(block(cell)) for cell in row))
    return out


def render(out: Console, renderable: Table) -> None:
    """Print a table made by `table`."""
    out.print(renderable)


def live(out: Console, renderable: Table) -> Live:
    """A live display of a table made by `table` (the caller enters and updates it)."""
    return Live(renderable, console=out, refresh_per_second=2)


class _Escaping(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return block(super().format(record))


def setup_logging(level: int = logging.INFO, fmt: str = "%(message)s") -> None:
    """Log lines on stderr, each shown as `text` (a log message may quote a config);
    like logging.basicConfig, nothing changes where the root logger has a handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_Escaping(fmt))
        root.addHandler(handler)
    root.setLevel(level)
