"""Build the IR from position-carrying JSON (SPEC 2 and 3).

{"train": {"model": {"name": "UNet", "args": {"in_channels": 1}}}}
-> Config(sections={"train": {"model": Component(locator="train.model", name="UNet",
                                                 args=(("in_channels", Lit(1)),))}})
"""

from __future__ import annotations

import unicodedata

from claragen.transpiler.diagnostics import Diagnostics, did_you_mean
from claragen.transpiler.dialects import get_dialect
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    ListV,
    Lit,
    Slot,
    Value,
    is_name,
    member,
)
from claragen.transpiler.jsonparse import JArray, JNode, JObject, JScalar, JString
from claragen.transpiler.values import parse_value_string

SECTIONS = ("train", "validate")
VALIDATION_SECTION = "validate"  # where a config_validation.json's components go

COMPONENT_KEYS = frozenset(
    {"name", "path", "args", "disabled", "search", "apply", "ref"}
)
# Clara attributes that sit beside name/args and are consumed by the engine (SPEC 3).
ATTRIBUTE_KEYS = frozenset(
    {
        "rank",
        "log_label",
        "is_key_metric",
        "data_list_file_path",
        "data_file_base_dir",
        "data_list_key",
    }
)
INERT_PREFIX = "__"  # "__model", "__search": commented out (SPEC 4.5)


def is_component(node: JNode) -> bool:
    return isinstance(node, JObject) and any(
        k in node.keys() for k in ("name", "path", "ref")
    )


class Builder:
    def __init__(self, file: str, dialect: str, diags: Diagnostics):
        self.file = file
        self.code_strings = get_dialect(dialect).code_strings
        self.diags = diags

    def value(self, node: JNode, locator: str, code: bool | None = None) -> Value:
        """A value tree; `code` False reads `@`/`#` strings as text (search, apply)."""
        code = self.code_strings if code is None else code
        if isinstance(node, JString):
            return parse_value_string(node.value, node.span, code, self.diags)
        if isinstance(node, JScalar):
            return Lit(node.span, node.value)
        if isinstance(node, JArray):
            return ListV(
                node.span,
                tuple(
                    self.value(v, f"{locator}[{i}]", code)
                    for i, v in enumerate(node.items)
                ),
            )
        assert isinstance(node, JObject)
        if code and is_component(node):
            return self.component(node, locator)
        return DictV(
            node.span,
            tuple(
                (k.value, self.value(v, member(locator, k.value), code))
                for k, v in node.pairs
            ),
        )

    def component(self, node: JObject, locator: str) -> Component:
        name = path = alias = ref = name_span = None
        args: list[tuple[str, Value]] = []
        arg_spans = []
        attrs: list[tuple[str, Value]] = []
        disabled = search = apply = None
        for key_node, val in node.pairs:
            key = key_node.value
            if key.startswith(INERT_PREFIX):
                continue
            if key in ("name", "path", "ref"):
                if not isinstance(val, JString) or not val.value:
                    self.diags.error(
                        "E104",
                        val.span,
                        f"'{key}' of a component must be a non-empty string",
                    )
                    continue
                text = val.value
                name_span = name_span if key == "name" and path else val.span
                if key == "ref":
                    ref = text
                    continue
                if "#" in text:
                    text, alias = text.split("#", 1)
                if key == "name":
                    name = text
                else:
                    path = text
                    if (
                        not all(is_name(part) for part in text.split("."))
                        or "." not in text
                    ):
                        self.diags.error(
                            "E105",
                            val.span,
                            f"BYOC path {text!r} must be 'module.Class'",
                            "put the class in a module of the MMAR's custom/ folder",
                        )
            elif key == "args":
                if not isinstance(val, JObject):
                    self.diags.error(
                        "E104", val.span, "'args' must be an object of init arguments"
                    )
                    continue
                for k, v in _last_of_each(val.pairs):
                    if not is_name(k.value):
                        folded = unicodedata.normalize("NFKC", k.value)
                        self.diags.error(
                            "E104",
                            k.span,
                            f"the arg name {k.value!r} is not a Python identifier "
                            f"({locator})",
                            (
                                f"Python reads it as {folded!r}; write that"
                                if folded != k.value and is_name(folded)
                                else "an arg names a parameter of the class: letters, "
                                "digits and '_'"
                            ),
                        )
                        continue
                    args.append((k.value, self.value(v, f"{locator}.args.{k.value}")))
                    arg_spans.append((k.value, k.span))
            elif key == "disabled":
                disabled = self.value(val, f"{locator}.disabled")
            elif key == "search":
                search = self.value(val, f"{locator}.search", code=False)
            elif key == "apply":
                apply = self.value(val, f"{locator}.apply", code=False)
            elif key in ATTRIBUTE_KEYS:
                attrs.append((key, self.value(val, f"{locator}.{key}")))
            else:
                hint = did_you_mean(key, COMPONENT_KEYS | ATTRIBUTE_KEYS)
                self.diags.warning(
                    "W100",
                    key_node.span,
                    f"unknown component key {key!r} is ignored",
                    hint,
                )
        if ref is not None and (name or path or args):
            self.diags.error(
                "E104", node.span, "a 'ref' component takes no 'name', 'path' or 'args'"
            )
        if not {k.value for k, _ in node.pairs} & {"name", "path", "ref"}:
            self.diags.error(
                "E104",
                node.span,
                f"the component {locator} has no 'name', 'path' or 'ref'",
                'name its class: "name": "LoadImaged", or "path": "module.Class"',
            )
        return Component(
            span=node.span,
            locator=locator,
            name=name,
            path=path,
            alias=alias,
            args=tuple(args),
            disabled=disabled,
            attrs=tuple(attrs),
            search=search,
            apply=apply,
            ref=ref,
            arg_spans=tuple(arg_spans),
            name_span=name_span,
        )

    def slot(self, node: JNode, locator: str) -> Slot:
        if is_component(node):
            assert isinstance(node, JObject)
            return self.component(node, locator)
        if (
            isinstance(node, JArray)
            and node.items
            and all(is_component(i) for i in node.items)
        ):
            return [
                self.component(item, f"{locator}[{i}]")  # type: ignore[arg-type]
                for i, item in enumerate(node.items)
            ]
        if isinstance(node, JArray) and not node.items:
            return []
        return self.value(node, locator)

    def section_slot(self, node: JNode, locator: str) -> Slot | None:
        """A slot of 'train' or 'validate': a component or a list of them (every Clara
        dialect); anything else is an error, and the slot is left out."""
        if isinstance(node, JObject):
            return self.component(node, locator)
        if isinstance(node, JArray) and all(isinstance(i, JObject) for i in node.items):
            return [
                self.component(item, f"{locator}[{i}]")  # type: ignore[arg-type]
                for i, item in enumerate(node.items)
            ]
        self.diags.error(
            "E104",
            node.span,
            f"{locator} must be a component or a list of components",
            'e.g. {"name": "UNet", "args": {...}}',
        )
        return None

    def config(self, root: JNode, dialect: str, kind: str = "train") -> Config | None:
        if not isinstance(root, JObject):
            self.diags.error("E102", root.span, "a Clara config must be a JSON object")
            return None
        config = Config(file=self.file, dialect=dialect, span=root.span, kind=kind)
        if (
            kind == "validation"
        ):  # no train/validate wrapper (SPEC 2.3): all is validate's
            config.section_spans[VALIDATION_SECTION] = root.span
            section: dict[str, Slot] = {}
            for key_node, val in root.pairs:
                key = key_node.value
                if key.startswith(INERT_PREFIX):
                    continue
                if isinstance(val, JScalar | JString):
                    config.globals[key] = Lit(val.span, val.value)
                elif key == "search":
                    config.search = self.value(val, "search", code=False)
                else:
                    section[key] = self.slot(val, f"{VALIDATION_SECTION}.{key}")
            config.sections[VALIDATION_SECTION] = section
            return config
        for key_node, val in root.pairs:
            key = key_node.value
            if key.startswith(INERT_PREFIX):
                continue
            if key in SECTIONS:
                if not isinstance(val, JObject):
                    self.diags.error(
                        "E102", val.span, f"section {key!r} must be an object"
                    )
                    continue
                config.section_spans[key] = val.span
                config.sections[key] = {}
                for k, v in val.pairs:
                    if k.value.startswith(INERT_PREFIX):
                        continue
                    slot = self.section_slot(v, member(key, k.value))
                    if slot is not None:
                        config.sections[key][k.value] = slot
            elif key == "search":
                config.search = self.value(val, "search", code=False)
            elif isinstance(val, JScalar | JString):
                config.globals[key] = Lit(val.span, val.value)
            else:
                config.extras[key] = self.value(val, key)
        return config


def _last_of_each(pairs: tuple) -> list:
    """An object's pairs with each key once, its last value (as Python's json reads it;
    jsonparse warns of the duplicate)."""
    last = {k.value: i for i, (k, _) in enumerate(pairs)}
    return [pair for i, pair in enumerate(pairs) if last[pair[0].value] == i]


def build_config(
    root: JNode, file: str, dialect: str, diags: Diagnostics, kind: str = "train"
) -> Config | None:
    """JSON nodes -> `Config`; problems go to `diags`. `kind`: "train" or "validation"."""
    return Builder(file, dialect, diags).config(root, dialect, kind)
