"""The plain target for validation and inference configs (SPEC 2.3): `validate.py`.

    "model": [{"ts_path": "{MMAR_TORCHSCRIPT}", "disabled": false}, {"ckpt_path": ...}]
    -> model = torch.jit.load(args.mmar_torchscript, map_location=device)
    "model": {"name": "UNet", ...} + CheckpointLoader -> model = UNet(...); load_state_dict
    "evaluator": SupervisedEvaluator -> validate(...), its metrics written to metrics.json

A `ckpt_path` names weights only: the network comes from the training config compiled
beside (`-m`, or CONFIG with `--validation`), as Clara rebuilt it from the train config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from claragen import __version__
from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.dialects import get_dialect
from claragen.transpiler.ir import Component, Config, DictV, ListV, Lit, Ref, Value
from claragen.transpiler.render import docstring_line
from claragen.transpiler.targets.handlers import HandlerContext, LoopPlan, lower_handler
from claragen.transpiler.targets.plain import EVALUATOR_ARGS, PlainLowering
from claragen.transpiler.targets.plain_script import Block, Option, Section, comment

SECTION = "validate"
MODEL_KEY = "model"


@dataclass
class EvalScript:
    """The render model of `validate.py`."""

    docstring: str
    source_name: str
    blocks: list[Block]
    model: str
    val: Section
    plan: LoopPlan
    device_default: str
    device_help: str
    metrics_dir: str
    imports: list[str] = field(default_factory=list)
    byoc_imports: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # classes MONAI dropped
    output_folders: list[str] = field(default_factory=list)  # own_folder checks them
    constants: list[tuple[str, str, str]] = field(default_factory=list)
    search_constants: list[tuple[str, str, str]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)


class EvalLowering(PlainLowering):
    LOWERS_MULTI_GPU = False  # validate.py evaluates in one process

    def __init__(self, config: Config, ctx: PassContext, script_dir: str, job: str,
                 train_model: Component | None):  # fmt: skip
        super().__init__(config, ctx, script_dir, job)
        self.train_model = train_model

    def var_name(self, section: str, key: str) -> str:
        return (
            MODEL_KEY
            if (section, key) == (SECTION, MODEL_KEY)
            else super().var_name(section, key)
        )

    def model_entry(self, value: Value, span: Span) -> tuple[str, Value, Span] | None:
        """The first enabled entry of a `model` list: ("ts"|"ckpt"|"network", what, span)."""
        items = value.items if isinstance(value, ListV) else (value,)
        for item in items:
            if isinstance(item, Component):
                if not (isinstance(item.disabled, Lit) and item.disabled.value is True):
                    return "network", item, item.span
                continue
            if not isinstance(item, DictV):
                continue
            disabled = item.get("disabled")
            if isinstance(disabled, Lit) and disabled.value is True:
                continue
            for key, kind in (("ts_path", "ts"), ("ckpt_path", "ckpt")):
                path = item.get(key)
                if path is not None:
                    return kind, path, item.span
        self.diags.error(
            "E603",
            span,
            "the validation config's 'model' has no enabled entry",
            'give {"ts_path": "{MMAR_TORCHSCRIPT}"}, {"ckpt_path": "{MMAR_CKPT}"} or a network',
        )
        return None

    def model_block(self) -> Block | None:
        slot = self.config.sections[SECTION].get(MODEL_KEY)
        if slot is None:
            self.diags.error(
                "E601", self.config.span, "the validation config has no 'model'"
            )
            return None
        if isinstance(slot, Component):
            return Block(
                self.note(slot), MODEL_KEY, self.emitter.value(slot) + ".to(device)"
            )
        entry = self.model_entry(slot, getattr(slot, "span", self.config.span))  # type: ignore[arg-type]
        if entry is None:
            return None
        kind, what, span = entry
        head = comment(self.config, span.line, f"{SECTION}.{MODEL_KEY}")
        if kind == "network":
            return Block(head, MODEL_KEY, self.emitter.value(what) + ".to(device)")
        path = self.emitter.value(what)
        if kind == "ts":
            return Block(head + ["a TorchScript model"], MODEL_KEY,
                         f"torch.jit.load({path}, map_location=device)")  # fmt: skip
        if self.train_model is None:
            self.diags.error(
                "E603",
                span,
                "a 'ckpt_path' model needs its network from the training config",
                "compile the validation config beside its train config "
                "(claragen compile -m MMAR, or CONFIG --validation FILE)",
            )
            return None
        network = self.emitter.value(self.train_model)
        self.ckpt_path = path
        note = f"the network of the train config (line {self.train_model.span.line})"
        return Block(head + [note], MODEL_KEY, f"{network}.to(device)")

    def lower_evaluation(self) -> EvalScript | None:
        self.ckpt_path: str | None = None
        self.expose_sizes()
        evaluator = self.engine(SECTION, "evaluator", EVALUATOR_ARGS)
        if evaluator is None:
            self.diags.error(
                "E601",
                self.config.span,
                "the validation config has no evaluator",
                'add "evaluator": {"name": "SupervisedEvaluator", "args": {...}}',
            )
            return None
        plan = LoopPlan()
        handlers = self.handlers(evaluator.arg("val_handlers"))
        for comp in handlers:
            hc = HandlerContext(self.emitter, self.diags, plan, SECTION, self.note(comp)[0],
                                "args.mmar_eval_output_path")  # fmt: skip
            lower_handler(comp, hc)
        model = self.model_block()
        roots: list[Value] = [v for k, v in evaluator.args if k != "network"]
        roots += [v for h in handlers for _, v in h.args]
        keys = [
            k
            for k in self.build_order(self.reachable(roots))
            if k != (SECTION, MODEL_KEY)
        ]
        blocks = [b for k in keys if (b := self.block(*k, None)) is not None]
        blocks.append(model) if model else None
        val = self.section(evaluator, SECTION, "val_data_loader", "key_val_metric")
        val.labels = bool(val.metrics)
        self.find_other_keys(blocks, val)
        if (
            self.ckpt_path is not None and not plan.loaders
        ):  # a CheckpointLoader loads it
            from claragen.transpiler.targets.handlers import Loader

            plan.loaders.insert(0, Loader(blocks[-1].comments[0], self.ckpt_path,
                                          '{"model": model}'))  # fmt: skip
        network = evaluator.arg("network")
        if isinstance(network, Ref) and network.name != MODEL_KEY:
            self.diags.error(
                "E602", network.span, "the evaluator's network must be '@model'"
            )
        return EvalScript(
            docstring="",
            source_name=self.config.file,
            blocks=blocks,
            model=MODEL_KEY,
            val=val,
            plan=plan,
            device_default=self.device_default(evaluator),
            device_help=self.device_help(evaluator),
            metrics_dir=plan.metrics_dir or "args.mmar_eval_output_path",
        )

    def finish_evaluation(
        self, script: EvalScript, values: dict[str, Any]
    ) -> EvalScript:
        self.add_path_options(script, always=("MMAR_EVAL_OUTPUT_PATH",))
        extra = (self.train_model,) if self.ckpt_path and self.train_model else ()
        script.search_constants = self.search_constants(extra)

        for module in ("argparse", "json", "logging", "os", "sys", "time", "torch"):
            self.imports.add_module(module)
        self.imports.add_name("monai.data", "decollate_batch")
        if script.plan.report:  # MetricsSaver (its files made in a folder of its own)
            self.imports.add_module("tempfile")
            self.imports.add_name("monai.handlers.utils", "write_metrics_reports")
        if self.imports.byoc:
            self.imports.add_module("sys")
        script.output_folders = self.output_folders()
        script.imports = self.imports.lines()
        script.byoc_imports = self.imports.byoc_lines()
        script.written = self.imports.written_sources()
        lines = [
            f"Validation of job {self.job}: {self.config.file}, compiled by claragen "
            f"{__version__}.",
            "",
            f"Dialect: {get_dialect(self.config.dialect).title}. "
            "Target: plain PyTorch + MONAI "
            f"(MONAI {symbols.versions().get('monai', '?')}).",
            "",
            "Run:",
            "    python validate.py [--device cpu|cuda] [--data-root DIR] ...",
            "",
            "It writes metrics.json (each metric's value) into --mmar-eval-output-path,",
            "and whatever the config's writers save (SaveImaged).",
        ]
        script.docstring = "\n".join(docstring_line(line) for line in lines)
        return script


def lower_evaluation(config: Config, ctx: PassContext, script_dir: str, job: str,
                     values: dict[str, Any], train_model: Component | None) -> EvalScript | None:  # fmt: skip
    lowering = EvalLowering(config, ctx, script_dir, job, train_model)
    script = lowering.lower_evaluation()
    if script is None:
        return None
    return lowering.finish_evaluation(script, values)
