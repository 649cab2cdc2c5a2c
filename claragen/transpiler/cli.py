"""The `claragen` command line."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import typer

from claragen import __version__
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.limits import file_label, parse_size
from claragen.transpiler.output import OutputError
from claragen.transpiler.passes.expand_jobs import JobSpecError, parse_jobs
from claragen.transpiler.pipeline import (
    TARGETS,
    Compilation,
    compile_files,
    compile_to_dir,
)
from claragen.transpiler.render import InternalError
from claragen.transpiler.reports import collect_scripts, diff_scripts, show_space

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Compile NVIDIA Clara Train configs into standalone PyTorch + MONAI scripts.",
)

MMAR_CONFIG = Path("config/config_train.json")
MMAR_ENV = Path("config/environment.json")
MMAR_VALIDATION = Path("config/config_validation.json")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"claragen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """claragen: Clara Train configs in, readable PyTorch out."""


SET_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z_][\w.-]*)=")


def parse_sets(values: list[str]) -> tuple[tuple[str, str], ...]:
    """`--set` words -> (key, value text). One word may hold several pairs, split where a
    KEY= begins, not at every space: `--set "CHANNELS=[1, 2] amp=true"`."""
    pairs = []
    for item in values:
        starts = list(SET_KEY.finditer(item))
        if not starts or item[: starts[0].start()].strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        for found, after in zip(starts, [*starts[1:], None], strict=True):
            end = after.start() if after else len(item)
            pairs.append((found.group(1), item[found.end() : end].strip()))
    return tuple(pairs)


def resolve_inputs(
    config: Path | None,
    env: Path | None,
    mmar: Path | None,
    validation: Path | None = None,
) -> tuple[Path | None, Path | None, Path | None]:
    """With -m, the MMAR's config/config_train.json, config/config_validation.json (when
    there is one) and config/environment.json are the defaults."""
    if config is None and validation is None:
        if mmar is None:
            raise typer.BadParameter(
                "give a CONFIG, --validation FILE, or -m MMAR_ROOT", param_hint="CONFIG"
            )
        config = mmar / MMAR_CONFIG
    elif config is None and mmar is not None and (mmar / MMAR_CONFIG).is_file():
        config = mmar / MMAR_CONFIG  # -m MMAR --validation F: beside the MMAR's train
    if validation is None and mmar is not None and (mmar / MMAR_VALIDATION).is_file():
        validation = mmar / MMAR_VALIDATION
    if env is None and mmar is not None and (mmar / MMAR_ENV).is_file():
        env = mmar / MMAR_ENV
    if env is None:
        main = config or validation
        sibling = main.parent / "environment.json"  # type: ignore[union-attr]
        env = sibling if sibling.is_file() else None
    return config, env, validation


ConfigArg = Annotated[
    Path | None,
    typer.Argument(
        help="config_train.json (default with -m: config/config_train.json)"
    ),
]
EnvOpt = Annotated[Path | None, typer.Option("-e", "--env", help="environment.json")]
SetOpt = Annotated[
    list[str],
    typer.Option("--set", help="Override a variable: --set KEY=VALUE (repeatable)"),
]
MmarOpt = Annotated[Path | None, typer.Option("-m", "--mmar", help="MMAR root folder")]
DialectOpt = Annotated[
    str | None, typer.Option("--dialect", help="Force the dialect: 3, 4.0 or 4.1")
]
JobsOpt = Annotated[
    str,
    typer.Option("--jobs", help="default | grid | random:N (the jobs of the search)"),
]
StepsOpt = Annotated[
    int, typer.Option("--float-steps", min=1, help="Grid points per float")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of --jobs random:N")]
# An option of fixed values is a Literal: the command line checks it (a usage error, exit
# 2) and --help lists its values.
Target = Literal["plain", "engines", "bundle", "auto"]
Format = Literal["text", "json"]
TargetOpt = Annotated[
    Target,
    typer.Option(
        "--target",
        help="plain (an explicit PyTorch loop), engines (MONAI's SupervisedTrainer), "
        "bundle (a MONAI bundle: configs/train.json), or auto (plain where it can, "
        "else engines)",
    ),
]

ImportByocOpt = Annotated[
    bool,
    typer.Option(
        "--import-byoc",
        help="Import the config's own (BYOC) classes to check their args; this runs "
        "their module code",
    ),
]
PythonPathOpt = Annotated[
    list[Path],
    typer.Option(
        "--pythonpath",
        help="A folder of BYOC modules besides the MMAR's custom/ (repeatable; with "
        "--import-byoc)",
    ),
]

MaxSizeOpt = Annotated[
    str,
    typer.Option(
        "--max-config-size",
        help="The largest config file claragen reads (bytes, or 500k, 4M)",
    ),
]

ValidationOpt = Annotated[
    Path | None,
    typer.Option(
        "--validation",
        help="config_validation.json or config_inference.json -> <job>/validate.py",
    ),
]


def make_compilation(
    config: Path | None,
    env: Path | None,
    set_: list[str],
    mmar: Path | None,
    dialect: str | None,
    jobs: str = "default",
    float_steps: int = 3,
    seed: int = 0,
    validation: Path | None = None,
    target: str = "auto",
    import_byoc: bool = False,
    pythonpath: list[Path] | None = None,
    max_config_size: str = "4M",
) -> Compilation:
    try:
        parse_jobs(jobs)
    except JobSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--jobs") from None
    try:
        max_bytes = parse_size(max_config_size)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-config-size") from None
    if target not in TARGETS:
        raise typer.BadParameter(
            f"{target!r} is no target; use {', '.join(TARGETS)}", param_hint="--target"
        )
    config_path, env_path, validation = resolve_inputs(config, env, mmar, validation)
    options = CompileOptions(
        set_values=parse_sets(set_),
        dialect=dialect,
        jobs=jobs,
        float_steps=float_steps,
        seed=seed,
        target=target,
        import_byoc=import_byoc,
        pythonpath=tuple(str(p) for p in pythonpath or ()),
        max_config_bytes=max_bytes,
    )
    return Compilation(
        config_path,
        options,
        env_path=env_path,
        mmar_root=mmar,
        validation_path=validation,
    )


def report(comp: Compilation, fn):
    """Run `fn`; bad input -> diagnostics and exit 1, a claragen bug -> exit 2."""
    try:
        result = fn()
    except CompileError as exc:
        typer.echo(format_all(exc.diagnostics, comp.sources), err=True)
        raise typer.Exit(1) from None
    except InternalError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (OSError, OutputError) as exc:
        typer.echo(f"error: {file_label(str(exc))}", err=True)
        raise typer.Exit(1) from None
    if comp.diags.warnings:
        typer.echo(format_all(comp.diags.warnings, comp.sources), err=True)
    return result


@app.command("compile")
def compile_command(
    config: ConfigArg = None,
    env: EnvOpt = None,
    set_: SetOpt = [],  # noqa: B006 (typer reads the default)
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder")] = Path(
        "out"
    ),
    mmar: MmarOpt = None,
    dialect: DialectOpt = None,
    jobs: JobsOpt = "default",
    float_steps: StepsOpt = 3,
    seed: SeedOpt = 0,
    validation: ValidationOpt = None,
    target: TargetOpt = "auto",
    import_byoc: ImportByocOpt = False,
    pythonpath: PythonPathOpt = [],  # noqa: B006
    max_config_size: MaxSizeOpt = "4M",
) -> None:
    """Compile a config into OUT/<job>/train.py (one per job), OUT/<job>/validate.py for a
    validation config, and OUT/manifest.json."""
    comp = make_compilation(
        config, env, set_, mmar, dialect, jobs, float_steps, seed, validation, target,
        import_byoc, pythonpath, max_config_size,
    )  # fmt: skip
    manifest = report(comp, lambda: compile_to_dir(comp, out))
    for job in manifest["jobs"]:
        for key in ("script", "validate"):
            if job.get(key):
                typer.echo(f"{out / job[key]}")


@app.command("check")
def check_command(
    config: ConfigArg = None,
    env: EnvOpt = None,
    set_: SetOpt = [],  # noqa: B006
    mmar: MmarOpt = None,
    dialect: DialectOpt = None,
    jobs: JobsOpt = "default",
    float_steps: StepsOpt = 3,
    seed: SeedOpt = 0,
    validation: ValidationOpt = None,
    target: TargetOpt = "auto",
    import_byoc: ImportByocOpt = False,
    pythonpath: PythonPathOpt = [],  # noqa: B006
    max_config_size: MaxSizeOpt = "4M",
    fmt: Annotated[
        Format,
        typer.Option("--format", help="json: for editors and CI"),
    ] = "text",
) -> None:
    """Run every pass and the lowering of every job without writing anything, and print
    every error and warning (exit 1 when there is an error)."""
    comp = make_compilation(
        config, env, set_, mmar, dialect, jobs, float_steps, seed, validation, target,
        import_byoc, pythonpath, max_config_size,
    )  # fmt: skip
    n_jobs = 0
    try:
        _, manifest = compile_files(comp, Path("out"))
        n_jobs = len(manifest["jobs"])
    except CompileError:
        pass  # every diagnostic is in comp.diags
    except InternalError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(check_report(comp, fmt, n_jobs))
    if comp.diags.errors:
        raise typer.Exit(1)


def check_report(comp: Compilation, fmt: str, n_jobs: int) -> str:
    diags = sorted(comp.diags.items, key=lambda d: (d.span, d.severity, d.message))
    if fmt == "json":
        return json.dumps(
            {
                "diagnostics": [d.to_json() for d in diags],
                "errors": len(comp.diags.errors),
                "warnings": len(comp.diags.warnings),
                "jobs": n_jobs,
            },
            indent=2,
        )
    main = comp.config_path or comp.validation_path
    if not diags:
        return f"{main}: no problems ({n_jobs} job{'s' * (n_jobs != 1)} checked)"
    return format_all(diags, comp.sources, comp.options.max_errors)


@app.command("smoke")
def smoke_command(
    config: Annotated[Path, typer.Argument(help="config_train.json")],
    env: EnvOpt = None,
    set_: SetOpt = [],  # noqa: B006
    target: TargetOpt = "auto",
    stand_ins: Annotated[
        bool,
        typer.Option(
            "--stand-ins",
            help="Stand in for bring-your-own modules that are missing (said in the result)",
        ),
    ] = False,
) -> None:
    """Compile CONFIG, make synthetic data that fits it, and run the script for two
    iterations and one validation on the CPU; print PASS or FAIL and why."""
    from claragen.smoke import smoke  # needs the run-time packages (numpy, nibabel)

    if env is None and (config.parent / "environment.json").is_file():
        env = config.parent / "environment.json"
    result = smoke(config, env, parse_sets(set_), target=target, stand_ins=stand_ins)
    typer.echo(str(result))
    if not result.passed:
        raise typer.Exit(1)


@app.command("space")
def space_command(
    config: ConfigArg = None,
    env: EnvOpt = None,
    set_: SetOpt = [],  # noqa: B006
    mmar: MmarOpt = None,
    dialect: DialectOpt = None,
    fmt: Annotated[
        Format,
        typer.Option("--format", help="json: instead of a table"),
    ] = "text",
    as_json: Annotated[
        bool, typer.Option("--json", hidden=True, help="The same as --format json")
    ] = False,
    float_steps: StepsOpt = 3,
) -> None:
    """Print the AutoML search space of a config: its parameters and the grid size."""
    comp = make_compilation(config, env, set_, mmar, dialect)
    config_ir, ctx = report(comp, comp.build)
    report(comp, comp.diags.raise_if_errors)
    show_space(ctx.space, comp.config_path.name, as_json or fmt == "json", float_steps)


@app.command("diff")
def diff_command(
    a: Annotated[
        Path, typer.Argument(help="config, output folder, job folder or script")
    ],
    b: Annotated[Path, typer.Argument(help="the same kind of thing to compare with")],
    env: EnvOpt = None,
    set_: SetOpt = [],  # noqa: B006
    jobs: JobsOpt = "default",
    float_steps: StepsOpt = 3,
    seed: SeedOpt = 0,
    exit_code: Annotated[
        bool,
        typer.Option("--exit-code", help="Exit 1 when the scripts differ (like git)"),
    ] = False,
) -> None:
    """Show the unified diff between the generated scripts of two configs, two jobs or two
    output folders (configs are compiled first, with the same options)."""

    def scripts(path: Path, tmp: Path) -> dict[str, tuple[str, str]]:
        if path.is_file() and path.suffix == ".json" and path.name != "manifest.json":
            comp = make_compilation(
                path, env, set_, None, None, jobs, float_steps, seed
            )
            # Both sides' comments name A's file, so that the diff shows code changes.
            comp.options = dataclasses.replace(comp.options, source_name=a.name)
            report(comp, lambda: compile_to_dir(comp, tmp))
            path = tmp
        return collect_scripts(path)

    with tempfile.TemporaryDirectory() as tmp:
        left = scripts(a, Path(tmp) / "a")
        right = scripts(b, Path(tmp) / "b")
        text = diff_scripts(left, right)
    typer.echo(text, nl=False)
    if exit_code and text:
        raise typer.Exit(1)


@app.command("automl")
def automl_command(
    config: ConfigArg = None,
    mmar: MmarOpt = None,
    env: EnvOpt = None,
    automl_conf: Annotated[
        Path | None,
        typer.Option(
            "--automl-conf",
            help="config_automl.json (default with -m: config/config_automl.json)",
        ),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Names automl/<run_id>/")
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            help="Clara's form: 0:0:1:1 (four workers on GPUs 0,0,1,1), 0,1:2,3 (two "
            "workers of two GPUs); on a CPU machine, a count",
        ),
    ] = None,
    controller: Annotated[
        Literal["grid", "random", "tpe"] | None,
        typer.Option(
            "--controller",
            help="default: config_automl.json's, else grid",
        ),
    ] = None,
    pruner: Annotated[
        Literal["none", "median", "asha", "hyperband"],
        typer.Option(
            "--pruner",
            help="Stop jobs that fall behind, from their per-epoch key metric "
            "(Optuna's MedianPruner, SuccessiveHalvingPruner, HyperbandPruner)",
        ),
    ] = "none",
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", min=1, help="Run at most N jobs")
    ] = None,
    seed: SeedOpt = 0,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow server (default: $MLFLOW_TRACKING_URI, else a store in the "
            "run folder)",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted search")
    ] = False,
    set_: SetOpt = [],  # noqa: B006
    job_args: Annotated[
        str,
        typer.Option(
            "--job-args",
            help='Options of every job\'s script: "--epochs 2 --device cpu"',
        ),
    ] = "",
    job_timeout: Annotated[
        float | None,
        typer.Option("--job-timeout", help="Seconds before a job counts as failed"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The automl folder (default: MMAR/automl)"),
    ] = None,
    float_steps: StepsOpt = 3,
    target: TargetOpt = "auto",
    pythonpath: Annotated[
        list[Path],
        typer.Option(
            "--pythonpath", help="More folders for bring-your-own controllers/handlers"
        ),
    ] = [],  # noqa: B006
    executor: Annotated[
        Literal["local", "ray"],
        typer.Option(
            "--executor",
            help="local: jobs are subprocesses of this machine; ray: Ray tasks",
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray cluster to run on (ray://HOST:10001, HOST:6379, auto); "
            "none: a local Ray instance",
        ),
    ] = None,
    tracking: Annotated[
        bool,
        typer.Option(
            "--tracking/--no-tracking",
            help="Track the search in MLflow (the journal is kept either way)",
        ),
    ] = True,
    retrain_top: Annotated[
        int,
        typer.Option(
            "--retrain-top",
            min=0,
            help="After the search, run its K best jobs again with --retrain-args "
            "(also on --resume of a search that ended)",
        ),
    ] = 0,
    retrain_args: Annotated[
        str,
        typer.Option(
            "--retrain-args",
            help='Options the retrains add to --job-args (later wins): "--epochs 300"',
        ),
    ] = "",
) -> None:
    """Run an AutoML search: compile a job per recommendation into
    automl/<run_id>/W<worker>_<round>_J<job>/, run it, feed its score back to the
    controller; track it in MLflow; resume it with --resume."""
    from claragen.runtime.cli import AutomlArgs, run_automl

    args = AutomlArgs(config, mmar, env, automl_conf, run_id, workers, controller,
                      max_jobs, seed, tracking_uri, resume, parse_sets(set_), job_args,
                      job_timeout, output, float_steps, target, tuple(pythonpath),
                      executor, ray_address, tracking, pruner, retrain_top,
                      retrain_args)  # fmt: skip
    code = run_automl(args)
    if code:
        raise typer.Exit(code)


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="automl/<run_id>")],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="HTML file (default: RUN_DIR/report.html)"),
    ] = None,
) -> None:
    """Write an HTML page of a search: the leaderboard, the score of each job in time
    order, and the score against each searched value."""
    from claragen.runtime.report import write_report

    try:
        path = write_report(run_dir, out)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(path))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
