"""config_automl.json (SPEC 6) -> the controller, executor and handlers of a search.

    {"controller": {"name": "ReinforcementController", "args": {"max_rounds": 8}},
     "executor": {"name": "MMARExecutor"},
     "handlers": [{"name": "MMARHandler", "args": {"num_mmars_to_keep": 30, ...}},
                  {"name": "StatsHandler"}, {"path": "myAutoMLController.MyHandler"}]}

How each Clara name maps is in `CONTROLLERS`, `HANDLERS` and `EXECUTORS` (and in
docs/automl.md). A `path` is the user's own class, imported from the MMAR's `custom/`
folder (or `--pythonpath`) through the BYOC gate (`claragen.gates.byoc`): running it is
the point of a bring-your-own component, and nothing else is imported.
`{var}` in a string is replaced by `--set var=value` (Clara's `trainconf`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claragen.gates import byoc
from claragen.gates.names import is_python_name as is_name
from claragen.gates.show import quoted
from claragen.runtime import controllers, handlers
from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.limits import check_depth, file_label, read_config_text

CONTROLLERS = controllers.BUILTIN
HANDLERS: dict[str, type | None] = {
    "MMARHandler": handlers.MMARHandler,
    "StatsHandler": handlers.StatsHandler,
    "MMARStatsHandler": handlers.StatsHandler,
    "MMARTensorboardHandler": None,  # 3.x: per-job TensorBoard logs are the scripts' own
}
EXECUTORS = ("MMARExecutor", "LocalExecutor")
_VAR = re.compile(r"\{(\w+)\}")


class AutomlConfError(ValueError):
    pass


@dataclass
class ComponentSpec:
    where: str  # "controller", "handlers[2]"
    name: str | None
    path: str | None
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.path or self.name or "?"


@dataclass
class AutomlConf:
    source: str
    controller: ComponentSpec | None = None
    executor: ComponentSpec | None = None
    handlers: list[ComponentSpec] = field(default_factory=list)

    def train_config_file(self) -> str | None:
        for spec in self.handlers:
            if spec.name == "MMARHandler" and spec.args.get("train_config_file"):
                return str(spec.args["train_config_file"])
        return None


def substitute(value: Any, variables: dict[str, str], source: str) -> Any:
    if isinstance(value, str):

        def repl(m: re.Match) -> str:
            if m.group(1) not in variables:
                raise AutomlConfError(
                    f"{source}: unknown variable {{{m.group(1)}}}; "
                    f"give it with --set {m.group(1)}=..."
                )
            return variables[m.group(1)]

        return _VAR.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, variables, source) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables, source) for k, v in value.items()}
    return value


def _spec(
    raw: Any, where: str, source: str, variables: dict[str, str]
) -> ComponentSpec:
    if not isinstance(raw, dict):
        raise AutomlConfError(
            f"{source}: {where} must be an object with a 'name' or a 'path', not "
            f"{_kind(raw)}"
        )
    name, path = raw.get("name"), raw.get("path")
    for key, value in (("name", name), ("path", path)):
        if value is not None and not isinstance(value, str):
            raise AutomlConfError(
                f"{source}: {where}.{key} must be a string, not {_kind(value)}"
            )
    if not (name or path):
        raise AutomlConfError(f"{source}: {where} needs a 'name' or a 'path'")
    args = raw.get("args", {})
    if not isinstance(args, dict):
        raise AutomlConfError(
            f"{source}: {where}.args must be an object, not {_kind(args)}"
        )
    bad = next((k for k in args if not is_name(k)), None)
    if bad is not None:
        raise AutomlConfError(
            f"{source}: {where}.args has the key {quoted(bad)}, which is no argument name"
        )
    return ComponentSpec(where, name, path, substitute(args, variables, source))


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")  # fmt: skip


def read_conf_text(path: Path) -> str:
    """config_automl.json's text, read as a config is (a regular file, bounded, UTF-8,
    nested at most limits.MAX_DEPTH deep); AutomlConfError says what is wrong."""
    diags = Diagnostics()
    text = read_config_text(path, diags)
    if text is not None:
        check_depth(text, file_label(path), diags)
    if diags.errors:
        first = diags.errors[0]
        raise AutomlConfError(f"{first.span}: {first.message}")
    assert text is not None
    return text


def read_automl_conf(path: Path | None, variables: dict[str, str]) -> AutomlConf:
    """The file's components, or an empty conf (the CLI's defaults) without a file."""
    if path is None:
        return AutomlConf("(defaults)")
    text = read_conf_text(path)
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise AutomlConfError(f"{file_label(path)}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise AutomlConfError(f"{file_label(path)}: must be a JSON object")
    source = file_label(path.name)
    conf = AutomlConf(source)
    if "controller" in raw:
        conf.controller = _spec(raw["controller"], "controller", source, variables)
    if "executor" in raw:
        conf.executor = _spec(raw["executor"], "executor", source, variables)
        if conf.executor.path is None and conf.executor.name not in EXECUTORS:
            raise AutomlConfError(
                f"{source}: unknown executor {quoted(conf.executor.name)}; "
                f"use one of {', '.join(EXECUTORS)}"
            )
    handlers = raw.get("handlers", [])
    if not isinstance(handlers, list):
        raise AutomlConfError(
            f"{source}: handlers must be a list, not {_kind(handlers)}"
        )
    for i, item in enumerate(handlers):
        conf.handlers.append(_spec(item, f"handlers[{i}]", source, variables))
    return conf


def import_class(path: str, search: list[Path]) -> type:
    """`module.Class` from the MMAR's custom/ folder or --pythonpath, through the BYOC
    gate: nothing else is imported (the module's code runs)."""
    found = byoc.resolve(path, search)
    if isinstance(found, byoc.Refused):
        raise AutomlConfError(f"{found.reason}; {found.help}")
    if found.kind != byoc.CUSTOM:
        where = ", ".join(str(s) for s in search)
        if found.symbol is not None:
            raise AutomlConfError(f"'path' {path!r} is a component of training, not "
                                  "of a search")  # fmt: skip
        raise AutomlConfError(
            f"cannot import {found.module!r}: no such module in {where}"
        )
    try:
        cls = byoc.load(found, search)
    except AttributeError:
        raise AutomlConfError(
            f"module {found.module!r} has no class {found.name!r}"
        ) from None
    except (Exception, SystemExit) as exc:  # the user's code: any failure is said
        raise AutomlConfError(
            f"importing {found.module!r} raised {type(exc).__name__}: {exc}"
        ) from None
    if not callable(cls):
        raise AutomlConfError(f"{path!r} is a {type(cls).__name__}, not a class")
    return cls  # type: ignore[return-value]


def build(
    spec: ComponentSpec, table: dict[str, Any], search: list[Path], **extra: Any
) -> Any:
    if spec.path is not None:
        return import_class(spec.path, search)(**spec.args)
    if spec.name not in table:
        raise AutomlConfError(
            f"unknown {spec.where.split('[')[0].rstrip('s')} {quoted(spec.name)}; "
            f"use one of {', '.join(sorted(k for k in table if table[k]))}, "
            'or your own class with "path"'
        )
    cls = table[spec.name]
    return None if cls is None else cls(**{**extra, **spec.args})
