"""`claragen space`: the AutoML search space of a config."""

from __future__ import annotations

from typing import Annotated

import typer

from claragen.cli.inputs import make_compilation, report
from claragen.cli.options import (
    ConfigArg,
    DialectOpt,
    EnvOpt,
    Format,
    MmarOpt,
    SetOpt,
    StepsOpt,
)
from claragen.transpiler.reports import show_space


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
