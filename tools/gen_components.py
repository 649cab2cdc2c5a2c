"""Write the checked-in component table: Clara component name -> import module + signature.

Clara looked short names up in its framework packages at run time; claragen uses this fixed
table instead (no lookup depends on what happens to be installed when compiling). Regenerate
it with `make components` after changing the MONAI/torch/ignite versions the project pins; a
test checks the table against the installed packages.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
import warnings

# Search order: the first module that has a name wins (SPEC 3, "name" lookup).
MODULES = (
    "monai.transforms",
    "monai.networks.nets",
    "monai.losses",
    "monai.optimizers",
    "torch.optim",
    "torch.optim.lr_scheduler",
    "monai.data",
    "monai.inferers",
    "monai.handlers",
    "monai.metrics",
    "monai.engines",
    "torch.nn",
    "ignite.metrics",
    # MONAI apps that Clara configs name by "path" (deepgrow was a Clara custom module
    # before MONAI took it in)
    "monai.apps.deepgrow.transforms",
    "monai.apps.deepgrow.interaction",
)


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


def signature_of(cls: type) -> dict | None:
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


def main(out: str) -> None:
    warnings.simplefilter("ignore")
    table: dict[str, dict] = {}
    versions = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        root = module_name.split(".")[0]
        versions[root] = importlib.import_module(root).__version__
        for name in sorted(dir(module)):
            if name.startswith("_") or name in table:
                continue
            obj = getattr(module, name)
            if not inspect.isclass(obj):
                continue
            if module_name.startswith("monai.apps.") and obj.__module__ != module_name:
                continue  # the apps' own classes only, not what they import
            sig = signature_of(obj)
            if sig is not None:
                table[name] = {"module": module_name, **sig}
    data = {"versions": dict(sorted(versions.items())), "components": table}
    with open(out, "w") as f:
        json.dump(data, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"{len(table)} components -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
