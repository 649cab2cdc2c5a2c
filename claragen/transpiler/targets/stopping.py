"""What the targets decide for a train.py that can be stopped (SIGTERM, Ctrl-C) and
resumed (templates/_stop.py.j2): its imports.

`Imports.lines()` knows a fixed set of standard-library modules (emit.STDLIB); the ones
the stopping code needs join its standard-library block, in isort's order:

    with_stop_imports(["import json", "import os", "", "import torch"], resume=True)
    -> ["import json", "import os", "import shlex", "import signal", "import sys", "",
        "import torch"]
"""

from __future__ import annotations


def with_stop_imports(lines: list[str], resume: bool) -> list[str]:
    """`lines` (standard library, a blank line, third party) with `signal` and `sys` (for
    sys.exit) imported, and `shlex` where the script tells how to --resume."""
    modules = ("signal", "sys") + (("shlex",) if resume else ())
    split = lines.index("") if "" in lines else len(lines)
    stdlib = set(lines[:split]) | {f"import {m}" for m in modules}
    return sorted(stdlib, key=_isort_key) + lines[split:]


def _isort_key(line: str) -> tuple[bool, str]:
    """isort's order within a block: `import x` lines first, then `from x import y`."""
    return line.startswith("from "), line.split()[1]
