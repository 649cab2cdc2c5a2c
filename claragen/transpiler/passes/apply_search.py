"""Apply one job's search values to the config (SPEC 5).

    "search": [{"args": ["prob#myProb"], "type": "float", "targets": [0, 1]}]  (on transform A)
    "apply": {"prob": "myProb"}                                                 (on transform B)
    job {"train.pre_transforms[5]:prob": 0.25}
    -> A.prob = B.prob = SearchValue("MY_PROB", 0.25)      (the script: prob=MY_PROB)

    first-level "search": [{"args": ["d1", "d2"], "type": "enum",
                            "targets": [[true, false], [false, true]]}]
    "apply": {"@disabled": "d1"} -> disabled = the job's value of the free tag d1

Without job values (the default job) every searched arg keeps the config's own value, so
does every arg an `apply` names (Clara applied aliases in AutoML jobs only: `train.sh`
trained `RandGaussianNoised(prob=0.1)` even where `prob` applies `myProb`), a searched
arg the config leaves out stays out (the class's default), and a free first-level tag,
which has no value of its own, changes nothing, except in a list of alternatives
(`loss`, `optimizer`: exactly one enabled), where the default job must choose: it takes
the tag's first choice, with W101 for each component that leaves. The space itself is
read and checked once per config by `claragen.transpiler.space.read_space`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects.legacy import FINAL_ACTIVATION
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Lit,
    SearchValue,
    Value,
    is_literal,
    map_components,
    to_python,
)
from claragen.transpiler.passes.disabled import LIST_SLOTS
from claragen.transpiler.passes.variables import variable_table
from claragen.transpiler.space import ATTR_KEY, SearchParam

# A 3.x arg that leaves with its port while other ports derive from it: the job's value
# reaches them (`preset_search` gives it before the ports), so it is not inert
READ_BY_PORTS = frozenset({FINAL_ACTIVATION})


def first_value(param: SearchParam) -> Any:
    """The value a job without a config value of its own takes: the first choice, or min."""
    return param.choices[0] if param.type == "enum" else param.low


def default_values(config: Config, ctx: PassContext) -> dict[str, Any]:
    """The default job's value of each parameter: the config's own (a first-level one
    as environment.json and --set make it, which the job trains with); None where the
    job leaves the config as it is (an arg it leaves out, a free tag that no list of
    alternatives needs); else the first choice."""
    space = ctx.space
    variables = variable_table(config, ctx)
    components = {c.locator: c for _, _, c in config.components()}
    needed = set(alternatives(config))  # free tags that a list of alternatives needs
    values: dict[str, Any] = {}
    for param in space.params:
        own: list[Any] = []
        for arg in param.args:
            node: Value | None = None
            if param.kind == "component" and param.locator not in components:
                pass  # ported into other components (3.x aux_ops): nothing to mark
            elif param.kind == "component":
                comp = components[param.locator]
                node = comp.disabled if arg.is_attr else comp.arg(arg.name)
                if arg.is_attr and node is None:
                    node = Lit(comp.span, False)
            elif param.kind == "variable":
                node = variables.get(arg.name)
            own.append(
                to_python(node) if node is not None and is_literal(node) else None
            )
        if param.kind == "tag":  # no value of its own; one only where one is needed
            chosen = any(a.name.lstrip(ATTR_KEY) in needed for a in param.args)
            values[param.id] = first_value(param) if chosen else None
        elif param.kind == "component" and any(v is None for v in own):
            values[param.id] = None  # the config leaves it to the class's default
        elif any(v is None for v in own):
            values[param.id] = first_value(param)
        else:
            values[param.id] = own if param.type == "enum" else own[0]
    return values


def alternatives(config: Config) -> dict[str, list[str]]:
    """Free tags that an `apply` of '@disabled' gives to the items of a list of
    alternatives (`loss`, `optimizer`: exactly one enabled), and those items' locators.
    Such a list needs a choice in every job; the default job takes the tag's first,
    unless the items' own `disabled` values leave one enabled, as Clara trained it."""
    out: dict[str, list[str]] = {}
    for slots in config.sections.values():
        for key, slot in slots.items():
            if not isinstance(slot, list) or key in LIST_SLOTS:
                continue
            enabled = [c for c in slot if not (isinstance(c.disabled, Lit)
                                               and c.disabled.value is True)]  # fmt: skip
            if len(enabled) == 1:  # the config's own "disabled" values choose, as Clara
                continue
            for comp in slot:
                for attr, alias in (
                    comp.apply.items if isinstance(comp.apply, DictV) else ()
                ):
                    if attr == ATTR_KEY + "disabled" and isinstance(alias, Lit):
                        out.setdefault(str(alias.value), []).append(comp.locator)
    return out


def _node(value: Any, span) -> Value:
    return Lit(span, value)


def takes(name: str | None, path: str | None, key: str) -> bool:
    """Whether a component of class `name` (or BYOC `path`) takes `key` (an attribute,
    and the arg of a class claragen does not know, it may)."""
    if key.startswith(ATTR_KEY) or path is not None or name is None:
        return True
    sym = symbols.lookup(name)
    return sym is None or sym.accepts(key)


def apply_search(config: Config, ctx: PassContext) -> Config:
    space = ctx.space
    if not space:
        return config
    chosen = ctx.job_values if ctx.job_values is not None else {}
    components = {c.locator: c for _, _, c in config.components()}
    changes: dict[str, dict[str, Value]] = {}  # locator -> {arg or "@disabled": value}
    aliases: dict[str, Value] = {}
    first_tags: dict[str, tuple[str, Any]] = {}  # free tags at their first choice
    globals_ = dict(config.globals)
    searched = dict(config.searched)

    for param in space.params:
        picked = chosen.get(param.id)
        per_arg = (
            param.arg_values(picked) if picked is not None else [None] * len(param.args)
        )
        for arg, value in zip(param.args, per_arg, strict=True):
            span = param.span
            if param.kind == "component" and param.locator not in components:
                # a 3.x component its port made into others (aux_ops): the port had the
                # job's value (preset_search); there is no arg of it left to mark
                continue
            if param.kind == "component":
                comp = components[param.locator]
                target = (
                    arg.name
                    if arg.is_attr
                    else dict(comp.renamed).get(arg.name, arg.name)
                )
                if target is None and arg.name in READ_BY_PORTS:
                    continue  # the ports derived from the job's value (preset_search)
                if target is None:  # a ported legacy arg with no MONAI equivalent
                    if param.id not in ctx.inert_params:
                        ctx.inert_params.add(param.id)
                        ctx.diags.warning(
                            "W107",
                            param.span,  # type: ignore[arg-type]
                            f"the searched arg {arg.name!r} has no MONAI equivalent "
                            f"({param.locator}); its values change nothing in the scripts",
                        )
                    continue
                if not takes(comp.name, comp.path, target):
                    continue  # read_space said so (E504)
                own = comp.disabled if arg.is_attr else comp.arg(target)
                if arg.is_attr and own is None:
                    own = Lit(comp.span, False)
                if value is None and own is None:
                    continue  # the default job: unset in the config, as Clara trained it
                # an init arg: the job's value as the port made it, where
                # preset_search gave it before the ports
                preset = ctx.preset and own is not None and not arg.is_attr
                kept = value is None or preset
                node = own if kept else _node(value, span)
                if not arg.is_attr:
                    node = SearchValue(node.span, arg.const, node, param.id)  # type: ignore[arg-type, union-attr]
                changes.setdefault(param.locator, {})[target] = node  # type: ignore[assignment]
                if arg.is_attr:
                    ctx.disabled_by.setdefault(param.locator, []).append(param.id)
            elif param.kind == "variable":
                if value is not None:
                    globals_[arg.name] = Lit(globals_[arg.name].span, value)
                node = globals_[arg.name]
                searched[arg.name] = (arg.const, param.id)  # type: ignore[assignment]
                node = SearchValue(node.span, arg.const, node, param.id)  # type: ignore[arg-type]
            else:  # a free tag
                if value is None:  # the default job: a value where a choice is needed
                    value = param.arg_values(first_value(param))[param.args.index(arg)]
                    first_tags[arg.name.lstrip(ATTR_KEY)] = (param.id, value)
                node = _node(value, span)
            if arg.alias and picked is not None:
                # an alias carries a value the job chose; without one (the default job)
                # every component keeps its own, as Clara trained without AutoML
                aliases[arg.alias] = node
            if param.kind == "tag":
                aliases[arg.name.lstrip(ATTR_KEY)] = node

    choosing = alternatives(config)
    for locator, comp in components.items():
        if isinstance(comp.apply, DictV):
            for key, alias in comp.apply.items:
                name = alias.value if isinstance(alias, Lit) else None
                key = dict(comp.renamed).get(key, key)  # type: ignore[assignment]
                if key is None or not takes(comp.name, comp.path, key):
                    continue  # an arg it does not take: read_space said so (E504)
                if name in first_tags and locator not in choosing.get(name, ()):
                    continue  # the default job: the config's own value, as Clara's
                if isinstance(name, str) and name in aliases:
                    changes.setdefault(locator, {})[key] = aliases[name]
                    if (
                        key == ATTR_KEY + "disabled"
                        and first_tags.get(name, ("", 0))[1] is True
                    ):
                        ctx.diags.warning(
                            "W101",
                            alias.span,
                            f"{comp.class_name} ({locator}) is left out of the default "
                            f"job: its 'disabled' applies the free tag {name!r}, which has "
                            "no value outside a search, and the default job takes the "
                            f"first choice of {first_tags[name][0]} (true for {name!r})",
                            "--jobs grid compiles every choice; or give the config's "
                            'components "disabled" values of their own',
                        )
                    if key == ATTR_KEY + "disabled":
                        ctx.disabled_by.setdefault(locator, []).append(
                            space.param(space.aliases[name][0]).id
                        )

    def change(comp: Component) -> Component:
        for key, value in changes.get(comp.locator, {}).items():
            if key.startswith(ATTR_KEY):
                inner = value.value if isinstance(value, SearchValue) else value
                comp = dataclasses.replace(comp, disabled=inner)
            else:
                comp = comp.with_arg(key, value)
        return comp

    out = map_components(config, change)
    return dataclasses.replace(out, globals=globals_, searched=searched)
