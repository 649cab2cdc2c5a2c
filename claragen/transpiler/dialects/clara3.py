"""Clara 3.x (TensorFlow era): lowering to MONAI components follows (SPEC 8)."""

from __future__ import annotations

from claragen.transpiler.dialects.base import Dialect


class Clara3(Dialect):
    name = "3"
    title = "Clara 3.x (TensorFlow)"
    code_strings = False
