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
from claragen.transpiler import output
from claragen.transpiler.build import build_config
from claragen.transpiler.context import CompileOptions, PassContext
from claragen.transpiler.diagnostics import (
    NO_SPAN,
    Diagnostics,
    SourceFiles,
)
from claragen.transpiler.fl_configs import check_fl
from claragen.transpiler.ir import VALUE_READS, Component, Config, Lit
from claragen.transpiler.jsonparse import JObject, JScalar, JString, parse_json
from claragen.transpiler.limits import (
    MAX_OUTPUT,
    MAX_OUTPUT_FILE,
    check_depth,
    config_text,
    file_label,
    read_config_text,
)
from claragen.transpiler.optimize import optimize
from claragen.transpiler.passes.apply_search import apply_search, default_values
from claragen.transpiler.passes.canonical import canonical_names
from claragen.transpiler.passes.channel_meta import migrate_channel_dims
from claragen.transpiler.passes.check_components import check_components
from claragen.transpiler.passes.check_gated_args import check_gated_args
from claragen.transpiler.passes.dialect import check_era, detect_dialect
from claragen.transpiler.passes.disabled import prune_disabled
from claragen.transpiler.passes.expand_jobs import Job, JobSpecError, expand_jobs
from claragen.transpiler.passes.import_byoc import import_byoc
from claragen.transpiler.passes.lower_dialect import lower_dialect
from claragen.transpiler.passes.migrate import migrate_monai
from claragen.transpiler.passes.preset_search import preset_search
from claragen.transpiler.passes.references import inline_refs, resolve_refs
from claragen.transpiler.passes.transform_order import check_transform_order
from claragen.transpiler.passes.variables import resolve_variables
from claragen.transpiler.render import Renderer
from claragen.transpiler.space import read_space
from claragen.transpiler.stamp import Model, Stamps
from claragen.transpiler.targets import bundle
from claragen.transpiler.targets.engines import lower_engines, lower_engines_evaluation
from claragen.transpiler.targets.evaluate import lower_evaluation
from claragen.transpiler.targets.plain import lower_plain

Pass = Callable[[Config, PassContext], Config]

PASSES: tuple[tuple[str, Pass], ...] = (
    # the job's values of searched args first: the ports derive from them
    ("preset_search", preset_search),
    ("lower_dialect", lower_dialect),  # 3.x / 4.0 -> 4.1 (it may add {VAR}s and @refs)
    ("canonical", canonical_names),  # MONAI's aliases -> the class's own name
    ("apply_search", apply_search),  # marks the job's values (before {VAR}s)
    ("variables", resolve_variables),
    ("inline_refs", inline_refs),  # before pruning: a ref inherits 'disabled'
    ("disabled", prune_disabled),
    ("references", resolve_refs),
    ("migrate", migrate_monai),
    ("channel_meta", migrate_channel_dims),  # a Lambdad dropped the channel metadata
    ("transform_order", check_transform_order),  # after migrate: AddChanneld's new name
    ("check_components", check_components),
    # no arg weakens a deserializer, nor names code MONAI would import
    ("check_gated_args", check_gated_args),
    ("import_byoc", import_byoc),  # only with --import-byoc: it runs the user's code
)
SUPPORTED_DIALECTS = ("3", "4.0", "4.1")
# auto: the plain loop where it can lower the config, MONAI's engines where it cannot.
TARGETS = ("auto", "plain", "engines", "bundle")
TEMPLATES = {
    ("train", "plain"): "train.py.j2",
    ("train", "engines"): "train_engines.py.j2",
    ("validate", "plain"): "validate.py.j2",
    ("validate", "engines"): "validate_engines.py.j2",
}


@dataclass
class Compilation:
    """One compile: its inputs, diagnostics and the sources they quote.

    `config_path` is the training config; `validation_path` a config_validation.json or
    config_inference.json compiled beside it (or alone, when there is no training config).
    """

    config_path: Path | None
    options: CompileOptions
    env_path: Path | None = None
    mmar_root: Path | None = None
    validation_path: Path | None = None
    sources: SourceFiles = field(default_factory=SourceFiles)
    diags: Diagnostics = field(default_factory=Diagnostics)
    train_models: dict[str, Component | None] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)  # "J0001/train.py" -> target
    # the scripts torchrun can launch; "J0001/train.py" -> its key metric's label; the
    # scripts whose score is better lower
    distributed: set[str] = field(default_factory=set)
    key_metrics: dict[str, str] = field(default_factory=dict)
    minimizing: set[str] = field(default_factory=set)
    train_inputs: tuple[Config, PassContext] | None = None  # for `train_model`
    # the last train.py's render model, template and target (for train_fast.py)
    last_train: tuple[Any, str, str] | None = None
    optimized: dict[str, list] = field(default_factory=dict)  # train_fast.py -> changes
    config_span: Any = None  # the training config's, for a diagnostic about all of it

    def __post_init__(self) -> None:
        if self.mmar_root is None:
            main = self.config_path or self.validation_path
            assert main is not None, "a compile needs a training or a validation config"
            parent = main.parent
            self.mmar_root = parent.parent if parent.name == "config" else parent

    def read(self, path: Path) -> Any:
        """A config's JSON nodes, read within the bounds of `limits`; raise on errors."""
        label = file_label(path)
        text = read_config_text(path, self.diags, self.options.max_config_bytes)
        if text is None:
            self.diags.raise_if_errors()
        assert text is not None
        self.sources.add(label, text)
        if not check_depth(text, label, self.diags):
            self.diags.raise_if_errors()
        return parse_json(text, label, self.diags)

    def context(self, path: Path) -> PassContext:
        ctx = PassContext(
            options=self.options,
            diags=self.diags,
            config_path=path,
            mmar_root=self.mmar_root,  # type: ignore[arg-type]
        )
        if self.env_path is not None:
            root = self.read(self.env_path)
            if isinstance(root, JObject):
                for key, value in root.pairs:
                    if isinstance(value, JScalar | JString):
                        ctx.env[key.value] = Lit(value.span, value.value)
            elif root is not None:
                self.diags.error(
                    "E102", root.span, "environment.json must be a JSON object"
                )
        return ctx

    def build(
        self, path: Path | None = None, kind: str = "train"
    ) -> tuple[Config, PassContext]:
        """Parse and build the IR of one config; raise on syntax errors."""
        path = path or self.config_path
        assert path is not None
        root = self.read(path)
        ctx = self.context(path)
        self.diags.raise_if_errors()
        assert root is not None
        check_era(root, self.diags)
        check_fl(root, str(path), self.mmar_root, self.diags)
        dialect = self.options.dialect or detect_dialect(root)
        if dialect not in SUPPORTED_DIALECTS:
            self.diags.error(
                "E103",
                root.span,
                f"unknown dialect {dialect!r}",
                "use --dialect 3, 4.0 or 4.1",
            )
            self.diags.raise_if_errors()
        config = build_config(root, file_label(path), dialect, self.diags, kind)
        if config is None or any(d.code < "E200" for d in self.diags.errors):
            # the config's shape is wrong (E1xx): what the passes would say follows from
            # it; errors in values wait for the passes, which report them all at once
            self.diags.raise_if_errors()
        assert config is not None
        config.file = self.options.source_name or file_label(path.name)
        ctx.space = read_space(config, self.diags)
        if kind == "validation" and self.config_path is not None:
            ctx.check_sets = False  # the training config's build checks them
        elif self.validation_path is not None and path != self.validation_path:
            ctx.other_names = first_level_names(self.validation_path)
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

    def job_context(self, base: PassContext, job: Job) -> PassContext:
        default = self.options.jobs == "default"
        return dataclasses.replace(
            base,
            job_values=None if default else job.values,
            job_id=job.id,
            disabled_by={},
        )

    def job_passes(
        self, config: Config, base: PassContext, job: Job
    ) -> tuple[Config, PassContext]:
        """The passes with the job's values; a training config's network is kept for the
        validation config of the same job."""
        ctx = self.job_context(base, job)
        config = self.run_passes(config, ctx)
        if config.kind == "train":
            model = config.sections.get("train", {}).get("model")
            self.train_models[job.id] = model if isinstance(model, Component) else None
        return config, ctx

    def compile_job(
        self,
        config: Config,
        base: PassContext,
        script_dir: Path,
        job: Job,
        renderer: Renderer,
        stamps: Stamps | None = None,
    ) -> str:
        """One job's train.py: the passes with the job's values, lowering, rendering (or
        a stamp of an earlier job's script, `stamp`)."""
        self.train_inputs = (config, base)
        self.config_span = config.span

        def full() -> tuple[Any, str]:
            job_config, ctx = self.job_passes(config, base, job)
            return self.lower(
                ctx,
                lambda c: lower_plain(
                    job_config, c, str(script_dir), job.id, job.values
                ),
                lambda c: lower_engines(
                    job_config, c, str(script_dir), job.id, job.values
                ),
            )

        return self.stamped(stamps, job, "train", renderer, full)

    def stamped(
        self,
        stamps: Stamps | None,
        job: Job,
        kind: str,
        renderer: Renderer,
        full: Callable[[], tuple[Any, str]],
    ) -> str:
        """A script stamped from its enum combination's model where that stands for the
        full compile; else compiled in full, as a model or as a check of a stamp."""
        what = f"{job.id}/{kind}.py"
        model = stamps.model(job.values) if stamps is not None else None
        stamp = stamps.stamp(model, job.id, job.values) if model else None
        fast, changed = None, set()
        if stamp is not None:
            assert stamps is not None and model is not None
            fast = self.render(stamp, model.template, what, renderer)
            changed = stamps.changed(model, job.values)
            if changed <= model.checked:
                self.last_train = (stamp, model.template, model.target)
                self.targets[what] = model.target
                self.key_metrics[what] = getattr(model.script, "key_label", None) or ""
                if getattr(model.script, "minimize", False):
                    self.minimizing.add(what)
                if model.distributed:
                    self.distributed.add(what)
                return fast
        VALUE_READS.append(set())
        try:
            script, target = full()
        finally:
            read = VALUE_READS.pop()
        self.targets[what] = target
        self.key_metrics[what] = getattr(script, "key_label", None) or ""
        if getattr(script, "minimize", False):  # lower is better (engines' saver says)
            self.minimizing.add(what)
        if kind == "train" and getattr(script, "ddp", None) is not None:
            self.distributed.add(what)
        template = TEMPLATES[kind, target]
        text = self.render(script, template, what, renderer)
        if kind == "train":
            self.last_train = (script, template, target)
        if model is not None:
            if fast == text and not read:
                model.checked |= changed
            else:
                model.full = True
        elif stamps is not None:
            stamps.add(Model(job.id, dict(job.values), script, template, target,
                             what in self.distributed, frozenset(read)))  # fmt: skip
        return text

    def compile_bundle(
        self, config: Config, base: PassContext, job: Job
    ) -> dict[str, str]:
        """One job as a MONAI bundle: configs/train.json and configs/metadata.json."""
        config, ctx = self.job_passes(config, base, job)
        script = lower_engines(config, ctx, ".", job.id, job.values, bundle=True)
        self.diags.raise_if_errors()
        assert script is not None
        self.targets[f"{job.id}/configs/train.json"] = "bundle"
        train = self.bundle_file(lambda: bundle.train_bundle(script), config)
        meta = self.bundle_file(
            lambda: bundle.metadata(config.file, job.id, job.values, train), config
        )
        return {
            f"{job.id}/configs/train.json": bundle.dumps(train),
            f"{job.id}/configs/metadata.json": bundle.dumps(meta),
        }

    def lower(self, ctx: PassContext, plain, engines) -> tuple[Any, str]:
        """Lower for the chosen target; `auto` tries the plain loop first and falls back
        to the engines when the plain target cannot lower something."""
        target = self.options.target
        if target == "engines":
            return engines(ctx), target
        trial = Diagnostics()
        script = plain(dataclasses.replace(ctx, diags=trial))
        if target == "plain" or not trial.errors:
            for diag in trial.items:
                self.diags.add(diag)
            return script, "plain"
        first, errors = trial.errors[0], len(self.diags.errors)  # said once a job
        script = engines(ctx)
        if len(self.diags.errors) == errors:  # else the engines' own errors say why
            self.diags.warning("W113", first.span, "--target auto: the plain target cannot "
                               f"lower this ({first.message}), so MONAI's engines run it",
                               "give --target engines to choose them; or change what it names")  # fmt: skip
        return script, "engines"

    def compile_bundle_validation(
        self, config: Config, base: PassContext, job: Job
    ) -> str:
        """configs/evaluate.json of one job: the validation config on the job's network."""
        config, ctx = self.job_passes(config, base, job)
        model = self.train_models.get(job.id)
        script = lower_engines_evaluation(config, ctx, ".", job.id, job.values, model)
        self.diags.raise_if_errors()
        assert script is not None
        return bundle.dumps(
            self.bundle_file(lambda: bundle.evaluate_bundle(script), config)
        )

    def bundle_file(self, make: Callable[[], dict], config: Config) -> dict:
        """A bundle file that passed the bundle language's gate, else an E600."""
        try:
            return make()
        except bundle.BundleError as exc:
            self.diags.error(
                "E600",
                config.span,
                f"the bundle target would write what MONAI reads as code: {exc}",
                "compile with --target plain or engines",
            )
            self.diags.raise_if_errors()
            raise

    def compile_validation(
        self,
        config: Config,
        base: PassContext,
        script_dir: Path,
        job: Job,
        renderer: Renderer,
        stamps: Stamps | None = None,
    ) -> str:
        """validate.py of one job: the validation config, with the job's train network."""

        def full() -> tuple[Any, str]:
            job_config, ctx = self.job_passes(config, base, job)
            model = self.train_model(job)
            where = str(script_dir)
            return self.lower(
                ctx,
                lambda c: lower_evaluation(
                    job_config, c, where, job.id, job.values, model
                ),
                lambda c: lower_engines_evaluation(
                    job_config, c, where, job.id, job.values, model
                ),
            )

        return self.stamped(stamps, job, "validate", renderer, full)

    def compile_fast(self, job: Job, renderer: Renderer) -> str | None:
        """train_fast.py of the job whose train.py was just made: the --optimize rewrites
        of its render model (None: the engines target, which they do not rewrite)."""
        assert self.last_train is not None
        script, template, target = self.last_train
        if target != "plain":
            self.diags.warning(
                "W104",
                self.config_span,
                f"--optimize rewrites the plain target's loop; {job.id} compiles to the "
                "engines target, so it has no train_fast.py",
                "compile with --target plain to see why the plain target cannot lower it",
            )
            return None
        what = f"{job.id}/train_fast.py"
        fast, done = optimize(script, self.options.optimize)
        self.optimized[what] = done
        return self.render(fast, template, what, renderer)

    def train_model(self, job: Job) -> Component | None:
        """The job's train network (its passes run again when its train.py was stamped)."""
        if job.id not in self.train_models and self.train_inputs is not None:
            self.job_passes(*self.train_inputs, job)
        return self.train_models.get(job.id)

    def render(self, script: Any, template: str, what: str, renderer: Renderer) -> str:
        """A lowered script's text; the lowering's errors are raised first."""
        self.diags.raise_if_errors()
        assert script is not None
        return renderer.render(template, what, s=script)

    def jobs(self, config: Config, ctx: PassContext) -> list[Job]:
        defaults = default_values(config, ctx)
        opts = self.options
        try:
            return expand_jobs(
                ctx.space, defaults, opts.jobs, opts.float_steps, opts.seed
            )
        except JobSpecError as exc:  # a grid too large to expand
            span = next((p.span for p in ctx.space.params if p.span), config.span)
            self.diags.error("E507", span, str(exc))
            self.diags.raise_if_errors()
            raise


def compile_to_dir(comp: Compilation, out_dir: Path) -> dict[str, Any]:
    """Compile every job of the config(s) into `out_dir`; return the manifest.

    Nothing is written unless every job compiles; an earlier output in `out_dir` is
    replaced whole, and nothing is written through a link (`output`).
    """
    files, manifest = compile_files(comp, out_dir)
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    output.prepare(out_dir)
    output.write_files(out_dir, {**files, output.MANIFEST: text})
    return manifest


def compile_files(
    comp: Compilation, out_dir: Path
) -> tuple[dict[str, str], dict[str, Any]]:
    """Every job's script text by its path under `out_dir` ("J0001/train.py"), and the
    manifest; nothing is written (`claragen check` stops here)."""
    files = OutputFiles(comp)
    manifest_jobs: list[dict[str, Any]] = []
    space: list[str] = []
    jobs = [Job("J0001", {})]
    if comp.config_path is not None:
        config, ctx = comp.build()
        renderer = Renderer()
        jobs = comp.jobs(config, ctx)
        space = [p.id for p in ctx.space.params]
        stamps = Stamps(ctx.space)
        for job in jobs:
            if comp.options.target == "bundle":
                files.update(comp.compile_bundle(config, ctx, job))
                manifest_jobs.append(
                    {
                        "id": job.id,
                        "script": None,
                        "bundle": f"{job.id}/configs/train.json",
                        "target": "bundle",
                        "values": job.values,
                    }
                )
                continue
            script = comp.compile_job(
                config, ctx, out_dir / job.id, job, renderer, stamps
            )
            files[f"{job.id}/train.py"] = script
            manifest_jobs.append(
                {
                    "id": job.id,
                    "script": f"{job.id}/train.py",
                    "target": comp.targets[f"{job.id}/train.py"],
                    "values": job.values,
                }
            )
            if comp.options.optimize:
                fast = comp.compile_fast(job, renderer)
                if fast is not None:
                    files[f"{job.id}/train_fast.py"] = fast
                    manifest_jobs[-1]["fast"] = f"{job.id}/train_fast.py"
    if comp.validation_path is not None and comp.options.target == "bundle":
        vconfig, vctx = comp.build(comp.validation_path, "validation")
        for i, job in enumerate(jobs):
            files[f"{job.id}/configs/evaluate.json"] = comp.compile_bundle_validation(
                vconfig, vctx, job
            )
            if comp.config_path is None:
                manifest_jobs.append({"id": job.id, "script": None, "values": {}})
            manifest_jobs[i]["evaluate"] = f"{job.id}/configs/evaluate.json"
    elif comp.validation_path is not None:
        vconfig, vctx = comp.build(comp.validation_path, "validation")
        renderer = Renderer()
        vstamps = Stamps(ctx.space) if comp.config_path is not None else None
        for i, job in enumerate(jobs):
            text = comp.compile_validation(
                vconfig, vctx, out_dir / job.id, job, renderer, vstamps
            )
            files[f"{job.id}/validate.py"] = text
            if comp.config_path is None:
                manifest_jobs.append({"id": job.id, "script": None, "values": {}})
            manifest_jobs[i]["validate"] = f"{job.id}/validate.py"
            manifest_jobs[i]["validate_target"] = comp.targets[f"{job.id}/validate.py"]
    main = comp.config_path or comp.validation_path
    manifest = {
        "claragen": __version__,
        "source": main.name,  # type: ignore[union-attr]
        "target": comp.options.target,
        "jobs_mode": comp.options.jobs,
        "space": space,
        "jobs": manifest_jobs,
    }
    if comp.validation_path is not None:
        manifest["validation_source"] = comp.validation_path.name
    return files, manifest


class OutputFiles(dict):
    """The files of a compile, bounded as they are made: a file over
    limits.MAX_OUTPUT_FILE, or all of them over limits.MAX_OUTPUT, is E112."""

    def __init__(self, comp: Compilation) -> None:
        super().__init__()
        self.comp = comp
        self.size = 0

    def __setitem__(self, name: str, text: str) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        self.size += size
        if size > MAX_OUTPUT_FILE or self.size > MAX_OUTPUT:
            what, limit = (
                (f"{name} would be {size:,} bytes", MAX_OUTPUT_FILE)
                if size > MAX_OUTPUT_FILE
                else (
                    f"the compile's files would pass {MAX_OUTPUT:,} bytes",
                    MAX_OUTPUT,
                )
            )
            self.comp.diags.error(
                "E112",
                self.comp.config_span or NO_SPAN,
                f"{what}, more than claragen writes ({limit:,})",
                "fewer jobs (--jobs random:N), or a config that copies less",
            )
            self.comp.diags.raise_if_errors()
        super().__setitem__(name, text)

    def update(self, other: dict[str, str]) -> None:  # type: ignore[override]
        for name, text in other.items():
            self[name] = text


def first_level_names(path: Path) -> frozenset[str]:
    """The first-level keys of a JSON config (none when it does not read as one: its own
    build says why)."""
    text = config_text(path)
    if text is None or not check_depth(text, str(path), Diagnostics()):
        return frozenset()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return frozenset()
    return frozenset(data) if isinstance(data, dict) else frozenset()
