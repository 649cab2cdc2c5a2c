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
from claragen.transpiler.ir import (
    Component,
    DictV,
    Expr,
    Lit,
    Ref,
    RuntimeVar,
    Value,
    is_literal,
    to_python,
)
from claragen.transpiler.written import config_name


@dataclass
class Saver:
    """A CheckpointSaver: what it saves, where, and when."""

    comment: str
    save_dir: str
    objects: str  # source of a dict of name -> object
    final: str | None = None  # file name
    interval: int | str = 0  # epochs (or the code of an option: "args.epochs")
    # the interval files' name before "_epoch=N.pt", as CheckpointSaver (ignite's
    # Checkpoint) names them: [file_prefix_]<the one object's name, or "checkpoint">
    interval_stem: str = "checkpoint"
    key_metric: str | None = None  # file name of the best-key-metric checkpoint


@dataclass
class Report:
    """A MetricsSaver: the metrics, each case's values and their summaries, written after
    each validation by MONAI's own `write_metrics_reports`, as the handler writes them.
    """

    comment: str
    note: str | None
    save_dir: str  # expression
    metrics: list[str] | None  # the labels to write; None: every one ("*")
    details: list[str]  # the labels whose per-case values are written ("*": every one)
    summary_ops: str  # source of a list, or None
    delimiter: str
    output_type: str


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
    report: Report | None = None  # MetricsSaver: its CSV reports
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


def _arg(comp: Component, name: str, hc: HandlerContext, default: object) -> object:
    """A handler arg's literal value; an expression the plain loop cannot take is said
    (W104), never silently replaced by the default."""
    value = comp.arg(name)
    if value is None:
        return default
    if is_literal(value):
        return to_python(value)
    if isinstance(value, RuntimeVar) and not isinstance(value.default, str):
        return value.default  # a value an option sets (--epochs): its compiled default
    hc.diags.warning(
        "W104",
        value.span,
        f"the plain target takes {comp.class_name}'s {name!r} as a literal; the config "
        f"computes it, so the script uses the default {default!r} ({comp.locator})",
        f"write {name!r} as a number or boolean, or compile with --target engines, "
        "which builds the handler as the config says",
    )
    return default


# CheckpointSaver / StatsHandler args the plain loop does not honour: arg -> (the value
# that changes nothing, what the plain loop does instead). Any other value is a W104.
NOT_HONOURED = {
    "n_saved": (None, "it keeps every interval checkpoint"),
    "key_metric_n_saved": (1, "it keeps the one best checkpoint"),
    "key_metric_name": (None, "the best checkpoint follows the key metric"),
    "key_metric_save_state": (False, "it saves no metric state"),
    "epoch_level": (True, "save_interval counts epochs"),
}


def _every_iteration(comp: Component, hc: HandlerContext) -> None:
    """`iteration_log: N` logs every N iterations in MONAI; the plain loop logs each."""
    value = comp.arg("iteration_log")
    n = value.value if isinstance(value, Lit) else None
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        hc.diags.warning(
            "W104",
            value.span,
            f"the plain target logs every iteration, not every {n} as "
            f"{comp.class_name}'s iteration_log={n} asks ({comp.locator})",
            "compile with --target engines for MONAI's handler, or edit the loop",
        )


def _not_honoured(comp: Component, hc: HandlerContext) -> None:
    for name, (neutral, instead) in NOT_HONOURED.items():
        value = comp.arg(name)
        if value is None or (isinstance(value, Lit) and value.value == neutral):
            continue
        shown = repr(value.value) if isinstance(value, Lit) else "an expression"
        hc.diags.warning(
            "W104",
            value.span,
            f"the plain target does not honour {comp.class_name}'s {name}={shown}: "
            f"{instead} ({comp.locator})",
            "compile with --target engines for MONAI's handler, or edit the loop",
        )


def _is_silent(transform: Value | None) -> bool:
    """`"output_transform": "lambda x: None"`: nothing to log per iteration."""
    if isinstance(transform, Expr) and isinstance(transform.tree.body, ast.Lambda):
        result = transform.tree.body.body
        return isinstance(result, ast.Constant) and result.value is None
    return False


# What a Stats/TensorBoardStatsHandler's output_transform may be when the plain loop logs
# the iteration's loss, as it does: the loss itself, or nothing (_is_silent).
LOSS_TRANSFORMS = frozenset({
    "lambda x: x['loss']",
    "monai.handlers.from_engine(['loss'], first=True)",
})  # fmt: skip


def _logs_the_loss(comp: Component, hc: HandlerContext) -> bool:
    """Whether the handler logs what the plain loop logs per iteration, the loss; any
    other output_transform is said (W104), and the handler logs no iteration line."""
    transform = comp.arg("output_transform")
    if transform is None or _is_silent(transform):
        return True
    text = ast.unparse(transform.tree.body) if isinstance(transform, Expr) else None
    if text in LOSS_TRANSFORMS:
        return True
    hc.diags.warning(
        "W104",
        transform.span,
        f"the plain target logs each iteration's loss; {comp.class_name}'s "
        f"output_transform computes something else, which it does not log "
        f"({comp.locator})",
        "compile with --target engines for MONAI's handler, or edit the loop",
    )
    return False


def _loss_tag(comp: Component, hc: HandlerContext, current: str | None) -> str | None:
    """The name the plain loop logs each training iteration's loss under, with this
    Stats/TensorBoardStatsHandler lowered (`current`: the name before it): its tag_name,
    unless it logs nothing per iteration or something else than the loss. The loop logs
    the loss under one name; a second handler's other tag is said."""
    silent = _is_silent(comp.arg("output_transform")) or not _arg(
        comp, "iteration_log", hc, True
    )
    if silent or hc.section != "train" or not _logs_the_loss(comp, hc):
        return current
    tag = str(_arg(comp, "tag_name", hc, "Loss"))
    if current is not None and current != tag:
        hc.diags.warning(
            "W104",
            comp.arg_span("tag_name") if comp.arg("tag_name") else comp.span,
            f"the plain target logs the loss under one name, {current!r}; "
            f"{comp.class_name} ({comp.locator}) asks for {tag!r} too, which it does "
            "not log",
            "compile with --target engines for MONAI's handlers, or edit the loop",
        )
        return current
    return tag


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
    hc.plan.lr_epoch_level = bool(_arg(comp, "epoch_level", hc, True))
    hc.plan.print_lr = bool(_arg(comp, "print_lr", hc, True))
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
    if not _arg(comp, "epoch_level", hc, True):
        hc.diags.error(
            "E600",
            comp.arg_span("epoch_level"),
            "the plain target validates at epoch level only",
            'set "epoch_level": true',
        )
    interval = _arg(comp, "interval", hc, 1)
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        hc.diags.error(
            "E602",
            comp.arg_span("interval"),
            "ValidationHandler 'interval' must be an int >= 1",
        )
        interval = 1
    hc.plan.validator = validator
    hc.plan.val_interval = interval
    hc.plan.val_at_start = bool(_arg(comp, "exec_at_start", hc, False))
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
    _not_honoured(comp, hc)
    objects = _state_objects(comp.arg("save_dict"), hc, comp)
    if objects is None:
        return
    save_dir = comp.arg("save_dir")
    saver = Saver(
        comment=hc.comment,
        save_dir=hc.emitter.value(save_dir) if save_dir is not None else hc.ckpt_dir,
        objects=objects,
    )
    if _arg(comp, "save_final", hc, False):
        saver.final = str(_arg(comp, "final_filename", hc, None) or "model_final.pt")
    interval = _arg(comp, "save_interval", hc, 0)
    if isinstance(interval, int) and interval > 0:
        saver.interval = interval
        if isinstance(comp.arg("save_interval"), RuntimeVar):  # "{epochs}": --epochs
            saver.interval = hc.emitter.value(comp.arg("save_interval"))  # type: ignore[arg-type]
        saver.interval_stem = interval_stem(comp, hc)
    if _arg(comp, "save_key_metric", hc, False):
        if hc.section == "train":  # the plain loop's best model is validation's
            hc.diags.error(
                "E600",
                comp.arg_span("save_key_metric"),
                f"the plain target cannot lower save_key_metric of {comp.class_name} "
                f"on the trainer ({comp.locator}): MONAI scores it by the trainer's key "
                "metric each epoch, and the plain loop's best model is validation's",
                "use --target engines (auto does), or move the saver to validate's "
                "handlers",
            )
            return
        saver.key_metric = str(
            _arg(comp, "key_metric_filename", hc, None) or "model.pt"
        )
    hc.plan.savers[hc.section].append(saver)


def interval_stem(comp: Component, hc: HandlerContext) -> str:
    """ignite's Checkpoint names a file `{prefix}_{name}_{score_name}={score}.pt`: the
    name is the one saved object's key, or "checkpoint" for several (MONAI's
    CheckpointSaver passes its file_prefix as the prefix and "epoch" as the score name);
    the plain loop writes the same names."""
    save = comp.arg("save_dict")
    keys = [k for k, _ in save.items] if isinstance(save, DictV) else []
    name = keys[0] if len(keys) == 1 else "checkpoint"
    prefix = _arg(comp, "file_prefix", hc, "")
    return f"{prefix}_{name}" if prefix else name


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
    strict = bool(_arg(comp, "strict", hc, True))
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
    _every_iteration(comp, hc)
    log = hc.plan.logs[hc.section]
    log.iteration_tag = _loss_tag(comp, hc, log.iteration_tag)
    log.epoch = bool(_arg(comp, "epoch_log", hc, True))
    log.comments.append(hc.comment)


def lower_tensorboard(comp: Component, hc: HandlerContext) -> None:
    known = {"output_transform", "tag_name", "log_dir", "iteration_log", "epoch_log"}
    if not _check_args(comp, known, hc):
        return
    _every_iteration(comp, hc)
    log = hc.plan.logs[hc.section]
    log_dir = comp.arg("log_dir")
    log.tensorboard_dir = (
        hc.emitter.value(log_dir) if log_dir is not None else hc.ckpt_dir
    )
    trainer_dir = hc.plan.logs["train"].tensorboard_dir
    if hc.section == "validate" and trainer_dir not in (None, log.tensorboard_dir):
        hc.diags.warning(
            "W104",
            log_dir.span if log_dir is not None else comp.span,
            f"the plain target writes TensorBoard with one writer, into the trainer's "
            f"folder ({trainer_dir}); {comp.class_name} ({comp.locator}) asks for "
            f"{log.tensorboard_dir}, which gets no events",
            "compile with --target engines for MONAI's two handlers, or edit the loop",
        )
    log.tensorboard_tag = _loss_tag(comp, hc, log.tensorboard_tag)
    log.tensorboard_epoch = bool(_arg(comp, "epoch_log", hc, True))
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
    """MetricsSaver -> metrics.json in its save_dir, and MONAI's CSV reports: each metric,
    each case's values (`metric_details`, by the image's file name) and their summaries.
    """
    known = {"save_dir", "metrics", "metric_details", "batch_transform", "summary_ops",
             "save_rank", "delimiter", "output_type"}  # fmt: skip
    if not _check_args(comp, known, hc):
        return
    save_dir = comp.arg("save_dir")
    hc.plan.metrics_dir = hc.emitter.value(save_dir) if save_dir is not None else None
    names = {}
    for arg, default in (("metrics", "*"), ("metric_details", None)):
        value = _arg(comp, arg, hc, default)
        names[arg] = [value] if isinstance(value, str) else value
    ops = _arg(comp, "summary_ops", hc, None)
    hc.plan.report = Report(
        comment=hc.comment,
        note=(
            "its batch_transform: the loop takes each image's file name"
            if comp.arg("batch_transform") is not None
            else None
        ),
        save_dir=hc.plan.metrics_dir or hc.ckpt_dir,
        metrics=None if names["metrics"] in (None, ["*"]) else list(names["metrics"]),
        details=list(names["metric_details"] or []),
        summary_ops=repr(ops),
        delimiter=str(_arg(comp, "delimiter", hc, ",")),
        output_type=str(_arg(comp, "output_type", hc, "csv")),
    )


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
            f"the plain target cannot lower the handler {config_name(comp.class_name, comp.origin)!r} "
            f"({comp.locator})",
            "the plain target lowers " + ", ".join(sorted(HANDLERS)),
        )
        return
    fn(comp, hc)
