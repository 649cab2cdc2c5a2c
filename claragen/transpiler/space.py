"""The AutoML search space of a config (SPEC 5): what can vary, where, and how.

    "model": {"name": "UNet", "search": [{"type": "enum", "args": ["channels"],
              "targets": [[[16, 32]], [[8, 16]]], "domain": "net"}]}
    -> SearchParam(id="train.model:channels", type="enum", domain="net",
                   choices=[[[16, 32]], [[8, 16]]], args=(SearchArg("channels"),))

Ids follow Clara's "<component>:<arg>" locators: `train.pre_transforms[5]:prob`,
`:learning_rate` (first level), `train.pre_transforms[2]:a_min,a_max` (one item, two args).
Reading the space checks it: types, target shapes, aliases, and every searched or applied
arg against the component's real signature.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from claragen.transpiler import symbols
from claragen.transpiler.diagnostics import Diagnostics, Span, did_you_mean
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    ListV,
    Lit,
    Value,
    is_name,
    to_python,
)

ATTR_KEY = "@"  # "@disabled": a component attribute, not an init arg
ALIAS_SEP = "#"  # "prob#myProb"
SEARCH_TYPES = ("float", "enum")
ATTRIBUTES = ("disabled",)  # DOC-SS-*: "the only supported attribute is disabled"
# Names the generated script uses itself; a searched value never takes one of them.
RESERVED_CONSTS = frozenset(
    {"EPOCHS", "DEVICE", "SEED", "KEY_METRIC", "TRAIN_CONF", "MMAR_ROOT", "DATA_ROOT",
     "DATASET_JSON", "MMAR_CKPT_DIR", "MMAR_CKPT", "MMAR_TORCHSCRIPT", "CROP_SIZE",
     "ROI_SIZE", "MMAR_EVAL_OUTPUT_PATH", "PRETRAIN_WEIGHTS_FILE"}
)  # fmt: skip


@dataclass(frozen=True)
class SearchArg:
    name: str  # init arg, "@disabled", a first-level variable, or a free tag
    alias: str | None = None
    const: str | None = (
        None  # the script's constant for the value (init args, variables)
    )

    @property
    def is_attr(self) -> bool:
        return self.name.startswith(ATTR_KEY)


@dataclass(frozen=True)
class SearchParam:
    """One search item."""

    id: str
    locator: str  # "" for the first level
    kind: str  # "component" | "variable" | "tag"
    domain: str
    type: str  # "float" | "enum"
    args: tuple[SearchArg, ...]
    choices: tuple[Any, ...] = ()  # enum: one list of per-arg values per choice
    low: float = 0.0  # float
    high: float = 0.0
    span: Span | None = None

    @property
    def targets(self) -> Any:
        return [self.low, self.high] if self.type == "float" else list(self.choices)

    def arg_values(self, value: Any) -> list[Any]:
        """The value of each arg for a job value (a choice, or a float for all args)."""
        return list(value) if self.type == "enum" else [value] * len(self.args)


@dataclass
class SearchSpace:
    params: list[SearchParam] = field(default_factory=list)
    aliases: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # -> (param id, arg)

    def param(self, param_id: str) -> SearchParam:
        return next(p for p in self.params if p.id == param_id)

    def __bool__(self) -> bool:
        return bool(self.params)


def _snake_upper(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.lstrip(ATTR_KEY))
    return re.sub(r"\W", "_", name).upper()


class SpaceReader:
    def __init__(self, config: Config, diags: Diagnostics):
        self.config = config
        self.diags = diags
        self.space = SearchSpace()
        self.components: dict[str, Component] = {
            comp.locator: comp for _, _, comp in config.components()
        }

    def items(self, block: Value | None) -> list[DictV]:
        if block is None:
            return []
        if not isinstance(block, ListV):
            self.diags.error(
                "E500", block.span, "'search' must be a list of search items"
            )
            return []
        out = []
        for item in block.items:
            if isinstance(item, DictV):
                out.append(item)
            else:
                self.diags.error("E500", item.span, "a search item must be an object")
        return out

    def arg_names(self, item: DictV) -> list[str]:
        raw = item.get("args")
        if isinstance(raw, Lit) and isinstance(raw.value, str):
            return [raw.value]  # "args": "if_use_psp" (DOC-AML-UG)
        if (
            isinstance(raw, ListV)
            and raw.items
            and all(isinstance(a, Lit) and isinstance(a.value, str) for a in raw.items)
        ):
            return [a.value for a in raw.items]  # type: ignore[misc]
        self.diags.error(
            "E500",
            (raw or item).span,
            "search 'args' must be a name or a non-empty list of names",
        )
        return []

    def targets(self, item: DictV, type_: str, n_args: int) -> tuple | None:
        node = item.get("targets")
        if node is None:
            self.diags.error("E500", item.span, "a search item needs 'targets'")
            return None
        value = to_python(node) if isinstance(node, Lit | ListV | DictV) else None
        if type_ == "float":
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(
                    isinstance(v, int | float) and not isinstance(v, bool)
                    for v in value
                )
            )
            if not ok or value[0] >= value[1]:
                self.diags.error(
                    "E501",
                    node.span,
                    f"float targets must be [min, max] with min < max, got {value!r}",
                    'e.g. "targets": [0.0001, 0.001]',
                )
                return None
            return (float(value[0]), float(value[1]))
        if not isinstance(value, list) or not value:
            self.diags.error(
                "E502", node.span, "enum targets must be a non-empty list of choices"
            )
            return None
        choices = []
        for i, choice in enumerate(value):
            if n_args == 1 and not isinstance(choice, list):
                self.diags.warning(
                    "W103",
                    node.span,
                    f"enum choice {choice!r} is not a list; taken as [{choice!r}]",
                    "write each choice as a list with one value per arg: [[0.0], [1.0]]",
                )
                choice = [choice]
            if not isinstance(choice, list) or len(choice) != n_args:
                self.diags.error(
                    "E502",
                    node.span,
                    f"enum choice {i + 1} {choice!r} has "
                    f"{len(choice) if isinstance(choice, list) else 'no'} value(s) for "
                    f"{n_args} arg(s)",
                    "give one value per arg; a list-valued arg needs its own brackets: "
                    "[[[16, 32, 64]], [[8, 16, 32]]]",
                )
                return None
            choices.append(choice)
        return tuple(choices)

    def param(
        self, item: DictV, locator: str, comp: Component | None
    ) -> SearchParam | None:
        type_node = item.get("type")
        type_ = type_node.value if isinstance(type_node, Lit) else None
        if type_ not in SEARCH_TYPES:
            self.diags.error(
                "E503",
                (type_node or item).span,
                f"unknown search type {type_!r}",
                did_you_mean(str(type_), SEARCH_TYPES) or "use 'float' or 'enum'",
            )
            return None
        names = self.arg_names(item)
        if not names:
            return None
        args = [
            SearchArg(*n.split(ALIAS_SEP, 1)) if ALIAS_SEP in n else SearchArg(n)
            for n in names
        ]
        raw = item.get("args")
        spans = [v.span for v in raw.items] if isinstance(raw, ListV) else [item.span]
        for arg, span in zip(args, spans * len(args), strict=False):
            for what, name in (
                ("arg", arg.name.lstrip(ATTR_KEY)),
                ("alias", arg.alias),
            ):
                if name is not None and not is_name(name):
                    self.diags.error(
                        "E500",
                        span,
                        f"the search {what} {name!r} is not a Python identifier",
                        "args, tags and aliases are names: letters, digits and '_'",
                    )
                    return None
        if comp is not None:
            for arg, span in zip(args, spans * len(args), strict=False):
                self.check_arg(comp, arg.name, span, "search")
        targets = self.targets(item, type_, len(args))
        if targets is None:
            return None
        kind = "component"
        if comp is None:
            known = [a.name.lstrip(ATTR_KEY) in self.config.globals for a in args]
            kind = "variable" if all(known) else "tag"
            if any(known) and not all(known):
                self.diags.error(
                    "E500",
                    item.span,
                    "a first-level search item mixes variables and free tags",
                    "split it into one item for the variables and one for the tags",
                )
        domain = item.get("domain")
        return SearchParam(
            id=f"{locator}:{','.join(a.name for a in args)}",
            locator=locator,
            kind=kind,
            domain=str(domain.value) if isinstance(domain, Lit) else "",
            type=type_,
            args=tuple(args),
            choices=targets if type_ == "enum" else (),
            low=targets[0] if type_ == "float" else 0.0,
            high=targets[1] if type_ == "float" else 0.0,
            span=item.span,
        )

    def add(self, param: SearchParam | None) -> None:
        """A parameter of the space; one that searches the same args as another is an
        error (a job has one value per arg)."""
        if param is None:
            return
        first = next((p for p in self.space.params if p.id == param.id), None)
        if first is not None:
            line = f" at line {first.span.line}" if first.span else ""
            self.diags.error(
                "E500",
                param.span or self.config.span,
                f"this search item searches {param.id!r}, as the one{line} does: a job "
                "has one value per arg",
                "merge the two items into one, or remove one",
            )
            return
        self.space.params.append(param)

    def check_arg(self, comp: Component, name: str, span: Span, where: str) -> None:
        if name.startswith(ATTR_KEY):
            if name[1:] not in ATTRIBUTES:
                self.diags.error(
                    "E504",
                    span,
                    f"{where} names the unknown attribute {name!r} ({comp.locator})",
                    did_you_mean(name[1:], ATTRIBUTES)
                    or "the only attribute is '@disabled'",
                )
            return
        if comp.path is not None:
            return  # BYOC: the signature is the user's, unknown at compile time
        sym = symbols.lookup(comp.class_name)
        if sym is not None and not sym.accepts(name):
            self.diags.error(
                "E504",
                span,
                f"{where} names {name!r}, which {comp.class_name} does not take "
                f"({comp.locator})",
                did_you_mean(name, sym.names()),
            )

    def read(self) -> SearchSpace:
        for item in self.items(self.config.search):
            self.add(self.param(item, "", None))
        for comp in self.components.values():
            for item in self.items(comp.search):
                self.add(self.param(item, comp.locator, comp))
        self.name_aliases()
        self.check_applies()
        self.name_constants()
        return self.space

    def name_aliases(self) -> None:
        spans: dict[str, Span | None] = {}
        for param in self.space.params:
            for i, arg in enumerate(param.args):
                names = [arg.alias] if arg.alias else []
                if param.kind == "tag":
                    names.append(arg.name.lstrip(ATTR_KEY))
                for name in names:
                    if name in self.space.aliases:
                        self.diags.error(
                            "E505",
                            param.span,  # type: ignore[arg-type]
                            f"alias {name!r} is defined twice",
                            f"the first is on line {spans[name].line}",  # type: ignore[union-attr]
                        )
                        continue
                    self.space.aliases[name] = (param.id, i)
                    spans[name] = param.span

    def check_applies(self) -> None:
        for comp in self.components.values():
            if comp.apply is None:
                continue
            if not isinstance(comp.apply, DictV):
                self.diags.error(
                    "E506", comp.apply.span, "'apply' must map arg names to aliases"
                )
                continue
            for key, alias in comp.apply.items:
                self.check_arg(comp, key, alias.span, "'apply'")
                name = alias.value if isinstance(alias, Lit) else None
                if not isinstance(name, str) or name not in self.space.aliases:
                    self.diags.error(
                        "E506",
                        alias.span,
                        f"'apply' names the undefined alias {name!r}",
                        did_you_mean(str(name), self.space.aliases)
                        or "define it with 'arg#alias' in a search item, "
                        "or as a first-level tag",
                    )

    def class_name(self, comp: Component) -> str:
        """The class's own name, as the passes will see it (pass `canonical`); a 3.x or
        4.0 name may be Clara's, which its dialect ports."""
        if self.config.dialect != "4.1":
            return comp.class_name
        return symbols.canonical(comp.class_name)

    def name_constants(self) -> None:
        """A constant name for each searched init arg and variable, unique in the script."""
        wanted: list[tuple[int, int, str, str]] = []
        for p, param in enumerate(self.space.params):
            if param.kind == "tag":
                continue
            for a, arg in enumerate(param.args):
                if arg.is_attr:
                    continue
                base = _snake_upper(arg.alias or arg.name)
                comp = self.components.get(param.locator)
                qualified = (
                    _snake_upper(f"{self.class_name(comp)}_{arg.name}")
                    if comp
                    else base
                )
                wanted.append((p, a, base, qualified))
        counts: dict[str, int] = {}
        for _, _, base, _ in wanted:
            counts[base] = counts.get(base, 0) + 1
        taken: set[str] = set(RESERVED_CONSTS)
        for p, a, base, qualified in wanted:
            name = base if counts[base] == 1 and base not in taken else qualified
            candidate, n = name, 2
            while candidate in taken:
                candidate, n = f"{name}_{n}", n + 1
            taken.add(candidate)
            param = self.space.params[p]
            args = list(param.args)
            args[a] = SearchArg(args[a].name, args[a].alias, candidate)
            self.space.params[p] = dataclasses.replace(param, args=tuple(args))


def read_space(config: Config, diags: Diagnostics) -> SearchSpace:
    """The search space of a config, checked; problems go to `diags`."""
    return SpaceReader(config, diags).read()
