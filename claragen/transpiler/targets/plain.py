"""The `plain` target: a config -> the render model of an explicit PyTorch training loop.

Python makes every decision here (what to build, in which order, under which name); the
template `templates/train.py.j2` only lays the result out.

    train.model {"name": "UNet", ...}  -> Block("model", "UNet(...).to(device)")
    train.handlers [LrScheduleHandler]   -> plan.lr_step = "lr_scheduler.step()"
    train.trainer {"max_epochs": 2}      -> --epochs, default 2
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from claragen import __version__
from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.dialects import get_dialect
from claragen.transpiler.emit import (
    Emitter,
    Imports,
    comment_text,
    literal_node,
    option_dest,
)
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Expr,
    ListV,
    Lit,
    Ref,
    RuntimeVar,
    SearchValue,
    Slot,
    Value,
    is_literal,
    map_components,
    to_python,
    walk,
)
from claragen.transpiler.passes.variables import PATH_VARIABLES
from claragen.transpiler.render import docstring_line
from claragen.transpiler.targets.handlers import HandlerContext, LoopPlan, lower_handler
from claragen.transpiler.targets.metrics import METRICS

# Variable names of the objects built from section keys. Others: "<prefix>_<key>".
NAMES: dict[tuple[str, str], str] = {
    ("train", "pre_transforms"): "train_transforms",
    ("train", "dataset"): "train_dataset",
    ("train", "dataloader"): "train_loader",
    ("train", "model"): "model",
    ("train", "loss"): "loss_function",
    ("train", "optimizer"): "optimizer",
    ("train", "lr_scheduler"): "lr_scheduler",
    ("train", "inferer"): "train_inferer",
    ("train", "post_transforms"): "train_post_transforms",
    ("validate", "pre_transforms"): "val_transforms",
    ("validate", "dataset"): "val_dataset",
    ("validate", "dataloader"): "val_loader",
    ("validate", "inferer"): "val_inferer",
    ("validate", "post_transforms"): "val_post_transforms",
}
SECTION_PREFIX = {"train": "train", "validate": "val"}
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
CROP_ARGS = ("spatial_size", "roi_size")  # of random crop transforms -> --crop-size
ROI_INFERERS = frozenset(
    {"SlidingWindowInferer", "SliceInferer"}
)  # roi_size -> --roi-size
# Transforms that bring every image to one size (DeepGrow's crop and resize) -> --image-size
SIZING_TRANSFORMS = frozenset({"SpatialCropForegroundd", "Resized"})
DEFAULT_CKPT_DIR = "models"
# Datasets that cache their items: under multi_gpu each rank caches only its own share
# (partition_dataset); any other dataset is shared out by a DistributedSampler.
CACHED_DATASETS = frozenset({"CacheDataset", "SmartCacheDataset", "CacheNTransDataset"})


@dataclass
class Block:
    """One built object: `target = code`, under its config comment."""

    comments: list[str]
    target: str
    code: str


@dataclass
class Metric:
    comments: list[str]
    var: str
    label: str
    code: str
    inputs: str  # expression applied to the decollated, post-processed items


@dataclass
class Option:
    """A command-line option of the generated script."""

    flag: str
    dest: str
    const: str  # the module constant holding the default
    help: str
    type: str = "str"
    nargs: int | None = None
    is_path: bool = False

    @property
    def metavar(self) -> tuple[str, ...] | None:
        return ("X", "Y", "Z")[: self.nargs] if self.nargs and self.nargs <= 3 else None


@dataclass
class Section:
    """What the loop needs of one section."""

    loader: str
    inferer: str
    post: str | None
    metrics: list[Metric]
    key_label: str | None
    amp: str
    comment: str
    labels: bool = True  # whether batches carry labels (inference has none)


@dataclass
class Distributed:
    """multi_gpu: what the script does under torchrun (DDP)."""

    comment: str  # where the config says multi_gpu
    train_sampler: bool = False  # the train loader's DistributedSampler needs set_epoch


@dataclass
class PlainScript:
    """The render model of `train.py`."""

    docstring: str
    source_name: str
    imports: list[str]
    byoc_imports: list[str]
    constants: list[tuple[str, str, str]]  # name, code, comment
    search_constants: list[tuple[str, str, str]]  # the job's searched values
    train_conf: str
    options: list[Option]
    device_default: str
    device_help: str
    seed: str | None
    backend_flags: list[str]
    blocks: list[Block]
    model: str
    loss: str
    optimizer: str
    train: Section
    val: Section | None
    plan: LoopPlan
    ckpt_dir: str
    key_label: str
    key_section: str
    trainer_comment: str
    notes: list[str] = field(default_factory=list)
    ddp: Distributed | None = None


def comment(
    config: Config, span_line: int, locator: str, notes: tuple[str, ...] = ()
) -> list[str]:
    return [f"{config.file}:{span_line} {locator}"] + list(notes)


class PlainLowering:
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
        if self.LOWERS_MULTI_GPU and config.variables.get("multi_gpu") is True:
            line = self.multi_gpu_span().line
            self.ddp = Distributed(f"{config.file}:{line} multi_gpu")

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

    # -- runtime options -----------------------------------------------------------------

    def expose_sizes(self) -> None:
        """Crop and sliding-window sizes become --crop-size / --roi-size (small-CPU runs)."""
        found: dict[str, Any] = {}

        def expose(comp: Component) -> Component:
            name = comp.class_name
            if name.startswith("Rand") and "Crop" in name:
                keys, option = CROP_ARGS, "CROP_SIZE"
            elif name in ROI_INFERERS:
                keys, option = ("roi_size",), "ROI_SIZE"
            elif name in SIZING_TRANSFORMS:
                keys, option = ("spatial_size",), "IMAGE_SIZE"
            else:
                return comp
            for key in keys:
                value = comp.arg(key)
                if isinstance(value, ListV) and is_literal(value):
                    size = to_python(value)
                    if all(
                        isinstance(v, int) and not isinstance(v, bool) for v in size
                    ):
                        found.setdefault(option, size)
                        if found[option] == size:
                            comp = comp.with_arg(
                                key, RuntimeVar(value.span, option, size)
                            )
            return comp

        self.config = map_components(self.config, expose)
        self.sizes = found
        self.bind_devices()

    def bind_devices(self) -> None:
        """A transform's `"device": "cuda"` is the script's device (the CPU without a GPU)."""

        def bind(comp: Component) -> Component:
            value = comp.arg("device")
            if isinstance(value, Lit) and str(value.value).startswith("cuda"):
                tree = ast.Expression(body=ast.Name("device", ast.Load()))
                comp = comp.with_arg("device", Expr(value.span, "device", tree))
                comp = dataclasses.replace(
                    comp,
                    notes=comp.notes + ('"device": "cuda" -> the script\'s device',),
                )
            return comp

        self.config = map_components(self.config, bind)

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
            items = []
            for comp in slot:
                items.append("\n".join(f"# {comment_text(c)}" for c in self.note(comp)))
                items.append(self.emitter.value(comp) + ",")
            code = f"{compose}(\n[\n" + "\n".join(items) + "\n]\n)"
            head = comment(
                self.config, slot[0].span.line if slot else 0, f"{section}.{key}"
            )
            return Block(head, target, code)
        if not isinstance(slot, Component):
            return Block(
                [f"{self.config.file} {section}.{key}"],
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

    def dataset_block(
        self, section: str, key: str, comp: Component, target: str, comments: list[str]
    ) -> Block | None:
        path = comp.attr("data_list_file_path")
        if path is None:
            self.diags.error(
                "E405",
                comp.span,
                f"{comp.locator} has no 'data_list_file_path'",
                'add "data_list_file_path": "{DATASET_JSON}" beside \'name\'',
            )
            return None
        self.imports.add_name("monai.data", "load_decathlon_datalist")
        list_key = comp.attr("data_list_key") or Lit(comp.span, "training")
        base = comp.attr("data_file_base_dir")
        task = self.config.variables.get("PROCESSING_TASK", "segmentation")
        datalist = (
            f"load_decathlon_datalist({self.emitter.value(path)}, "
            f"is_segmentation={task != 'classification'!r}, "
            f"data_list_key={self.emitter.value(list_key)}"
            + (f", base_dir={self.emitter.value(base)}" if base is not None else "")
            + ")"
        )
        if self.ddp is not None and comp.class_name in CACHED_DATASETS:
            # multi_gpu: rank r caches items r, r + N, ... of the list. Training shares are
            # padded to one length (every rank runs the same number of steps); validation
            # shares are not (each item is scored once).
            self.imports.add_name("monai.data", "partition_dataset")
            even = section == "train"
            datalist = (
                f"partition_dataset({datalist}, num_partitions=world_size, "
                f"even_divisible={even!r})[rank]"
            )
            comments = comments + [
                "multi_gpu: this rank caches its own share of the data list"
            ]
        data = ast.parse(datalist, mode="eval").body
        code = ast.unparse(self.emitter.construct(comp, extra=(("data", data),)))
        return Block(comments, target, code)

    def shard_loader(self, section: str, comp: Component) -> Component:
        """multi_gpu: a loader of a dataset that does not cache draws through a
        DistributedSampler, which takes over the loader's `shuffle`."""
        dataset = comp.arg("dataset")
        slot = self.slot(dataset) if isinstance(dataset, Ref) else None
        if isinstance(slot, Component) and slot.class_name in CACHED_DATASETS:
            return comp  # the dataset holds this rank's share already
        if not isinstance(dataset, Ref):
            self.diags.warning(
                "W104",
                comp.arg_span("dataset") if dataset is not None else comp.span,
                f"multi_gpu: {comp.locator}'s dataset is not a reference, so every "
                "rank loads all of it",
                'give the dataset its own key and write "dataset": "@dataset"',
            )
            return comp
        shuffle = comp.arg("shuffle")
        self.imports.add_name("monai.data", "DistributedSampler")
        call = ast.Call(
            ast.Name("DistributedSampler", ast.Load()),
            [ast.Name(self.ref_name(dataset), ast.Load())],
            [
                ast.keyword(
                    "shuffle",
                    (
                        self.emitter.node(shuffle)
                        if shuffle is not None
                        else literal_node(False)
                    ),
                ),
                ast.keyword("even_divisible", literal_node(section == "train")),
                ast.keyword("num_replicas", ast.Name("world_size", ast.Load())),
                ast.keyword("rank", ast.Name("rank", ast.Load())),
            ],
        )
        tree = ast.fix_missing_locations(ast.Expression(call))
        sampler = Expr(comp.span, ast.unparse(call), tree)
        if section == "train":
            self.ddp.train_sampler = True  # type: ignore[union-attr]
        comp = comp.with_arg("shuffle", None).with_arg("sampler", sampler)
        return dataclasses.replace(
            comp,
            notes=comp.notes
            + ("multi_gpu: the DistributedSampler gives each rank its share",),
        )

    # -- metrics -------------------------------------------------------------------------

    def metric(self, comp: Component, section: str, var: str) -> Metric | None:
        rule = METRICS.get(comp.class_name) if comp.path is None else None
        if rule is None:
            self.diags.error(
                "E600",
                comp.span,
                f"the plain target cannot lower the metric {comp.class_name!r} ({comp.locator})",
                "it lowers " + ", ".join(sorted(METRICS)),
            )
            return None
        keywords = [ast.keyword(k, literal_node(v)) for k, v in rule.fixed]
        fixed = {k for k, _ in rule.fixed}
        transform = None
        for key, value in comp.args:
            if key == "output_transform":
                transform = value
            elif key in rule.keep:
                keywords = [kw for kw in keywords if kw.arg != key]
                keywords.append(ast.keyword(key, self.emitter.node(value)))
            elif key not in fixed:
                self.diags.error(
                    "E600",
                    comp.arg_span(key),
                    f"the plain target cannot lower {comp.class_name}'s argument {key!r} yet",
                )
        self.imports.add_name("monai.metrics", rule.metric)
        code = ast.unparse(ast.Call(ast.Name(rule.metric), [], keywords))
        if transform is None:
            self.imports.add_name("monai.handlers", "from_engine")
            inputs = 'from_engine(["pred", "label"])(items)'
        elif isinstance(transform, Lit | ListV | DictV):  # data: nothing to call
            self.diags.error(
                "E602",
                transform.span,
                f"{comp.class_name}'s output_transform must be a callable: a lambda or "
                f"a '#' expression, not {_data_text(transform)} ({comp.locator})",
                "e.g. \"#monai.handlers.from_engine(['pred', 'label'])\"",
            )
            inputs = "()"
        else:
            call = ast.Call(self.emitter.node(transform), [ast.Name("items")], [])
            inputs = ast.unparse(call)
        label = comp.attr("log_label")
        label_text = str(label.value) if isinstance(label, Lit) else var
        notes = self.note(comp) + ([rule.note] if rule.note else [])
        return Metric(notes, var, label_text, code, inputs)

    def metrics_of(
        self, section: str, key_ref: Value | None, extra_ref: Value | None
    ) -> list[Metric]:
        metrics: list[Metric] = []
        prefix = SECTION_PREFIX[section]
        if isinstance(key_ref, Ref):
            slot = self.slot(key_ref)
            if isinstance(slot, Component):
                metric = self.metric(slot, section, f"{prefix}_key_metric")
                if metric:
                    metrics.append(metric)
        if isinstance(extra_ref, Ref):
            slot = self.slot(extra_ref)
            for i, comp in enumerate(slot if isinstance(slot, list) else []):
                metric = self.metric(comp, section, f"{prefix}_metric_{i + 1}")
                if metric:
                    metrics.append(metric)
        return metrics

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
        if inferer is None:
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

    def device_default(self, trainer: Component) -> str:
        device = trainer.arg("device")
        if isinstance(device, Lit) and isinstance(device.value, str):
            return device.value
        return "cuda"

    def device_help(self, trainer: Component) -> str:
        device = self.device_default(trainer)
        if device.startswith("cuda"):
            return f"cuda or cpu (default: {device} when there is a GPU, else cpu)"
        return f"cuda or cpu (default: {device})"

    def seed(self) -> str | None:
        det = self.config.extras.get("determinism")
        if det is None:
            return None
        seed = det.get("random_seed") if hasattr(det, "get") else None
        if isinstance(seed, Lit) and isinstance(seed.value, int):
            return repr(seed.value)
        self.diags.error("E602", det.span, "determinism needs an integer 'random_seed'")
        return None

    def backend_flags(self) -> list[str]:
        flags = []
        variables = self.config.variables
        if "cudnn_benchmark" in variables:
            flags.append(
                f"torch.backends.cudnn.benchmark = {bool(variables['cudnn_benchmark'])!r}"
            )
        if "tf32" in variables:
            tf32 = bool(variables["tf32"])
            flags.append(f"torch.backends.cuda.matmul.allow_tf32 = {tf32!r}")
            flags.append(f"torch.backends.cudnn.allow_tf32 = {tf32!r}")
        if variables.get("multi_gpu") is True and not self.LOWERS_MULTI_GPU:
            self.diags.warning(
                "W104",
                self.multi_gpu_span(),
                "multi_gpu is lowered by the plain target only; "
                "this script runs on one device",
                "compile with --target plain to train on several GPUs with torchrun",
            )
        return flags

    # -- finishing: imports, constants and options ---------------------------------------

    def add_path_options(self, script: Any, always: tuple[str, ...]) -> None:
        """MMAR_ROOT, the path variables the script uses (and `always`), and the exposed
        sizes: constants with their command-line options."""
        values = [
            v for _, _, c in self.config.components() for _, v in c.args + c.attrs
        ]
        for slots in self.config.sections.values():  # plain values of a section, e.g.
            for slot in slots.values():  # the enabled entry of a validation model list
                if isinstance(slot, Component | list):
                    continue
                items = slot.items if isinstance(slot, ListV) else (slot,)
                values += [v for v in items if not _disabled(v)]
        used = {
            node.name: node.default
            for value in values
            for node in walk(value)
            if isinstance(node, RuntimeVar)
        }
        constants: list[tuple[str, str, str]] = []
        options: list[Option] = []
        variables = self.config.variables
        mmar = os.path.relpath(
            self.ctx.mmar_root.resolve(), os.path.abspath(self.script_dir)
        )
        root_code = f"os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), {mmar!r}))"
        constants.append(
            ("MMAR_ROOT", root_code, "the MMAR this script was compiled from")
        )
        options.append(
            Option(
                "--mmar-root",
                "mmar_root",
                "MMAR_ROOT",
                "MMAR root; relative default paths are resolved against it",
            )
        )
        path_names = [
            n for n in PATH_VARIABLES if n != "MMAR_ROOT" and (n in used or n in always)
        ]
        for name in path_names:
            default = used.get(name, variables.get(name, DEFAULT_CKPT_DIR))
            source = (
                "environment.json"
                if self.ctx.env.get(name) is not None
                else self.config.file
            )
            constants.append((name, repr(default), source))
            options.append(
                Option(
                    f"--{name.lower().replace('_', '-')}",
                    option_dest(name),
                    name,
                    # argparse %-formats help: a % in a path is written %%
                    f"{name} (default: {str(default).replace('%', '%%')}, "
                    "relative to the MMAR root)",
                    is_path=True,
                )
            )
        for name, size in sorted(self.sizes.items()):
            what = {
                "CROP_SIZE": "random crop size",
                "ROI_SIZE": "sliding-window ROI size",
                "IMAGE_SIZE": "size the transforms crop and resize each image to",
            }[name]
            constants.append((name, repr(tuple(size)), f"the config's {what}"))
            options.append(
                Option(
                    f"--{name.lower().replace('_', '-')}",
                    option_dest(name),
                    name,
                    f"{what} (default: %(default)s)",
                    type="int",
                    nargs=len(size),
                )
            )
        script.constants = constants
        script.options = options

    def finish(self, script: PlainScript, values: dict[str, Any]) -> PlainScript:
        self.add_path_options(script, always=("MMAR_CKPT_DIR",))
        constants, options = script.constants, script.options
        if script.val is not None:
            interval = script.plan.val_interval or 1
            constants.append(("VAL_INTERVAL", repr(interval),
                              f"{script.plan.val_comment} ValidationHandler interval"))  # fmt: skip
            options.append(
                Option("--val-interval", "val_interval", "VAL_INTERVAL",
                       "validate every N epochs (default: %(default)s)", type="int")  # fmt: skip
            )
        epochs = self.trainer_epochs()

        constants.append(("EPOCHS", epochs[0], epochs[1]))
        options.append(
            Option(
                "--epochs",
                "epochs",
                "EPOCHS",
                "epochs to train (default: %(default)s)",
                type="int",
            )
        )
        script.search_constants = self.search_constants()
        script.train_conf = self.train_conf()
        for module in ("argparse", "json", "logging", "os", "time", "torch"):
            self.imports.add_module(module)
        self.imports.add_name("monai.data", "decollate_batch")
        if script.seed is not None:
            self.imports.add_name("monai.utils", "set_determinism")
        if any(log.tensorboard_dir for log in script.plan.logs.values()):
            self.imports.add_name("torch.utils.tensorboard", "SummaryWriter")
        if self.imports.byoc:
            self.imports.add_module("sys")
        if script.ddp is not None:
            self.imports.add_name("torch.nn.parallel", "DistributedDataParallel")
        for module in ("functools", "shlex", "signal", "sys"):  # stop and --resume
            self.imports.add_module(module)
        script.imports = self.imports.lines()
        script.byoc_imports = self.imports.byoc_lines()
        script.docstring = self.docstring(values)
        return script

    def train_conf(self) -> str:
        """TRAIN_CONF: the config's first-level values (what `@conf` names)."""
        values = {k: v.value for k, v in self.config.globals.items()}
        return ast.unparse(literal_node(values))

    def search_constants(
        self, extra: tuple[Component, ...] = ()
    ) -> list[tuple[str, str, str]]:
        """`CHANNELS = [16, 32]  # train.model:channels (net, enum)`, in search-space order;
        `extra`: components from elsewhere (validate.py's network comes from train)."""
        found: dict[str, SearchValue] = {}
        comps = [c for _, _, c in self.config.components()] + list(extra)
        for comp in comps:
            for _, value in comp.args + comp.attrs:
                for node in walk(value):
                    if isinstance(node, SearchValue):
                        found.setdefault(node.const, node)
        order = {
            arg.const: (i, j)
            for i, p in enumerate(self.ctx.space.params)
            for j, arg in enumerate(p.args)
        }
        out = []
        params = {p.id: p for p in self.ctx.space.params}
        for const, node in sorted(
            found.items(), key=lambda kv: order.get(kv[0], (0, 0))
        ):
            param = params.get(node.param)
            kind = (
                f" ({param.domain}, {param.type})" if param else " (the train search)"
            )
            if not is_literal(node.value):
                self.ctx.diags.error(
                    "E207",
                    node.value.span,
                    f"the searched value of {node.param} is computed; it becomes the "
                    f"module-level constant {const}, which must be a literal",
                    "write the value itself (a number, a string, a list)",
                )
                continue
            out.append((const, self.emitter.value(node.value), f"{node.param}{kind}"))
        return out

    def trainer_epochs(self) -> tuple[str, str]:
        trainer = self.config.sections["train"]["trainer"]
        assert isinstance(trainer, Component)
        value = trainer.arg("max_epochs")
        if (
            isinstance(value, Lit)
            and isinstance(value.value, int)
            and not isinstance(value.value, bool)
        ):
            return (
                repr(value.value),
                f"{self.config.file}:{value.span.line} train.trainer max_epochs",
            )
        self.diags.error(
            "E602",
            (value or trainer).span,
            "train.trainer needs an integer 'max_epochs'",
        )
        return "1", ""

    def docstring(self, values: dict[str, Any]) -> str:
        lines = [
            f"Train job {self.job} of {self.config.file}, compiled by claragen {__version__}.",
            "",
            f"Dialect: {get_dialect(self.config.dialect).title}. "
            "Target: plain PyTorch + MONAI "
            f"(MONAI {symbols.versions().get('monai', '?')}).",
        ]
        if values:
            lines += ["", "Search values of this job (parameter id = value):"]
            lines += [f"    {k} = {json.dumps(v)}" for k, v in values.items()]
        lines += [
            "",
            "Run:",
            "    python train.py [--epochs N] [--device cpu|cuda] [--data-root DIR] ...",
            "    python train.py --help",
        ]
        if self.ddp is not None:
            lines += [
                "",
                "multi_gpu: on N GPUs of this machine, one process each (DDP):",
                "    torchrun --nproc_per_node=N train.py [options as above]",
                "Each process trains on its share of the data; the gradients are averaged,",
                "the loss and the metrics are those of all processes. Only rank 0 logs and",
                "writes files. Without torchrun it trains on one device.",
            ]
        lines += [
            "",
            "It writes its checkpoints, TensorBoard logs and result.json (the key metric, its",
            "best value and epoch, per-epoch values, wall time) into --mmar-ckpt-dir.",
        ]
        return "\n".join(docstring_line(line) for line in lines)


def _disabled(value: Value) -> bool:
    flag = value.get("disabled") if isinstance(value, DictV) else None
    return isinstance(flag, Lit) and flag.value is True


def _data_text(value: Value) -> str:
    """How a diagnostic names a value that is data: `True`, `'x'`, a list, an object."""
    if isinstance(value, Lit):
        return repr(value.value)
    return "a list" if isinstance(value, ListV) else "an object"


def lower_plain(
    config: Config, ctx: PassContext, script_dir: str, job: str, values: dict[str, Any]
) -> PlainScript | None:
    lowering = PlainLowering(config, ctx, script_dir, job)
    script = lowering.lower()
    if script is None:
        return None
    return lowering.finish(script, values)
