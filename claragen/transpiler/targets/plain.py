"""The `plain` target: a config -> the render model of an explicit PyTorch training loop.

Python makes every decision here (what to build, in which order, under which name); the
template `templates/train.py.j2` only lays the result out. This module is the driver: it
finds the objects the trainer and the evaluator reach, builds them in order and lowers
the engines into the loop's sections. What it lowers on the way has a module each:

    plain_data.py     datasets and loaders: the data list, each rank's share (multi_gpu)
    plain_metrics.py  key and additional metrics -> `monai.metrics` objects
    plain_options.py  command-line options, constants, seed, imports, docstring
    handlers.py       engine handlers -> the loop's plan
    plain_script.py   the render model they all fill (Block, Section, PlainScript, ...)

    train.model {"name": "UNet", ...}  -> Block("model", "UNet(...).to(device)")
    train.handlers [LrScheduleHandler]   -> plan.lr_step = "lr_scheduler.step()"
    train.trainer {"max_epochs": 2}      -> --epochs, default 2
"""

from __future__ import annotations

from typing import Any

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.emit import Emitter, Imports
from claragen.transpiler.ir import (
    Component,
    Config,
    ListV,
    Lit,
    Ref,
    Slot,
    Value,
    read_variable,
    walk,
)
from claragen.transpiler.targets.handlers import HandlerContext, LoopPlan, lower_handler
from claragen.transpiler.targets.plain_data import DataLowering
from claragen.transpiler.targets.plain_metrics import (
    MetricsLowering,
    keys_beyond_pred_label,
)
from claragen.transpiler.targets.plain_options import OptionsLowering
from claragen.transpiler.targets.plain_script import (
    NAMES,
    SECTION_PREFIX,
    Block,
    Distributed,
    Item,
    PlainScript,
    Section,
    comment,
    compose_code,
)

# Build order (SPEC 10, fidelity: weights and the loader draw from one generator).
BUILD_ORDER = (
    ("train", "pre_transforms"),
    ("train", "dataset"),
    ("train", "dataloader"),
    ("validate", "pre_transforms"),
    ("validate", "dataset"),
    ("validate", "dataloader"),
    ("train", "model"),
    ("train", "loss"),
    ("train", "optimizer"),
    ("train", "lr_scheduler"),
    ("train", "inferer"),
    ("validate", "inferer"),
    ("train", "post_transforms"),
    ("validate", "post_transforms"),
)
# Keys the loop lowers instead of building.
LOWERED_KEYS = frozenset(
    {"handlers", "trainer", "evaluator", "key_metric", "additional_metrics"}
)
TRANSFORM_LISTS = frozenset({"pre_transforms", "post_transforms"})
REF_NOTE = "ref "  # references.inline_refs: "ref 'LoadImaged': same as train.pre_..."
TRAINER_ARGS = {
    "max_epochs",
    "device",
    "train_data_loader",
    "network",
    "loss_function",
    "optimizer",
    "inferer",
    "postprocessing",
    "key_train_metric",
    "additional_metrics",
    "train_handlers",
    "amp",
}
EVALUATOR_ARGS = {
    "device",
    "val_data_loader",
    "network",
    "inferer",
    "postprocessing",
    "key_val_metric",
    "additional_metrics",
    "val_handlers",
    "amp",
}


class PlainLowering(OptionsLowering, DataLowering, MetricsLowering):
    """A train config -> PlainScript; the mixins lower the options, data and metrics."""

    LOWERS_MULTI_GPU = True  # the other targets run on one device (W104)

    def __init__(self, config: Config, ctx: PassContext, script_dir: str, job: str):
        self.config = config
        self.ctx = ctx
        self.diags = ctx.diags
        self.imports = Imports()
        self.emitter = Emitter(self.imports, self.ref_name)
        self.script_dir = script_dir
        self.job = job
        self.ddp: Distributed | None = None
        if self.LOWERS_MULTI_GPU and read_variable(config, "multi_gpu") is True:
            line = self.multi_gpu_span().line
            self.ddp = Distributed(f"line {line} multi_gpu")

    def multi_gpu_span(self) -> Span:
        flag = self.config.globals.get("multi_gpu")  # else: given by --set
        return flag.span if flag is not None else self.config.span

    # -- names ---------------------------------------------------------------------------

    def var_name(self, section: str, key: str) -> str:
        return NAMES.get(
            (section, key), f"{SECTION_PREFIX.get(section, section)}_{key}"
        )

    def ref_name(self, ref: Ref) -> str:
        if ref.name == "conf":
            return "TRAIN_CONF"
        return self.var_name(ref.section or "train", ref.name)

    def slot(self, ref: Ref) -> Slot | None:
        return self.config.sections.get(ref.section or "", {}).get(ref.name)

    def note(self, comp: Component) -> list[str]:
        return comment(self.config, comp.span.line, comp.locator, comp.notes)

    def departures(self, comp: Component) -> list[str]:
        """A transform's comment: its line and notes where it departs from the config."""
        notes = tuple(n for n in comp.notes if not n.startswith(REF_NOTE))
        return (
            comment(self.config, comp.span.line, comp.locator, notes) if notes else []
        )

    # -- building objects ----------------------------------------------------------------

    def reachable(self, roots: list[Value]) -> list[tuple[str, str]]:
        """Section keys that the lowered parts reference, directly or through others."""
        seen: list[tuple[str, str]] = []
        todo = [r for root in roots for r in walk(root) if isinstance(r, Ref)]
        while todo:
            ref = todo.pop()
            if ref.name == "conf" or ref.section is None:
                continue
            key = (ref.section, ref.name)
            if key in seen:
                continue
            seen.append(key)
            slot = self.slot(ref)
            comps = (
                slot
                if isinstance(slot, list)
                else [slot] if isinstance(slot, Component) else []
            )
            for comp in comps:
                for _, value in comp.args:
                    todo += [r for r in walk(value) if isinstance(r, Ref)]
        return seen

    def build_order(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The preferred order, moved only as far as references require."""
        rank = {k: i for i, k in enumerate(BUILD_ORDER)}
        pending = sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))
        deps = {}
        for key in pending:
            slot = self.config.sections[key[0]][key[1]]
            comps = (
                slot
                if isinstance(slot, list)
                else [slot] if isinstance(slot, Component) else []
            )
            refs = [
                r
                for c in comps
                for _, v in c.args
                for r in walk(v)
                if isinstance(r, Ref)
            ]
            deps[key] = {(r.section, r.name) for r in refs if r.section} & set(keys)
        done: list[tuple[str, str]] = []
        while pending:
            for key in pending:
                if deps[key] <= set(done):
                    done.append(key)
                    pending.remove(key)
                    break
            else:  # a cycle: the references pass reported it
                done += pending
                break
        return done

    def block(
        self, section: str, key: str, model_key: tuple[str, str] | None
    ) -> Block | None:
        slot = self.config.sections[section][key]
        target = self.var_name(section, key)
        if key in LOWERED_KEYS:
            return None
        if isinstance(slot, list):
            if key not in TRANSFORM_LISTS:
                self.diags.error(
                    "E600",
                    slot[0].span if slot else self.config.span,
                    f"the plain target cannot build the list {section}.{key} as an object",
                )
                return None
            compose = self.imports.symbol(symbols.lookup("Compose"))  # type: ignore[arg-type]
            # a transform carries its source line only where it departs from the
            # config (its notes say how; a `ref` copy is the config's own meaning, said
            # once at the list's head, which names where the list is)
            items = [
                Item(self.departures(comp), self.emitter.value(comp),
                     None if comp.path is not None and symbols.lookup_path(comp.path)
                     is None else comp.class_name)
                for comp in slot
            ]  # fmt: skip
            head = comment(
                self.config, slot[0].span.line if slot else 0, f"{section}.{key}"
            )
            copied = sorted({n.split("same as ", 1)[1].split("[")[0]
                             for c in slot for n in c.notes if n.startswith(REF_NOTE)})  # fmt: skip
            if copied:
                head[0] += f" (its refs copy {', '.join(copied)})"
            return Block(head, target, compose_code(compose, items), items, compose)
        if not isinstance(slot, Component):
            return Block(
                [f"{section}.{key}"],
                target,
                self.emitter.value(slot),
            )
        comments = self.note(slot)
        if key == "dataset" or slot.attr("data_list_file_path") is not None:
            return self.dataset_block(section, key, slot, target, comments)
        if self.ddp is not None and key == "dataloader":
            slot = self.shard_loader(section, slot)
            comments = self.note(slot)
        code = self.emitter.value(slot)
        if (section, key) == model_key:
            code += ".to(device)"
        return Block(comments, target, code)

    # -- the engines ---------------------------------------------------------------------

    def engine(self, section: str, key: str, known: set[str]) -> Component | None:
        comp = self.config.sections.get(section, {}).get(key)
        if not isinstance(comp, Component):
            return None
        for arg, _ in comp.args:
            if arg not in known:
                self.diags.error(
                    "E600",
                    comp.arg_span(arg),
                    f"the plain target cannot lower {comp.class_name}'s argument {arg!r} yet",
                    "it lowers " + ", ".join(sorted(known)) + "; anything else needs "
                    "MONAI's own engines (the planned --target engines)",
                )
        return comp

    def required(self, comp: Component, arg: str) -> str:
        value = comp.arg(arg)
        if value is None:
            self.diags.error(
                "E402", comp.span, f"{comp.class_name} ({comp.locator}) needs {arg!r}"
            )
            return "None"
        return self.emitter.value(value)

    def section(
        self, engine: Component, section: str, loader_arg: str, key_arg: str
    ) -> Section:
        inferer = engine.arg("inferer")
        if inferer is None and section != "train":  # the train loop calls the model
            self.imports.add_name("monai.inferers", "SimpleInferer")
        post = engine.arg("postprocessing")
        metrics = self.metrics_of(
            section, engine.arg(key_arg), engine.arg("additional_metrics")
        )
        amp = engine.arg("amp")
        return Section(
            loader=self.required(engine, loader_arg),
            inferer=(
                self.emitter.value(inferer)
                if inferer is not None
                else "SimpleInferer()"
            ),
            post=self.emitter.value(post) if post is not None else None,
            metrics=metrics,
            key_label=(
                metrics[0].label
                if metrics and engine.arg(key_arg) is not None
                else None
            ),
            amp=self.amp(amp),
            comment=comment(self.config, engine.span.line, engine.locator)[0],
        )

    def amp(self, value: Value | None) -> str:
        """The loop's AMP switch: the config's `amp`, on CUDA only."""
        if value is None or (isinstance(value, Lit) and value.value is False):
            return "False"
        if isinstance(value, Lit) and value.value is True:
            return 'device.type == "cuda"'
        return f'bool({self.emitter.value(value)}) and device.type == "cuda"'

    # -- the whole script ----------------------------------------------------------------

    def lower(self) -> PlainScript | None:
        self.expose_sizes()
        self.bind_variables()
        trainer = self.engine("train", "trainer", TRAINER_ARGS)
        if trainer is None:
            self.diags.error(
                "E601",
                self.config.span,
                "the config has no train.trainer",
                'add {"name": "SupervisedTrainer", "args": {...}} under train',
            )
            return None
        model_value = trainer.arg("network")
        roots: list[Value] = [v for _, v in trainer.args]
        handler_comps = self.handlers(trainer.arg("train_handlers"))
        roots += [v for h in handler_comps for _, v in h.args]
        plan = LoopPlan()
        ckpt_dir = "args.mmar_ckpt_dir"
        for comp in handler_comps:
            hc = HandlerContext(
                self.emitter, self.diags, plan, "train", self.note(comp)[0], ckpt_dir
            )
            lower_handler(comp, hc)
        evaluator = None
        if plan.validator is not None:
            evaluator = self.engine(
                plan.validator.section or "validate",
                plan.validator.name,
                EVALUATOR_ARGS,
            )
            if evaluator is None:
                self.diags.error(
                    "E602",
                    plan.validator.span,
                    f"'@{plan.validator.name}' is no evaluator",
                )
        if evaluator is not None:
            roots += [v for _, v in evaluator.args]
            val_handlers = self.handlers(evaluator.arg("val_handlers"))
            roots += [v for h in val_handlers for _, v in h.args]
            for comp in val_handlers:
                hc = HandlerContext(
                    self.emitter,
                    self.diags,
                    plan,
                    "validate",
                    self.note(comp)[0],
                    ckpt_dir,
                )
                lower_handler(comp, hc)

        model_key = None
        if isinstance(model_value, Ref) and model_value.section:
            model_key = (model_value.section, model_value.name)
        blocks = []
        for section, key in self.build_order(self.reachable(roots)):
            built = self.block(section, key, model_key)
            if built is not None:
                blocks.append(built)
        self.warn_unused(set(self.reachable(roots)))

        train = self.section(trainer, "train", "train_data_loader", "key_train_metric")
        val = None
        if evaluator is not None:
            val = self.section(
                evaluator, "validate", "val_data_loader", "key_val_metric"
            )
        self.tutorial_idioms(blocks, train, val, trainer)
        key_section, key_label = "train", train.key_label or "loss"
        if val is not None and val.key_label:
            key_section, key_label = "validate", val.key_label

        return PlainScript(
            docstring="",
            source_name=self.config.file,
            imports=[],
            byoc_imports=[],
            constants=[],
            search_constants=[],
            train_conf="",
            options=[],
            device_default=self.device_default(trainer),
            device_help=self.device_help(trainer),
            seed=self.seed(),
            backend_flags=self.backend_flags(),
            blocks=blocks,
            model=self.required(trainer, "network"),
            loss=self.required(trainer, "loss_function"),
            optimizer=self.required(trainer, "optimizer"),
            train=train,
            val=val,
            plan=plan,
            ckpt_dir=ckpt_dir,
            key_label=key_label,
            key_section=key_section,
            trainer_comment=comment(self.config, trainer.span.line, trainer.locator)[0],
            ddp=self.ddp,
        )

    def tutorial_idioms(
        self,
        blocks: list[Block],
        train: Section,
        val: Section | None,
        trainer: Component,
    ) -> None:
        """The loop as MONAI's tutorials write it: the model called on the inputs where
        the trainer's inferer is a plain SimpleInferer (which does just that), and only
        the prediction and the label decollated where nothing else of the batch is read.
        """
        for sec in (train, val):
            if sec is not None:
                self.find_other_keys(blocks, sec)
        value = trainer.arg("inferer")
        comp = self.slot(value) if isinstance(value, Ref) else value
        if value is None:
            train.inferer, train.simple_inferer = "", "the trainer's default inferer"
        elif (isinstance(comp, Component) and comp.path is None and not comp.args
              and comp.class_name == "SimpleInferer"):  # fmt: skip
            name = train.inferer
            others = [b.code for b in blocks if b.target != name] + [
                val.inferer if val else ""]  # fmt: skip
            if not any(name in code for code in others):
                blocks[:] = [b for b in blocks if b.target != name]
                train.inferer = ""
                train.simple_inferer = (
                    f"line {comp.span.line} {comp.locator}: SimpleInferer"
                )
                if not any("SimpleInferer" in code for code in others):
                    self.imports.discard_name("monai.inferers", "SimpleInferer")

    def find_other_keys(self, blocks: list[Block], sec: Section) -> None:
        """What a section's post-transforms and metrics read of the batch."""
        post = next((b for b in blocks if b.target == sec.post), None)
        if sec.post is not None and post is None:
            sec.other_keys = ["?"]  # a post-processing the script does not build
        else:
            sec.other_keys = keys_beyond_pred_label(post, sec.metrics)

    def handlers(self, value: Value | None) -> list[Component]:
        if value is None:
            return []
        if isinstance(value, Ref):
            slot = self.slot(value)
            if isinstance(slot, list):
                return slot
            if isinstance(slot, Component):
                return [slot]
            return []
        if isinstance(value, ListV):
            return [v for v in value.items if isinstance(v, Component)]
        self.diags.error(
            "E602", value.span, "handlers must be '@handlers' or a list of handlers"
        )
        return []

    def warn_unused(self, used: set[tuple[str, str]]) -> None:
        for section, slots in self.config.sections.items():
            for key, slot in slots.items():
                if key in LOWERED_KEYS or (section, key) in used:
                    continue
                if key in ("key_metric", "additional_metrics", "metrics"):
                    continue
                span = (
                    slot[0].span
                    if isinstance(slot, list) and slot
                    else getattr(slot, "span", self.config.span)
                )
                self.diags.warning(
                    "W101",
                    span,
                    f"{section}.{key} is not used by the trainer or the evaluator; "
                    "it is left out of the script",
                )


def lower_plain(
    config: Config, ctx: PassContext, script_dir: str, job: str, values: dict[str, Any]
) -> PlainScript | None:
    lowering = PlainLowering(config, ctx, script_dir, job)
    script = lowering.lower()
    if script is None:
        return None
    return lowering.finish(script, values)
