"""One name and one value per search parameter, wherever a search shows it: the study
(Optuna), MLflow's params, the journal's `params`, the live table, the leaderboard and
the report. The compiled scripts keep the config's own ids (`--set` takes them too).

    :learning_rate = 0.0002                            learning_rate = 0.0002
    train.model:num_res_units = [2]                    train.model:num_res_units = 2
    train.pre_transforms[2]:a_min,a_max = [-57, 164]   train.pre_transforms.2:a_min/a_max
                                                           = {"a_min": -57, "a_max": 164}
    :mySearchLoss1,mySearchLoss2 = [false, true]       mySearchLoss1/mySearchLoss2
                                                           = {"mySearchLoss1": false,
                                                              "mySearchLoss2": true}

The name is the parameter's id in the letters an MLflow key may hold (letters, digits,
`_-. :/`): an item's index `[2]` is `.2`, the args a choice sets together are joined by
`/`, a first-level variable loses its `:`. The value is the Python value: a float's
number; an enum choice of one arg, that arg's value (not a list of one); of several,
each arg's value by its name, so that a choice of tags says which tag took which value.
Where the value is no plain one (a list, a dict), the study and MLflow hold its JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from typing import Any

from claragen.runtime.rundir import SearchError
from claragen.transpiler.context import parse_set_value
from claragen.transpiler.diagnostics import did_you_mean
from claragen.transpiler.space import SearchParam

_INDEX = re.compile(r"\[(\d+)\]")
_NOT_KEY = re.compile(r"[^\w\-. :/]")
PLAIN = (str, int, float, bool, type(None))


MAX_NAME = 250  # MLflow's longest param key


def name(param_id: str) -> str:
    """The parameter's one name (see the module's docstring): an `@` goes (the free tag
    `@t` is the tag `t`; `@disabled` names the attribute `disabled`), and a name longer
    than an MLflow key may be ends in a hash of the whole id."""
    key = _INDEX.sub(r".\1", param_id).replace(",", "/").replace("@", "").lstrip(":")
    key = _NOT_KEY.sub("_", key) or "value"
    if len(key) > MAX_NAME:
        digest = hashlib.sha1(param_id.encode("utf-8", "surrogatepass")).hexdigest()
        key = f"{key[: MAX_NAME - 9]}-{digest[:8]}"
    return key


def names_of(params: tuple[SearchParam, ...]) -> dict[str, str]:
    """{param id: name} of a space; two parameters of one name are a SearchError that
    names both (the study, MLflow and the journal would keep only one)."""
    out: dict[str, str] = {}
    for p in params:
        taken = next((i for i, n in out.items() if n == name(p.id)), None)
        if taken is not None:
            raise SearchError(f"the search parameters {taken!r} and {p.id!r} have one "
                              f"name, {name(p.id)!r}; rename a tag or an alias")  # fmt: skip
        out[p.id] = name(p.id)
    return out


def same(a: Any, b: Any) -> bool:
    """Whether two values are one value, type and all (`True` is not `1`)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def value(param_id: str, raw: Any) -> Any:
    """A job's value of the parameter as the Python value (a choice as the journal and
    the controllers hold it: a list with one value per arg)."""
    args = param_id.rsplit(":", 1)[-1].split(",")
    if isinstance(raw, list) and len(raw) == len(args):
        return raw[0] if len(args) == 1 else dict(zip(args, raw, strict=True))
    return raw


def text(v: Any) -> str:
    """A value as text (MLflow's params, the tables): a string as it is, else JSON."""
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def label(v: Any) -> Any:
    """A value as an Optuna categorical choice: a plain value, else its JSON."""
    return v if isinstance(v, PLAIN) else json.dumps(v, ensure_ascii=False)


def named(values: dict[str, Any]) -> dict[str, Any]:
    """A job's values ({param id: raw value}) by name, as Python values."""
    return {name(k): value(k, v) for k, v in values.items()}


def parse(params: tuple[SearchParam, ...], text: str, flag: str) -> dict[str, Any]:
    """`learning_rate=0.001 train.model:num_res_units=2` (each parameter by its name or
    its id, its value as the Python value, JSON where it parses) -> {param id: value as
    the controllers hold it}; a SearchError that names what is wrong."""
    out: dict[str, Any] = {}
    by_key = {k: p for p in params for k in (p.id, name(p.id))}
    try:
        words = shlex.split(text)
    except ValueError as exc:  # an unbalanced quote
        raise SearchError(f"{flag} {text!r}: {exc}") from None
    for word in words:
        key, sep, given = word.partition("=")
        if not sep:
            raise SearchError(f"{flag} {word!r}: write NAME=VALUE")
        param = by_key.get(key)
        if param is None:
            hint = did_you_mean(key, [name(p.id) for p in params]) or (
                "the parameters: " + ", ".join(name(p.id) for p in params)
            )
            raise SearchError(f"{flag}: {key!r} is no parameter of the search; {hint}")
        if param.id in out:
            raise SearchError(f"{flag}: {key!r} is given twice")
        out[param.id] = _raw(param, parse_set_value(given), flag)
    return out


def _raw(param: SearchParam, data: Any, flag: str) -> Any:
    where = f"{flag} {name(param.id)}={text(data)}"
    if param.type == "float":
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise SearchError(f"{where}: give a number")
        if not param.low <= data <= param.high:
            raise SearchError(f"{where}: out of its range [{param.low}, {param.high}]")
        return float(data)
    for choice in param.choices:  # its Python value, or the config's own choice
        if same(value(param.id, choice), data) or same(choice, data):
            return choice
    shown = ", ".join(text(value(param.id, c)) for c in param.choices)
    raise SearchError(f"{where}: not one of its choices ({shown}; quote a value with "
                      "spaces: 'NAME={\"a\": 1}')")  # fmt: skip
