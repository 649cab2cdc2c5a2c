"""`claragen automl`: its options, read into AutomlArgs and run by search.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from claragen.cli.options import (
    ConfigArg,
    EnvOpt,
    MmarOpt,
    SeedOpt,
    SetOpt,
    StepsOpt,
    TargetOpt,
    parse_sets,
)


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
    from claragen.cli.search import AutomlArgs, run_automl

    args = AutomlArgs(config, mmar, env, automl_conf, run_id, workers, controller,
                      max_jobs, seed, tracking_uri, resume, parse_sets(set_), job_args,
                      job_timeout, output, float_steps, target, tuple(pythonpath),
                      executor, ray_address, tracking, pruner, retrain_top,
                      retrain_args)  # fmt: skip
    code = run_automl(args)
    if code:
        raise typer.Exit(code)
