"""The `claragen` command line: a module per command.

    options.py, inputs.py      shared options; a command's inputs -> a Compilation
    compile_cmd.py check.py smoke.py space.py diff.py    the compiler's commands
    automl.py, search.py, report.py, export.py           the AutoML runtime's

The compiler (claragen/transpiler) and the runtime (claragen/runtime) import nothing of
it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from claragen import __version__
from claragen.cli import automl, check, compile_cmd, diff, export, report, smoke, space
from claragen.gates import show

app = typer.Typer(
    add_completion=True,  # --install-completion / --show-completion
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Compile NVIDIA Clara Train configs into standalone PyTorch + MONAI scripts.",
)


def _version(value: bool) -> None:
    if value:
        show.echo(f"claragen {__version__}")
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


app.command("compile")(compile_cmd.compile_command)
app.command("check")(check.check_command)
app.command("smoke")(smoke.smoke_command)
app.command("space")(space.space_command)
app.command("diff")(diff.diff_command)
app.command("automl")(automl.automl_command)
app.command("report")(report.report_command)
app.command("export-best")(export.export_best_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
