"""Lower Clara/MONAI engine handlers into the plain loop's plan (SPEC 4.3, DESIGN targets).

Each handler class has one function in `HANDLERS`; it reads the handler's args and fills
the part of `LoopPlan` it is responsible for. A handler that has no function, or an arg a
function does not know how to lower, is reported as unsupported, never dropped.

    {"name": "LrScheduleHandler", "args": {"lr_scheduler": "@lr_scheduler", "print_lr": true}}
    -> plan.lr_step = "lr_scheduler.step()", stepped once per epoch, its lr logged
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.emit import Emitter
from claragen.transpiler.ir import Component, DictV, Expr, Lit, Ref, Value


@dataclass
class Saver:
    """A CheckpointSaver: what it saves, where, and when."""

    comment: str
    save_dir: str
    objects: str  # source of a dict of name -> object
    final: str | None = None  # file name
    interval: int = 0  # epochs
    key_metric: str | None = None  # file name of the best-key-metric checkpoint


@dataclass
class Loader:
    comment: str
    path: str
    objects: str
    strict: bool = True


@dataclass
class SectionLog:
    """StatsHandler / TensorBoardStatsHandler of one section."""

    iteration_tag: str | None = None  # log the loss each iteration under this tag
    epoch: bool = False  # log the metrics each epoch
    comments: list[str] = field(default_factory=list)
    tensorboard_dir: str | None = None
    tensorboard_tag: str | None = None
    tensorboard_epoch: bool = False


@dataclass
class LoopPlan:
    """What the handlers of both sections ask of the loop."""

    lr_step: str | None = None
    lr_epoch_level: bool = True
    print_lr: bool = False
    lr_comment: str | None = None
    lr_scheduler: str | None = None
    val_interval: int | None = None
    val_comment: str | None = None
    val_at_start: bool = False
    validator: Ref | None = None
    savers: dict[str, list[Saver]] = field(
        default_factory=lambda: {"train": [], "validate": []}
    )
    loaders: list[Loader] = field(default_factory=list)
    metrics_dir: str | None = None  # MetricsSaver: where metrics.json goes
    smartcache: str | None = None  # a SmartCacheDataset to start, update and shut down
    smartcache_comment: str | None = None
    logs: dict[str, SectionLog] = field(
        default_factory=lambda: {"train": SectionLog(), "validate": SectionLog()}
    )


@dataclass
class HandlerContext:
    emitter: Emitter
    diags: Diagnostics
    plan: LoopPlan
    section: str
    comment: str
    ckpt_dir: str  # expression of the default checkpoint folder


def _lit(value: Value | None, default: object) -> object:
    return value.value if isinstance(value, Lit) else default


def _is_silent(transform: Value | None) -> bool:
    """`"output_transform": "lambda x: None"`: nothing to log per iteration."""
    if isinstance(transform, Expr) and isinstance(transform.tree.body, ast.Lambda):
        result = transform.tree.body.body
        return isinstance(result, ast.Constant) and result.value is None
    return False


def _check_args(comp: Component, known: set[str], hc: HandlerContext) -> bool:
    ok = True
    for key, _ in comp.args:
        if key not in known:
            hc.diags.error(
                "E600",
                comp.arg_span(key),
                f"the plain target cannot lower {comp.class_name}'s argument {key!r} yet",
                f"remove it, or lower it by hand in the generated script ({comp.locator})",
            )
            ok = False
    return ok


def _state_objects(
    value: Value | None, hc: HandlerContext, comp: Component
) -> str | None:
    if not isinstance(value, DictV):
        hc.diags.error(
            "E602",
            (value or comp).span,
            f'{comp.class_name} needs a dict of objects, e.g. {{"model": "@model"}}',
        )
        return None
    return hc.emitter.value(value)


def lower_lr_schedule(comp: Component, hc: HandlerContext) -> None:
    if not _check_args(comp, {"lr_scheduler", "print_lr", "name", "epoch_level"}, hc):
        return
    scheduler = comp.arg("lr_scheduler")
    if scheduler is None:
        hc.diags.error("E402", comp.span, "LrScheduleHandler needs 'lr_scheduler'")
        return
    hc.plan.lr_scheduler = hc.emitter.value(scheduler)
    hc.plan.lr_step = f"{hc.plan.lr_scheduler}.step()"
    hc.plan.lr_epoch_level = bool(_lit(comp.arg("epoch_level"), True))
    hc.plan.print_lr = bool(_lit(comp.arg("print_lr"), True))
    hc.plan.lr_comment = hc.comment


def lower_validation(comp: Component, hc: HandlerContext) -> None:
    if not _check_args(
        comp, {"validator", "interval", "epoch_level", "exec_at_start"}, hc
    ):
        return
    validator = comp.arg("validator")
    if not isinstance(validator, Ref):
        hc.diags.error(
            "E402", comp.span, "ValidationHandler needs 'validator': \"@evaluator\""
        )
        return
    if not _lit(comp.arg("epoch_level"), True):
        hc.diags.error(
            "E600",
            comp.arg_span("epoch_level"),
            "the plain target validates at epoch level only",
            'set "epoch_level": true',
        )
    interval = _lit(comp.arg("interval"), 1)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        hc.diags.error(
            "E602",
            comp.arg_span("interval"),
            "ValidationHandler 'interval' must be an int >= 1",
        )
        interval = 1
    hc.plan.validator = validator
    hc.plan.val_interval = interval
    hc.plan.val_at_start = bool(_lit(comp.arg("exec_at_start"), False))
    hc.plan.val_comment = hc.comment


SAVER_ARGS = {
    "save_dir",
    "save_dict",
    "name",
    "file_prefix",
    "save_final",
    "final_filename",
    "save_key_metric",
    "key_metric_name",
    "key_metric_n_saved",
    "key_metric_filename",
    "save_interval",
    "n_saved",
    "epoch_level",
    "key_metric_save_state",
}


def lower_checkpoint_saver(comp: Component, hc: HandlerContext) -> None:
    if not _check_args(comp, SAVER_ARGS, hc):
        return
    objects = _state_objects(comp.arg("save_dict"), hc, comp)
    if objects is None:
        return
    save_dir = comp.arg("save_dir")
    saver = Saver(
        comment=hc.comment,
        save_dir=hc.emitter.value(save_dir) if save_dir is not None else hc.ckpt_dir,
        objects=objects,
    )
    if _lit(comp.arg("save_final"), False):
        saver.final = str(_lit(comp.arg("final_filename"), None) or "model_final.pt")
    interval = _lit(comp.arg("save_interval"), 0)
    if isinstance(interval, int) and interval > 0:
        saver.interval = interval
    if _lit(comp.arg("save_key_metric"), False):
        saver.key_metric = str(
            _lit(comp.arg("key_metric_filename"), None) or "model.pt"
        )
    hc.plan.savers[hc.section].append(saver)


def lower_checkpoint_loader(comp: Component, hc: HandlerContext) -> None:
    if not _check_args(
        comp, {"load_path", "load_dict", "name", "map_location", "strict"}, hc
    ):
        return
    objects = _state_objects(comp.arg("load_dict"), hc, comp)
    path = comp.arg("load_path")
    if objects is None or path is None:
        if path is None:
            hc.diags.error("E402", comp.span, "CheckpointLoader needs 'load_path'")
        return
    strict = bool(_lit(comp.arg("strict"), True))
    hc.plan.loaders.append(Loader(hc.comment, hc.emitter.value(path), objects, strict))


def lower_stats(comp: Component, hc: HandlerContext) -> None:
    """StatsHandler -> log lines; its own print callbacks (`iteration_print_logger`,
    `epoch_print_logger`) are replaced by the loop's log lines, as the comment says."""
    known = {"output_transform", "tag_name", "name", "iteration_log", "epoch_log",
             "iteration_print_logger", "epoch_print_logger"}  # fmt: skip
    for arg in ("iteration_print_logger", "epoch_print_logger"):
        if comp.arg(arg) is not None:
            hc.comment += f" (its {arg} is replaced by the loop's log lines)"

    if not _check_args(comp, known, hc):
        return
    log = hc.plan.logs[hc.section]
    silent = _is_silent(comp.arg("output_transform")) or not _lit(
        comp.arg("iteration_log"), True
    )
    if not silent and hc.section == "train":
        log.iteration_tag = str(_lit(comp.arg("tag_name"), "Loss"))
    log.epoch = bool(_lit(comp.arg("epoch_log"), True))
    log.comments.append(hc.comment)


def lower_tensorboard(comp: Component, hc: HandlerContext) -> None:
    known = {"output_transform", "tag_name", "log_dir", "iteration_log", "epoch_log"}
    if not _check_args(comp, known, hc):
        return
    log = hc.plan.logs[hc.section]
    log_dir = comp.arg("log_dir")
    log.tensorboard_dir = (
        hc.emitter.value(log_dir) if log_dir is not None else hc.ckpt_dir
    )
    silent = _is_silent(comp.arg("output_transform")) or not _lit(
        comp.arg("iteration_log"), True
    )
    if not silent and hc.section == "train":
        log.tensorboard_tag = str(_lit(comp.arg("tag_name"), "Loss"))
    log.tensorboard_epoch = bool(_lit(comp.arg("epoch_log"), True))
    log.comments.append(hc.comment)


def lower_smartcache(comp: Component, hc: HandlerContext) -> None:
    if not _check_args(comp, {"smartcacher"}, hc):
        return
    cacher = comp.arg("smartcacher")
    if cacher is None:
        hc.diags.error(
            "E402", comp.span, "SmartCacheHandler needs 'smartcacher': \"@dataset\""
        )
        return
    hc.plan.smartcache = hc.emitter.value(cacher)
    hc.plan.smartcache_comment = hc.comment


def lower_metrics_saver(comp: Component, hc: HandlerContext) -> None:
    """MetricsSaver -> metrics.json in its save_dir (the per-image details are not kept)."""
    known = {"save_dir", "metrics", "metric_details", "batch_transform", "summary_ops",
             "save_rank", "delimiter", "output_type"}  # fmt: skip
    if not _check_args(comp, known, hc):
        return
    save_dir = comp.arg("save_dir")
    hc.plan.metrics_dir = hc.emitter.value(save_dir) if save_dir is not None else None


HANDLERS: dict[str, Callable[[Component, HandlerContext], None]] = {
    "MetricsSaver": lower_metrics_saver,
    "SmartCacheHandler": lower_smartcache,
    "LrScheduleHandler": lower_lr_schedule,
    "ValidationHandler": lower_validation,
    "CheckpointSaver": lower_checkpoint_saver,
    "CheckpointLoader": lower_checkpoint_loader,
    "StatsHandler": lower_stats,
    "TensorBoardStatsHandler": lower_tensorboard,
}


def lower_handler(comp: Component, hc: HandlerContext) -> None:
    fn = HANDLERS.get(comp.class_name) if comp.path is None else None
    if fn is None:
        hc.diags.error(
            "E600",
            comp.span,
            f"the plain target cannot lower the handler {comp.class_name!r} ({comp.locator})",
            "the plain target lowers " + ", ".join(sorted(HANDLERS)),
        )
        return
    fn(comp, hc)
