"""The intermediate representation: plain frozen dataclasses, each with a source span.

Values (what a config string, number, list or dict means)::

    "{epochs}"              -> Var("epochs")              (typed variable, SPEC 4.1)
    "{MMAR_ROOT}/x.json"    -> Template(("MMAR_ROOT", "/x.json"))
    "@model"                -> Ref("model")               (object reference, SPEC 4.3)
    "#@model.parameters()"  -> Expr(tree, refs=("model",))
    "lambda x: x['loss']"   -> Expr(tree, kind="lambda")
    {"name": "UNet", ...}   -> Component (inside args: a nested component)

A `Config` holds the first-level values, the top-level dicts (`determinism`, ...) and the
sections (`train`, `validate`), each a mapping from key to a `Component`, a list of
components, or a plain value.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from claragen.gates.names import is_python_name as is_name  # noqa: F401 (re-exported)
from claragen.transpiler.diagnostics import Span


def member(locator: str, key: str) -> str:
    """The locator of `key` inside `locator`: `train.model`, or `train['odd key']` for a
    key that is no name (so a locator is always one printable line)."""
    return f"{locator}.{key}" if is_name(key) else f"{locator}[{key!r}]"


@dataclass(frozen=True)
class Lit:
    span: Span
    value: str | int | float | bool | None
    # the variable a whole `"{epochs}"` value came from: a script option that sets that
    # variable reaches this value too (targets/plain_options.py, `bind_variables`)
    var: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ListV:
    span: Span
    items: tuple[Value, ...]


@dataclass(frozen=True)
class DictV:
    span: Span
    items: tuple[tuple[str, Value], ...]

    def get(self, key: str) -> Value | None:
        return dict(self.items).get(key)


@dataclass(frozen=True)
class Var:
    """A whole-string `{name}`: takes the variable's value with its type."""

    span: Span
    name: str


@dataclass(frozen=True)
class Template:
    """A string with `{name}` fields, formatted like `str.format`."""

    span: Span
    parts: tuple[str | Var | RuntimeVar, ...]


@dataclass(frozen=True)
class RuntimeVar:
    """A path variable that the generated script takes as a command-line option."""

    span: Span
    name: str
    default: str


@dataclass(frozen=True)
class Ref:
    """`@name`: the object built from the component at key `name`."""

    span: Span
    name: str
    section: str | None = None  # filled in by the references pass


@dataclass(frozen=True, eq=False)
class Expr:
    """A `#expr` or `lambda` string, parsed (never evaluated).

    `@name` references inside `#expr` appear in `tree` as names `ref_prefix + name`.
    """

    span: Span
    source: str
    tree: ast.expression
    kind: str = "expr"  # "expr" | "lambda"
    refs: tuple[Ref, ...] = ()
    # each `{VAR}` of the text, spelled VAR_PREFIX + name in `tree`: its value (a Var
    # until the variables pass resolves it; SPEC 4.1: substitution reaches every string)
    values: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class SearchValue:
    """A searched value: the script names it by a constant (`channels=CHANNELS`)."""

    span: Span
    const: str
    value: Value
    param: str  # the search parameter's id


@dataclass(frozen=True)
class Component:
    """One `{"name"|"path": ..., "args": {...}, attributes}` block."""

    span: Span
    locator: str  # e.g. "train.pre_transforms[3]"
    name: str | None  # the class name as written (alias removed)
    path: str | None = None  # BYOC "module.Class"
    alias: str | None = None  # from "name#alias"
    args: tuple[tuple[str, Value], ...] = ()
    disabled: Value | None = None
    attrs: tuple[tuple[str, Value], ...] = ()  # log_label, rank, data_list_* ...
    search: Value | None = None
    apply: Value | None = None
    ref: str | None = None  # {"ref": "LoadImaged"}: resolved by the references pass
    notes: tuple[str, ...] = ()  # comments for the generated code (migrations, ...)
    arg_spans: tuple[tuple[str, Span], ...] = ()
    name_span: Span | None = None  # of the "name" or "path" value
    # the class name the config wrote, before a dialect's port; that port's arg renames
    origin: str | None = None
    renamed: tuple[tuple[str, str | None], ...] = ()  # (3.x arg, MONAI arg or None)

    @property
    def class_name(self) -> str:
        """The class the component builds: the last part of `path`, else `name`."""
        if self.path:
            return self.path.rsplit(".", 1)[-1]
        return self.name or ""

    # (each lookup by a dict made once per component: a component of many args is
    # looked up once per arg, and a dict made per lookup would cost their square)
    @functools.cached_property
    def _args(self) -> dict[str, Value]:
        return dict(self.args)

    @functools.cached_property
    def _arg_spans(self) -> dict[str, Span]:
        return dict(self.arg_spans)

    def arg(self, key: str) -> Value | None:
        return self._args.get(key)

    def attr(self, key: str) -> Value | None:
        return dict(self.attrs).get(key)

    def arg_span(self, key: str) -> Span:
        return self._arg_spans.get(key, self.span)

    def with_arg_renamed(self, before: str, after: str) -> Component:
        """A copy where `before=v` is `after=v`, in place (same position and span)."""
        args = tuple((after if k == before else k, v) for k, v in self.args)
        spans = tuple((after if k == before else k, s) for k, s in self.arg_spans)
        return dataclasses.replace(self, args=args, arg_spans=spans)

    def with_arg(self, key: str, value: Value | None) -> Component:
        """A copy with `key` set to `value` (removed when None), keeping arg order."""
        args = [(k, v) for k, v in self.args if k != key or value is not None]
        if value is not None:
            if key in dict(self.args):
                args = [(k, value if k == key else v) for k, v in args]
            else:
                args.append((key, value))
        return dataclasses.replace(self, args=tuple(args))


Value = (
    Lit
    | ListV
    | DictV
    | Var
    | Template
    | RuntimeVar
    | Ref
    | Expr
    | SearchValue
    | Component
)
Slot = Component | list[Component] | Value


@dataclass
class Config:
    """A whole `config_train.json` after parsing."""

    file: str
    dialect: str
    span: Span
    globals: dict[str, Lit] = field(default_factory=dict)  # first-level primitives
    extras: dict[str, Value] = field(
        default_factory=dict
    )  # determinism, network_summary
    search: Value | None = None  # first-level search block
    sections: dict[str, dict[str, Slot]] = field(default_factory=dict)
    section_spans: dict[str, Span] = field(
        default_factory=dict
    )  # of the section's value
    variables: dict[str, Any] = field(default_factory=dict)  # resolved variable values
    kind: str = "train"  # "train" (config_train.json) or "validation" (SPEC 2.3)

    searched: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # var -> (const, id)

    def components(self) -> Iterator[tuple[str, str, Component]]:
        """Every top-level component of every section as (section, key, component)."""
        for section, slots in self.sections.items():
            for key, slot in slots.items():
                if isinstance(slot, Component):
                    yield section, key, slot
                elif isinstance(slot, list):
                    for comp in slot:
                        yield section, key, comp

    def every_component(self) -> Iterator[Component]:
        """Every component, those nested in others' args (Interaction's transforms) and
        attributes too."""
        for _, _, comp in self.placed_components():
            yield comp

    def placed_components(self) -> Iterator[tuple[str, str | None, Component]]:
        """Every component as (section, the slot it fills, component): the slot is
        "dataset", "handlers"..., None for one nested in another's args or attributes.
        """
        for section, key, comp in self.components():
            for root in (comp, *(v for _, v in comp.attrs)):
                for node in walk(root):
                    if isinstance(node, Component):
                        yield section, (key if node is comp else None), node


def map_values(value: Value, fn: Callable[[Value], Value]) -> Value:
    """Rebuild `value` bottom-up, applying `fn` to every value node."""
    if isinstance(value, ListV):
        value = dataclasses.replace(
            value, items=tuple(map_values(v, fn) for v in value.items)
        )
    elif isinstance(value, DictV):
        value = dataclasses.replace(
            value, items=tuple((k, map_values(v, fn)) for k, v in value.items)
        )
    elif isinstance(value, Template):
        value = dataclasses.replace(
            value, parts=tuple(p if isinstance(p, str) else fn(p) for p in value.parts)
        )
    elif isinstance(value, SearchValue):
        value = dataclasses.replace(value, value=map_values(value.value, fn))
    elif isinstance(value, Expr) and value.values:
        value = dataclasses.replace(
            value, values=tuple((k, map_values(v, fn)) for k, v in value.values)
        )
    elif isinstance(value, Component):
        value = map_component(value, fn)
    return fn(value)


def map_component(comp: Component, fn: Callable[[Value], Value]) -> Component:
    """Apply `map_values` to every arg and attribute of a component."""

    def opt(v: Value | None) -> Value | None:
        return None if v is None else map_values(v, fn)

    return dataclasses.replace(
        comp,
        args=tuple((k, map_values(v, fn)) for k, v in comp.args),
        attrs=tuple((k, map_values(v, fn)) for k, v in comp.attrs),
        disabled=opt(comp.disabled),
    )


def map_config(config: Config, fn: Callable[[Value], Value]) -> Config:
    """Apply `fn` to every value of the config (components, extras, plain slots)."""
    sections: dict[str, dict[str, Slot]] = {}
    for section, slots in config.sections.items():
        new: dict[str, Slot] = {}
        for key, slot in slots.items():
            if isinstance(slot, list):
                new[key] = [map_component(c, fn) for c in slot]
            elif isinstance(slot, Component):
                new[key] = map_component(slot, fn)
            else:
                new[key] = map_values(slot, fn)
        sections[section] = new
    extras = {k: map_values(v, fn) for k, v in config.extras.items()}
    return dataclasses.replace(config, sections=sections, extras=extras)


def walk(value: Value) -> Iterator[Value]:
    """Every value node under `value` (itself included), depth first."""
    yield value
    if isinstance(value, ListV):
        for v in value.items:
            yield from walk(v)
    elif isinstance(value, DictV):
        for _, v in value.items:
            yield from walk(v)
    elif isinstance(value, Template):
        for p in value.parts:
            if not isinstance(p, str):
                yield from walk(p)
    elif isinstance(value, Expr):
        yield from value.refs
        for _, v in value.values:
            yield from walk(v)
    elif isinstance(value, SearchValue):
        yield from walk(value.value)
    elif isinstance(value, Component):
        for _, v in value.args:
            yield from walk(v)


# The search parameters whose values the compiler read while a job compiled (see
# `claragen.transpiler.stamp`): a script that depends on a value is compiled in full.
VALUE_READS: list[set[str]] = []


def read_variable(config: Config, name: str, default: Any = None) -> Any:
    """A resolved first-level value the compiler decides on (`config.variables`): the
    read is recorded when a search sets it (VALUE_READS), as `to_python` does."""
    if VALUE_READS and name in config.searched:
        VALUE_READS[-1].add(config.searched[name][1])
    return config.variables.get(name, default)


def to_python(value: Value) -> Any:
    """The plain Python data of a literal value tree (lists, dicts, primitives)."""
    if isinstance(value, Lit):
        return value.value
    if isinstance(value, ListV):
        return [to_python(v) for v in value.items]
    if isinstance(value, DictV):
        return {k: to_python(v) for k, v in value.items}
    if isinstance(value, SearchValue):
        if VALUE_READS:
            VALUE_READS[-1].add(value.param)
        return to_python(value.value)
    raise TypeError(f"not a literal: {type(value).__name__}")


def is_literal(value: Value) -> bool:
    if isinstance(value, Lit):
        return True
    if isinstance(value, ListV):
        return all(is_literal(v) for v in value.items)
    if isinstance(value, DictV):
        return all(is_literal(v) for _, v in value.items)
    if isinstance(value, SearchValue):
        return is_literal(value.value)
    return False


def map_components(config: Config, fn: Callable[[Component], Component]) -> Config:
    """Rebuild every top-level component of every section with `fn`."""
    sections: dict[str, dict[str, Slot]] = {}
    for section, slots in config.sections.items():
        new: dict[str, Slot] = {}
        for key, slot in slots.items():
            if isinstance(slot, Component):
                new[key] = fn(slot)
            elif isinstance(slot, list):
                new[key] = [fn(c) for c in slot]
            else:
                new[key] = slot
        sections[section] = new
    return dataclasses.replace(config, sections=sections)
