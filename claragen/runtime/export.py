"""`claragen export-best RUN_DIR -o DIR`: the best job of a search as a config of its own,
beside its script, as Clara's MMARExecutor(remove_search_augs=True) left each job's MMAR:

    DIR/config/config_train.json   the search's config with the job's values written in
                                   and every `search` and `apply` block removed
    DIR/train.py                   the job's script (and the other scripts of its folder)
    DIR/best.json                  the job, its score and its values by their one name

Each value goes where the search put it: a first-level parameter's at the first level, a
component's arg in its `args`, an `@attribute` (`@disabled`) on the component itself; an
`apply` block's arg takes the value of the alias or free tag it names. The config is the
JSON file the search compiled, read again; nothing in it runs.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime.journal import Journal, JournalState
from claragen.runtime.ranking import MAXIMIZE, best
from claragen.runtime.rundir import SearchError
from claragen.runtime.summary import best_record
from claragen.transpiler.context import parse_set_value
from claragen.transpiler.passes.apply_search import takes
from claragen.transpiler.space import SearchParam

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def best_job(run_dir: Path) -> tuple[dict, dict, dict]:
    """(the search's header, the best job's recommend record, its end record)."""
    try:
        state = JournalState.of(Journal(run_dir / "journal.jsonl").read())
    except OSError as exc:
        raise SearchError(f"cannot read {run_dir / 'journal.jsonl'}: {exc}") from None
    if state.header is None:
        raise SearchError(f"{run_dir} holds no search journal (journal.jsonl)")
    ok = [e for e in state.ended.values()
          if e.get("status") == "ok" and e.get("score") is not None]  # fmt: skip
    direction = str(state.header.get("direction", MAXIMIZE))
    top = best(ok, lambda e: e["score"], direction)
    if top is None:
        raise SearchError(
            f"{run_dir}: no job of the search ran to its end with a score"
        )
    rec = next(r for r in state.recommended if r["job"] == top["job"])
    return state.header, rec, top


def locate(config: Any, locator: str) -> dict:
    """The component at a parameter's locator (`train.pre_transforms[2]`)."""
    here = config
    for key, index in _STEP.findall(locator):
        here = here[int(index)] if index else here[key]
    if not isinstance(here, dict):
        raise SearchError(f"{locator}: no component there in the config")
    return here


def _set(comp: dict, arg: str, value: Any) -> None:
    if arg.startswith("@"):  # an attribute (`@disabled`), not an init arg
        comp[arg[1:]] = value
    else:
        comp.setdefault("args", {})[arg] = value


def written_in(config: dict, params: tuple[SearchParam, ...], values: dict[str, Any],
               inert: frozenset[str] = frozenset()) -> dict:  # fmt: skip
    """`config` with a job's values ({param id: value}) written in and its `search` and
    `apply` blocks removed. A parameter in `inert` (W107: its values changed nothing in
    the job's script) keeps the config's own value, which is what the job trained."""
    out = copy.deepcopy(config)
    named_values: dict[str, Any] = {}  # alias or free tag -> its value
    for p in params:
        if p.id not in values or p.id in inert:
            continue
        for arg, v in zip(p.args, p.arg_values(values[p.id]), strict=True):
            if p.kind == "variable":
                out[arg.name] = v
            elif p.kind == "tag":
                named_values[arg.name.lstrip("@")] = v
            else:
                _set(locate(out, p.locator), arg.name, v)
            if arg.alias:
                named_values[arg.alias] = v

    def strip(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                strip(item)
        elif isinstance(node, dict):
            for arg, alias in dict(node.pop("apply", None) or {}).items():
                # (an arg the class does not take: the job did without it, E504)
                name = str(node.get("name", "")).split("#")[0] or None
                taken = takes(name, node.get("path"), arg)
                if str(alias).lstrip("@") in named_values and taken:
                    _set(node, arg, named_values[str(alias).lstrip("@")])
            node.pop("search", None)
            for item in node.values():
                strip(item)

    strip(out)
    return out


def export_best(run_dir: Path, out: Path, params: tuple[SearchParam, ...],
                inert: frozenset[str] = frozenset()) -> list[Path]:  # fmt: skip
    """Write the best job of the search in `run_dir` into `out`; the files written.
    `params`: the search's space, `inert`: the parameters whose values changed nothing
    in the job (the config compiled again)."""
    header, rec, end = best_job(run_dir)
    config_path = Path(str(header.get("config", "")))
    config = json.loads(safe_io.read_text(config_path, safe_io.LIMITS["json"]))
    target = out / "config" / config_path.name
    if target.resolve() == config_path.resolve():
        raise SearchError(f"-o {out}: {target} is the search's own config, which the "
                          "export would overwrite; give another folder")  # fmt: skip
    # the search's --set values, as its jobs trained with them (first-level values)
    for key, given in (header.get("options") or {}).get("sets") or []:
        config[key] = parse_set_value(given)
    exported = written_in(config, params, rec["values"], inert)
    out.parent.mkdir(parents=True, exist_ok=True)
    out = safe_io.make_folders(out.parent, out.name)  # (no link: refused)
    folder = safe_io.make_folders(out, "config")
    written = [folder / config_path.name]
    safe_io.replace(written[0], (json.dumps(exported, indent=2) + "\n").encode())
    job_dir = run_dir / end["name"]
    for script in sorted(job_dir.glob("*.py")):
        if safe_io.is_own_file(script):
            written.append(out / script.name)
            text = safe_io.read_bytes(script, safe_io.LIMITS["script"])
            safe_io.replace(written[-1], text)
    data = best_record(rec["job"], end["name"], end["score"], rec["values"],
                       search=str(run_dir))  # fmt: skip
    written.append(out / "best.json")
    safe_io.replace(written[-1], (json.dumps(data, indent=2) + "\n").encode())
    return written
