"""The `engines` target: MONAI's own `SupervisedTrainer` / `SupervisedEvaluator`, built
from the config's components as they are (DESIGN.md, targets).

Where the plain target writes the loop out, this one hands the loop to MONAI's ignite
engines, so it takes what the plain loop cannot: an `iteration_update` (DeepGrow's click
simulation), handlers that attach to an engine (bring-your-own ones included), any
engine argument. Every section key the engines reach becomes one variable, in the plain
target's names and order:

    train.handlers [LrScheduleHandler, ValidationHandler, ...]
    -> train_handlers = [LrScheduleHandler(lr_scheduler=lr_scheduler, ...), ...]
    validate.key_metric {"name": "MeanDice", "log_label": "val_mean_dice"}
    -> val_key_metric = {"val_mean_dice": MeanDice(...)}
    train.trainer {"max_epochs": "{epochs}", "device": "cuda", "amp": true}
    -> trainer = SupervisedTrainer(max_epochs=args.epochs, device=device,
                                   amp=True and device.type == "cuda", ...)
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from claragen import __version__
from claragen.transpiler import symbols, written
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import NO_SPAN
from claragen.transpiler.dialects import get_dialect
from claragen.transpiler.emit import comment_text
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Expr,
    Lit,
    Ref,
    Value,
    is_literal,
)
from claragen.transpiler.render import docstring_line
from claragen.transpiler.targets.evaluate import SECTION, EvalLowering
from claragen.transpiler.targets.plain import PlainLowering
from claragen.transpiler.targets.plain_options import (
    add_loop_options,
    search_value_text,
)
from claragen.transpiler.targets.plain_script import Block, Option, comment
from claragen.transpiler.targets.stopping import saves_final

ENGINE_KEYS = ("trainer", "evaluator")
METRIC_KEYS = frozenset({"key_metric", "additional_metrics"})


def _code(text: str) -> Expr:
    """A value that is code claragen wrote (never config text): `args.epochs`, `device`."""
    return Expr(NO_SPAN, text, ast.parse(text, mode="eval"))


@dataclass
class EnginesScript:
    """The render model of the engines target's `train.py` / `validate.py`."""

    docstring: str
    source_name: str
    blocks: list[Block]
    device_default: str
    device_help: str
    key_label: str
    key_engine: str  # the engine whose state.metrics holds the key metric
    seed: str | None = None
    backend_flags: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    byoc_imports: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # classes MONAI dropped
    output_folders: list[str] = field(default_factory=list)  # own_folder checks them
    constants: list[tuple[str, str, str]] = field(default_factory=list)
    search_constants: list[tuple[str, str, str]] = field(default_factory=list)
    options: list[Option] = field(default_factory=list)
    train_conf: str = "{}"
    # which way the key metric is better: lower for the loss, and where the config's
    # CheckpointSaver says so (key_metric_negative_sign, which picks its model.pt)
    minimize: bool = False
    conf_options: str = ""  # as PlainScript's
    seed_lines: list[str] = field(default_factory=list)  # as PlainScript's
    conf_holder: bool = False  # a CheckpointSaver saves TRAIN_CONF (class TrainConf)
    conf_saved: bool = False  # ... in the bundle too (its TRAIN_CONF id)
    trainer: str = "trainer"
    evaluator: str | None = None
    loaders: list[tuple[str, str]] = field(default_factory=list)  # comment, path
    metrics_dir: str = "args.mmar_eval_output_path"
    engines: bool = True
    load_after: int = 0  # blocks before the weights are loaded (validate.py)
    saves_final: bool = False  # train.py: a CheckpointSaver saves the final model


class EnginesMixin:
    """What the train and the validation lowering of this target share."""

    LOWERS_MULTI_GPU = False  # MONAI's engines would need ignite's idist: not lowered
    conf_holder = False  # set when a CheckpointSaver saves TRAIN_CONF
    conf_saved = False  # the same, in any target (the bundle's TRAIN_CONF id)
    bundle = False  # the bundle target: TRAIN_CONF is left out of checkpoints
    minimize = False  # a CheckpointSaver picks the lowest key metric (negative sign)

    config: Config

    def var_name(self, section: str, key: str) -> str:
        if key in ENGINE_KEYS:
            return key
        return super().var_name(section, key)  # type: ignore[misc]

    def engine_args(self, comp: Component, epochs: bool) -> Component:
        """Bind the runtime choices: the device, AMP on CUDA only, --epochs."""
        if comp.arg("device") is not None or comp.path is None:
            comp = comp.with_arg("device", _code("device"))
        amp = comp.arg("amp")
        if amp is not None:
            comp = comp.with_arg("amp", _code(self.amp(amp)))  # type: ignore[attr-defined]
        if epochs and comp.arg("max_epochs") is not None:
            comp = comp.with_arg("max_epochs", _code("args.epochs"))
        return comp

    def bind_handlers(self, comp: Component) -> Component:
        save = comp.arg("save_dict")
        if comp.class_name == "CheckpointSaver" and isinstance(save, DictV):
            conf = [isinstance(v, Ref) and v.name == "conf" for _, v in save.items]
            if any(conf):  # ignite saves objects by their state_dict: TrainConf
                self.conf_holder = not self.bundle
                self.conf_saved = True
                holder = _code(BUNDLE_CONF if self.bundle else "TrainConf()")
                items = tuple(
                    (k, holder if is_conf else v)
                    for (k, v), is_conf in zip(save.items, conf, strict=True)
                )
                comp = comp.with_arg(
                    "save_dict", dataclasses.replace(save, items=items)
                )
        if comp.class_name == "CheckpointSaver":
            comp = self.clara_file_names(comp)
            sign = comp.arg("key_metric_negative_sign")
            self.minimize |= isinstance(sign, Lit) and sign.value is True
        if comp.class_name == "ValidationHandler" and comp.arg("interval") is not None:
            self.val_interval = comp.arg("interval")
            level = comp.arg("epoch_level")
            if isinstance(level, Lit) and level.value is False:
                self.val_unit = "iterations"
            self.val_comment = comment(self.config, comp.span.line, comp.locator)[0]
            return comp.with_arg("interval", _code("args.val_interval"))
        return comp

    def clara_file_names(self, comp: Component) -> Component:
        """Clara named the checkpoints model.pt (best key metric) and model_final.pt, as
        the plain target does; MONAI's own default names carry the metric or iteration.
        """
        named = []
        kept = comp.arg("key_metric_n_saved")
        several = (
            isinstance(kept, Lit) and isinstance(kept.value, int) and kept.value > 1
        )
        for flag, arg, name in (
            ("save_key_metric", "key_metric_filename", "model.pt"),
            ("save_final", "final_filename", "model_final.pt"),
        ):
            on = comp.arg(flag)
            if arg == "key_metric_filename" and several:
                continue  # MONAI names each of the best checkpoints it keeps
            if isinstance(on, Lit) and on.value is True and comp.arg(arg) is None:
                comp = comp.with_arg(arg, Lit(on.span, name))
                named.append(f"{arg}={name!r}")
        if named:
            note = f"{', '.join(named)}: Clara's checkpoint names"
            comp = dataclasses.replace(comp, notes=comp.notes + (note,))
        return comp

    def metric_entry(self, comp: Component) -> tuple[ast.expr, ast.expr]:
        label = comp.attr("log_label")
        name = label.value if isinstance(label, Lit) else comp.class_name
        return ast.Constant(name), self.emitter.construct(comp)  # type: ignore[attr-defined]

    def engines_block(self, section: str, key: str, model_key) -> Block | None:
        slot = self.config.sections[section][key]
        target = self.var_name(section, key)
        if key in METRIC_KEYS:
            comps = slot if isinstance(slot, list) else [slot]
            comps = [c for c in comps if isinstance(c, Component)]
            pairs = [self.metric_entry(c) for c in comps]
            code = ast.unparse(ast.Dict([k for k, _ in pairs], [v for _, v in pairs]))
            head = comment(
                self.config, comps[0].span.line if comps else 0, f"{section}.{key}"
            )
            return Block(head + ["metrics by log label"], target, code)
        if isinstance(slot, list) and key not in ("pre_transforms", "post_transforms"):
            items = []
            for comp in slot:
                items.append("\n".join(f"# {comment_text(c)}" for c in self.note(comp)))  # type: ignore[attr-defined]
                items.append(self.emitter.value(comp) + ",")  # type: ignore[attr-defined]
            head = comment(
                self.config, slot[0].span.line if slot else 0, f"{section}.{key}"
            )
            return Block(head, target, "[\n" + "\n".join(items) + "\n]")
        if key in ENGINE_KEYS and isinstance(slot, Component):
            return Block(self.note(slot), target, self.emitter.value(slot))  # type: ignore[attr-defined]
        return PlainLowering.block(self, section, key, model_key)  # type: ignore[arg-type]

    def metric_label(self, engine: Component, arg: str) -> str | None:
        """The log label of the metric an engine's `arg` (`key_val_metric`) names."""
        ref = engine.arg(arg)
        slot = self.slot(ref) if isinstance(ref, Ref) else None  # type: ignore[attr-defined]
        if not isinstance(slot, Component):
            return None
        label = slot.attr("log_label")
        return str(label.value) if isinstance(label, Lit) else slot.class_name

    def finish_imports(self, script: EnginesScript) -> None:
        if self.ctx.options.target == "bundle":  # its JSON names importable classes
            for name in sorted(self.imports.written):
                comp = next(
                    (c for c in self.config.every_component() if c.name == name), None
                )
                self.ctx.diags.error(
                    "E600",
                    comp.name_span or comp.span if comp else self.config.span,
                    f"the bundle target cannot write out {written.WRITTEN[name].was}"
                    + (f" ({comp.origin}, {comp.locator})" if comp else "")
                    + ": a bundle's JSON names importable classes only",
                    "compile with --target plain or engines, whose scripts define it",
                )
        for module in ("argparse", "json", "logging", "os", "sys", "time", "torch"):
            self.imports.add_module(module)
        if script.seed is not None:
            self.imports.add_name("monai.utils", "set_determinism")
        if self.imports.byoc:
            self.imports.add_module("sys")
        script.output_folders = self.output_folders()
        script.imports = self.imports.lines()
        script.byoc_imports = self.imports.byoc_lines()
        script.written = self.imports.written_sources()

    def engines_docstring(self, values: dict[str, Any], kind: str) -> str:
        what = "Train" if kind == "train" else "Validation of"
        lines = [
            f"{what} job {self.job} of {self.config.file}, compiled by claragen "
            f"{__version__}.",
            "",
            f"Dialect: {get_dialect(self.config.dialect).title}. "
            "Target: MONAI engines (SupervisedTrainer / SupervisedEvaluator, "
            f"MONAI {symbols.versions().get('monai', '?')}).",
        ]
        if values:
            lines += ["", "Search values of this job (parameter id = value):"]
            lines += [f"    {k} = {search_value_text(v)}" for k, v in values.items()]
        if kind == "train":
            lines += [
                "",
                "Run:",
                "    python train.py [--epochs N] [--device cpu|cuda] [--data-root DIR] ...",
                "    python train.py --help",
                "",
                "It writes its checkpoints and logs where the config's handlers say, and",
                "result.json (the key metric per epoch, its best value) into --mmar-ckpt-dir.",
            ]
        else:
            lines += [
                "",
                "Run:",
                "    python validate.py [--device cpu|cuda] [--data-root DIR] ...",
                "",
                "It writes metrics.json (each metric's value) into --mmar-eval-output-path.",
            ]
        return "\n".join(docstring_line(line) for line in lines)


# TRAIN_CONF as a bundle's CheckpointSaver saves it: an object with a state_dict (a
# bundle's JSON defines no class; train.py's TrainConf does the same)
BUNDLE_CONF = (
    "types.SimpleNamespace(state_dict=lambda: dict(TRAIN_CONF), "
    "load_state_dict=TRAIN_CONF.update)"
)


class EnginesLowering(EnginesMixin, PlainLowering):
    def lower_engines(self, values: dict[str, Any]) -> EnginesScript | None:
        self.val_interval: Value | None = None
        self.val_comment = ""
        self.val_unit = "epochs"  # what the ValidationHandler's interval counts
        self.expose_sizes()
        self.bind_variables()
        trainer = self.config.sections.get("train", {}).get("trainer")
        if not isinstance(trainer, Component):
            self.diags.error(
                "E601",
                self.config.span,
                "the config has no train.trainer",
                'add {"name": "SupervisedTrainer", "args": {...}} under train',
            )
            return None
        epochs = self.trainer_epochs()
        self.rebind(trainer)
        trainer = self.config.sections["train"]["trainer"]
        assert isinstance(trainer, Component)
        model = trainer.arg("network")
        model_key = (
            (model.section, model.name)
            if isinstance(model, Ref) and model.section
            else None
        )
        roots: list[Value] = [v for _, v in trainer.args]
        keys = self.build_order(self.reachable(roots)) + [("train", "trainer")]
        blocks = [b for k in keys if (b := self.engines_block(*k, model_key))]
        used = set(keys)
        self.warn_unused(used)
        evaluator = next((k for k in keys if k[1] == "evaluator"), None)
        key_label, key_engine = self.key_metric(evaluator)
        script = EnginesScript(
            docstring="",
            source_name=self.config.file,
            blocks=blocks,
            device_default=self.device_default(trainer),
            device_help=self.device_help(trainer),
            key_label=key_label,
            key_engine=key_engine,
            minimize=key_label == "loss" or self.minimize,
            seed=self.seed(),
            backend_flags=self.backend_flags(),
            evaluator="evaluator" if evaluator else None,
            saves_final=saves_final(self.handlers(trainer.arg("train_handlers"))),
        )
        self.add_path_options(script, always=("MMAR_CKPT_DIR",))
        interval = None
        if self.val_interval is not None and not is_literal(self.val_interval):
            self.ctx.diags.error(
                "E207",
                self.val_interval.span,
                "the ValidationHandler's interval is computed; it becomes the "
                "module-level constant VAL_INTERVAL, which must be a literal",
                "write the number itself",
            )
        elif self.val_interval is not None:
            interval = (self.emitter.value(self.val_interval), self.val_comment)
        add_loop_options(script, interval, epochs, self.val_unit)
        script.train_conf = self.train_conf()
        script.conf_options = self.conf_options()
        script.seed_lines = self.seed_lines()
        script.conf_holder = self.conf_holder
        script.conf_saved = self.conf_saved
        script.search_constants = self.search_constants()
        self.imports.add_name("ignite.engine", "Events")
        self.imports.add_name("monai.handlers", "from_engine")
        for module in (
            "atexit",
            "functools",
            "multiprocessing",
            "signal",
            "stat",
            "sys",
        ):  # stop, and append_line
            self.imports.add_module(module)
        self.finish_imports(script)
        script.docstring = self.engines_docstring(values, "train")
        return script

    def rebind(self, trainer: Component) -> None:
        sections = {s: dict(slots) for s, slots in self.config.sections.items()}
        sections["train"]["trainer"] = self.engine_args(trainer, epochs=True)
        for slots in sections.values():
            for key, slot in slots.items():
                if key == "evaluator" and isinstance(slot, Component):
                    slots[key] = self.engine_args(slot, epochs=False)
                elif key == "handlers" and isinstance(slot, list):
                    slots[key] = [self.bind_handlers(c) for c in slot]
        self.config = dataclasses.replace(self.config, sections=sections)

    def key_metric(self, evaluator: tuple[str, str] | None) -> tuple[str, str]:
        """The job's score: the evaluator's key metric, else the trainer's, else the loss."""
        engines = [(evaluator, "key_val_metric")] if evaluator else []
        for (section, engine), arg in engines + [
            (("train", "trainer"), "key_train_metric")
        ]:
            comp = self.config.sections[section][engine]
            label = (
                self.metric_label(comp, arg) if isinstance(comp, Component) else None
            )
            if label is not None:
                return label, engine
        return "loss", "trainer"


class EnginesEvalLowering(EnginesMixin, EvalLowering):
    """validate.py on MONAI's SupervisedEvaluator."""

    def lower_engines_eval(self, values: dict[str, Any]) -> EnginesScript | None:
        self.ckpt_path: str | None = None
        self.expose_sizes()
        evaluator = self.config.sections.get(SECTION, {}).get("evaluator")
        if not isinstance(evaluator, Component):
            self.diags.error(
                "E601",
                self.config.span,
                "the validation config has no evaluator",
                'add "evaluator": {"name": "SupervisedEvaluator", "args": {...}}',
            )
            return None
        sections = {s: dict(slots) for s, slots in self.config.sections.items()}
        sections[SECTION]["evaluator"] = self.engine_args(evaluator, epochs=False)
        self.config = dataclasses.replace(self.config, sections=sections)
        evaluator = sections[SECTION]["evaluator"]
        assert isinstance(evaluator, Component)
        model = self.model_block()
        roots: list[Value] = [v for k, v in evaluator.args if k != "network"]
        keys = [
            k
            for k in self.build_order(self.reachable(roots))
            if k != (SECTION, "model")
        ]
        data_keys = ("pre_transforms", "dataset", "dataloader")
        at = next((i for i, k in enumerate(keys) if k[1] not in data_keys), len(keys))
        blocks = [b for k in keys[:at] if (b := self.engines_block(*k, None))]
        # the network after the data, before what uses it (as in the plain order)
        if model is not None:
            blocks.append(model)
        self.model_at = len(blocks)
        blocks += [b for k in keys[at:] if (b := self.engines_block(*k, None))]
        blocks.append(self.engines_block(SECTION, "evaluator", None))  # type: ignore[arg-type]
        handlers = self.handlers(evaluator.arg("val_handlers"))
        loads = any(h.class_name == "CheckpointLoader" for h in handlers)
        network = evaluator.arg("network")
        if isinstance(network, Ref) and network.name != "model":
            self.diags.error(
                "E602", network.span, "the evaluator's network must be '@model'"
            )
        label = self.metric_label(evaluator, "key_val_metric") or ""
        script = EnginesScript(
            docstring="",
            source_name=self.config.file,
            blocks=blocks,
            device_default=self.device_default(evaluator),
            device_help=self.device_help(evaluator),
            key_label=label,
            key_engine="evaluator",
            evaluator="evaluator",
        )
        if self.ckpt_path is not None and model is not None and not loads:
            script.loaders.append((model.comments[0], self.ckpt_path))
            script.load_after = self.model_at
        self.add_path_options(script, always=("MMAR_EVAL_OUTPUT_PATH",))
        extra = (self.train_model,) if self.ckpt_path and self.train_model else ()
        script.search_constants = self.search_constants(extra)
        self.finish_imports(script)
        script.docstring = self.engines_docstring(values, "validate")
        return script


def lower_engines(
    config: Config,
    ctx: PassContext,
    script_dir: str,
    job: str,
    values: dict[str, Any],
    bundle: bool = False,
) -> EnginesScript | None:
    lowering = EnginesLowering(config, ctx, script_dir, job)
    lowering.bundle = bundle  # a bundle's JSON has no TrainConf class to save
    return lowering.lower_engines(values)


def lower_engines_evaluation(config: Config, ctx: PassContext, script_dir: str, job: str,
                             values: dict[str, Any],
                             train_model: Component | None) -> EnginesScript | None:  # fmt: skip
    lowering = EnginesEvalLowering(config, ctx, script_dir, job, train_model)
    return lowering.lower_engines_eval(values)
