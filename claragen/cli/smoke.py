"""`claragen smoke`: compile and run on synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from claragen.cli.options import EnvOpt, SetOpt, TargetOpt, parse_sets
from claragen.gates import show


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
    optimize: Annotated[
        bool,
        typer.Option(
            "--optimize", help="Run train_fast.py, with every --optimize rewrite"
        ),
    ] = False,
) -> None:
    """Compile CONFIG, make synthetic data that fits it, and run the script for two
    iterations and one validation on the CPU; print PASS or FAIL and why."""
    from claragen.smoke import smoke  # needs the run-time packages (numpy, nibabel)

    if env is None and (config.parent / "environment.json").is_file():
        env = config.parent / "environment.json"
    from claragen.transpiler.optimize import NAMES

    result = smoke(config, env, parse_sets(set_), target=target, stand_ins=stand_ins,
                   optimize=NAMES if optimize else ())  # fmt: skip
    show.echo(str(result))
    if not result.passed:
        raise typer.Exit(1)
