"""What the CLI shows a person: the search space as a table, and diffs of generated code."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from claragen.transpiler.passes.expand_jobs import grid_size
from claragen.transpiler.space import SearchSpace

SCRIPT = "train.py"


def space_rows(space: SearchSpace) -> list[dict]:
    return [
        {
            "id": p.id,
            "domain": p.domain,
            "type": p.type,
            "targets": p.targets,
            "args": [a.name for a in p.args],
            "aliases": [a.alias for a in p.args if a.alias],
            "constants": [a.const for a in p.args if a.const],
            "line": p.span.line if p.span else None,
        }
        for p in space.params
    ]


def show_space(
    space: SearchSpace, source: str, as_json: bool, float_steps: int
) -> None:
    rows = space_rows(space)
    size = grid_size(space, float_steps)
    if as_json:
        data = {
            "source": source,
            "params": rows,
            "grid_size": size,
            "float_steps": float_steps,
        }
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"search space of {source}")
    for column in ("id", "domain", "type", "targets", "aliases", "line"):
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = (row["id"], row["domain"], row["type"], json.dumps(row["targets"]),
                 ", ".join(row["aliases"]), str(row["line"]))  # fmt: skip
        table.add_row(*(escape(c) for c in cells))
    console = Console(width=120)
    console.print(table)
    console.print(
        f"{len(rows)} parameter(s); --jobs grid makes {size} job(s) "
        f"with --float-steps {float_steps}"
    )


def collect_scripts(path: Path) -> dict[str, tuple[str, str]]:
    """job id (or "") -> (label, text) of the scripts at `path`: a script, a job folder, or an
    output folder with a manifest.json."""
    if path.is_file():
        return {"": (str(path), path.read_text())}
    manifest = path / "manifest.json"
    if manifest.is_file():
        jobs = json.loads(manifest.read_text())["jobs"]
        return {
            job["id"]: (str(path / job["script"]), (path / job["script"]).read_text())
            for job in jobs
        }
    if (path / SCRIPT).is_file():
        return {"": (str(path / SCRIPT), (path / SCRIPT).read_text())}
    raise OSError(f"{path}: not a config, a script, a job folder or an output folder")


def diff_scripts(
    left: dict[str, tuple[str, str]], right: dict[str, tuple[str, str]]
) -> str:
    """Unified diffs of paired scripts: the only script of each side, else by job id."""
    if len(left) == 1 and len(right) == 1:
        pairs = [(next(iter(left.values())), next(iter(right.values())))]
    else:
        empty = ("/dev/null", "")
        pairs = [
            (left.get(k, empty), right.get(k, empty))
            for k in sorted(set(left) | set(right))
        ]
    out = []
    for (label_a, text_a), (label_b, text_b) in pairs:
        out += difflib.unified_diff(
            text_a.splitlines(keepends=True),
            text_b.splitlines(keepends=True),
            fromfile=label_a,
            tofile=label_b,
        )
    return "".join(out)
