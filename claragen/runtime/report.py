"""`claragen report automl/<run_id>`: one self-contained HTML page of a search.

It reads only the run's journal: the leaderboard (jobs by score, failed ones with their
reason), the score of each job in the order the jobs ended, and the score against each
searched value (plots by matplotlib, inlined as SVG). A journal that is not a claragen
journal, or a page that cannot be written (or is a link), is a one-line ValueError.
"""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path
from typing import Any

from claragen.runtime.journal import Journal, JournalState
from claragen.runtime.rundir import SearchError


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _label(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return json.dumps(value)


def plots(rows: list[dict[str, Any]], values: dict[str, dict]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    scored = [r for r in rows if r.get("score") is not None]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(range(1, len(scored) + 1), [r["score"] for r in scored], "o-")
    ax.set_xlabel("job, in the order the jobs ended")
    ax.set_ylabel("score")
    for i, r in enumerate(scored, start=1):
        ax.annotate(
            r["name"],
            (i, r["score"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    figures.append(("Score per job, in time order", _svg(fig)))
    plt.close(fig)
    params = sorted({k for r in scored for k in values.get(r["job"], {})})
    for param in params:
        xs = [values[r["job"]].get(param) for r in scored]
        fig, ax = plt.subplots(figsize=(6, 3))
        if all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs):
            ax.plot(xs, [r["score"] for r in scored], "o")
        else:
            labels = sorted({_label(x) for x in xs})
            ax.plot(
                [labels.index(_label(x)) for x in xs], [r["score"] for r in scored], "o"
            )
            ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=7)
        ax.set_xlabel(param)
        ax.set_ylabel("score")
        figures.append((f"Score against {param}", _svg(fig)))
        plt.close(fig)
    return figures


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    journal = Journal(run_dir / "journal.jsonl")
    try:
        records = journal.read()
    except SearchError as exc:
        raise ValueError(str(exc)) from None
    if not records:
        raise ValueError(f"{run_dir} holds no search journal (journal.jsonl)")
    state = JournalState.of(records)
    values = {r["job"]: r["values"] for r in state.recommended}
    rows = [state.ended[job] for job in state.end_order]
    ranked = sorted(
        rows, key=lambda r: (r.get("score") is None, -(r.get("score") or 0))
    )
    header = state.header or {}
    esc = html.escape
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>claragen automl {esc(str(header.get('run_id', run_dir.name)))}</title>",
        "<style>body{font-family:sans-serif;margin:2em} td,th{padding:2px 8px;"
        "text-align:left;border-bottom:1px solid #ddd} .failed{color:#a00}</style>",
        "</head><body>",
        f"<h1>Search {esc(str(header.get('run_id', run_dir.name)))}</h1>",
        f"<p>config {esc(str(header.get('config', '?')))}, controller "
        f"{esc(str(header.get('controller', '?')))}, seed {esc(str(header.get('seed', '?')))}, "
        f"{len(rows)} jobs ended, {'finished' if state.done else 'not finished'}.</p>",
        "<h2>Leaderboard</h2><table><tr><th>rank</th><th>job</th><th>score</th>"
        "<th>status</th><th>elapsed</th><th>values</th></tr>",
    ]
    for i, r in enumerate(ranked, start=1):
        score = "" if r.get("score") is None else f"{r['score']:.4f}"
        shown = ", ".join(
            f"{k}={_label(v)}" for k, v in values.get(r["job"], {}).items()
        )
        status = (
            r["status"] if r["status"] == "ok" else f"failed: {r.get('reason', '')}"
        )
        cls = "" if r["status"] == "ok" else " class='failed'"
        lines.append(
            f"<tr{cls}><td>{i if r.get('score') is not None else '-'}</td>"
            f"<td>{esc(r['name'])}</td><td>{score}</td><td>{esc(status)}</td>"
            f"<td>{r.get('elapsed', 0):.1f} s</td><td>{esc(shown)}</td></tr>"
        )
    lines.append("</table>")
    for title, svg in plots(rows, values):
        lines += [f"<h2>{esc(title)}</h2>", svg]
    lines.append("</body></html>")
    out = out or run_dir / "report.html"
    try:
        with open(out, "w", encoding="utf-8", opener=_no_follow) as f:
            f.write("\n".join(lines) + "\n")
    except OSError as exc:
        raise ValueError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o644)
