"""A command's inputs -> a Compilation; errors reported as diagnostics (exit 1)."""

from __future__ import annotations

from pathlib import Path

import typer

from claragen.cli.options import MMAR_CONFIG, MMAR_ENV, MMAR_VALIDATION, parse_sets
from claragen.gates import show
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.limits import file_label, parse_size
from claragen.transpiler.output import OutputError
from claragen.transpiler.passes.expand_jobs import JobSpecError, parse_jobs
from claragen.transpiler.pipeline import (
    TARGETS,
    Compilation,
)
from claragen.transpiler.render import InternalError


def resolve_inputs(
    config: Path | None,
    env: Path | None,
    mmar: Path | None,
    validation: Path | None = None,
) -> tuple[Path | None, Path | None, Path | None]:
    """With -m, the MMAR's config/config_train.json, config/config_validation.json (when
    there is one) and config/environment.json are the defaults."""
    if config is None and validation is None:
        if mmar is None:
            raise typer.BadParameter(
                "give a CONFIG, --validation FILE, or -m MMAR_ROOT", param_hint="CONFIG"
            )
        config = mmar / MMAR_CONFIG
    elif config is None and mmar is not None and (mmar / MMAR_CONFIG).is_file():
        config = mmar / MMAR_CONFIG  # -m MMAR --validation F: beside the MMAR's train
    if validation is None and mmar is not None and (mmar / MMAR_VALIDATION).is_file():
        validation = mmar / MMAR_VALIDATION
    if env is None and mmar is not None and (mmar / MMAR_ENV).is_file():
        env = mmar / MMAR_ENV
    if env is None:
        main = config or validation
        sibling = main.parent / "environment.json"  # type: ignore[union-attr]
        env = sibling if sibling.is_file() else None
    return config, env, validation


def make_compilation(
    config: Path | None,
    env: Path | None,
    set_: list[str],
    mmar: Path | None,
    dialect: str | None,
    jobs: str = "default",
    float_steps: int = 3,
    seed: int = 0,
    validation: Path | None = None,
    target: str = "auto",
    import_byoc: bool = False,
    pythonpath: list[Path] | None = None,
    max_config_size: str = "4M",
    optimize: tuple[str, ...] = (),
) -> Compilation:
    try:
        parse_jobs(jobs)
    except JobSpecError as exc:
        raise typer.BadParameter(str(exc), param_hint="--jobs") from None
    try:
        max_bytes = parse_size(max_config_size)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-config-size") from None
    if optimize and target in ("engines", "bundle"):
        raise typer.BadParameter(
            f"--optimize rewrites the plain target's loop; --target {target} has none",
            param_hint="--optimize",
        )
    if target not in TARGETS:
        raise typer.BadParameter(
            f"{target!r} is no target; use {', '.join(TARGETS)}", param_hint="--target"
        )
    config_path, env_path, validation = resolve_inputs(config, env, mmar, validation)
    options = CompileOptions(
        set_values=parse_sets(set_),
        dialect=dialect,
        jobs=jobs,
        float_steps=float_steps,
        seed=seed,
        target=target,
        import_byoc=import_byoc,
        pythonpath=tuple(str(p) for p in pythonpath or ()),
        max_config_bytes=max_bytes,
        optimize=optimize,
    )
    return Compilation(
        config_path,
        options,
        env_path=env_path,
        mmar_root=mmar,
        validation_path=validation,
    )


def report(comp: Compilation, fn):
    """Run `fn`; bad input -> diagnostics and exit 1, a claragen bug -> exit 2."""
    try:
        result = fn()
    except CompileError as exc:
        show.echo(format_all(exc.diagnostics, comp.sources), err=True)
        raise typer.Exit(1) from None
    except InternalError as exc:
        show.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except (OSError, OutputError) as exc:
        show.echo(f"error: {file_label(str(exc))}", err=True)
        raise typer.Exit(1) from None
    if comp.diags.warnings:
        show.echo(format_all(comp.diags.warnings, comp.sources), err=True)
    return result
