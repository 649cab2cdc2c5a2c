"""Read the AutoML search blocks and apply one job's values (SPEC 5).

    "search": [{"args": ["prob#myProb"], "type": "float", "targets": [0, 1]}]  (on transform A)
    "apply": {"prob": "myProb"}                                                 (on transform B)
    -> B.prob = A.prob

    first-level "search": [{"args": ["d1", "d2"], "type": "enum",
                            "targets": [[true, false], [false, true]]}]
    "apply": {"@disabled": "d1"} -> disabled = true  (the job's value of the free tag d1)

Without job values (the default job) every searched arg keeps the config's own value and a
free first-level tag, which has none, takes its first enum choice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Diagnostics, Span, did_you_mean
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    ListV,
    Lit,
    Value,
    to_python,
)

ATTR_KEY = "@"  # "@disabled": a component attribute, not an init arg
ALIAS_SEP = "#"  # "prob#myProb"
SEARCH_TYPES = ("float", "enum")


@dataclass(frozen=True)
class SearchArg:
    name: str  # init-arg name, "@disabled", a first-level variable, or a free tag
    alias: str | None


@dataclass(frozen=True)
class SearchParam:
    """One search item: its id, where it lives, what it sets and its domain."""

    id: str  # "train.model:channels", ":learning_rate"
    locator: str  # "" for first level
    domain: str
    type: str
    args: tuple[SearchArg, ...]
    targets: Any
    span: Span


def read_search(
    block: Value | None, locator: str, diags: Diagnostics
) -> list[SearchParam]:
    """The search items of one `search` block."""
    if block is None:
        return []
    if not isinstance(block, ListV):
        diags.error(block.span, "'search' must be a list of search items")
        return []
    params = []
    for item in block.items:
        if not isinstance(item, DictV):
            diags.error(item.span, "a search item must be an object")
            continue
        fields = dict(item.items)
        type_ = fields.get("type")
        type_name = type_.value if isinstance(type_, Lit) else None
        if type_name not in SEARCH_TYPES:
            diags.error(
                (type_ or item).span,
                f"unknown search type {type_name!r}",
                did_you_mean(str(type_name), SEARCH_TYPES) or "use 'float' or 'enum'",
            )
            continue
        raw_args = fields.get("args")
        names: list[str] = []
        if isinstance(raw_args, Lit) and isinstance(raw_args.value, str):
            names = [raw_args.value]  # "args": "if_use_psp" (DOC-AML-UG)
        elif isinstance(raw_args, ListV) and all(
            isinstance(a, Lit) and isinstance(a.value, str) for a in raw_args.items
        ):
            names = [a.value for a in raw_args.items]  # type: ignore[misc]
        if not names:
            diags.error(
                (raw_args or item).span,
                "search 'args' must be a name or a list of names",
            )
            continue
        args = tuple(
            SearchArg(*n.split(ALIAS_SEP, 1)) if ALIAS_SEP in n else SearchArg(n, None)
            for n in names
        )
        targets = fields.get("targets")
        domain = fields.get("domain")
        params.append(
            SearchParam(
                id=f"{locator}:{','.join(a.name for a in args)}",
                locator=locator,
                domain=str(domain.value) if isinstance(domain, Lit) else "",
                type=type_name,
                args=args,
                targets=to_python(targets) if targets is not None else None,
                span=item.span,
            )
        )
    return params


def _first_choice(param: SearchParam, index: int) -> Any:
    targets = param.targets
    if param.type == "float":
        return targets[0] if isinstance(targets, list) and targets else None
    if isinstance(targets, list) and targets:
        choice = targets[0]
        if isinstance(choice, list) and index < len(choice):
            return choice[index]
        return choice
    return None


def map_components(config: Config, fn: Callable[[Component], Component]) -> Config:
    """Rebuild every top-level component of every section with `fn`."""
    sections = {}
    for section, slots in config.sections.items():
        new = {}
        for key, slot in slots.items():
            if isinstance(slot, Component):
                new[key] = fn(slot)
            elif isinstance(slot, list):
                new[key] = [fn(c) for c in slot]
            else:
                new[key] = slot
        sections[section] = new
    return dataclasses.replace(config, sections=sections)


def apply_search(config: Config, ctx: PassContext) -> Config:
    diags = ctx.diags
    chosen = ctx.job_values or {}
    aliases: dict[str, Value] = {}
    globals_ = dict(config.globals)

    def value_of(param: SearchParam, index: int, own: Value | None) -> Value | None:
        if param.id in chosen:
            picked = chosen[param.id]
            picked = picked[index] if param.type == "enum" else picked
            return Lit(param.span, picked)
        if own is not None:
            return own
        first = _first_choice(param, index)
        return None if first is None else Lit(param.span, first)

    # First-level search: searched variables and free tags.
    for param in read_search(config.search, "", diags):
        for i, arg in enumerate(param.args):
            name = arg.name.lstrip(ATTR_KEY)
            own = globals_.get(name)
            value = value_of(param, i, own)
            if value is None:
                continue
            if own is not None:
                globals_[name] = Lit(own.span, to_python(value))
            aliases[name] = value
            if arg.alias:
                aliases[arg.alias] = value

    # Component search: the component's own arg (or attribute) value, or the job's.
    def searched(comp: Component) -> Component:
        for param in read_search(comp.search, comp.locator, diags):
            for i, arg in enumerate(param.args):
                is_attr = arg.name.startswith(ATTR_KEY)
                own = comp.disabled if is_attr else comp.arg(arg.name)
                if is_attr and own is None:
                    own = Lit(param.span, False)
                value = value_of(param, i, own)
                if value is None:
                    continue
                if arg.alias:
                    if arg.alias in aliases:
                        diags.error(param.span, f"alias {arg.alias!r} is defined twice")
                    aliases[arg.alias] = value
                if is_attr:
                    comp = dataclasses.replace(comp, disabled=value)
                elif value is not own:
                    comp = comp.with_arg(arg.name, value)
        return comp

    config = map_components(config, searched)

    def applied(comp: Component) -> Component:
        if comp.apply is None:
            return comp
        if not isinstance(comp.apply, DictV):
            diags.error(comp.apply.span, "'apply' must map arg names to aliases")
            return comp
        for key, alias_node in comp.apply.items:
            alias = alias_node.value if isinstance(alias_node, Lit) else None
            if not isinstance(alias, str) or alias not in aliases:
                diags.error(
                    alias_node.span,
                    f"'apply' names the undefined alias {alias!r}",
                    did_you_mean(str(alias), aliases)
                    or "define it with 'arg#alias' in a search block, or as a first-level tag",
                )
                continue
            value = dataclasses.replace(aliases[alias], span=alias_node.span)  # type: ignore[call-arg]
            if key.startswith(ATTR_KEY):
                comp = dataclasses.replace(comp, disabled=value)
            else:
                comp = comp.with_arg(key, value)
        return comp

    config = map_components(config, applied)
    config.globals = globals_
    return config
