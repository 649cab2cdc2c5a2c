"""What a class's real signature says about the args a config may give it.

Used by `tools/gen_components.py` to write the component table from the installed MONAI,
torch and ignite, and by the `import_byoc` pass for the user's own classes (only with
`--import-byoc`: importing them runs their code).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

# The words of an annotation that takes numbers only ("float", "int | None", ...).
NUMERIC = frozenset({"int", "float", "None", "Optional", "Union"})


def numeric(annotation: object) -> str | None:
    """The annotation's text when it admits numbers (and None) only, else None; a config
    string given for such a parameter is worth a warning (W105)."""
    if annotation is inspect.Parameter.empty:
        return None
    text = (
        annotation
        if isinstance(annotation, str)
        else inspect.formatannotation(annotation)
    )
    text = text.replace("typing.", "")
    words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9.]*", text))
    return text if words and words <= NUMERIC and words & {"int", "float"} else None


def signature_of(cls: type) -> dict[str, Any] | None:
    """{"params", "required", "varkw", "varargs", "numeric"} of `cls(...)`, or None when
    Python cannot say."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return None
    params, required, varkw, varargs = [], [], False, False
    numbers = {}
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            varkw = True
        elif p.kind is p.VAR_POSITIONAL:
            varargs = True
        else:
            params.append(p.name)
            if p.default is p.empty:
                required.append(p.name)
            if (ann := numeric(p.annotation)) is not None:
                numbers[p.name] = ann
    return {
        "params": params,
        "required": required,
        "varkw": varkw,
        "varargs": varargs,
        "numeric": numbers,
    }
