"""The compiler driver: read, build the IR, run the passes in order, render.

The order of the passes lives here and only here (`PASSES`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claragen import __version__
from claragen.transpiler.build import build_config
from claragen.transpiler.context import CompileOptions, PassContext
from claragen.transpiler.diagnostics import (
    CompileError,
    Diagnostic,
    Diagnostics,
    SourceFiles,
    Span,
)
from claragen.transpiler.ir import Config, Lit
from claragen.transpiler.jsonparse import JObject, JScalar, JString, parse_json
from claragen.transpiler.passes.apply_search import apply_search, default_values
from claragen.transpiler.passes.check_components import check_components
from claragen.transpiler.passes.dialect import detect_dialect
from claragen.transpiler.passes.disabled import prune_disabled
from claragen.transpiler.passes.expand_jobs import Job, expand_jobs
from claragen.transpiler.passes.lower_dialect import lower_dialect
from claragen.transpiler.passes.migrate import migrate_monai
from claragen.transpiler.passes.references import inline_refs, resolve_refs
from claragen.transpiler.passes.variables import resolve_variables
from claragen.transpiler.render import Renderer
from claragen.transpiler.space import read_space
from claragen.transpiler.targets.plain import lower_plain

Pass = Callable[[Config, PassContext], Config]

PASSES: tuple[tuple[str, Pass], ...] = (
    ("lower_dialect", lower_dialect),  # 3.x / 4.0 -> 4.1 (it may add {VAR}s and @refs)
    (
        "apply_search",
        apply_search,
    ),  # search values of the job (before {VAR}: they feed it)
    ("variables", resolve_variables),
    ("inline_refs", inline_refs),  # before pruning: a ref inherits 'disabled'
    ("disabled", prune_disabled),
    ("references", resolve_refs),
    ("migrate", migrate_monai),
    ("check_components", check_components),
)
SUPPORTED_DIALECTS = ("3", "4.0", "4.1")


@dataclass
class Compilation:
    """One compile: its inputs, diagnostics and the sources they quote."""

    config_path: Path
    options: CompileOptions
    env_path: Path | None = None
    mmar_root: Path | None = None
    sources: SourceFiles = field(default_factory=SourceFiles)
    diags: Diagnostics = field(default_factory=Diagnostics)

    def __post_init__(self) -> None:
        if self.mmar_root is None:
            parent = self.config_path.parent
            self.mmar_root = parent.parent if parent.name == "config" else parent

    def read(self, path: Path) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CompileError(
                [Diagnostic("error", Span(str(path), 0, 0), f"cannot read: {exc}")]
            ) from None
        self.sources.add(str(path), text)
        return parse_json(text, str(path), self.diags)

    def context(self) -> PassContext:
        ctx = PassContext(
            options=self.options,
            diags=self.diags,
            config_path=self.config_path,
            mmar_root=self.mmar_root,  # type: ignore[arg-type]
        )
        if self.env_path is not None:
            root = self.read(self.env_path)
            ctx.env_file = str(self.env_path)
            if isinstance(root, JObject):
                for key, value in root.pairs:
                    if isinstance(value, JScalar | JString):
                        ctx.env[key.value] = Lit(value.span, value.value)
            elif root is not None:
                self.diags.error(root.span, "environment.json must be a JSON object")
        return ctx

    def build(self) -> tuple[Config, PassContext]:
        """Parse and build the IR; raise on syntax errors."""
        root = self.read(self.config_path)
        ctx = self.context()
        self.diags.raise_if_errors()
        assert root is not None
        dialect = self.options.dialect or detect_dialect(root)
        if dialect not in SUPPORTED_DIALECTS:
            what = {"3": "3.x (TensorFlow)", "4.0": "4.0"}.get(dialect, dialect)
            self.diags.error(
                root.span,
                f"this is a Clara {what} config; claragen compiles Clara 4.0 and 4.1 "
                "configs so far",
                "the 3.x dialect is being lowered next; --dialect forces a dialect",
            )
            self.diags.raise_if_errors()
        config = build_config(root, str(self.config_path), dialect, self.diags)
        if config is None:  # not even an object; errors in values wait for the passes
            self.diags.raise_if_errors()
        assert config is not None
        config.file = self.options.source_name or self.config_path.name
        ctx.space = read_space(config, self.diags)
        return config, ctx

    def run_passes(
        self, config: Config, ctx: PassContext, stop_after: str | None = None
    ) -> Config:
        """Every pass in order; all their errors are raised together at the end."""
        for name, run in PASSES:
            config = run(config, ctx)
            if name == stop_after:
                break
        self.diags.raise_if_errors()
        return config

    def compile_job(
        self,
        config: Config,
        base: PassContext,
        script_dir: Path,
        job: Job,
        renderer: Renderer,
    ) -> str:
        """One job's script: the passes with the job's values, lowering, rendering."""
        default = self.options.jobs == "default"
        ctx = dataclasses.replace(
            base,
            job_values=None if default else job.values,
            job_id=job.id,
            disabled_by={},
        )
        config = self.run_passes(config, ctx)
        script = lower_plain(config, ctx, str(script_dir), job.id, job.values)
        self.diags.raise_if_errors()
        assert script is not None
        return renderer.render("train.py.j2", f"{job.id}/train.py", s=script)

    def jobs(self, config: Config, ctx: PassContext) -> list[Job]:
        defaults = default_values(config, ctx.space)
        opts = self.options
        return expand_jobs(ctx.space, defaults, opts.jobs, opts.float_steps, opts.seed)


def compile_to_dir(comp: Compilation, out_dir: Path) -> dict[str, Any]:
    """Compile every job of the config into `out_dir`; return the manifest.

    Nothing is written unless every job compiles.
    """
    config, ctx = comp.build()
    renderer = Renderer()
    rendered = {}
    manifest_jobs = []
    for job in comp.jobs(config, ctx):
        rendered[job.id] = comp.compile_job(
            config, ctx, out_dir / job.id, job, renderer
        )
        manifest_jobs.append(
            {"id": job.id, "script": f"{job.id}/train.py", "values": job.values}
        )
    for job_id, text in rendered.items():
        (out_dir / job_id).mkdir(parents=True, exist_ok=True)
        (out_dir / job_id / "train.py").write_text(text, encoding="utf-8")
    manifest = {
        "claragen": __version__,
        "source": comp.config_path.name,
        "target": comp.options.target,
        "jobs_mode": comp.options.jobs,
        "space": [p.id for p in ctx.space.params],
        "jobs": manifest_jobs,
    }
    with open(out_dir / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest
