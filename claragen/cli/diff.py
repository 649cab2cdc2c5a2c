"""`claragen diff`: the generated code of two configs or outputs, side by side."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from claragen.cli.inputs import make_compilation, report
from claragen.cli.options import EnvOpt, JobsOpt, SeedOpt, SetOpt, StepsOpt
from claragen.gates import safe_io, show
from claragen.transpiler.pipeline import (
    compile_to_dir,
)
from claragen.transpiler.reports import collect_scripts, diff_scripts


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
        try:
            left = scripts(a, Path(tmp) / "a")
            right = scripts(b, Path(tmp) / "b")
        except (OSError, ValueError) as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            why = safe_io.reason(exc) if isinstance(exc, OSError) else str(exc)
            show.echo(f"error: {where}{why}", err=True)
            raise typer.Exit(1) from None
        text = diff_scripts(left, right)
    show.echo(text, nl=False)
    if exit_code and text:
        raise typer.Exit(1)
