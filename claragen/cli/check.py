"""`claragen check`: every pass and job lowering, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from claragen.cli.inputs import make_compilation
from claragen.cli.options import (
    ConfigArg,
    DialectOpt,
    EnvOpt,
    Format,
    ImportByocOpt,
    JobsOpt,
    MaxSizeOpt,
    MmarOpt,
    PythonPathOpt,
    SeedOpt,
    SetOpt,
    StepsOpt,
    TargetOpt,
    ValidationOpt,
)
from claragen.gates import show
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.pipeline import (
    Compilation,
    compile_files,
)
from claragen.transpiler.render import InternalError


def check_command(
    config: ConfigArg = None,
    env: EnvOpt = None,
    set_: SetOpt = [],  # noqa: B006
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
    fmt: Annotated[
        Format,
        typer.Option("--format", help="json: for editors and CI"),
    ] = "text",
) -> None:
    """Run every pass and the lowering of every job without writing anything, and print
    every error and warning (exit 1 when there is an error)."""
    comp = make_compilation(
        config, env, set_, mmar, dialect, jobs, float_steps, seed, validation, target,
        import_byoc, pythonpath, max_config_size,
    )  # fmt: skip
    n_jobs = 0
    try:
        _, manifest = compile_files(comp, Path("out"))
        n_jobs = len(manifest["jobs"])
    except CompileError:
        pass  # every diagnostic is in comp.diags
    except InternalError as exc:
        show.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    show.echo(check_report(comp, fmt, n_jobs))
    if comp.diags.errors:
        raise typer.Exit(1)


def check_report(comp: Compilation, fmt: str, n_jobs: int) -> str:
    diags = sorted(comp.diags.items, key=lambda d: (d.span, d.severity, d.message))
    if fmt == "json":
        return json.dumps(
            {
                "diagnostics": [d.to_json() for d in diags],
                "errors": len(comp.diags.errors),
                "warnings": len(comp.diags.warnings),
                "jobs": n_jobs,
            },
            indent=2,
        )
    main = comp.config_path or comp.validation_path
    if not diags:
        return f"{main}: no problems ({n_jobs} job{'s' * (n_jobs != 1)} checked)"
    return format_all(diags, comp.sources, comp.options.max_errors)
