"""The options the commands share (typer Annotated types), and `--set` parsing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import typer

MMAR_CONFIG = Path("config/config_train.json")
MMAR_ENV = Path("config/environment.json")
MMAR_VALIDATION = Path("config/config_validation.json")


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


FAST = "Fast training (--optimize, README: train_fast.py)"
OptimizeOpt = Annotated[
    bool,
    typer.Option(
        "--optimize",
        help="Also write each job's train_fast.py: train.py with the fast-training "
        "rewrites below, each said at its top",
        rich_help_panel=FAST,
    ),
]


def off_option(name: str, what: str):
    return Annotated[
        bool, typer.Option(f"--no-{name}", help=f"--optimize without {what}",
                           rich_help_panel=FAST),
    ]  # fmt: skip


NoDeviceCache = off_option("device-cache", "the cache on the training device")
NoCudnnBenchmark = off_option("cudnn-benchmark", "cuDNN autotuning")
NoFusedOptimizer = off_option("fused-optimizer", "fused Adam / AdamW / SGD")
NoNonBlocking = off_option("non-blocking", "pinned memory and non-blocking copies")
NoAmp = off_option("amp", "AMP in bfloat16 / float16 on CUDA")
NoBatchedMetrics = off_option("batched-metrics", "train metrics that skip the images")
NoSwBatchSize = off_option("sw-batch-size", "4 sliding windows at a time on CUDA")
OverrideDeterminismOpt = Annotated[
    bool,
    typer.Option(
        "--override-determinism",
        help="Let --optimize's cudnn-benchmark replace the config's cudnn_benchmark: "
        "false or determinism block (kept otherwise)",
        rich_help_panel=FAST,
    ),
]


def optimize_names(optimize: bool, params: dict) -> tuple[str, ...]:
    """The rewrites --optimize applies: all but those turned off. `params` is the
    command's `locals()`: its `no_<name>` flags, one per rewrite (a command that lacks
    one fails here, not silently). A --no-<name> without --optimize would change
    nothing, so it is a usage error."""
    from claragen.transpiler.optimize import NAMES, OVERRIDE

    off = {name: params["no_" + name.replace("-", "_")] for name in NAMES}
    given = [name for name, on in off.items() if on]
    if given and not optimize:
        raise typer.BadParameter(
            f"--no-{given[0]} turns off a rewrite of --optimize; add --optimize",
            param_hint=f"--no-{given[0]}",
        )
    if params.get("override_determinism") and not optimize:
        raise typer.BadParameter(
            "--override-determinism changes what --optimize does; add --optimize",
            param_hint="--override-determinism",
        )
    names = tuple(n for n in NAMES if optimize and not off[n])
    return names + (OVERRIDE,) * bool(params.get("override_determinism") and optimize)
