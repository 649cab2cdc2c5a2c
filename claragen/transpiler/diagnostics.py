"""Source positions and diagnostics.

Passes report problems to a `Diagnostics` sink and go on where that is safe; the driver
raises `CompileError` once per phase, so a user sees every problem of a file in one run::

    config_train.json:41:17: error[E200]: unknown variable 'learning_rat'
       41 |         "lr": "{learning_rat}"
          |               ^
    help: did you mean 'learning_rate'?

Every diagnostic carries a stable code (`claragen.transpiler.codes`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from claragen.gates import show
from claragen.transpiler.codes import CODES, check


@dataclass(frozen=True, order=True)
class Span:
    """A position in a source file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        if self.line < 1:  # the file as a whole (it cannot be read)
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<command line>", 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    code: str  # a key of codes.CODES: "E401"
    span: Span
    message: str
    help: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The form of `claragen check --format json`."""
        return {
            "severity": self.severity,
            "code": self.code,
            "name": CODES[self.code].name,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "message": self.message,
            "help": self.help,
        }


@dataclass
class SourceFiles:
    """The text of every file read, so that diagnostics can quote their line."""

    texts: dict[str, str] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def add(self, name: str, text: str) -> None:
        self.texts[name] = text
        self.lines.pop(name, None)

    def line(self, span: Span) -> str | None:
        text = self.texts.get(span.file)
        if text is None or span.line < 1:
            return None
        if span.file not in self.lines:  # split once per file, not once per diagnostic
            # at "\n" only, as the parser counts lines (not at U+2028, U+0085 or a
            # lone "\r", which a JSON string may hold)
            self.lines[span.file] = [ln.removesuffix("\r") for ln in text.split("\n")]
        lines = self.lines[span.file]
        return lines[span.line - 1] if span.line <= len(lines) else None


@dataclass
class Diagnostics:
    """The sink that passes report to."""

    items: list[Diagnostic] = field(default_factory=list)
    seen: set[Diagnostic] = field(default_factory=set, repr=False)

    def add(self, diag: Diagnostic) -> None:
        """Keep `diag` unless the same was said already (each job runs the passes); a
        set remembers what was said, so that many diagnostics cost linear time."""
        if diag not in self.seen:
            self.seen.add(diag)
            self.items.append(diag)

    def error(
        self, code: str, span: Span, message: str, help: str | None = None
    ) -> None:
        self.add(Diagnostic("error", check(code), span, message, help))

    def warning(
        self, code: str, span: Span, message: str, help: str | None = None
    ) -> None:
        self.add(Diagnostic("warning", check(code), span, message, help))

    def missing_args(
        self, span: Span, who: str, missing: list[str], locator: str, why: str = ""
    ) -> None:
        """E402: `who` needs args the config does not give; `why` follows, from ":" or
        ";" on."""
        names = ", ".join(repr(m) for m in missing)
        self.error(
            "E402",
            span,
            f"{who} needs the argument{'s' * (len(missing) > 1)} {names}, which the "
            f"config does not give{why} ({locator})",
            f'add {", ".join(f"{m!r}: ..." for m in missing)} to its "args"',
        )

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise CompileError(list(self.items))


class CompileError(Exception):
    """Raised once per phase with every diagnostic collected so far."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__(f"{sum(d.severity == 'error' for d in diagnostics)} error(s)")


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A `help:` text naming the closest candidate, or None."""
    options = sorted(set(candidates))
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if not close:  # a shortened or lengthened name: "probability" for "prob"
        close = sorted(
            (
                c
                for c in options
                if min(len(c), len(name)) >= 3
                and (name.startswith(c) or c.startswith(name))
            ),
            key=lambda c: (-len(c), c),
        )[:1]
    return f"did you mean {close[0]!r}?" if close else None


MAX_QUOTE = 120  # the longest part of a source line a diagnostic quotes


def format_diagnostic(diag: Diagnostic, sources: SourceFiles) -> str:
    """`file:line:col: severity[CODE]: message`, the source line with a caret, and the
    help. Each part is shown as terminal text (gates/show.py): a config's control
    characters and line breaks are written as escapes, so that one diagnostic stays
    its lines, and a terminal shows what the file holds."""
    out = [show.text(f"{diag.span}: {diag.severity}[{diag.code}]: {diag.message}")]
    text = sources.line(diag.span)
    if text is not None:
        column = max(diag.span.column - 1, 0)
        if len(text) > MAX_QUOTE:  # a window of the line around the caret
            start = max(column - MAX_QUOTE // 2, 0)
            text = ("..." if start else "") + text[start : start + MAX_QUOTE] + "..."
            column -= start - (3 if start else 0)
        gutter = f"{diag.span.line:>5} | "
        out.append(gutter + show.text(text))
        caret = len(show.text(text[:column]))  # escapes widen what comes before it
        out.append(" " * (len(gutter) - 2) + "| " + " " * caret + "^")
    if diag.help:
        out.append(show.text(f"help: {diag.help}"))
    return "\n".join(out)


def format_all(
    diags: Iterable[Diagnostic], sources: SourceFiles, max_errors: int = 50
) -> str:
    diags = sorted(diags, key=lambda d: (d.span, d.severity, d.message))
    shown = [format_diagnostic(d, sources) for d in diags[:max_errors]]
    if len(diags) > max_errors:
        shown.append(f"... and {len(diags) - max_errors} more")
    n_err = sum(d.severity == "error" for d in diags)
    n_warn = len(diags) - n_err
    summary = f"{n_err} error{'s' * (n_err != 1)}"
    if n_warn:
        summary += f", {n_warn} warning{'s' * (n_warn != 1)}"
    return "\n\n".join(shown) + f"\n\n{summary}"
