"""The deserializer gate (claragen/gates/deserializers.py, issue 27 class 3): every
keyword of torch.load, numpy.load and the component table that guards a deserializer is
known, refused in every form a config can write it, and every torch.load claragen writes
passes weights_only=True itself."""

from __future__ import annotations

import ast
import inspect
import json
import re

import numpy
import pytest
import torch

from claragen.gates.deserializers import HARMLESS, WEAKENING
from claragen.transpiler import symbols
from tests.conftest import EXAMPLE, REPO
from tests.gates.common import compile_cli, invoke, mmar

GUARD = re.compile(r"pickle|weights_only|header")
# values that lower each guard
BAD = {
    "weights_only": [False, None, 0, "#False"],
    "allow_pickle": [True, 1, "#True"],
    "pickle_module": ["pickle", "dill"],
    "max_header_size": [10**9],
}


def guard_params() -> dict[str, set[str]]:
    """Every parameter that reads like a deserializer's guard: owner -> names."""
    found = {
        "torch.load": {p for p in inspect.signature(torch.load).parameters if GUARD.search(p)},
        "numpy.load": {p for p in inspect.signature(numpy.load).parameters if GUARD.search(p)},
    }  # fmt: skip
    for name in symbols.component_names():
        sym = symbols.lookup(name)
        assert sym is not None and sym.params is not None
        hits = {p for p in sym.params if GUARD.search(p)}
        if hits:
            found[f"{sym.module}.{name}"] = hits
    return found


def test_every_guard_of_every_deserializer_is_known():
    unknown = {
        owner: sorted(p for p in params if p not in WEAKENING and p not in HARMLESS)
        for owner, params in guard_params().items()
    }
    assert not {k: v for k, v in unknown.items() if v}, unknown
    seen = set().union(*guard_params().values())
    assert set(WEAKENING) <= seen  # each keyword guards something real


def cases():
    """(class, keyword): every table class with a guard, and the readers' **kwargs."""
    out = []
    for owner, params in sorted(guard_params().items()):
        if owner in ("torch.load", "numpy.load"):
            continue
        out += [(owner.rsplit(".", 1)[1], p) for p in sorted(params) if p in WEAKENING]
    for forwarding in ("LoadImage", "LoadImaged"):  # **kwargs reach the reader
        out += [(forwarding, p) for p in sorted(WEAKENING)]
    return out


def diagnostics(tmp_path, edit, *args) -> list[dict]:
    root = mmar(tmp_path, edit)
    code, output = invoke("check", root / "config" / "config_train.json",
                          "--format", "json", *args)  # fmt: skip
    return json.loads(output)["diagnostics"]


def e411(diags) -> list[dict]:
    return [d for d in diags if d["code"] == "E411"]


@pytest.mark.parametrize("name,keyword", cases())
def test_a_weakened_guard_is_an_error_on_every_class_that_has_one(
    tmp_path, name, keyword
):
    for i, bad in enumerate(BAD[keyword]):

        def edit(c, bad=bad):
            c["train"]["pre_transforms"].append({"name": name, "args": {keyword: bad}})

        found = e411(diagnostics(tmp_path / str(i), edit))
        assert found, (name, keyword, bad)
        assert keyword in found[0]["message"]


@pytest.mark.parametrize(
    "name,keyword", [c for c in cases() if not c[0].startswith("Load")]
)
def test_a_weakened_guard_passed_by_position_is_an_error(tmp_path, name, keyword):
    """In an expression, a class's positional args are bound to its signature."""
    sym = symbols.lookup(name)
    position = sym.params.index(keyword)
    bad = BAD[keyword][0]
    args = ", ".join(["None"] * position + [repr(bad)])

    def edit(c):
        c["train"]["pre_transforms"][0]["args"][
            "reader"
        ] = f"#{sym.module}.{name}({args})"

    found = e411(diagnostics(tmp_path, edit))
    assert found and "by position" in found[0]["message"], (name, keyword)


@pytest.mark.parametrize("keyword", sorted(WEAKENING))
def test_a_guard_inside_a_dict_arg_is_an_error(tmp_path, keyword):
    def edit(c):
        c["train"]["pre_transforms"][0]["args"]["reader"] = "NumpyReader"
        c["train"]["pre_transforms"][0]["args"]["reader_kwargs"] = {
            "nested": {keyword: BAD[keyword][0]}
        }

    assert e411(diagnostics(tmp_path, edit))


@pytest.mark.parametrize(
    "expr",
    [
        "#monai.data.NumpyReader(allow_pickle=True)",
        "#monai.data.NumpyReader(**{'allow_pickle': True})",
        "#monai.data.NumpyReader(**dict(allow_pickle=True))",
        "#monai.data.NumpyReader(max_header_size=10**9)",
        "#dict(weights_only=False)",
        "#monai.data.NumpyReader(None, None, True)",  # allow_pickle, by position
        "#monai.data.NumpyReader(*[None, None, True])",
        "lambda x: monai.data.NumpyReader(None, 'no_channel', 1)",
    ],
)
def test_a_guard_in_an_expression_is_an_error(tmp_path, expr):
    def edit(c):
        c["train"]["pre_transforms"][0]["args"]["reader"] = expr

    assert e411(diagnostics(tmp_path, edit))


def test_a_searched_guard_is_an_error_in_the_jobs_that_lower_it(tmp_path):
    def edit(c):
        c["train"]["dataset"]["name"] = "PersistentDataset"
        c["train"]["dataset"]["args"].update(cache_dir="cache", weights_only=True)
        c["train"]["dataset"]["search"] = [
            {"type": "enum", "args": ["weights_only"], "targets": [[True], [False]]}
        ]

    assert not e411(diagnostics(tmp_path, edit))  # the config's own job keeps it
    assert e411(diagnostics(tmp_path, edit, "--jobs", "grid"))


def test_the_guards_as_they_keep_a_file_inert_compile(tmp_path):
    def edit(c):
        c["train"]["dataset"]["name"] = "PersistentDataset"
        c["train"]["dataset"]["args"].update(cache_dir="cache", weights_only=True)
        c["train"]["pre_transforms"][0]["args"].update(allow_pickle=False)

    assert not e411(diagnostics(tmp_path, edit))


def torch_loads(text: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "load"
        and ast.unparse(n.func.value) == "torch"
    ]


def weights_only_true(call: ast.Call) -> bool:
    return any(
        k.arg == "weights_only"
        and isinstance(k.value, ast.Constant)
        and k.value.value is True
        for k in call.keywords
    )


@pytest.mark.parametrize("target", ["plain", "engines", "bundle"])
def test_every_torch_load_claragen_writes_passes_weights_only_true(tmp_path, target):
    out = tmp_path / "out"
    validation = EXAMPLE / "config" / "config_validation.json"
    fast = ["--optimize"] if target == "plain" else []
    code, output = compile_cli("-m", EXAMPLE, "-o", out, "--target", target,
                               "--validation", validation, *fast)  # fmt: skip
    assert code == 0, output
    loads = []
    for path in out.rglob("*"):
        if path.suffix == ".py":
            loads += torch_loads(path.read_text())
        elif path.suffix == ".json":
            for text in re.findall(r'"(\$[^"]*torch\.load[^"]*)"', path.read_text()):
                loads += torch_loads(text[1:].replace("@", "_at_"))
    assert (
        loads or target != "plain"
    )  # the others load through MONAI's CheckpointLoader
    assert all(weights_only_true(c) for c in loads), [ast.unparse(c) for c in loads]


def test_claragens_own_torch_load_calls_pass_weights_only_true():
    sources = list((REPO / "claragen").rglob("*.py"))
    sources += list((REPO / "claragen" / "templates").glob("*.j2"))
    found = []
    for path in sources:
        for line in path.read_text().splitlines():
            if "torch.load(" in line and not line.lstrip().startswith(("#", '"')):
                found.append((path.name, line))
    assert found
    assert all("weights_only=True" in line for _, line in found), found
