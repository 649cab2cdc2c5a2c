"""References: `ref` components (SPEC 3) and `@name` objects (SPEC 4.3).

`inline_refs` runs before disabled pruning, so that a `ref` inherits `disabled` and the
AutoML-chosen args of its train component::

    validate.pre_transforms: [{"ref": "LoadImaged"}] -> [copy of train's LoadImaged]

`resolve_refs` runs after it and binds each `@name` to a section key: the current section
first, then the other one (`@evaluator` in train is validate's). `@conf` is the whole
configuration. Cycles (`@a -> @b -> @a`) are errors.
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import did_you_mean
from claragen.transpiler.ir import (
    Component,
    Config,
    Expr,
    Ref,
    Value,
    map_config,
    map_values,
    walk,
)

CONF_REF = "conf"  # "@conf": the resolved training configuration
REF_SOURCE_SECTION = "train"


def inline_refs(config: Config, ctx: PassContext) -> Config:
    train = [
        c
        for s, _, c in config.components()
        if s == REF_SOURCE_SECTION and c.ref is None
    ]
    by_alias = {c.alias: c for c in train if c.alias}
    by_name: dict[str, list[Component]] = {}
    for comp in train:
        for name in dict.fromkeys((comp.class_name, comp.origin or comp.class_name)):
            by_name.setdefault(name, []).append(comp)
    # a 3.x port may make several transforms of one (BraTS classes, then their cast),
    # each of its locator: a ref to the first copies them all
    parts: dict[int, list[Component]] = {}
    first: dict[str, Component] = {}
    for comp in train:
        parts.setdefault(id(first.setdefault(comp.locator, comp)), []).append(comp)

    def target_of(comp: Component) -> Component | None:
        assert comp.ref is not None
        target = by_alias.get(comp.ref)
        if target is None:
            # the name as written, else the class's own (a ref may spell an alias)
            matches = by_name.get(comp.ref) or by_name.get(
                symbols.canonical(comp.ref), []
            )
            if len(matches) > 1:
                lines = ", ".join(str(m.span.line) for m in matches)
                ctx.diags.error(
                    "E302",
                    comp.span,
                    f"'ref': {comp.ref!r} matches {len(matches)} train components (lines {lines})",
                    f'give the one you mean an alias, "name": "{comp.ref}#myAlias", '
                    "and ref the alias",
                )
                return None
            target = matches[0] if matches else None
            if target is None:
                ctx.diags.error(
                    "E302",
                    comp.span,
                    f"'ref': no train component is named or aliased {comp.ref!r}",
                    did_you_mean(comp.ref, list(by_alias) + list(by_name)),
                )
        return target

    def inline(comp: Component) -> list[Component]:
        """The component a ref names, copied where the ref is (with the parts of its
        port); any other component as it is."""
        target = target_of(comp) if comp.ref is not None else None
        if target is None:
            return [comp]
        note = f"ref {comp.ref!r}: same as {target.locator} (line {target.span.line})"
        return [
            dataclasses.replace(
                part, locator=comp.locator, span=comp.span, notes=(*part.notes, note)
            )
            for part in parts.get(id(target), [target])
        ]

    sections = {
        section: {
            key: (
                [c for comp in slot for c in inline(comp)]
                if isinstance(slot, list)
                else inline(slot)[0] if isinstance(slot, Component) else slot
            )
            for key, slot in slots.items()
        }
        for section, slots in config.sections.items()
    }
    return dataclasses.replace(config, sections=sections)


# (slot, arg, the slot it lifts to): in this order, so that a loader lifted out of its
# engine then gives up its own inline dataset
LIFTS = (
    ("trainer", "train_data_loader", "dataloader"),
    ("evaluator", "val_data_loader", "dataloader"),
    ("dataloader", "dataset", "dataset"),
)


def lift_inline_datasets(config: Config) -> Config:
    """A dataset written inside its section's dataloader (`"dataset": {"name":
    "CacheDataset", "data_list_file_path": ...}`) becomes the section's `dataset`, and
    the loader refers to it: the targets build a dataset's data from its data list only
    in that slot (inline, it was made without its data and failed at start). A loader
    written inside its engine becomes the section's `dataloader` the same way (inline,
    the loop built a new loader at each use: one to iterate, another to count). An
    evaluator written inside train's ValidationHandler becomes validate's evaluator
    (inline, it got no device of the script's), and its loader then follows."""
    sections = _lift_validator(dict(config.sections))
    for name in sections:
        for slot, arg, target in LIFTS:
            slots = sections[name]
            owner = slots.get(slot)
            inline = owner.arg(arg) if isinstance(owner, Component) else None
            if (
                target in slots
                or not isinstance(inline, Component)
                or (target == "dataset" and inline.attr("data_list_file_path") is None)
            ):
                continue
            assert isinstance(owner, Component)
            lifted = dataclasses.replace(inline, locator=f"{name}.{target}")
            ref = Ref(inline.span, target, section=name)
            sections[name] = {**slots, target: lifted, slot: owner.with_arg(arg, ref)}
    return dataclasses.replace(config, sections=sections)


def _lift_validator(sections: dict) -> dict:
    handlers = sections.get("train", {}).get("handlers")
    validate = sections.get("validate", {})
    if not isinstance(handlers, list) or "evaluator" in validate:
        return sections
    for i, handler in enumerate(handlers):
        inline = (
            handler.arg("validator")
            if handler.class_name == "ValidationHandler"
            else None
        )
        if isinstance(inline, Component):
            ref = Ref(inline.span, "evaluator", section="validate")
            moved = [
                *handlers[:i],
                handler.with_arg("validator", ref),
                *handlers[i + 1 :],
            ]
            # its refs keep the meaning they had where it was written: train's first
            lifted = map_values(
                dataclasses.replace(inline, locator="validate.evaluator"),
                lambda v: _scoped(v, sections, "train"),
            )
            return {**sections, "train": {**sections["train"], "handlers": moved},
                    "validate": {**validate, "evaluator": lifted}}  # fmt: skip
    return sections


def _scoped(value: Value, sections: dict, section: str) -> Value:
    """A ref bound as it would be where `section` holds it (an unknown one stays)."""
    if isinstance(value, Ref) and value.section is None and value.name != CONF_REF:
        order = [section] + [s for s in sections if s != section]
        found = next((s for s in order if value.name in sections[s]), None)
        return dataclasses.replace(value, section=found) if found else value
    if isinstance(value, Expr):
        refs = tuple(_scoped(r, sections, section) for r in value.refs)
        return dataclasses.replace(value, refs=refs)  # type: ignore[arg-type]
    return value


def resolve_refs(config: Config, ctx: PassContext) -> Config:
    config = lift_inline_datasets(config)
    sections = config.sections

    def bind(ref: Ref, section: str) -> Ref:
        if ref.name == CONF_REF:
            return ref
        order = [section] + [s for s in sections if s != section]
        for candidate in order:
            if ref.name in sections[candidate]:
                return dataclasses.replace(ref, section=candidate)
        known = {k for s in sections.values() for k in s} | {CONF_REF}
        ctx.diags.error(
            "E300",
            ref.span,
            f"'@{ref.name}' refers to nothing: no section has a {ref.name!r}",
            did_you_mean(ref.name, known)
            or "a reference names a key of 'train' or 'validate'",
        )
        return ref

    resolved_sections = {}
    for section in sections:
        part = dataclasses.replace(config, sections={section: sections[section]})

        def fix(value: Value, section: str = section) -> Value:
            if isinstance(value, Ref) and value.section is None:
                return bind(value, section)
            if isinstance(value, Expr):  # (a lifted evaluator's are bound already)
                refs = tuple(r if r.section else bind(r, section) for r in value.refs)
                return dataclasses.replace(value, refs=refs)
            return value

        resolved_sections[section] = map_config(part, fix).sections[section]
    config = dataclasses.replace(config, sections=resolved_sections)
    _check_cycles(config, ctx)
    return config


def _check_cycles(config: Config, ctx: PassContext) -> None:
    edges: dict[tuple[str, str], list[Ref]] = {}
    for section, key, comp in config.components():
        for _, value in comp.args:
            for node in walk(value):
                if isinstance(node, Ref) and node.section is not None:
                    edges.setdefault((section, key), []).append(node)
    state: dict[tuple[str, str], str] = {}
    stack: list[tuple[str, str]] = []

    def visit(node: tuple[str, str]) -> None:
        state[node] = "open"
        stack.append(node)
        for ref in edges.get(node, []):
            target = (ref.section, ref.name)
            if state.get(target) == "open":  # type: ignore[arg-type]
                chain = stack[stack.index(target) :] + [target]  # type: ignore[arg-type]
                ctx.diags.error(
                    "E301",
                    ref.span,
                    "reference cycle: " + " -> ".join(f"@{k}" for _, k in chain),
                    "an object cannot be built from itself; remove one of these references",
                )
            elif target not in state:
                visit(target)  # type: ignore[arg-type]
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
