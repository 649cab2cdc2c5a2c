"""Clara 3.x validation configs (SPEC 2.3) -> the 4.0 validation shape, before the ports.

A 3.x `config_validation.json` names no dataset, loader or evaluator: Clara's evaluation
command read the datalist and ran the graph. Its sections become 4.0 ones, which the 3.x
component ports and the 4.0 wiring then finish:

    pre_transforms + label_transforms          -> pre_transforms (image, then label)
    post_transforms SplitBasedOnLabel{field,   -> AsDiscreted(to_onehot=N) + SplitDimd
        label_names}                              (keys "pred_<postfix>")
    label_transforms SplitBasedOnLabel            -> the same, on the label, after inference
    CopyProperties                             -> left out (MONAI's metadata carries it)
    writers WriteNifti{field, dtype, write_path} -> SaveImaged post-transforms
    val_metrics                                -> metrics (the first is the key metric)
    model_loader CheckpointLoader / FrozenGraphModelLoader
                                               -> model {"ckpt_path"} / {"ts_path"}
    (nothing)                                  -> dataset, dataloader, SupervisedEvaluator
"""

from __future__ import annotations

import dataclasses
from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.dialects.conversions import split_channels
from claragen.transpiler.dialects.legacy import make, value
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Lit,
    Slot,
    is_literal,
    to_python,
)

SECTION = "validate"
KEY_NAMES = {"model": "pred"}
SPLITTERS = ("SplitBasedOnLabel", "SplitAcrossChannels")
DROPPED = {"CopyProperties": "MONAI's metadata carries the affine with each item"}


def _lit(comp: Component, name: str, default: Any = None) -> Any:
    value = comp.arg(name)
    return to_python(value) if value is not None and is_literal(value) else default


def _make(name: str, like: Component, args: dict[str, Any], note: str,
          ctx: PassContext, **attrs: Any) -> Component:  # fmt: skip
    return make(name, like.locator, like.span, args, ctx, note=note, **attrs)


def _renamed(comp: Component, renames: dict[str, str], args: tuple[str, ...],
             ctx: PassContext) -> Component:  # fmt: skip
    for arg in args:
        field = _lit(comp, arg)
        if isinstance(field, str) and field in renames:
            comp = comp.with_arg(arg, value(renames[field], comp.arg_span(arg), ctx))
    return comp


def _writer(comp: Component, renames: dict[str, str], ctx: PassContext) -> Component:
    """WriteNifti{field, dtype, write_path} -> SaveImaged, one file name postfix per key."""
    field = str(_lit(comp, "field", "model"))
    key = renames.get(field, KEY_NAMES.get(field, field))
    args: dict[str, Any] = {
        "keys": key,
        "output_postfix": key,
        "separate_folder": False,
    }
    out = _make("SaveImaged", comp, args, f"Clara 3.x {comp.name} -> SaveImaged", ctx)
    for arg, new in (("write_path", "output_dir"), ("dtype", "output_dtype")):
        if comp.arg(arg) is not None:
            out = out.with_arg(new, comp.arg(arg))
    return out


def _model(loader: Component | None, span: Span, ctx: PassContext) -> Slot:
    if loader is not None and loader.name == "FrozenGraphModelLoader":
        entry = {"ts_path": "{MMAR_TORCHSCRIPT}"}
        note = "a TensorFlow frozen graph -> the TorchScript model of the PyTorch port"
    else:
        entry = {"ckpt_path": "{MMAR_CKPT}"}
        note = "Clara 3.x model_loader CheckpointLoader -> the checkpoint"
    ctx.diags.warning("W102", loader.span if loader else span, f"model_loader: {note}")
    result = value(entry, loader.span if loader else span, ctx)
    assert isinstance(result, DictV)
    return result


def validation_sections(config: Config, ctx: PassContext) -> Config:
    """A 3.x validation config's sections in the 4.0 shape (no-op for other configs)."""
    if config.kind != "validation" or SECTION not in config.sections:
        return config
    slots = dict(config.sections[SECTION])
    if "dataset" in slots or "evaluator" in slots:
        return config
    span = config.section_spans.get(SECTION, config.span)
    renames: dict[str, str] = {}
    pre: list[Component] = []
    post: list[Component] = []
    label_splits: list[Component] = (
        []
    )  # a split of the label waits for the prediction's
    for key in ("pre_transforms", "label_transforms"):
        for comp in slots.pop(key, None) or []:
            if comp.name in SPLITTERS:
                label_splits += split_channels(comp, ctx, renames)
            else:
                pre.append(comp)
    for comp in slots.pop("post_transforms", None) or []:
        if comp.name in SPLITTERS:
            post += split_channels(comp, ctx, renames)
        elif comp.name in DROPPED:
            ctx.diags.warning("W101", comp.name_span or comp.span,
                              f"{comp.name} is not needed ({DROPPED[comp.name]}); left out")  # fmt: skip
        else:
            post.append(comp)
    post += label_splits
    post += [_writer(w, renames, ctx) for w in slots.pop("writers", None) or []]
    metrics = [
        _renamed(m, renames, ("field", "label_field"), ctx)
        for m in slots.pop("val_metrics", None) or []
    ]
    split_keys = set(renames.values())
    metrics = [
        (
            m.with_arg("include_background", Lit(m.span, True))
            if _lit(m, "field") in split_keys
            else m
        )
        for m in metrics
    ]  # a one-class key has no background channel to leave out
    if metrics and not any(_lit(m, "is_key_metric", False) for m in metrics):
        metrics[0] = metrics[0].with_arg("is_key_metric", Lit(metrics[0].span, True))
    loader = slots.pop("model_loader", None)
    slots["model"] = _model(
        loader if isinstance(loader, Component) else None, span, ctx
    )
    list_key: Any = (
        "{DATA_LIST_KEY}" if "DATA_LIST_KEY" in config.globals else "validation"
    )
    dataset = make("Dataset", f"{SECTION} (its dataset)", span, {}, ctx,
                   note="made for Clara 3.x, whose evaluation read the datalist")  # fmt: skip
    attrs = {"data_list_file_path": "{DATASET_JSON}", "data_file_base_dir": "{DATA_ROOT}",
             "data_list_key": list_key}  # fmt: skip
    dataset = dataclasses.replace(
        dataset, attrs=tuple((k, value(v, span, ctx)) for k, v in attrs.items())
    )
    batch = "{batch_size}" if "batch_size" in config.globals else 1
    new: dict[str, Slot] = {"pre_transforms": pre, "dataset": dataset}
    new["dataloader"] = make("DataLoader", f"{SECTION} (its loader)", span,
                             {"batch_size": batch, "shuffle": False}, ctx)  # fmt: skip
    new.update(slots)
    new["post_transforms"] = post
    new["metrics"] = metrics
    new["handlers"] = [make("StatsHandler", SECTION, span,
                            {"output_transform": "lambda x: None"}, ctx)]  # fmt: skip
    amp = "{use_amp}" if "use_amp" in config.globals else False
    new["evaluator"] = make("SupervisedEvaluator", SECTION, span, {"amp": amp}, ctx,
                            note="made for Clara 3.x, which had no evaluator component")  # fmt: skip
    sections = dict(config.sections)
    sections[SECTION] = new
    return dataclasses.replace(config, sections=sections)
