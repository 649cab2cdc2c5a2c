"""`claragen automl`: its options, read into AutomlArgs and run by search.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from claragen.cli.options import (
    ConfigArg,
    EnvOpt,
    MmarOpt,
    NoAmp,
    NoBatchedMetrics,
    NoCudnnBenchmark,
    NoDeviceCache,
    NoFusedOptimizer,
    NoNonBlocking,
    NoSwBatchSize,
    OptimizeOpt,
    OverrideDeterminismOpt,
    SetOpt,
    Target,
    optimize_names,
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
            help="default: config_automl.json's, else tpe (the config's own values "
            "first; as many jobs as the grid has, unless --max-jobs)",
        ),
    ] = None,
    pruner: Annotated[
        Literal["none", "median", "asha", "hyperband"] | None,
        typer.Option(
            "--pruner",
            help="Stop jobs that fall behind, from their per-epoch key metric "
            "(Optuna's MedianPruner, SuccessiveHalvingPruner, HyperbandPruner); "
            "default: none",
        ),
    ] = None,
    pruner_warmup: Annotated[
        int | None,
        typer.Option(
            "--pruner-warmup",
            min=0,
            help="Epochs in which no job is pruned (default: a quarter of a job's "
            "epochs, at least 1); no job is pruned either before some job's key metric "
            "has moved from its first epoch's",
        ),
    ] = None,
    pruner_startup: Annotated[
        int | None,
        typer.Option(
            "--pruner-startup",
            min=0,
            help="Jobs that must end before the median pruner judges any (default 2)",
        ),
    ] = None,
    max_jobs: Annotated[
        int | None, typer.Option("--max-jobs", min=1, help="Run at most N jobs")
    ] = None,
    keep: Annotated[
        Literal["best", "all"] | None,
        typer.Option(
            "--keep",
            help="Whose checkpoints stay: best (the default: the best 3 jobs', or "
            "MMARHandler's num_mmars_to_keep; a pruned or failed job keeps its log, "
            "result.json and progress.jsonl) or all",
        ),
    ] = None,
    default_first: Annotated[
        bool | None,
        typer.Option(
            "--default-first/--no-default-first",
            help="TPE's first job: the config's own values (the default)",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Seed of the random and TPE controllers (default 0)"
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow server (default: $MLFLOW_TRACKING_URI, else a store in the "
            "run folder)",
        ),
    ] = None,
    enqueue: Annotated[
        list[str] | None,
        typer.Option(
            "--enqueue",
            help="TPE's next job after the config's own: 'NAME=VALUE ...' (a "
            "parameter by its name, its value as Python writes it); repeatable",
        ),
    ] = None,
    retries: Annotated[
        int | None,
        typer.Option(
            "--retries",
            min=0,
            help="A job that fails runs again with the same values, up to N times "
            "(Optuna's RetryFailedTrialCallback)",
        ),
    ] = None,
    warm_start: Annotated[
        str | None,
        typer.Option(
            "--warm-start",
            help="TPE learns from the jobs of an earlier search of the same automl "
            "folder (its run id) before its first ask",
        ),
    ] = None,
    time_budget: Annotated[
        str | None,
        typer.Option(
            "--time-budget",
            help="No job starts once the search has run this long (3600, 90m, 2h); "
            "the running ones finish",
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="MLflow experiment of the search (default: the MMAR folder's name)",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted search")
    ] = False,
    set_: SetOpt = [],  # noqa: B006
    job_args: Annotated[
        str | None,
        typer.Option(
            "--job-args",
            help='Options of every job\'s script: "--epochs 2 --device cpu"',
        ),
    ] = None,
    job_timeout: Annotated[
        float | None,
        typer.Option("--job-timeout", help="Seconds before a job counts as failed"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="The automl folder (default: MMAR/automl)"),
    ] = None,
    float_steps: Annotated[
        int | None,
        typer.Option("--float-steps", min=1, help="Grid points per float (default 3)"),
    ] = None,
    target: Annotated[
        Target | None,
        typer.Option(
            "--target",
            help="plain (an explicit PyTorch loop), engines (MONAI's SupervisedTrainer), "
            "or auto (plain where it can, else engines; the default)",
        ),
    ] = None,
    pythonpath: Annotated[
        list[Path],
        typer.Option(
            "--pythonpath", help="More folders for bring-your-own controllers/handlers"
        ),
    ] = [],  # noqa: B006
    executor: Annotated[
        Literal["local", "ray"] | None,
        typer.Option(
            "--executor",
            help="local (the default): jobs are subprocesses of this machine; ray: Ray "
            "tasks",
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Ray cluster to run on (ray://HOST:10001, HOST:6379, auto); "
            "none: a local Ray instance",
        ),
    ] = None,
    tracking: Annotated[
        bool | None,
        typer.Option(
            "--tracking/--no-tracking",
            help="Track the search in MLflow (the default; the journal is kept either "
            "way)",
        ),
    ] = None,
    retrain_top: Annotated[
        int | None,
        typer.Option(
            "--retrain-top",
            min=0,
            help="After the search, run its K best jobs again with --retrain-args "
            "(also on --resume of a search that ended)",
        ),
    ] = None,
    retrain_args: Annotated[
        str | None,
        typer.Option(
            "--retrain-args",
            help='Options the retrains add to --job-args (later wins): "--epochs 300"',
        ),
    ] = None,
    optimize: OptimizeOpt = False,
    no_device_cache: NoDeviceCache = False,
    no_cudnn_benchmark: NoCudnnBenchmark = False,
    no_fused_optimizer: NoFusedOptimizer = False,
    no_non_blocking: NoNonBlocking = False,
    no_amp: NoAmp = False,
    no_batched_metrics: NoBatchedMetrics = False,
    no_sw_batch_size: NoSwBatchSize = False,
    override_determinism: OverrideDeterminismOpt = False,
) -> None:
    """Run an AutoML search: compile a job per recommendation into
    automl/<run_id>/W<worker>_<round>_J<job>/, run it, feed its score back to the
    controller; track it in MLflow; resume it with --resume."""
    from claragen.cli.search import AutomlArgs, run_automl

    rewrites = optimize_names(optimize, locals())

    args = AutomlArgs(config, mmar, env, automl_conf, run_id, workers, controller,
                      max_jobs, seed, tracking_uri, resume, parse_sets(set_), job_args,
                      job_timeout, output, float_steps, target, tuple(pythonpath),
                      executor, ray_address, tracking, pruner, retrain_top,
                      retrain_args, rewrites or None, pruner_warmup=pruner_warmup,
                      pruner_startup=pruner_startup,
                      default_first=default_first, keep=keep,
                      experiment=experiment, time_budget=time_budget,
                      enqueue=tuple(enqueue) if enqueue else None,
                      warm_start=warm_start, retries=retries)  # fmt: skip
    code = run_automl(args)
    if code:
        raise typer.Exit(code)
