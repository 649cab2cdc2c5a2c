"""`claragen automl` behind its options (automl.py): the search they describe, run.

Clara's own command line passed the run's settings as `--set`: `run_id=`, `workers=`,
`trainconf=` (the training config in config/) are read as the options they were; any other
`--set` key used as `{key}` in config_automl.json fills it, and the rest override the
training config's variables, as in `claragen compile`.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from claragen.cli.inputs import make_compilation  # the compiler's own options
from claragen.gates import show
from claragen.runtime import automl_conf as conf_mod
from claragen.runtime.automl_conf import AutomlConfError, read_automl_conf
from claragen.runtime.controllers import BUILTIN, Controller
from claragen.runtime.engine import Search, SearchError, SearchOptions
from claragen.runtime.executor import LocalExecutor
from claragen.runtime.handlers import (
    HANDLER_DEFAULTS,
    CheckpointRetention,
    MMARHandler,
    TimeBudget,
    log,
)
from claragen.runtime.journal import Journal, JournalState
from claragen.runtime.live import Display
from claragen.runtime.recorded import OptionsError, record, resumed
from claragen.runtime.workers import WorkerSpecError, parse_workers
from claragen.transpiler.diagnostics import CompileError, Diagnostics, format_all

CLARA_SETS = ("run_id", "workers", "trainconf")
RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
MMAR_AUTOML_CONF = Path("config/config_automl.json")


class UsageError(Exception):
    """Bad options: the message says which and what to do (exit 2 in the CLI)."""


@dataclass
class AutomlArgs:
    """`claragen automl`'s options; the defaults are the command line's. An option whose
    value is None was left out (`--resume` then takes the recorded one); `with_defaults`
    gives each its default (DEFAULTS)."""

    config: Path | None = None
    mmar: Path | None = None
    env: Path | None = None
    automl_conf: Path | None = None
    run_id: str | None = None
    workers: str | None = None
    controller: str | None = None
    max_jobs: int | None = None
    seed: int | None = None
    tracking_uri: str | None = None
    resume: bool = False
    sets: tuple[tuple[str, str], ...] = ()
    job_args: str | None = None
    job_timeout: float | None = None
    output: Path | None = None
    float_steps: int | None = None
    target: str | None = None
    pythonpath: tuple[Path, ...] = ()
    executor: str | None = None
    ray_address: str | None = None
    tracking: bool | None = None
    pruner: str | None = None
    retrain_top: int | None = None
    retrain_args: str | None = None
    optimize: tuple[str, ...] | None = None  # the rewrites of train_fast.py; () none
    # not an option: the controller's parallel asks of the run resumed (its worker count
    # under its --max-jobs), which its replay must repeat
    parallel: int | None = None
    pruner_warmup: int | None = None  # None: a quarter of a job's epochs (study.py)
    pruner_startup: int | None = None  # None: 2
    # TPE's first job: the config's own values (None: yes)
    default_first: bool | None = None
    keep: str | None = None  # whose checkpoints stay: best (the default) | all
    experiment: str | None = None  # MLflow's; None: the MMAR folder's name
    time_budget: str | None = None  # no job starts after it: "3600", "90m", "2h"
    enqueue: tuple[str, ...] | None = None  # TPE's first jobs: "NAME=VALUE ..." each
    warm_start: str | None = None  # an earlier run's id, whose jobs TPE learns from
    retries: int | None = None  # a failed job runs again, up to this many times
    more_time: bool = False  # --resume with --time-budget: a stopped search goes on


# the value of each option left out (and not recorded by the run that is resumed)
DEFAULTS: dict[str, Any] = {
    "seed": 0, "job_args": "", "float_steps": 3, "target": "auto", "executor": "local",
    "tracking": True, "pruner": "none", "retrain_top": 0, "retrain_args": "",
    "optimize": (), "keep": "best", "retries": 0,
}  # fmt: skip


def with_defaults(args: AutomlArgs) -> AutomlArgs:
    return replace(
        args, **{k: v for k, v in DEFAULTS.items() if getattr(args, k) is None}
    )


def defaults_of(args: AutomlArgs) -> AutomlArgs:
    """The options as `claragen automl` has them when none is given."""
    return AutomlArgs(run_id=args.run_id, resume=args.resume, output=args.output)


def experiment_of(mmar_root: Path | None) -> str:
    """The MLflow experiment of a search left without --experiment: its MMAR folder's
    name (each MMAR's searches together, apart from other MMARs' on a shared server)."""
    from claragen.runtime.tracking import EXPERIMENT

    return mmar_root.resolve().name if mmar_root is not None else EXPERIMENT


def cuda_devices() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def split_sets(args: AutomlArgs, conf_text: str) -> tuple[dict, dict, list[str]]:
    """--set pairs -> (Clara's run settings, config_automl.json variables, compile sets)."""
    clara: dict[str, str] = {}
    variables: dict[str, str] = {}
    compile_sets: list[str] = []
    for key, value in args.sets:
        if key in CLARA_SETS:
            clara[key] = value
        elif "{" + key + "}" in conf_text:
            variables[key] = value
        else:
            compile_sets.append(f"{key}={value}")
    if "trainconf" in clara:
        variables.setdefault("trainconf", clara["trainconf"])
    return clara, variables, compile_sets


def make_search(args: AutomlArgs, console: Console) -> Search:

    conf_path = args.automl_conf
    if conf_path is None and args.mmar and (args.mmar / MMAR_AUTOML_CONF).is_file():
        conf_path = args.mmar / MMAR_AUTOML_CONF
    elif conf_path is not None and not conf_path.is_file() and args.mmar:
        conf_path = args.mmar / "config" / conf_path  # Clara: a file name in config/
    conf_text = conf_mod.read_conf_text(conf_path) if conf_path else ""
    clara, variables, compile_sets = split_sets(args, conf_text)
    conf = read_automl_conf(conf_path, variables)

    config = args.config
    trainconf = clara.get("trainconf") or conf.train_config_file()
    if config is None and args.mmar is not None and trainconf:
        # a file of the MMAR's config/ folder, as Clara had it: not a path out of it
        if Path(trainconf).name != trainconf or trainconf in (".", ".."):
            raise AutomlConfError(
                f"the training config {show.quoted(trainconf)} (trainconf, or "
                "MMARHandler's train_config_file) must be a file name of the MMAR's "
                "config/ folder; give another config as CONFIG"
            )
        config = args.mmar / "config" / trainconf
    if args.target == "bundle":
        raise UsageError(
            "an AutoML search runs scripts: use --target plain, engines or auto"
        )
    comp = make_compilation(config, args.env, compile_sets, args.mmar, None,
                            "grid", args.float_steps, args.seed, None, args.target,
                            optimize=args.optimize or ())  # fmt: skip
    mmar_root = comp.mmar_root or Path(".")
    search_path = [mmar_root / "custom", *args.pythonpath]

    executor = make_executor(args)
    try:
        return build_search(args, comp, conf, clara, search_path, executor)
    except BaseException:
        executor.close()
        raise


def make_executor(args: AutomlArgs):
    """LocalExecutor, or RayExecutor on the cluster at --ray-address (none: a local Ray)."""
    if args.executor == "local":
        if args.ray_address:
            raise UsageError("--ray-address needs --executor ray")
        return LocalExecutor()
    if args.executor != "ray":
        raise UsageError(f"--executor {args.executor!r}: use local or ray")
    from claragen.runtime.ray_executor import RayExecutor, RayUnavailable

    try:
        return RayExecutor(args.ray_address)
    except RayUnavailable as exc:
        raise UsageError(str(exc)) from None
    except ConnectionError as exc:
        raise UsageError(f"--ray-address {args.ray_address}: {exc}") from None


def build_search(args: AutomlArgs, comp, conf, clara: dict, search_path: list[Path],
                 executor) -> Search:  # fmt: skip
    # With Ray, a worker's GPUs are a count: Ray picks them among the cluster's.
    gpus = executor.gpu_count() if args.executor == "ray" else cuda_devices()
    try:
        workers = parse_workers(args.workers or clara.get("workers") or "1", gpus)
    except WorkerSpecError as exc:
        raise UsageError(str(exc)) from None
    if args.max_jobs is not None and len(workers) > args.max_jobs:
        log.info("%d workers for at most %d jobs (--max-jobs): %d of them are used",
                 len(workers), args.max_jobs, args.max_jobs)  # fmt: skip
        workers = workers[: args.max_jobs]
    job_args = split_args("--job-args", args.job_args)
    output = (args.output or (comp.mmar_root or Path(".")) / "automl").resolve()
    check_space(comp, args)
    controller = build_controller(
        args, conf, args.parallel or len(workers), search_path,
        warm_start(args, output, comp.config_path),
    )  # fmt: skip
    handlers = [
        conf_mod.build(spec, conf_mod.HANDLERS, search_path) for spec in conf.handlers
    ] or [cls() for cls in HANDLER_DEFAULTS]
    handlers = with_retention([h for h in handlers if h is not None], args.keep)
    if args.time_budget is not None:
        handlers.append(TimeBudget(parse_duration("--time-budget", args.time_budget)))

    run_id = args.run_id or clara.get("run_id") or time.strftime("run_%Y%m%d_%H%M%S")
    if not RUN_ID.fullmatch(run_id):
        raise UsageError(
            f"run id {run_id!r} must be a plain folder name: letters, digits, '_', '-' "
            "and '.', not starting with '.' (the run folder stays under automl/)"
        )
    options = SearchOptions(
        run_id=run_id,
        output=output,
        workers=workers,
        max_jobs=args.max_jobs,
        resume=args.resume,
        job_args=job_args,
        job_timeout=args.job_timeout,
        pruner=check_pruner(args.pruner),
        pruner_warmup=args.pruner_warmup,
        pruner_startup=check_startup(args),
        retrain_top=args.retrain_top,
        more_time=args.more_time,
        retrain_args=split_args("--retrain-args", args.retrain_args),
        retries=args.retries or 0,
    )
    header = {"options": record(args),
              "config": str(comp.config_path), "automl_conf": conf.source,
              "controller": type(controller).__name__, "seed": args.seed,
              "workers": [str(w) for w in workers], "executor": args.executor,
              "pruner": args.pruner, "pruner_warmup": args.pruner_warmup,
              "pruner_startup": args.pruner_startup}  # fmt: skip
    search = Search(comp, controller, handlers, options, header=header,
                    executor=executor)  # fmt: skip
    if not args.tracking and args.tracking_uri:
        raise UsageError("--no-tracking and --tracking-uri: give one of them")
    uri = None
    if args.tracking:
        from claragen.runtime.tracking import TrackingError, check_server

        uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        if uri is not None:  # a resume goes to the same store, whatever its shell says
            search.header["options"]["tracking_uri"] = uri
        try:
            check_server(
                uri
            )  # an unreachable server: an error before anything is written
        except TrackingError as exc:
            raise UsageError(str(exc)) from None
    search.lock()  # before MLflow opens the run folder's store
    if not args.tracking:
        return search
    try:
        from claragen.runtime.tracking import MLflowTracker, local_uri

        uri = uri or local_uri(search.run_dir)
        experiment = args.experiment or experiment_of(comp.mmar_root)
        search.header["options"]["experiment"] = experiment  # (a resume's)
        search.tracker = MLflowTracker(uri, search.run_dir, search.journal, experiment)
    except BaseException:
        search.run_lock.release()
        raise
    return search


# The options of a job's script that the engine sets itself, per job: --job-args may not
# move a job's checkpoints (or, through a journal, send them elsewhere).
ENGINE_OPTIONS = ("--mmar-ckpt-dir", "--mmar-root")


def split_args(option: str, text: str) -> tuple[str, ...]:
    try:
        words = tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"{option} {text!r}: {exc}; quote as in a shell") from None
    owned = [w for w in words if w.split("=", 1)[0] in ENGINE_OPTIONS]
    if owned:
        raise UsageError(
            f"{option}: {owned[0].split('=', 1)[0]} is set by the search for each job "
            "(its folder in the run folder); leave it out"
        )
    return words


DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh]?)$")


def parse_duration(flag: str, text: str) -> float:
    """`90`, `90s`, `45m`, `2h` as seconds."""
    match = DURATION.match(text.strip())
    if match is None or float(match[1]) <= 0:
        raise UsageError(f"{flag} {text!r}: give a duration, e.g. 3600, 90m or 2h")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def with_retention(handlers: list[Any], keep: str | None) -> list[Any]:
    """--keep best: the checkpoints of the best jobs stay (as many as MMARHandler's
    num_mmars_to_keep, else 3), a pruned or failed job's go; --keep all: every one."""
    if keep == "all":
        return handlers
    if keep != "best":
        raise UsageError(f"--keep {keep!r}: use best or all")
    mmar = [h for h in handlers if isinstance(h, MMARHandler)]
    return [*handlers, CheckpointRetention(mmar[0].keep if mmar else 3)]


def check_startup(args: AutomlArgs) -> int | None:
    """--pruner-warmup and --pruner-startup tune a pruner: without one they do nothing."""
    for flag, value in (("--pruner-warmup", args.pruner_warmup),
                        ("--pruner-startup", args.pruner_startup)):  # fmt: skip
        if value is not None and args.pruner == "none":
            raise UsageError(f"{flag} tunes a pruner: give --pruner too")
    if args.pruner_startup is not None and args.pruner not in (None, "median"):
        raise UsageError(
            f"--pruner-startup is the median pruner's; --pruner {args.pruner} "
            "judges by rungs of epochs (--pruner-warmup sets the first)"
        )
    return args.pruner_startup


def check_pruner(name: str) -> str:
    from claragen.runtime.study import PRUNERS

    if name not in PRUNERS:
        raise UsageError(f"--pruner {name!r}: use one of {', '.join(PRUNERS)}")
    return name


def check_space(comp, args: AutomlArgs) -> None:
    """What the space must hold, said before the run folder is made (a journal that
    recorded a bad option could not be resumed): a name for each parameter, and each
    --enqueue's names and values."""
    from claragen.runtime.params import names_of, parse
    from claragen.runtime.rundir import SearchError

    try:  # (on a copy: the search's own compile reports the config's diagnostics)
        _, base = replace(comp, diags=Diagnostics()).build()
    except CompileError:
        return  # (the search says why, with every diagnostic, when it compiles)
    try:
        names_of(tuple(base.space.params))
        for text in args.enqueue or ():
            parse(tuple(base.space.params), text, "--enqueue")
    except SearchError as exc:
        raise UsageError(str(exc)) from None


def warm_start(
    args: AutomlArgs, output: Path, config: Path | None = None
) -> Path | None:
    """--warm-start RUN_ID: the journal of that earlier run of the same automl folder. A
    run of another config is a warning that names both: its scores came from that one.
    """
    if args.warm_start is None:
        return None
    journal = output / args.warm_start / "journal.jsonl"
    if not RUN_ID.fullmatch(args.warm_start) or args.warm_start == args.run_id:
        raise UsageError(f"--warm-start {args.warm_start!r}: give the run id of an "
                         f"earlier search in {output}")  # fmt: skip
    if not journal.is_file():
        raise UsageError(f"--warm-start {args.warm_start!r}: {journal} is no search "
                         "journal; give the run id of an earlier search")  # fmt: skip
    header = JournalState.of(Journal(journal).read()).header or {}
    options = header.get("options") if isinstance(header.get("options"), dict) else {}
    theirs = options.get("config") or header.get("config")  # (options': resolved)
    if config is not None and isinstance(theirs, str) and not same_file(theirs, config):
        log.warning("--warm-start %s: that search compiled %s, this one %s; TPE learns "
                    "from scores of the other config", args.warm_start,
                    show.quoted(theirs), show.quoted(str(config)))  # fmt: skip
    return journal


def same_file(a: str, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except (OSError, ValueError, RuntimeError):  # a null byte, a symlink loop
        return False


def build_controller(
    args: AutomlArgs, conf, parallel: int, search_path: list[Path],
    warm: Path | None = None,
) -> Controller:  # fmt: skip
    ours = {"seed": args.seed, "parallel": parallel, "float_steps": args.float_steps}
    first = {"default_first": args.default_first is not False,
             "enqueue": tuple(args.enqueue or ()),
             "warm_start": None if warm is None else str(warm)}  # fmt: skip
    if args.controller is not None:
        if args.controller not in ("grid", "random", "tpe"):
            raise UsageError(
                f"--controller {args.controller!r}: use grid, random or tpe"
            )
        conf_args = conf.controller.args if conf.controller else {}
        tpe = first if args.controller == "tpe" else {}
        if (args.enqueue or warm) and not tpe:
            raise UsageError(f"--enqueue, --warm-start: the {args.controller} "
                             "controller runs its own jobs; give --controller tpe")  # fmt: skip
        return BUILTIN[args.controller](**{**conf_args, **ours, **tpe})
    if conf.controller is None:
        # none given: TPE, for as many jobs as the space's grid has (--max-jobs: fewer)
        log.info("no controller given: TPE (Optuna), the config's own values first%s",
                 "" if args.max_jobs else ", as many jobs as the grid has")  # fmt: skip
        return BUILTIN["tpe"](**ours, **first, grid_budget=True)
    if conf.controller.path is not None:
        return conf_mod.build(conf.controller, BUILTIN, search_path)
    if conf.controller.name in ("tpe", "TPEController", "ReinforcementController"):
        return conf_mod.build(conf.controller, BUILTIN, search_path, **ours, **first)
    if args.enqueue or warm:
        raise UsageError("--enqueue, --warm-start: the config_automl.json's controller "
                         "runs its own jobs; give --controller tpe")  # fmt: skip
    return conf_mod.build(conf.controller, BUILTIN, search_path, **ours)


def error(console: Console, message: str) -> None:
    """`error: message`, as it is: no rich markup in it is read (paths, `claragen[ray]`)."""
    show.line(console, f"error: {message}", style="red")


def run_automl(args: AutomlArgs) -> int:
    """The search; 0 when it ran and a job scored (others may have failed), 2 on bad
    options, 1 on bad input or when every job failed, 130 when interrupted. Errors go
    to stderr."""
    show.setup_logging(logging.INFO)
    # MLflow's own console lines (run links, "Creating initial MLflow database tables")
    # stay out of the live display
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    console = show.console()
    errors = show.console(stderr=True)
    try:
        more = args.resume and args.time_budget is not None  # (before the record's)
        args = replace(with_defaults(resumed(args, defaults_of(args))), more_time=more)
        search = make_search(args, console)
    except (UsageError, OptionsError) as exc:
        error(errors, str(exc))
        return 2
    except (AutomlConfError, SearchError) as exc:
        error(errors, str(exc))
        return 1
    try:
        status = search.run(
            Display(f"claragen automl {search.options.run_id}", console)
        )
    except (AutomlConfError, SearchError) as exc:
        error(errors, str(exc))
        return 1
    except CompileError as exc:
        show.echo(format_all(exc.diagnostics, search.compilation.sources), err=True)
        return 1
    except Exception as exc:  # the tracking store's own errors: a line, not its trace
        if not type(exc).__module__.startswith("mlflow"):
            raise
        error(errors, f"MLflow: {exc}; see --tracking-uri, or --no-tracking")
        return 1
    finally:
        search.executor.close()
    show.render(console, search.leaderboard(console.width))
    if search.retrained:
        from claragen.runtime.retrain import board

        show.render(console, board(search, search.retrained, console.width))
    best = search.best()
    if best is not None:
        show.line(console, f"best: {best.row.name} score {best.result.score:.4f} "  # type: ignore[union-attr]
                           f"({search.run_dir / best.row.name})")  # fmt: skip
    show.line(console, f"journal: {search.journal.path}")
    if status == "interrupted":
        return 130
    if search.finished() and best is None:
        error(errors, "every job failed; see their reasons above and their log.txt")
        return 1
    return 0
