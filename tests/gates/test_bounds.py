"""Costs that grow faster than the input (issue 27, class 6): the raw-text scans are one
pass (their linear time is measured in benchmarks/bench_linear.py, not here), and what
`{VAR}` substitution and the generated files may grow to is bounded (E112)."""

from __future__ import annotations

import json

import pytest

from claragen.transpiler import pipeline
from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.limits import MAX_DEPTH, MAX_EXPANDED, check_depth
from tests.conftest import EXAMPLE
from tests.gates.common import compile_cli, mmar


@pytest.mark.parametrize(
    "text, ok",
    [
        (
            '"' + '\\"' * 50_000,
            True,
        ),  # unterminated, escaped quotes: no bracket counted
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, True),
        ("[" * (MAX_DEPTH + 1), False),
        ('["' + "[" * 200 + '"]', True),  # brackets in a string
        (
            '["\\\\"' + "[" * MAX_DEPTH,
            False,
        ),  # an escaped backslash ends no string early
        ('["\\"' + "[" * 200 + '"]', True),  # an escaped quote does not end the string
        ('{"a": "}}}}", "b": ' + "{" * MAX_DEPTH, False),
    ],
)
def test_the_depth_scan_knows_strings_and_escapes(text, ok):
    assert check_depth(text, "c.json", Diagnostics()) is ok


def test_variables_that_expand_a_config_past_the_bound_are_e112(tmp_path):
    """A config of 54 KB (115 KB indented) whose {big} copies 8 KB 5,000 times would
    be a 40 MB script."""

    def edit(c):
        c["big"] = "x" * 8000
        c["train"]["pre_transforms"][0]["args"]["meta_keys"] = ["{big}"] * 5000

    root = mmar(tmp_path, edit)
    assert (
        root / "config" / "config_train.json"
    ).stat().st_size < 128 * 1024  # indented
    code, output = compile_cli("-m", root, "-o", tmp_path / "out")
    assert code == 1 and "error[E112]" in output, output[-2000:]
    assert f"{MAX_EXPANDED // 1024:,} KiB" in output
    assert not (tmp_path / "out").exists()


def test_variables_below_the_bound_expand(tmp_path):
    def edit(c):
        c["big"] = "x" * 100
        c["train"]["pre_transforms"][0]["args"]["meta_keys"] = ["{big}"] * 50

    code, output = compile_cli("-m", mmar(tmp_path, edit), "-o", tmp_path / "out")
    assert code == 0, output


def test_a_generated_file_over_the_bound_is_e112(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "MAX_OUTPUT_FILE", 10_000)
    code, output = compile_cli("-m", EXAMPLE, "-o", tmp_path / "out")
    assert code == 1 and "error[E112]" in output and "10,000" in output, output
    assert not (tmp_path / "out").exists()


def test_all_the_files_of_a_compile_are_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "MAX_OUTPUT", 200_000)
    code, output = compile_cli("-m", EXAMPLE, "-o", tmp_path / "out", "--jobs", "grid")
    assert code == 1 and "error[E112]" in output, output
    assert not (tmp_path / "out").exists()


def test_many_diagnostics_are_each_said_once(tmp_path):
    def edit(c):
        c["train"]["loss"]["args"] = {f"arg{i}": i for i in range(300)}

    root = mmar(tmp_path, edit)
    from tests.gates.common import invoke

    code, output = invoke("check", root / "config" / "config_train.json",
                          "--format", "json")  # fmt: skip
    report = json.loads(output)
    assert report["errors"] == 300
    keys = [(d["line"], d["message"]) for d in report["diagnostics"]]
    assert len(keys) == len(set(keys))
