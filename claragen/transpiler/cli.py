"""The `claragen` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from claragen import __version__
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from claragen.transpiler.render import InternalError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Compile NVIDIA Clara Train configs into standalone PyTorch + MONAI scripts.",
)

MMAR_CONFIG = Path("config/config_train.json")
MMAR_ENV = Path("config/environment.json")


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


def parse_sets(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in values:
        for part in item.split():
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise typer.BadParameter(
                    f"{part!r} is not KEY=VALUE", param_hint="--set"
                )
            pairs.append((key, value))
    return tuple(pairs)


def resolve_inputs(
    config: Path | None, env: Path | None, mmar: Path | None
) -> tuple[Path, Path | None]:
    """With -m, the MMAR's config/config_train.json and config/environment.json are defaults."""
    if config is None:
        if mmar is None:
            raise typer.BadParameter(
                "give a CONFIG, or -m MMAR_ROOT", param_hint="CONFIG"
            )
        config = mmar / MMAR_CONFIG
    if env is None and mmar is not None and (mmar / MMAR_ENV).is_file():
        env = mmar / MMAR_ENV
    if env is None:
        sibling = config.parent / "environment.json"
        env = sibling if sibling.is_file() else None
    return config, env


@app.command("compile")
def compile_command(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="config_train.json (default with -m: config/config_train.json)"
        ),
    ] = None,
    env: Annotated[
        Path | None, typer.Option("-e", "--env", help="environment.json")
    ] = None,
    set_: Annotated[
        list[str],
        typer.Option("--set", help="Override a variable: --set KEY=VALUE (repeatable)"),
    ] = [],  # noqa: B006 (typer reads the default)
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder")] = Path(
        "out"
    ),
    mmar: Annotated[
        Path | None, typer.Option("-m", "--mmar", help="MMAR root folder")
    ] = None,
    dialect: Annotated[
        str | None, typer.Option("--dialect", help="Force the dialect: 3, 4.0 or 4.1")
    ] = None,
) -> None:
    """Compile a config into OUT/<job>/train.py and OUT/manifest.json."""
    config_path, env_path = resolve_inputs(config, env, mmar)
    options = CompileOptions(set_values=parse_sets(set_), dialect=dialect)
    comp = Compilation(config_path, options, env_path=env_path, mmar_root=mmar)
    try:
        manifest = compile_to_dir(comp, out)
    except CompileError as exc:
        typer.echo(format_all(exc.diagnostics, comp.sources), err=True)
        raise typer.Exit(1) from None
    except InternalError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"{out}: error: cannot write the output: {exc}", err=True)
        raise typer.Exit(1) from None
    if comp.diags.warnings:
        typer.echo(format_all(comp.diags.warnings, comp.sources), err=True)
    for job in manifest["jobs"]:
        typer.echo(f"{out / job['script']}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
