"""Helpers of the gate tests: compile a config of the minimal MMAR with the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import ENV, minimal, write

runner = CliRunner()


def mmar(tmp_path: Path, edit=None, name: str = "mmar") -> Path:
    """A minimal 4.1 MMAR under tmp_path/name, its config changed by `edit(config)`."""
    config = minimal()
    if edit is not None:
        edit(config)
    write(tmp_path, f"{name}/config/config_train.json", json.dumps(config, indent=2))
    write(tmp_path, f"{name}/config/environment.json", json.dumps(ENV))
    return tmp_path / name


def compile_cli(*args):
    """`claragen compile ARGS` in process: (exit code, output); never a traceback."""
    result = runner.invoke(app, ["compile", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def invoke(*args):
    """Any claragen command in process: (exit code, output); never a traceback."""
    result = runner.invoke(app, [*map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output
