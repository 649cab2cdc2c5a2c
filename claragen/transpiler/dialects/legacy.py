"""What the 3.x ports share: the `Port` record, what a conversion may read of the rest of
the config (`Porting`), and the few helpers every conversion uses.

A port never edits a component in place: `set_arg`, `add_note` and `make` return new IR, and
every value a port adds is read as a 4.1 string would be (`@ref`, `{VAR}`, `#expr`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Span
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    ListV,
    Lit,
    Value,
    is_literal,
    to_python,
)
from claragen.transpiler.values import parse_value_string

# Args renamed wherever the target takes the new name (SPEC 8, "common renames").
COMMON_RENAMES = {
    "fields": "keys",
    "field": "keys",
    "probability": "prob",
    "label_field": "label_key",
    "image_field": "image_key",
}
# 3.x output names -> the MONAI engines' keys.
KEY_NAMES = {"model": "pred"}

MAX_DATA_LIST = (
    256 * 1024 * 1024
)  # a data list read at compile time (DenseNet121's classes)

# The config's extras key under which the network's final_activation outlives its port.
FINAL_ACTIVATION = "final_activation"

# A conversion returns the ported component, or the transforms that replace it.
Convert = Callable[[Component, "Porting"], "Component | list[Component]"]


@dataclass(frozen=True)
class Port:
    """How one 3.x component becomes a MONAI (or torch) one, and what Clara documents of it
    (CLARA_COMPONENTS.md): the args it requires and the others it takes. Every arg Clara
    takes has a fate: renamed, consumed by `convert`, or dropped with a note."""

    target: str
    renames: dict[str, str] = field(default_factory=dict)
    # Clara's default, when not given; a callable takes it from the rest of the config
    # (Porting -> the value and why)
    add: dict[str, Any] = field(default_factory=dict)
    # no documented Clara default: the value NVIDIA's 4.x ports took, which W109 names
    choose: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()  # args with no equivalent (each leaves a note)
    convert: Convert | None = None
    note: str | None = None  # an approximation, said in the generated code
    requires: tuple[str, ...] = ()  # the args Clara required
    takes: tuple[str, ...] = ()  # the other args Clara documents (or its configs show)

    @property
    def clara_args(self) -> tuple[str, ...]:
        return self.requires + self.takes


@dataclass
class Porting:
    """What a conversion may need of the rest of the config."""

    config: Config
    ctx: PassContext

    def model_arg(self, name: str, default: Any = None) -> Any:
        model = self.config.sections.get("train", {}).get("model")
        if isinstance(model, Component):
            value = model.arg(name)
            if value is not None and is_literal(value):
                return to_python(value)
        return default

    @property
    def classes(self) -> int:
        """The network's output classes (`num_classes`, `out_channels` once ported)."""
        n = self.model_arg("num_classes", self.model_arg("out_channels", 2))
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            return n
        model = self.config.sections.get("train", {}).get("model")
        span = model.span if isinstance(model, Component) else self.config.span
        self.ctx.diags.error(
            "E602",
            span,
            f"the network's num_classes must be a positive integer, not {n!r}",
            "the post-transforms and metrics of 3.x configs are made from it",
        )
        return 2

    @property
    def image_channels(self) -> Value | int:
        """The channels of the training images: the image pipeline's
        `output_image_channels` as the config gives it (a `{VAR}` too), else Clara's
        default 1; Clara 3.x gave the network its input shape from it."""
        pipe = self.config.sections.get("train", {}).get("image_pipeline")
        value = (
            pipe.arg("output_image_channels") if isinstance(pipe, Component) else None
        )
        return 1 if value is None else value

    def data_list(self) -> tuple[Any, str]:
        """The MMAR's data list (DATASET_JSON, as --set, environment.json or the config
        give it) read as JSON, which is data, never code, and its path; raises OSError
        or ValueError where it cannot be read."""
        from claragen.gates import safe_io
        from claragen.transpiler.passes.variables import variable_table

        raw = variable_table(self.config, self.ctx)["DATASET_JSON"].value
        path = self.ctx.mmar_root / str(raw)  # an absolute path stays itself
        return safe_io.read_json(path, MAX_DATA_LIST), str(raw)

    @property
    def activation(self) -> str:
        """The 3.x network's final_activation (softmax by default), before its port
        or after it (ports.port_components keeps it)."""
        kept = self.config.extras.get(FINAL_ACTIVATION)
        kept = to_python(kept) if kept is not None and is_literal(kept) else None
        given = str(self.model_arg("final_activation", kept or "softmax")).lower()
        if given in NO_ACTIVATION:
            return "linear"
        return given if given in ACTIVATIONS else "softmax"  # W102 says so


# final_activation values by which Clara's network gave its logits as they are
NO_ACTIVATION = frozenset({"linear", "none", ""})
ACTIVATIONS = frozenset({"softmax", "sigmoid", "linear"})  # what the ports know


def value(data: Any, span: Span, ctx: PassContext) -> Value:
    """Python data -> IR values; strings read as 4.1 strings (`@ref`, `{VAR}`, `#expr`); an
    IR value (a config's searched arg, say) stays as it is."""
    if isinstance(data, Value):  # the IR's union of value classes
        return data
    if isinstance(data, dict):
        return DictV(span, tuple((k, value(v, span, ctx)) for k, v in data.items()))
    if isinstance(data, list | tuple):
        return ListV(span, tuple(value(v, span, ctx) for v in data))
    if isinstance(data, str):
        return parse_value_string(data, span, True, ctx.diags)
    return Lit(span, data)


def literal(comp: Component, name: str, default: Any = None) -> Any:
    v = comp.arg(name)
    return to_python(v) if v is not None and is_literal(v) else default


def given(comp: Component, name: str, default: Any) -> Any:
    """The arg as the config gives it (searched or a variable too), else `default`."""
    v = comp.arg(name)
    return default if v is None else (to_python(v) if is_literal(v) else v)


def set_arg(comp: Component, name: str, data: Any, p: Porting) -> Component:
    return comp.with_arg(name, value(data, comp.arg_span(name), p.ctx))


def add_note(comp: Component, text: str) -> Component:
    return dataclasses.replace(comp, notes=comp.notes + (text,))


def listify(text: Any) -> Any:
    """3.x "1,2,2,4" -> [1, 2, 2, 4]."""
    if isinstance(text, str) and all(p.strip().isdecimal() for p in text.split(",")):
        return [int(p) for p in text.split(",")]
    return text


def engine_keys(data: Any) -> Any:
    if isinstance(data, list):
        return [engine_keys(k) if isinstance(k, str) else k for k in data]
    return KEY_NAMES.get(data, data) if isinstance(data, str) else data


def make(name: str, locator: str, span: Span, args: dict[str, Any], ctx: PassContext,
         note: str | None = None, **attrs: Any) -> Component:  # fmt: skip
    comp = Component(
        span=span,
        locator=locator,
        name=name,
        args=tuple((k, value(v, span, ctx)) for k, v in args.items()),
        attrs=tuple((k, value(v, span, ctx)) for k, v in attrs.items()),
    )
    return add_note(comp, note) if note else comp
