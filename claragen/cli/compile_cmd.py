"""`claragen compile`: a config (or an MMAR) -> one script per job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claragen.cli.inputs import make_compilation, report
from claragen.cli.options import (
    ConfigArg,
    DialectOpt,
    EnvOpt,
    ImportByocOpt,
    JobsOpt,
    MaxSizeOpt,
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
    PythonPathOpt,
    SeedOpt,
    SetOpt,
    StepsOpt,
    TargetOpt,
    ValidationOpt,
    optimize_names,
)
from claragen.gates import show
from claragen.transpiler.pipeline import (
    compile_to_dir,
)


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
    """Compile a config into OUT/<job>/train.py (one per job), OUT/<job>/validate.py for a
    validation config, OUT/<job>/train_fast.py with --optimize, and OUT/manifest.json.
    """
    rewrites = optimize_names(optimize, locals())
    comp = make_compilation(
        config, env, set_, mmar, dialect, jobs, float_steps, seed, validation, target,
        import_byoc, pythonpath, max_config_size, rewrites,
    )  # fmt: skip
    manifest = report(comp, lambda: compile_to_dir(comp, out))
    for job in manifest["jobs"]:
        for key in ("script", "fast", "validate"):
            if job.get(key):
                show.echo(f"{out / job[key]}")
