"""Lower a legacy config (3.x, 4.0) to the 4.1 form, by its dialect's rules.

    4.0 {"trainer": {"name": "SupervisedTrainer", "args": {"max_epochs": 2}}}
    -> {"trainer": {..., "args": {"max_epochs": 2, "network": "@model", ...}}}

The rules live in `claragen.transpiler.dialects`, one module per dialect.
"""

from __future__ import annotations

from claragen.transpiler.context import PassContext
from claragen.transpiler.dialects import get_dialect
from claragen.transpiler.ir import Config
from claragen.transpiler.passes.references import lift_inline_datasets


def lower_dialect(config: Config, ctx: PassContext) -> Config:
    # a loader or dataset written inside the component that uses it takes its slot first,
    # where 4.0's wiring gives it what Clara wired (a loader's dataset)
    config = lift_inline_datasets(config)
    return get_dialect(config.dialect).lower(config, ctx)
