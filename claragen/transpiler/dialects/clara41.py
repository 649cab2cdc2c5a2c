"""Clara 4.1: explicit `@ref`/`#expr` wiring. The compiler's own form; nothing to lower."""

from __future__ import annotations

from claragen.transpiler.dialects.base import Dialect


class Clara41(Dialect):
    name = "4.1"
    title = "Clara 4.1"
    code_strings = True
