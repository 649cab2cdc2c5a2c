"""Fuzzing: mutated real configs never crash claragen, hang it, or make it write outside -o.

Hypothesis mutates seed configs (the examples and a few corpus configs of each dialect):
it deletes, swaps and retypes values, renames keys, injects quotes, braces, newlines, `#`,
`@`, `\"\"\"` and `__import__` into strings and keys, and truncates the text. For each input
`claragen compile` must either write scripts that `ast.parse` accepts (exit 0) or report
diagnostics (exit 1): never a traceback, never an internal error (exit 2), never more than
TIME_LIMIT seconds, never a file outside the output folder.

`make test` runs 500 inputs; `make fuzz` runs 10,000 (CLARAGEN_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import ast
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from claragen.transpiler.cli import app
from tests.conftest import CORPUS, ENV, EXAMPLE

EXAMPLES = int(os.environ.get("CLARAGEN_FUZZ_EXAMPLES", "500"))
TIME_LIMIT = 20  # seconds per input; a compile takes well under one
FOLDER = CORPUS / "clara-train-examples"
SEEDS = [
    EXAMPLE / "config" / "config_train.json",  # 4.1, with search blocks
    EXAMPLE.parent / "spleen_3x" / "config" / "config_train.json",  # 3.x
    FOLDER / "PyTorch-Early-Access__NoteBooks__AutoML__config__trn_autoML_LR_LP@f38ab4f.json",
    FOLDER / "PyTorch__NoteBooks__GettingStarted__config__trn_base.json",
    FOLDER / "Tensorflow-Deprecated__GettingStarted__config__trn_base.json",
]  # fmt: skip
SEEDS = [s for s in SEEDS if s.is_file()]
TEXTS = {s.name: s.read_text() for s in SEEDS}

NASTY = [
    '"', "'", "{", "}", "{{", "}}", "\n", "\r\n", "#", "@", "@model", "#@model", '"""',
    "'''", "\\", "__import__('os').system('touch PWNED')", "lambda x: x", "lambda",
    "{learning_rate}", "{nope}", "#(", ")", "\u2028", "\x00", "ref", "disabled", "😀",
    "@disabled", "a#b", "#__import__", "$", "%", ".", "..", "../..", "/",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),  # JSON has no NaN; claragen's parser rejects it anyway
    st.text(max_size=12),
    st.sampled_from(NASTY),
)


def paths(node: Any, at: tuple = ()) -> list[tuple]:
    """Every place in a JSON document: a tuple of keys and indexes."""
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, at + (i,))
    return out


def get(doc: Any, at: tuple) -> Any:
    for step in at:
        doc = doc[step]
    return doc


def put(doc: Any, at: tuple, value: Any) -> Any:
    if not at:
        return value
    get(doc, at[:-1])[at[-1]] = value
    return doc


def delete(doc: Any, at: tuple) -> Any:
    if at:
        parent = get(doc, at[:-1])
        del parent[at[-1]]
    return doc


@st.composite
def mutated(draw) -> tuple[str, str]:
    """(seed name, mutated config text)."""
    name = draw(st.sampled_from(sorted(TEXTS)))
    doc = json.loads(TEXTS[name])
    for _ in range(draw(st.integers(1, 4))):
        places = paths(doc)
        at = draw(st.sampled_from(places))
        op = draw(
            st.sampled_from(["delete", "swap", "retype", "inject", "rename", "nest"])
        )
        try:
            here = get(doc, at)
        except (KeyError, IndexError, TypeError):
            continue
        if op == "delete":
            doc = delete(doc, at)
        elif op == "swap":
            other = draw(st.sampled_from(places))
            try:
                there = get(doc, other)
            except (KeyError, IndexError, TypeError):
                continue
            if at[: len(other)] == other or other[: len(at)] == at:
                continue  # one holds the other
            doc = put(doc, other, json.loads(json.dumps(here)))
            doc = put(doc, at, json.loads(json.dumps(there)))
        elif op == "retype":
            doc = put(doc, at, draw(st.one_of(SCALARS, st.just([]), st.just({}))))
        elif op == "inject" and isinstance(here, str):
            bit = draw(st.sampled_from(NASTY))
            cut = draw(st.integers(0, len(here)))
            doc = put(doc, at, here[:cut] + bit + here[cut:])
        elif op == "rename" and at and isinstance(at[-1], str):
            parent = get(doc, at[:-1])
            new = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)))
            items = [(new if k == at[-1] else k, v) for k, v in parent.items()]
            parent.clear()
            parent.update(items)
        elif op == "nest":
            doc = put(
                doc, at, draw(st.sampled_from([[here], {"name": here}, {"args": here}]))
            )
    text = json.dumps(doc, indent=2, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:  # now and then, a torn file
        text = text[: draw(st.integers(0, len(text)))]
    return name, text


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {TIME_LIMIT} s")


def compile_once(text: str, args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "mmar" / "config" / "config_train.json"
        config.parent.mkdir(parents=True)
        config.write_text(text, encoding="utf-8")
        (config.parent / "environment.json").write_text(json.dumps(ENV))
        before = {p for p in root.rglob("*")}
        out = root / "out"
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TIME_LIMIT)
        cwd = os.getcwd()
        os.chdir(root)
        try:
            result = CliRunner().invoke(
                app, ["compile", str(config), "-o", str(out), *args]
            )
        finally:
            os.chdir(cwd)
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        if result.exception is not None and not isinstance(
            result.exception, SystemExit
        ):
            raise result.exception  # a traceback: claragen crashed on this input
        assert result.exit_code in (0, 1), result.output  # 2: an internal error
        if result.exit_code == 1:
            assert "error[E" in result.output, result.output
            assert not out.exists()
        else:
            for script in out.rglob("*.py"):
                ast.parse(script.read_text(encoding="utf-8"))
            for bundle in out.rglob("*.json"):
                json.loads(bundle.read_text(encoding="utf-8"))
        outside = {p for p in root.rglob("*") if not p.is_relative_to(out)} - before
        assert outside == set(), f"written outside -o: {outside}"


@pytest.mark.skipif(not SEEDS, reason="no seed configs")
@settings(
    max_examples=EXAMPLES,
    deadline=None,  # TIME_LIMIT bounds each input instead (hypothesis' deadline is soft)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 500,  # make test: the same inputs on every run
    database=None,
)
@given(mutated(), st.sampled_from([[], ["--jobs", "random:2"], ["--target", "bundle"]]))
def test_mutated_configs_compile_or_get_diagnostics(seed_and_text, args):
    _, text = seed_and_text
    compile_once(text, args)
