"""Clara 3.x (TensorFlow era) lowered to MONAI/PyTorch components (SPEC 8).

    {"name": "ScaleByResolution#ScaleImg", "args": {"fields": ["image"],
     "target_resolution": [1.0, 1.0, 1.0]}}
    -> {"name": "Spacingd", "args": {"keys": ["image"], "pixdim": [1.0, 1.0, 1.0],
        "mode": "bilinear"}}
    "image_pipeline": SegmentationImagePipelineWithCache -> "dataset" (CacheDataset) +
                      "dataloader"
    "lr_policy": {"name": "DecayOnStep"} -> "lr_scheduler": StepLR + LrScheduleHandler
    (3.x has no trainer, evaluator nor handlers: they are made as Clara 3.x ran them)

The components themselves are ported by ports.py (the table, shared with the 4.0
dialect); this module gives a 3.x config the structure of a 4.0 one, whose rules
(wiring.py) then add the wiring.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import did_you_mean
from claragen.transpiler.dialects.aux_ops import keep_raw_outputs, port_aux_ops
from claragen.transpiler.dialects.base import Dialect
from claragen.transpiler.dialects.clara3_validation import validation_sections
from claragen.transpiler.dialects.legacy import (
    FINAL_ACTIVATION,
    Porting,
    given,
    literal,
    make,
    value,
)
from claragen.transpiler.dialects.ports import (
    NO_EQUIVALENT,
    port_component,
    port_components,
)
from claragen.transpiler.dialects.wiring import (
    decollated_transforms,
    split_metrics,
    wire,
)
from claragen.transpiler.ir import (
    Component,
    Config,
    Lit,
    Slot,
    Template,
    Value,
    Var,
    to_python,
)

# Sections 3.x had that the MONAI engines do not need.
DROPPED_SECTIONS = {"batch_transforms": "list_data_collate flattens crop samples"}

PIPELINES = {
    "SegmentationImagePipeline": "Dataset",
    "ClassificationImagePipeline": "Dataset",
    "SegmentationImagePipelineWithCache": "CacheDataset",
    "SegmentationKerasImagePipelineWithCache": "CacheDataset",
}
# The pipelines whose arguments Clara documents in full (CLARA_COMPONENTS.md: D); the
# segmentation ones are observed in NVIDIA's configs only (O)
PIPELINES_COMPLETE = frozenset({"ClassificationImagePipeline"})
PIPELINE_ATTRS = ("data_list_file_path", "data_file_base_dir", "data_list_key")
# What Clara's BaseImagePipeline required of every image pipeline besides the data list
# (CLARA_COMPONENTS.md, D31-DATA)
PIPELINE_REQUIRED = ("data_file_base_dir", "data_list_key", "output_crop_size")
PIPELINE_USED = (*PIPELINE_ATTRS, "output_batch_size", "batched_by_transforms",
                 "num_workers", "num_cache_objects", "replace_percent", "shuffle")  # fmt: skip
# The other image_pipeline args Clara documents (D31-DATA, D31-SC): why MONAI needs none.
PIPELINE_LEFT_OUT = {
    "output_crop_size": "the transforms crop",
    "output_data_format": "MONAI is channel-first",
    "output_data_dims": "the transforms and the network set the dimensions",
    "output_image_channels": "the network's in_channels says it",
    "output_label_channels": "the loss and metrics say it",
    "output_image_dtype": "MONAI keeps float32 tensors",
    "output_label_format": "the label transforms make the label",
    "prefetch_size": "the DataLoader prefetches",
    "repeat": "the loop runs its epochs",
    "duplicate_count": "no MONAI loader duplicates items",
    "multiprocessing": "the DataLoader's workers are processes",
    "extra_inputs": "every key of the datalist reaches the transforms",
    "batch_transforms": "list_data_collate flattens crop samples",
    "items_per_category": "no class-balanced sampler is ported",
    "category_weights": "no class-balanced sampler is ported",
}
# Clara's documented defaults (ClassificationImagePipeline, D31-DATA; the segmentation
# pipelines take the same).
PIPELINE_DEFAULTS = {"output_batch_size": 10, "num_workers": 4}


def port_pipeline(section: str, pipe: Component, ctx: PassContext) -> dict[str, Slot]:
    """image_pipeline -> dataset + dataloader."""
    if pipe.name not in PIPELINES:
        if pipe.name not in NO_EQUIVALENT and pipe.path is None:
            ctx.diags.error(
                "E404",
                pipe.name_span or pipe.span,
                f"unknown Clara 3.x image pipeline {pipe.name!r} ({pipe.locator})",
                did_you_mean(str(pipe.name), PIPELINES)
                or "give a MONAI dataset and dataloader instead",
            )
        elif pipe.name in NO_EQUIVALENT:
            port_component(pipe, Porting(Config("", "3", pipe.span), ctx))
        return {}
    attrs = {k: pipe.arg(k) for k in PIPELINE_ATTRS if pipe.arg(k) is not None}
    if "data_list_file_path" not in attrs:
        ctx.diags.error(
            "E405",
            pipe.span,
            f"{pipe.name} needs a 'data_list_file_path' ({pipe.locator})",
            'add "data_list_file_path": "{DATASET_JSON}"',
        )
    missing = [a for a in PIPELINE_REQUIRED if pipe.arg(a) is None]
    if missing:  # a validation without its data_list_key read the training list
        ctx.diags.missing_args(
            pipe.name_span or pipe.span,
            f"Clara 3.x {pipe.name}",
            missing,
            pipe.locator,
            f": Clara's image pipelines required {'them' if len(missing) > 1 else 'it'}",
        )
    notes = _pipeline_notes(pipe, ctx)
    workers = given(pipe, "num_workers", PIPELINE_DEFAULTS["num_workers"])
    dataset_args: dict[str, Any] = {}
    target = PIPELINES[pipe.name]
    if target == "CacheDataset":
        dataset_args = {"cache_num": given(pipe, "num_cache_objects", 2**31 - 1),
                        "cache_rate": 1.0, "num_workers": workers}  # fmt: skip
        if literal(pipe, "replace_percent", 0):  # a cache that replaces items (SPEC 8)
            target = "SmartCacheDataset"
            dataset_args = {"cache_num": dataset_args["cache_num"],
                            "replace_rate": given(pipe, "replace_percent", 0),
                            "num_init_workers": workers,
                            "num_replace_workers": workers}  # fmt: skip
    dataset = dataclasses.replace(
        make(target, pipe.locator, pipe.span, dataset_args, ctx,
             note=f"Clara 3.x {pipe.name} -> {target} + DataLoader"),
        attrs=tuple(attrs.items()),
    )  # fmt: skip
    dataset = dataclasses.replace(dataset, notes=dataset.notes + tuple(notes))
    batched = literal(pipe, "batched_by_transforms", False)
    batch_size = (
        1
        if batched
        else given(pipe, "output_batch_size", PIPELINE_DEFAULTS["output_batch_size"])
    )
    loader = make(
        "DataLoader",
        f"{pipe.locator} (its loader)",
        pipe.span,
        {"batch_size": batch_size,
         "shuffle": given(pipe, "shuffle", True) if section == "train" else False,
         "num_workers": workers},
        ctx,
        note="batched_by_transforms: the crop transform makes the batch" if batched else None,
    )  # fmt: skip
    return {"dataset": dataset, "dataloader": loader}


def _pipeline_notes(pipe: Component, ctx: PassContext) -> list[str]:
    """What became of each image_pipeline arg the port does not use; an arg Clara does not
    document is an error with a did-you-mean."""
    notes = []
    for name, _ in pipe.args:
        if name in PIPELINE_USED:
            continue
        if name in PIPELINE_LEFT_OUT:
            notes.append(f"3.x arg {name!r} left out: {PIPELINE_LEFT_OUT[name]}")
            continue
        hint = did_you_mean(name, (*PIPELINE_USED, *PIPELINE_LEFT_OUT))
        if pipe.name in PIPELINES_COMPLETE or hint:  # a misspelling of one we know
            ctx.diags.error(
                "E401",
                pipe.arg_span(name),
                f"{pipe.name} takes no argument {name!r} ({pipe.locator})",
                hint,
            )
        else:  # observed in NVIDIA's configs only: Clara may have taken more
            ctx.diags.warning(
                "W100",
                pipe.arg_span(name),
                f"{pipe.name}'s argument {name!r} is not one Clara documents (its "
                f"arguments are known only in part): it is left out ({pipe.locator})",
                hint,
            )
            notes.append(f"3.x arg {name!r} left out: not one Clara documents")
    for name, default in PIPELINE_DEFAULTS.items():
        if pipe.arg(name) is None:
            notes.append(f"3.x arg {name!r} not given: Clara's default, {default}")
    return notes


LR_HANDLER_ITERATION_LEVEL = {"StepLR"}  # DecayOnStep counted iterations


# Pipelines whose label is the data list's vector of classes (`"label": [0, 1, 1]`).
LABEL_VECTORS = frozenset({"ClassificationImagePipeline"})


def label_vector(pipe: Component, ctx: PassContext) -> Component:
    """Clara's classification pipeline gave the network's loss the label vector as
    float32 (its output_label_format); MONAI's loaders leave the data list's list a
    list, which the collate makes a list of tensors, one a class, and the loss fails."""
    return make("EnsureTyped", pipe.locator, pipe.span,
                {"keys": "label", "dtype": "float32"}, ctx,
                note=f"Clara 3.x {pipe.name} gave the label vector as float32")  # fmt: skip


def structure(config: Config, ctx: PassContext) -> Config:
    """Pipelines, the lr policy, and the trainer, evaluator and handlers 3.x left implicit."""
    if config.kind == "validation":  # validation_sections gave it its 4.0 shape
        return config
    train = dict(config.sections.get("train", {}))
    validate = dict(config.sections.get("validate", {}))
    span = config.section_spans.get("train", config.span)
    val_span = config.section_spans.get("validate", span)
    for name, slots in (("train", train), ("validate", validate)):
        pipe = slots.pop("image_pipeline", None)
        if isinstance(pipe, Component):
            slots.update(port_pipeline(name, pipe, ctx))
            if pipe.name in LABEL_VECTORS and isinstance(
                slots.get("pre_transforms"), list
            ):
                slots["pre_transforms"] = [
                    *slots["pre_transforms"],
                    label_vector(pipe, ctx),
                ]
        elif name in config.sections:
            ctx.diags.error(
                "E405", span, f"{name} has no image_pipeline", "3.x configs give one"
            )
        for key, why in DROPPED_SECTIONS.items():
            dropped = slots.pop(key, None)
            if dropped:
                first = dropped[0] if isinstance(dropped, list) else dropped
                ctx.diags.warning(
                    "W101", first.span, f"{name}.{key} is not needed ({why}); left out"
                )
        aux = slots.pop("aux_ops", None)
        for op in aux if isinstance(aux, list) else []:
            port_component(op, Porting(config, ctx))  # every aux op has no equivalent
    lr_policy = train.pop("lr_policy", None)
    given = train.get("handlers")
    handlers: list[Component] = (
        list(given)
        if isinstance(given, list)
        else [given] if isinstance(given, Component) else []
    )
    dataset = train.get("dataset")
    if isinstance(dataset, Component) and dataset.class_name == "SmartCacheDataset":
        handlers.append(make("SmartCacheHandler", dataset.locator, dataset.span,
                             {"smartcacher": "@dataset"}, ctx))  # fmt: skip
    if isinstance(lr_policy, Component):
        train["lr_scheduler"] = lr_policy
        level = lr_policy.class_name not in LR_HANDLER_ITERATION_LEVEL
        handlers.insert(0, make("LrScheduleHandler", "train.lr_policy (its handler)",
                                lr_policy.span,
                                {"print_lr": True, "epoch_level": level}, ctx))  # fmt: skip
    amp = "{use_amp}" if "use_amp" in config.globals else False
    if "trainer" not in train:
        train["trainer"] = make(
            "SupervisedTrainer",
            "train",
            span,
            {"max_epochs": "{epochs}", "amp": amp},
            ctx,
            note="made for Clara 3.x, which had no trainer component",
        )
    if not any(h.class_name == "ValidationHandler" for h in handlers) and validate:
        interval = "{num_training_epoch_per_valid}"
        if "num_training_epoch_per_valid" not in config.globals:
            interval = 1
        handlers.append(make("ValidationHandler", "train", span,
                             {"interval": interval, "epoch_level": True}, ctx))  # fmt: skip
    if not any(h.class_name == "CheckpointSaver" for h in handlers):
        handlers += [
            make("CheckpointSaver", "train", span,
                 {"save_dir": "{MMAR_CKPT_DIR}", "save_dict": ["model", "optimizer"],
                  "save_final": True}, ctx),
            make("StatsHandler", "train", span, {"tag_name": "train_loss"}, ctx),
            make("TensorBoardStatsHandler", "train", span,
                 {"log_dir": "{MMAR_CKPT_DIR}", "tag_name": "train_loss"}, ctx),
        ]  # fmt: skip
    train["handlers"] = [_loader_args(h, ctx) for h in handlers]
    if validate:
        validate.setdefault(
            "evaluator",
            make("SupervisedEvaluator", "validate", val_span, {"amp": amp}, ctx,
                 note="made for Clara 3.x, which had no evaluator component"),
        )  # fmt: skip
        validate.setdefault("post_transforms", _post_transforms(config, ctx))
        validate.setdefault("handlers", [
            make("StatsHandler", "validate", val_span,
                 {"output_transform": "lambda x: None"}, ctx),
            make("CheckpointSaver", "validate", val_span,
                 {"save_dir": "{MMAR_CKPT_DIR}", "save_dict": ["model"],
                  "save_key_metric": True}, ctx),
        ])  # fmt: skip
    sections = dict(config.sections)
    sections["train"] = train
    if validate:
        sections["validate"] = validate
    return dataclasses.replace(config, sections=sections)


def _post_transforms(config: Config, ctx: PassContext) -> list[Component]:
    """What 3.x did inside the graph: the final activation, then discrete predictions."""
    p = Porting(config, ctx)
    span = config.section_spans.get("validate", config.span)
    act = p.activation
    pipe = config.sections.get("train", {}).get("image_pipeline")
    if isinstance(pipe, Component) and pipe.name in LABEL_VECTORS:
        if p.model_arg("final_activation") is None and FINAL_ACTIVATION not in (
            config.extras
        ):  # the loss says: a sigmoid for BinaryClassificationLoss's classes
            loss = config.sections["train"].get("loss")
            losses = loss if isinstance(loss, list) else [loss]
            binary = any(isinstance(x, Component) and x.class_name == "BCEWithLogitsLoss"
                         for x in losses)  # fmt: skip
            act = "sigmoid" if binary else "softmax"
        if act == "linear":
            return []
        return [make("Activationsd", "validate", span, {"keys": "pred", act: True}, ctx,
                     note=f"Clara 3.x classification: the metrics read the {act} "
                     "probabilities of each class")]  # fmt: skip
    if act == "sigmoid":
        return [
            make(
                "Activationsd", "validate", span, {"keys": "pred", "sigmoid": True}, ctx
            ),
            make(
                "AsDiscreted", "validate", span, {"keys": "pred", "threshold": 0.5}, ctx
            ),
        ]
    discrete = make("AsDiscreted", "validate", span,
                    {"keys": ["pred", "label"], "argmax": [True, False],
                     "to_onehot": p.classes}, ctx)  # fmt: skip
    if act == "linear":  # the logits' argmax is the probabilities'
        return [discrete]
    return [
        make("Activationsd", "validate", span, {"keys": "pred", "softmax": True}, ctx),
        discrete,
    ]


def _loader_args(handler: Component, ctx: PassContext) -> Component:
    """3.x CheckpointLoader {checkpoint_dir} -> {load_path, load_dict}."""
    if handler.class_name != "CheckpointLoader" or handler.arg("load_path") is not None:
        return handler
    folder = handler.arg("checkpoint_dir")
    handler = handler.with_arg("checkpoint_dir", None).with_arg(
        "checkpoint_file_prefix", None
    )
    path = "{MMAR_CKPT}" if folder is None else None
    handler = handler.with_arg(
        "load_path",
        value(path, handler.span, ctx) if path else _join(folder, "model.pt"),
    )
    return handler.with_arg("load_dict", value(["model"], handler.span, ctx))


def _join(folder: Value, name: str) -> Value:
    if isinstance(folder, Var):
        return Template(folder.span, (folder, "/" + name))
    if isinstance(folder, Template):
        return dataclasses.replace(folder, parts=folder.parts + ("/" + name,))
    return Lit(folder.span, f"{to_python(folder)}/{name}")


def amp_variable(config: Config, ctx: PassContext) -> Config:
    """3.x `use_amp` is 4.x `amp`."""
    if "use_amp" in config.globals and "amp" not in config.globals:
        globals_ = dict(config.globals)
        globals_["amp"] = config.globals["use_amp"]
        return dataclasses.replace(config, globals=globals_)
    return config


class Clara3(Dialect):
    name = "3"
    title = "Clara 3.x (TensorFlow)"
    code_strings = False
    RULES = (amp_variable, validation_sections, port_aux_ops, port_components, structure,
             keep_raw_outputs, split_metrics, wire, decollated_transforms)  # fmt: skip
