"""What the targets decide for a train.py that can be stopped (SIGTERM, Ctrl-C) and, on
the plain target, resumed (templates/_stop.py.j2): its imports, and whether the engines
script must save model_final.pt itself when interrupted.

`Imports.lines()` knows a fixed set of standard-library modules (emit.STDLIB); the ones
the stopping code needs join its standard-library block, in isort's order:

    with_stop_imports(["import json", "import os", "", "import torch"], resume=True)
    -> ["import functools", "import json", "import os", "import shlex", "import signal",
        "import sys", "", "import torch"]
"""

from __future__ import annotations

from claragen.transpiler.ir import Component, Lit


def with_stop_imports(lines: list[str], resume: bool) -> list[str]:
    """`lines` (standard library, a blank line, third party) with `functools`, `signal`
    and `sys` (sys.exit) imported, and `shlex` where the script says how to --resume."""
    modules = ("functools", "signal", "sys") + (("shlex",) if resume else ())
    split = lines.index("") if "" in lines else len(lines)
    stdlib = set(lines[:split]) | {f"import {m}" for m in modules}
    return sorted(stdlib, key=_isort_key) + lines[split:]


def _isort_key(line: str) -> tuple[bool, str]:
    """isort's order within a block: `import x` lines first, then `from x import y`."""
    return line.startswith("from "), line.split()[1]


def saves_final(handlers: list[Component]) -> bool:
    """Whether a CheckpointSaver of these (the trainer's) handlers saves a final
    checkpoint, which ignite writes when a stopped run ends too; else the engines script
    saves model_final.pt itself when interrupted."""
    return any(
        h.class_name == "CheckpointSaver"
        and isinstance(flag := h.arg("save_final"), Lit)
        and flag.value is True
        for h in handlers
    )
