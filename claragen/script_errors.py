"""The error a generated script ended with, read from its output (smoke runs, AutoML jobs)."""

from __future__ import annotations

import re

ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception)(:|$)")
WRAPPERS = ("RuntimeError: applying transform", "RuntimeError: Caught")


def cause(text: str) -> str:
    """The error that names the cause: the first one that is not a wrapper of another
    (MONAI's "applying transform ...", a DataLoader worker's "Caught ..."); without one,
    the last line. A line redrawn with carriage returns (a progress bar) counts as what
    it last showed."""
    lines = [line.rsplit("\r", 1)[-1] for line in text.strip().splitlines()]
    lines = [line for line in lines if line.strip()]
    errors = [
        ln for ln in lines if ERROR_LINE.match(ln) and not ln.startswith(WRAPPERS)
    ]
    # the first: Python prints a chain of exceptions root cause first, and a thread's
    # traceback (ThreadDataLoader) before the main thread's error that follows from it
    chosen = errors[0] if errors else (lines[-1].strip() if lines else "(no output)")
    return chosen[:300]
