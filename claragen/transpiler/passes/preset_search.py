"""Give a job's searched args their values before the legacy ports read them (SPEC 5).

A 3.x or 4.0 port derives some args from others: SegResnet's norm groups from
`init_filters`, the loss's activation and the post-transforms from the network's
`final_activation`. Every derived value follows the option it derives from, so the job's
values go in first, as plain values of the config's own (legacy) args, and the ports see
them as they see the config's:

    job {"train.model:init_filters": 4}  (3.x SegResnet, init_filters 16 in the config)
    -> SegResnet.init_filters = 4  -> the port: init_filters=4, norm groups 4, not 8

`apply_search` runs after the ports and marks the same args as the job's (the script's
constants, the journal's params), keeping the value the port made of them. The default
job (no values) leaves the config as it is; `@disabled` and first-level values are
`apply_search`'s alone (no port derives from them).
"""

from __future__ import annotations

from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Component, Config, DictV, Lit, map_components


def job_arg_values(config: Config, ctx: PassContext) -> dict[str, dict[str, Any]]:
    """locator -> {the config's arg name: the job's value}, for the searched init args
    and the args an `apply` gives an alias of the job's."""
    space = ctx.space
    chosen = ctx.job_values
    if not space or chosen is None:
        return {}
    values: dict[str, dict[str, Any]] = {}
    aliases: dict[str, Any] = {}
    for param in space.params:
        picked = chosen.get(param.id)
        if picked is None or param.kind != "component":
            continue
        for arg, value in zip(param.args, param.arg_values(picked), strict=True):
            if arg.is_attr:
                continue
            values.setdefault(param.locator, {})[arg.name] = value
            if arg.alias:
                aliases[arg.alias] = value
    if aliases:
        for _, _, comp in config.components():
            if not isinstance(comp.apply, DictV):
                continue
            for key, alias in comp.apply.items:
                name = alias.value if isinstance(alias, Lit) else None
                if not key.startswith("@") and name in aliases:
                    values.setdefault(comp.locator, {})[key] = aliases[name]
    return values


def preset_search(config: Config, ctx: PassContext) -> Config:
    values = job_arg_values(config, ctx)
    ctx.preset = bool(values)
    if not values:
        return config
    spans = {p.locator: p.span for p in ctx.space.params}

    def preset(comp: Component) -> Component:
        for name, value in values.get(comp.locator, {}).items():
            comp = comp.with_arg(name, Lit(spans.get(comp.locator) or comp.span, value))
        return comp

    return map_components(config, preset)
