"""Dialects as data (STYLE 1): each Clara version is a `Dialect` whose tables say how its
configs lower to the 4.1 form that the rest of the compiler reads.

    Clara41: the base, lowers nothing.
    Clara40: implicit wiring -> explicit @refs (SPEC 4.2).
    Clara3:  TensorFlow-era components -> MONAI ones (SPEC 8).
"""

from __future__ import annotations

from claragen.transpiler.dialects.base import Dialect
from claragen.transpiler.dialects.clara3 import Clara3
from claragen.transpiler.dialects.clara40 import Clara40
from claragen.transpiler.dialects.clara41 import Clara41

DIALECTS: dict[str, type[Dialect]] = {"3": Clara3, "4.0": Clara40, "4.1": Clara41}


def get_dialect(name: str) -> type[Dialect]:
    """The dialect called `name` ("3", "4.0", "4.1")."""
    return DIALECTS[name]
