"""The renderer's black cache (claragen/transpiler/render.py): the scripts of one search
pay for black once per shape, and get what black would give them."""

import black
import pytest

from claragen.transpiler import render
from claragen.transpiler.render import BLACK_MODE, Renderer

SEGMENT = 'CONF = {\n    "lr": %s,\n    "amp": True,\n}\n'


def test_a_segment_of_the_same_shape_costs_no_black_call(monkeypatch):
    calls = []
    real = black.format_str
    monkeypatch.setattr(render.black, "format_str",
                        lambda text, mode: calls.append(text) or real(text, mode=mode))  # fmt: skip
    renderer = Renderer()
    for value in ("0.000859", "0.000805", "0.000123"):
        assert renderer.black(SEGMENT % value, "x") == SEGMENT % value
    assert len(calls) == 1
    # another shape (a digit more) is black's again
    renderer.black(SEGMENT % "0.0008051", "x")
    assert len(calls) == 2


@pytest.mark.parametrize(
    "text",
    ["X = [1, 2, 3]  # a\n", "X = {'a': 1}\n", "X = (1,)\n", "X = 0XFF\n",
     "CONF = {'lr': 1e-5, 'channels': [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]}\n",
     "f(  # 1\n    2\n)\n"],  # black moves the comment past the 2: digits reorder
)  # fmt: skip
def test_what_black_changes_is_still_changed(text):
    renderer = Renderer()
    for variant in (text, text.replace("1", "7"), text):
        assert renderer.black(variant, "x") == black.format_str(
            variant, mode=BLACK_MODE
        )
