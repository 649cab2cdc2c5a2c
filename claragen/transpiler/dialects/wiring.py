"""The wiring 4.0 left implicit (SPEC 4.2), shared by the 3.x and 4.0 dialects.

"trainer": {"name": "SupervisedTrainer", "args": {"max_epochs": "{epochs}"}}
-> args + train_data_loader="@dataloader", network="@model", ... (WIRING)
"save_dict": ["model", "train_conf"] -> {"model": "@model", "train_conf": "@conf"}
"metrics": [{..., "is_key_metric": true}, {...}] -> key_metric + additional_metrics
"output_transform": "lambda x: (x['pred'], x['label'])"
-> "#monai.handlers.from_engine(['pred', 'label'])"   (outputs are decollated since 4.1)
"""

from __future__ import annotations

import ast
import copy
import dataclasses

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Expr,
    ListV,
    Lit,
    Ref,
    Slot,
    Value,
    Var,
)
from claragen.transpiler.values import parse_code

# (section, key) -> the args 4.0 left implicit: arg -> the slot it names ("@x"), or a
# variable ("{x}"), or code ("#..."). `*` is any section. DOC-41-UPG, SPEC 4.3.
WIRING: dict[tuple[str, str], dict[str, str]] = {
    ("train", "optimizer"): {"params": "#@model.parameters()"},
    ("train", "lr_scheduler"): {"optimizer": "@optimizer"},
    ("*", "dataset"): {"transform": "@pre_transforms"},
    ("*", "dataloader"): {"dataset": "@dataset"},
    ("train", "trainer"): {
        "max_epochs": "{epochs}",
        "train_data_loader": "@dataloader",
        "network": "@model",
        "loss_function": "@loss",
        "optimizer": "@optimizer",
        "inferer": "@inferer",
        "postprocessing": "@post_transforms",
        "key_train_metric": "@key_metric",
        "additional_metrics": "@additional_metrics",
        "train_handlers": "@handlers",
        "amp": "{amp}",
        "iteration_update": "@iteration",  # DeepGrow's click interaction
    },
    ("validate", "evaluator"): {
        "val_data_loader": "@dataloader",
        "network": "@model",
        "inferer": "@inferer",
        "postprocessing": "@post_transforms",
        "key_val_metric": "@key_metric",
        "additional_metrics": "@additional_metrics",
        "val_handlers": "@handlers",
        "amp": "{amp}",
        "iteration_update": "@iteration",
    },
}
# Handler class -> the args 4.0 filled in from the sections.
HANDLER_WIRING: dict[str, dict[str, str]] = {
    "LrScheduleHandler": {"lr_scheduler": "@lr_scheduler"},
    "ValidationHandler": {"validator": "@evaluator"},
    "SmartCacheHandler": {"smartcacher": "@dataset"},
}
# Slot -> the required args that no config writes, in any dialect: the generated code
# gives them itself (a dataset's items are the data list's, an engine runs on the
# script's device). Every other required arg is the config's to give (E402).
TARGET_GIVES: dict[str, frozenset[str]] = {
    "dataset": frozenset({"data"}),
    "trainer": frozenset({"device"}),
    "evaluator": frozenset({"device"}),
}


# Args that MONAI's signature leaves optional and that the class needs all the same: it
# fails when it runs without them ("please set validator in __init__()").
NEEDED_AT_RUN: dict[str, tuple[str, ...]] = {"ValidationHandler": ("validator",)}


def needed(sym: symbols.Symbol) -> tuple[str, ...]:
    """The args a class of the table cannot do without."""
    return (*sym.required, *NEEDED_AT_RUN.get(sym.name, ()))


def given_elsewhere(
    section: str, slot: str | None, class_name: str, dialect: str
) -> frozenset[str]:
    """The required args of a slot's component that the config need not write: those
    the generated code gives (TARGET_GIVES) and, in 3.x and 4.0, those the wiring fills
    in, which says itself where the section has nothing to wire (one error a cause)."""
    if slot is None:
        return frozenset()
    given = TARGET_GIVES.get(slot, frozenset())
    if dialect in ("3", "4.0"):
        wired = {**WIRING.get(("*", slot), {}), **WIRING.get((section, slot), {})}
        given |= {*wired, *HANDLER_WIRING.get(class_name, {})}
    return given


# Args that were a list of section names and are a dict of objects since 4.1.
NAME_LISTS = {"CheckpointSaver": "save_dict", "CheckpointLoader": "load_dict"}
CONF_NAME = "train_conf"  # the section-name list entry meaning the whole config (@conf)


# Objects a section shares with the other one (validate's evaluator uses train's model);
# anything else an engine takes must be its own section's (train has no post_transforms of
# validate's).
SHARED = frozenset({"model", "optimizer", "lr_scheduler", "evaluator", "conf"})


def _exists(config: Config, section: str, target: str) -> bool:
    """Whether implicit wiring would find `target` for `section`."""
    if target == "conf":
        return True
    own = config.sections.get(section, {})
    slots = [own] + (list(config.sections.values()) if target in SHARED else [])
    return any(target in s and s[target] != [] for s in slots)


def _wired(
    text: str, span, config: Config, section: str, ctx: PassContext
) -> Value | None:
    if text.startswith("@"):
        return Ref(span, text[1:]) if _exists(config, section, text[1:]) else None
    if text.startswith("{"):
        name = text.strip("{}")
        return Var(span, name) if name in config.globals else None
    return parse_code(text[1:], span, "expr", ctx.diags, offset=1)


def _add_args(
    comp: Component,
    wiring: dict[str, str],
    config: Config,
    section: str,
    ctx: PassContext,
) -> Component:
    """The wired args first (`DataLoader(dataset=..., batch_size=2)`), then the config's."""
    added: list[tuple[str, Value]] = []
    sym = symbols.lookup(comp.class_name) if comp.path is None else None
    for arg, text in wiring.items():
        if comp.arg(arg) is None:
            value = _wired(text, comp.span, config, section, ctx)
            if value is not None:
                added.append((arg, value))
            elif (
                sym is not None
                and arg in needed(sym)
                and text.startswith("@")
                and not ctx.diags.errors  # no slot an earlier error left out
            ):
                ctx.diags.error(
                    "E402",
                    comp.name_span or comp.span,
                    f"{comp.class_name} ({comp.locator}) needs {arg!r}, which Clara "
                    f"wired from the section's {text[1:]!r}: the config's {section} "
                    f"section has none",
                    f'add "{text[1:]}" to "{section}"',
                )
    return dataclasses.replace(comp, args=tuple(added) + comp.args)


def split_metrics(config: Config, ctx: PassContext) -> Config:
    """`metrics` with `is_key_metric` -> `key_metric` + `additional_metrics` (4.1)."""
    sections = {}
    for section, slots in config.sections.items():
        new: dict[str, Slot] = {}
        for key, slot in slots.items():
            if key != "metrics" or not isinstance(slot, list):
                new[key] = slot
                continue
            keyed = [c for c in slot if _is_key(c)]
            key_metric = keyed[0] if keyed else (slot[0] if slot else None)
            if key_metric is not None:
                new["key_metric"] = _without_attr(key_metric, "is_key_metric")
            new["additional_metrics"] = [
                _without_attr(c, "is_key_metric") for c in slot if c is not key_metric
            ]
        sections[section] = new
    return dataclasses.replace(config, sections=sections)


def _is_key(comp: Component) -> bool:
    flag = comp.attr("is_key_metric") or comp.arg("is_key_metric")
    return isinstance(flag, Lit) and flag.value is True


def _without_attr(comp: Component, name: str) -> Component:
    return dataclasses.replace(
        comp, attrs=tuple((k, v) for k, v in comp.attrs if k != name)
    ).with_arg(name, None)


def wire(config: Config, ctx: PassContext) -> Config:
    """Add the references 4.0 left implicit (WIRING, HANDLER_WIRING, NAME_LISTS)."""
    sections = {}
    for section, slots in config.sections.items():
        new: dict[str, Slot] = {}
        for key, slot in slots.items():
            wiring = WIRING.get((section, key)) or WIRING.get(("*", key))
            if isinstance(slot, Component) and wiring:
                slot = _add_args(slot, wiring, config, section, ctx)
            elif isinstance(slot, list) and key == "handlers":
                slot = [_wire_handler(h, config, section, ctx) for h in slot]
            elif (
                isinstance(slot, list) and wiring
            ):  # alternatives: optimizer, loss lists
                slot = [_add_args(c, wiring, config, section, ctx) for c in slot]

            new[key] = slot
        sections[section] = new
    return dataclasses.replace(config, sections=sections)


def _wire_handler(
    comp: Component, config: Config, section: str, ctx: PassContext
) -> Component:
    comp = _add_args(
        comp, HANDLER_WIRING.get(comp.class_name, {}), config, section, ctx
    )
    arg = NAME_LISTS.get(comp.class_name)
    names = comp.arg(arg) if arg else None
    if (
        comp.class_name == "CheckpointLoader"
        and names is None
        and _exists(config, section, "model")
    ):  # 4.0 loaded the model when load_dict was not given
        model = DictV(comp.span, (("model", Ref(comp.span, "model")),))
        return comp.with_arg("load_dict", model)
    if isinstance(names, ListV) and all(isinstance(n, Lit) for n in names.items):
        targets = [(str(n.value), n.span) for n in names.items]  # type: ignore[union-attr]
        items = tuple(
            (name, Ref(span, "conf" if name == CONF_NAME else name))
            for name, span in targets
            if name == CONF_NAME or _exists(config, section, name)
        )
        comp = comp.with_arg(arg, DictV(names.span, items))  # type: ignore[arg-type]
    return comp


def _pair_keys(expr: Expr) -> list[str] | None:
    """`lambda x: (x['pred'], x['label'])` -> ['pred', 'label']; `lambda x: x['loss']` ->
    ['loss']; anything else -> None."""
    lam = expr.tree.body
    if not isinstance(lam, ast.Lambda) or len(lam.args.args) != 1:
        return None
    param = lam.args.args[0].arg
    parts = lam.body.elts if isinstance(lam.body, ast.Tuple) else [lam.body]
    keys = []
    for part in parts:
        if not (
            isinstance(part, ast.Subscript)
            and isinstance(part.value, ast.Name)
            and part.value.id == param
            and isinstance(part.slice, ast.Constant)
            and isinstance(part.slice.value, str)
        ):
            return None
        keys.append(part.slice.value)
    return keys


class _Columns(ast.NodeTransformer):
    """`engine.state.batch['image']` (a column of MONAI 0.5's collated batch dict) ->
    `monai.data.list_data_collate(engine.state.batch)['image']` (MONAI 1.x's decollated
    items collated again: the same batch tensor, list of names, dict of meta data); the
    same of `engine.state.output`, but for its 'loss', one value then, which every item
    holds (`monai.handlers.from_engine(['loss'], first=True)`)."""

    def __init__(self, param: str):
        self.param, self.found = param, []

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:  # noqa: N802 (ast's)
        node = self.generic_visit(node)  # type: ignore[assignment]
        base = node.value
        if (
            isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
            and isinstance(base, ast.Attribute)
            and base.attr in ("batch", "output")
            and isinstance(base.value, ast.Attribute)
            and base.value.attr == "state"
            and isinstance(base.value.value, ast.Name)
            and base.value.value.id == self.param
        ):
            self.found.append(ast.unparse(node))
            if base.attr == "output" and node.slice.value == "loss":
                code = "monai.handlers.from_engine(['loss'], first=True)"
                return ast.Call(ast.parse(code, mode="eval").body, [base], [])
            collate = ast.parse("monai.data.list_data_collate", mode="eval").body
            return ast.Subscript(ast.Call(collate, [base], []), node.slice, ast.Load())
        return node


def _engine_columns(value) -> tuple[str, list[str]] | None:
    """A lambda of the engine that reads a column of its batch or output, rewritten to
    read the decollated items; None where there is none (or the lambda holds variables,
    which are resolved later)."""
    if not isinstance(value, Expr) or value.kind != "lambda" or value.values:
        return None
    lam = value.tree.body
    if not isinstance(lam, ast.Lambda) or len(lam.args.args) != 1:
        return None
    columns = _Columns(lam.args.args[0].arg)
    tree = columns.visit(copy.deepcopy(lam))
    return (ast.unparse(tree), columns.found) if columns.found else None


def decollated_transforms(config: Config, ctx: PassContext) -> Config:
    """4.0 lambdas read batch dicts; 4.1 engines pass lists of decollated items."""

    def fix(comp: Component) -> Component:
        # output_transform reads the engine's output (one value: the first item's);
        # batch_transform the batch (MetricsSaver: the items' meta dicts, one per item)
        for arg, first in (("output_transform", True), ("batch_transform", False)):
            transform = comp.arg(arg)
            if not isinstance(transform, Expr) or transform.kind != "lambda":
                continue
            keys = _pair_keys(transform)
            if keys is None:
                continue
            extra = ", first=True" if len(keys) == 1 and first else ""
            code = f"monai.handlers.from_engine({keys!r}{extra})"
            new = parse_code(code, transform.span, "expr", ctx.diags, offset=0)
            note = f"migrated: {arg} {transform.source!r} -> {code} (decollated data)"
            comp = dataclasses.replace(
                comp.with_arg(arg, new), notes=comp.notes + (note,)
            )
        for arg, value in comp.args:
            if (found := _engine_columns(value)) is not None:
                code, columns = found
                new = parse_code(code, value.span, "lambda", ctx.diags, offset=0)
                note = (
                    f"migrated: {arg} reads {', '.join(columns)} of MONAI 0.5's "
                    "collated batch and output; MONAI 1.x's engines decollate them "
                    "into items, which it collates again (the loss: the first item's)"
                )
                comp = dataclasses.replace(
                    comp.with_arg(arg, new), notes=comp.notes + (note,)
                )
        return comp

    sections = {}
    for section, slots in config.sections.items():
        sections[section] = {
            key: (
                [fix(c) for c in slot]
                if isinstance(slot, list)
                else fix(slot) if isinstance(slot, Component) else slot
            )
            for key, slot in slots.items()
        }
    return dataclasses.replace(config, sections=sections)
