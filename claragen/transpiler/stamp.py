"""Job stamps: the jobs of a search that differ from a compiled one only in float values.

A random or TPE search draws a new float for each job, while its enum choices repeat. A
searched value reaches a script as a constant (`LEARNING_RATE = 0.00086`) that the code
names, so two jobs with the same enum choices differ in three places only: the docstring's
value lines, the constants of the searched values and TRAIN_CONF. The first job of each
enum combination (a *model*) goes through the passes, the lowering and black; the others
are *stamped*: the model's lowered script with those three parts rewritten, rendered by
the same template (black's work is shared by shape, see `render`).

A stamp stands for the full compile only where the compiler did not decide anything on a
float value. So a group is compiled in full, job by job, when:
- the model's compile read a float value (`ir.VALUE_READS`: `to_python` of a searched
  value, as where a handler arg decides what the plain loop does). A searched variable
  inside a string needs no read: the string becomes an f-string of the constant;
- a part to rewrite is not where it is expected (a `--set` that overrides a searched
  variable, a value written twice);
- a job compiled in full as a check differs from its stamp by a byte. Each float
  parameter is checked so: the first job whose value of it differs from the model's is
  compiled both ways, and stamps stand in only for parameters so checked.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from claragen.transpiler.emit import literal_node
from claragen.transpiler.render import docstring_line
from claragen.transpiler.space import SearchSpace


@dataclass
class Model:
    """The first job of an enum combination, compiled in full."""

    job: str
    values: dict[str, Any]
    script: Any  # the lowered script
    template: str
    target: str
    distributed: bool
    read: frozenset[str]  # the float parameters the compile read
    # the float parameters whose stamps matched a full compile of the same job
    checked: set[str] = field(default_factory=set)
    full: bool = False  # a stamp did not match: the group's jobs are compiled in full


def code(value: Any) -> str:
    """A value as the script writes it (the emitter's way)."""
    return ast.unparse(literal_node(value))


class Stamps:
    """The models of one config's scripts (train.py or validate.py), by enum combination."""

    def __init__(self, space: SearchSpace) -> None:
        self.floats = {p.id: p for p in space.params if p.type == "float"}
        self.models: dict[str, Model] = {}

    def key(self, values: dict[str, Any]) -> str:
        fixed = {k: v for k, v in values.items() if k not in self.floats}
        # the choices as written: {"a": 1, "b": 2} and {"b": 2, "a": 1} are two choices
        return json.dumps(fixed, default=repr)

    def model(self, values: dict[str, Any]) -> Model | None:
        """The model a job with these values may be stamped from (None: compile it)."""
        if not self.floats or not any(k in self.floats for k in values):
            return None
        found = self.models.get(self.key(values))
        if found is None or found.full or found.read & self.floats.keys():
            return None
        return found

    def changed(self, model: Model, values: dict[str, Any]) -> set[str]:
        """The float parameters whose values differ from the model's."""
        return {k for k in self.floats if values.get(k) != model.values.get(k)}

    def add(self, model: Model) -> None:
        self.models.setdefault(self.key(model.values), model)

    def stamp(self, model: Model, job: str, values: dict[str, Any]) -> Any | None:
        """The model's script for `job`: its docstring, searched constants and TRAIN_CONF
        with the job's values; None where a part is not as expected."""
        changed = {
            k: (model.values[k], v)
            for k, v in values.items()
            if k in self.floats and k in model.values
        }
        if set(values) != set(model.values):
            return None
        script = copy.copy(model.script)
        docstring = _docstring(model.script.docstring, model.job, job, changed)
        if docstring is None:
            return None
        script.docstring = docstring
        consts = {}
        for pid, (old, new) in changed.items():
            for arg in self.floats[pid].args:
                consts[arg.const] = (code(old), code(new))
        rows = []
        for const, text, note in model.script.search_constants:
            if const in consts:
                old, new = consts[const]
                if text != old:
                    return None  # the constant is not the job's value (a --set)
                text = new
            rows.append((const, text, note))
        script.search_constants = rows
        conf = getattr(model.script, "train_conf", None)
        if conf is not None:
            for pid, (old, new) in changed.items():
                param = self.floats[pid]
                if param.kind != "variable":
                    continue
                for arg in param.args:
                    before = f"{arg.name!r}: {code(old)}"
                    if conf.count(before) > 1:
                        return None
                    conf = conf.replace(before, f"{arg.name!r}: {code(new)}")
            script.train_conf = conf
        return script


def _docstring(
    text: str, old_job: str, job: str, changed: dict[str, tuple[Any, Any]]
) -> str | None:
    lines = text.split("\n")
    if lines[0].count(old_job) != 1:
        return None
    lines[0] = lines[0].replace(old_job, job)
    for pid, (old, new) in changed.items():
        before = docstring_line(f"    {pid} = {json.dumps(old)}")
        if lines.count(before) > 1:
            return None
        if before in lines:  # validate.py's docstring has no values
            lines[lines.index(before)] = docstring_line(
                f"    {pid} = {json.dumps(new)}"
            )
    return "\n".join(lines)
