"""The `Dialect` base: the tables every dialect extends, and the helpers their rules use."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import Config


class Dialect:
    """How one Clara version's configs read, and how they lower to Clara 4.1."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    code_strings: ClassVar[bool] = True
    """Whether strings may be code: `@ref`, `#expr` (4.1) and `lambda ...` (4.0, 4.1)."""

    # Rules applied in order by `lower`; each is a `Config -> Config` step of the dialect.
    RULES: ClassVar[tuple[Callable[[Config, PassContext], Config], ...]] = ()

    @classmethod
    def lower(cls, config: Config, ctx: PassContext) -> Config:
        for rule in cls.RULES:
            config = rule(config, ctx)
        return config
