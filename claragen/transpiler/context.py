"""What every pass receives: the options, the diagnostics sink, and the variable sources."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claragen.transpiler.diagnostics import NO_SPAN, Diagnostics
from claragen.transpiler.ir import Lit
from claragen.transpiler.space import SearchSpace


@dataclass(frozen=True)
class CompileOptions:
    """Every switch of a compile, in one place (black's `Mode`)."""

    target: str = "auto"  # "auto" | "plain" | "engines" | "bundle"
    max_errors: int = 50
    jobs: str = "default"  # "default" | "grid" | "random:N"
    float_steps: int = 3  # grid points per float parameter
    seed: int = 0  # of --jobs random:N
    source_name: str | None = (
        None  # how comments name the config (default: its file name)
    )
    set_values: tuple[tuple[str, str], ...] = ()  # --set K=V, in command-line order
    dialect: str | None = None  # None: detect
    # --import-byoc: import the user's classes to check their args (runs their code)
    import_byoc: bool = False
    pythonpath: tuple[str, ...] = ()  # where else BYOC modules are (besides custom/)
    max_config_bytes: int = 4 * 1024 * 1024  # --max-config-size (limits.py)
    # --optimize: the rewrites that make train_fast.py (optimize/); () makes none
    optimize: tuple[str, ...] = ()


@dataclass
class PassContext:
    options: CompileOptions
    diags: Diagnostics
    config_path: Path
    mmar_root: Path
    env: dict[str, Lit] = field(default_factory=dict)  # environment.json
    job_values: dict[str, Any] | None = None  # None: the config's own values
    job_id: str = "J0001"
    space: SearchSpace = field(default_factory=SearchSpace)  # read once per config
    # locator -> the search parameters that set its 'disabled'
    disabled_by: dict[str, list[str]] = field(default_factory=dict)
    inert_params: set[str] = field(default_factory=set)  # searched args a port dropped
    preset: bool = False  # preset_search gave the job's values before the ports
    # --set keys are checked against the training config (and the first-level names of
    # the validation config beside it); a validation config compiled with it is not
    check_sets: bool = True
    other_names: frozenset[str] = frozenset()

    @property
    def overrides(self) -> dict[str, Lit]:
        """`--set` values, typed like JSON (`true`, `2e-4`, `[1, 2]`) or Python (`True`)."""
        return {k: Lit(NO_SPAN, parse_set_value(v)) for k, v in self.options.set_values}


def parse_set_value(text: str) -> Any:
    """`--set` value text -> Python value: JSON when it parses, Python booleans, else text."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep: the text
        return text
    return value  # a JSON value, as a config holds one: `[1, 2]`, `{"a": 1}`, `2e-4`
