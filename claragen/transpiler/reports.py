"""What the CLI shows a person: the search space as a table, and diffs of generated code."""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path

from claragen.gates import safe_io, show
from claragen.transpiler.passes.expand_jobs import grid_size
from claragen.transpiler.space import SearchSpace

SCRIPT = "train.py"
SCRIPT_PATH = re.compile(r"J\d{4,}/(train|train_fast|validate)\.py")


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
        show.echo(json.dumps(data, indent=2))  # ASCII: every control character escaped
        return
    columns = [(c, {"overflow": "fold"})
               for c in ("id", "domain", "type", "targets", "aliases", "line")]  # fmt: skip
    cells = [
        (row["id"], row["domain"], row["type"], json.dumps(row["targets"]),
         ", ".join(row["aliases"]), str(row["line"]))
        for row in rows
    ]  # fmt: skip
    out = show.console()
    out.width = 120
    show.render(out, show.table(f"search space of {source}", columns, cells))
    show.line(out, f"{len(rows)} parameter(s); --jobs grid makes {size} job(s) "
                   f"with --float-steps {float_steps}")  # fmt: skip


def collect_scripts(path: Path) -> dict[str, tuple[str, str]]:
    """job id (or "") -> (label, text) of the scripts at `path`: a script, a job folder, or an
    output folder with a manifest.json. The folder may come from elsewhere: its files are
    read through safe_io (no link, no FIFO, bounded), and the manifest names only files
    of the folder. Raises OSError or ValueError with what is wrong."""
    limit = safe_io.LIMITS["script"]
    if path.is_file():  # the user's own argument (a link to a script is theirs to give)
        return {"": (str(path), safe_io.read_text(os.path.realpath(path), limit))}
    manifest = path / "manifest.json"
    if manifest.exists() or manifest.is_symlink():
        data = safe_io.read_json(manifest, safe_io.LIMITS["json"])
        jobs = data.get("jobs") if isinstance(data, dict) else None
        if not isinstance(jobs, list):
            raise ValueError(f"{manifest}: no list of jobs; is this a claragen output?")
        scripts = {}
        for job in jobs:
            script = job.get("script") if isinstance(job, dict) else None
            if script is None:
                continue  # a bundle job: no script
            if not (isinstance(script, str) and SCRIPT_PATH.fullmatch(script)):
                raise ValueError(f"{manifest}: the job script {script!r} is no "
                                 "J0001/train.py of the folder")  # fmt: skip
            scripts[script.split("/")[0]] = (
                str(path / script),
                safe_io.read_text_inside(path, script, limit),
            )
        return scripts
    if (path / SCRIPT).exists() or (path / SCRIPT).is_symlink():
        return {"": (str(path / SCRIPT), safe_io.read_text(path / SCRIPT, limit))}
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
