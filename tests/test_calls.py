"""Every call of a class of the component table in a generated script binds against the
class's real signature, checked when the script is rendered (issue 29, item 2): a port
that leaves out a required argument is a compile-time bug report, never a crash at the
first batch. Every port of the port tables is compiled through this check by
tests/dialects/test_ports.py, every golden script by tests/test_golden.py."""

from __future__ import annotations

import ast

import pytest

from claragen.transpiler.calls import imported_classes, unbound_calls
from claragen.transpiler.render import InternalError, Renderer
from tests.test_golden import GOLDEN

HEAD = """
import torch
from monai.networks.nets import DenseNet121, UNet
from monai.transforms import LoadImaged as Load
"""


@pytest.mark.parametrize("call, problem", [
    ("DenseNet121(spatial_dims=2, in_channels=3)",
     "DenseNet121() needs 'out_channels', which the call leaves out"),
    ("UNet(3, 1, 2, [4, 8], [2], chanels=4)", "UNet() takes no argument 'chanels'"),
    ("DenseNet121(2, 3, 2, 64, 32, (6,), False, True, 1)",
     "DenseNet121() takes 8 positional arguments, and is given 9"),
    ("DenseNet121(2, 3, 2, spatial_dims=2)", "DenseNet121() is given 'spatial_dims' twice"),
    ("torch.optim.Adam(lr=0.1)", "Adam() needs 'params', which the call leaves out"),
    ("Load()", "LoadImaged() needs 'keys', which the call leaves out"),
])  # fmt: skip
def test_a_call_that_does_not_bind_is_found(call, problem):
    assert unbound_calls(ast.parse(HEAD + f"x = {call}\n")) == [f"line 5: {problem}"]


@pytest.mark.parametrize("call", [
    "DenseNet121(spatial_dims=2, in_channels=3, out_channels=2)",
    "DenseNet121(2, 3, 2)",
    "UNet(**kwargs)",  # what ** fills is known at run time only
    "torch.optim.Adam(model.parameters(), lr=0.1)",
    "Load(keys=['image'], image_only=True)",
    "Unknown(1, 2, x=3)",  # no class of the table
])  # fmt: skip
def test_a_call_that_binds_is_passed(call):
    assert unbound_calls(ast.parse(HEAD + f"x = {call}\n")) == []


def test_the_names_a_script_imports_are_checked_against_the_classes_modules():
    tree = ast.parse(
        "from monai.networks.nets import UNet\nfrom my_nets import DenseNet121\n"
    )
    assert set(imported_classes(tree)) == {"UNet"}  # the user's own is not the table's


@pytest.mark.parametrize(
    "name", sorted(__import__("claragen").transpiler.written.WRITTEN)
)
def test_a_class_the_script_writes_out_is_checked_against_its_own_signature(name):
    """A class MONAI dropped, defined by the script itself: its calls bind against the
    signature of its source, which is the component table's (a port that left out an
    argument it requires was a crash at the first batch)."""
    from claragen.transpiler import written

    defined = ast.parse(written.source(name))
    required = written.signature(name)["required"]
    calls = ast.parse(f"x = {name}()\ny = {name}(nothing=1)\n")
    tree = ast.Module(defined.body + calls.body, [])
    problems = unbound_calls(tree)
    needs = ", ".join(map(repr, required))
    assert [p for p in problems if "needs" in p] == (
        [f"line 1: {name}() needs {needs}, which the call leaves out"]
        if required
        else []
    )
    assert f"line 2: {name}() takes no argument 'nothing'" in problems
    # a class of that name that the script does not define is not the written one
    assert unbound_calls(calls) == []


def test_every_golden_script_binds():
    scripts = sorted(GOLDEN.rglob("*.py"))
    assert len(scripts) >= 5
    for script in scripts:
        assert unbound_calls(ast.parse(script.read_text())) == [], script


def test_the_renderer_refuses_a_script_whose_calls_do_not_bind(monkeypatch):
    renderer = Renderer()
    text = HEAD.lstrip() + "\nmodel = DenseNet121(spatial_dims=2, in_channels=3)\n"
    monkeypatch.setattr(
        "claragen.transpiler.render.environment",
        lambda: type("E", (), {"get_template": lambda self, name: type(
            "T", (), {"render": lambda self, **kw: text})()})(),
    )  # fmt: skip
    with pytest.raises(InternalError, match="makes calls that do not bind"):
        renderer.render("train.py.j2", "J0001/train.py")
