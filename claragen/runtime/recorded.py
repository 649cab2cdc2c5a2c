"""A search's options, recorded in its journal's first line, so that

    claragen automl --resume --run-id R -o DIR

needs nothing else: every option left out is the recorded one, and an option given that
differs from the recorded one is an error that names it (a resumed search must be the same
search, or the journal's replay would not hold). The recorded options are taken only when
their seal holds (seal.py): claragen recorded them on this machine, for this user.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from claragen.runtime import seal

# AutomlArgs field -> its command-line option
OPTIONS = {
    "config": "CONFIG", "mmar": "-m", "env": "--env", "automl_conf": "--automl-conf",
    "workers": "--workers", "controller": "--controller", "max_jobs": "--max-jobs",
    "seed": "--seed", "tracking_uri": "--tracking-uri", "sets": "--set",
    "job_args": "--job-args", "job_timeout": "--job-timeout",
    "float_steps": "--float-steps", "target": "--target", "pythonpath": "--pythonpath",
    "executor": "--executor", "ray_address": "--ray-address",
    "tracking": "--tracking/--no-tracking", "pruner": "--pruner",
    "pruner_warmup": "--pruner-warmup", "pruner_startup": "--pruner-startup",
    "default_first": "--default-first/--no-default-first", "keep": "--keep",
    "retrain_top": "--retrain-top", "retrain_args": "--retrain-args",
    "optimize": "--optimize", "experiment": "--experiment",
    "time_budget": "--time-budget", "enqueue": "--enqueue",
    "warm_start": "--warm-start", "retries": "--retries",
}  # fmt: skip
PATHS = ("config", "mmar", "env", "automl_conf")
# A resume may search further, or retrain more of the best: the journal's jobs replay
# the same either way.
FREE = ("max_jobs", "retrain_top", "retrain_args", "time_budget", "retries")


class OptionsError(Exception):
    pass


def record(args: Any) -> dict[str, Any]:
    """The options of `args` (AutomlArgs) as JSON values; paths made absolute."""
    out: dict[str, Any] = {}
    for name in OPTIONS:
        value = getattr(args, name)
        if name in PATHS and value is not None:
            value = str(Path(value).resolve())
        elif name == "pythonpath":
            value = [str(Path(p).resolve()) for p in value]
        elif name == "sets":
            value = [list(pair) for pair in value]
        elif name in ("optimize", "enqueue") and value is not None:
            value = list(value)
        out[name] = value
    return out


def _as_arg(name: str, value: Any) -> Any:
    if name in PATHS and value is not None:
        return Path(value)
    if name == "pythonpath":
        return tuple(Path(p) for p in value)
    if name == "sets":
        return tuple(tuple(pair) for pair in value)
    if name in ("optimize", "enqueue") and value is not None:
        return tuple(value)
    return value


def merge(args: Any, recorded: dict[str, Any], defaults: Any) -> Any:
    """`args` with each option left at its default taken from `recorded`; an option
    given with another value than the recorded one is an OptionsError."""
    changes = {}
    conflicts = []
    given_record = record(args)
    default_record = record(defaults)
    for name, flag in OPTIONS.items():
        if name not in recorded:
            continue
        given, was = given_record[name], recorded[name]
        if name in FREE and given != default_record[name]:
            continue  # the one option a resume may change
        if given == default_record[name] or given == was:
            changes[name] = _as_arg(name, was)
        else:
            conflicts.append(
                f"{flag} {json.dumps(given)}: the run was started with "
                f"{json.dumps(was)}"
            )
    if conflicts:
        raise OptionsError(
            "--resume continues the search as it was started; "
            + "; ".join(conflicts)
            + ". Leave these options out, or start another --run-id"
        )
    known = {f.name for f in fields(args)}
    return replace(args, **{k: v for k, v in changes.items() if k in known})


def run_folder(args: Any) -> Path | None:
    """Where `--resume` looks for the run, as the search puts it: -o, else the MMAR's
    automl/, else the automl/ of the config's MMAR root (see Compilation)."""
    if args.run_id is None:
        return None
    if args.output is not None:
        output = Path(args.output)
    elif args.mmar is not None:
        output = Path(args.mmar) / "automl"
    elif args.config is not None:  # the MMAR root, as Compilation finds it
        parent = Path(args.config).parent
        output = (parent.parent if parent.name == "config" else parent) / "automl"
    else:
        output = Path("automl")
    return output / args.run_id


def unsealed(args: Any, defaults: Any, options: dict, folder: Path) -> Any:
    """A journal whose options claragen did not record on this machine (a run folder
    from elsewhere, or an edited journal): none of them is taken. When none is given
    either, the error lists them, for the user to read and give again."""
    given = {k: v for k, v in record(args).items() if v != record(defaults)[k]}
    if not given:
        shown = shlex.join(
            word
            for k, v in options.items()
            if k in OPTIONS and v not in (None, [], False, "")
            for word in _words(OPTIONS[k], v)
        )
        raise OptionsError(
            f"{folder / 'journal.jsonl'} records the options the search started with, "
            "but claragen did not record them on this machine for you (a run folder "
            "from elsewhere, or an edited journal), so none is taken from it: they name "
            "what runs and where it writes. Read them, and give the ones you want "
            f"again with --resume: {shown}"
        )
    return replace(args, output=Path(args.output) if args.output else folder.parent)


def _words(flag: str, value: Any) -> list[str]:
    """An option as the command-line words that give it (shlex.join quotes them, so
    that a line pasted into a shell runs nothing a journal wrote)."""
    if flag == "CONFIG":
        return [str(value)]
    if flag == "--optimize":
        return ["--optimize"]
    if flag == "--tracking/--no-tracking":
        return ["--tracking" if value else "--no-tracking"]
    if flag == "--set":
        return [w for pair in value for w in ("--set", "=".join(map(str, pair)))]
    if isinstance(value, list):
        return [w for item in value for w in (flag, str(item))]
    if value is True:
        return [flag]
    return [flag, str(value)]


def resumed(args: Any, defaults: Any) -> Any:
    """--resume: `args` completed from the run's recorded options (as it is when the run
    has none, or no journal: the search then says what is missing)."""
    folder = run_folder(args)
    if not args.resume or folder is None:
        return args
    from claragen.runtime.journal import Journal, JournalError

    try:
        records = Journal(folder / "journal.jsonl").read()
    except (JournalError, OSError):
        return args
    header = records[0] if records and records[0].get("event") == "search" else {}
    options = header.get("options")
    if not isinstance(options, dict):
        return args
    if not seal.holds(options, header.get("options_seal")):
        return unsealed(args, defaults, options, folder)
    out = merge(args, options, defaults)
    workers = header.get("workers")
    parallel = len(workers) if isinstance(workers, list) and workers else None
    if hasattr(out, "parallel"):
        out = replace(out, parallel=parallel)
    return replace(out, output=Path(args.output) if args.output else folder.parent)
