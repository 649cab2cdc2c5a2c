"""Classes that MONAI dropped and claragen writes out into the generated scripts.

Where MONAI dropped a component that Clara ran, the script gets the component itself
(DEVELOPERS: write it out, don't refuse it): its source lives in
claragen/templates/written/<Class>.py, a module that ruff and black check like any other.
Its imports become the script's imports, and its class is copied into the script; the
compiler reads the file with `ast` only, never imports or runs it. Its signature is the
component table's for that name (check_components checks a config's args against it).

    {"name": "PatchWSIDataset", "args": {"region_size": 768, "grid_shape": 3, ...}}
    -> train_dataset = ClaraPatchWSIDataset(data=..., region_size=768, grid_shape=3, ...)
       and `class ClaraPatchWSIDataset(Dataset): ...` in the script
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Written:
    name: str  # the class the script defines
    # the MONAI class of that name (today's, if MONAI kept one, is another); None: a
    # Clara component that no MONAI had, which a port makes (dialects/aux_ops.py)
    replaces: str | None
    # the args of the older MONAI's class that today's does not take: given any, the
    # config means the older class. None: every config means it (a Clara config ran the
    # older MONAI), but one that gives an arg only today's class takes
    former_args: frozenset[str] | None
    was: str  # what it was
    why: str  # why today's class is not it
    today_args: frozenset[str] = frozenset()
    # the MONAI class that must be in the same section (train, validate) for a config to
    # mean the older class: ProbMapProducer wrote the maps of MaskedInferenceWSIDataset
    beside: str | None = None


WRITTEN: dict[str, Written] = {
    "ClaraPatchWSIDataset": Written(
        "ClaraPatchWSIDataset",
        "PatchWSIDataset",
        frozenset({"region_size", "grid_shape", "image_reader_name"}),
        "MONAI 0.8's PatchWSIDataset",
        "MONAI 1.x's reads one patch an item",
    ),
    "ClaraSmartCachePatchWSIDataset": Written(
        "ClaraSmartCachePatchWSIDataset",
        "SmartCachePatchWSIDataset",
        frozenset({"region_size", "grid_shape", "patch_size"}),
        "MONAI 0.8's SmartCachePatchWSIDataset",
        "MONAI 1.0 removed it",
    ),
    "ClaraMaskedInferenceWSIDataset": Written(
        "ClaraMaskedInferenceWSIDataset",
        "MaskedInferenceWSIDataset",
        None,
        "MONAI 0.8's MaskedInferenceWSIDataset",
        "MONAI 1.0 removed it; its successor, MaskedPatchWSIDataset, samples a mask "
        "level of the slide instead of reading the mask files",
    ),
    "ClaraProbMapProducer": Written(
        "ClaraProbMapProducer",
        "ProbMapProducer",
        None,
        "MONAI 0.8's ProbMapProducer",
        "MONAI 1.x's reads the metadata of MONAI 1.x's WSI datasets",
        today_args=frozenset({"prob_key"}),
        beside="MaskedInferenceWSIDataset",
    ),
    "ClaraNegLoss": Written(
        "ClaraNegLoss",
        None,
        None,
        "Clara 3.x's NegLoss aux op, averaged by ComputeAverage",
        "MONAI has no metric of a negated loss",
    ),
}


# The MONAI classes that a written-out class may stand for
REPLACED = frozenset(w.replaces for w in WRITTEN.values() if w.replaces)


def written_for(name: str, args: set[str], present: set[str]) -> Written | None:
    """The written-out class a component of MONAI class `name` with `args` means, in a
    section of the components named `present`."""
    for written in WRITTEN.values():
        if written.replaces != name or written.beside not in (None, *present):
            continue
        if written.former_args is None:
            return None if args & written.today_args else written
        if args & written.former_args:
            return written
    return None


def config_name(class_name: str, origin: str | None) -> str:
    """A component's class as the config named it: a written-out class's MONAI or Clara
    name (the component's `origin`)."""
    return origin if class_name in WRITTEN and origin else class_name


FOLDER = resources.files("claragen").joinpath("templates/written")


@cache
def _text(name: str) -> str:
    return FOLDER.joinpath(f"{name}.py").read_text(encoding="utf-8")


@cache
def _module(name: str) -> ast.Module:
    return ast.parse(_text(name))


def _class(name: str) -> ast.ClassDef | ast.FunctionDef:
    """The class, or the function that stands for one (where a class would reach
    `super().__init__`, which no generated script may)."""
    (node,) = [
        n
        for n in _module(name).body
        if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name == name
    ]
    return node


def needs(name: str) -> list[str]:
    """The other written-out classes its source uses (imported from their files)."""
    return [
        node.module
        for node in _module(name).body
        if isinstance(node, ast.ImportFrom) and node.module in WRITTEN
    ]


def source(name: str) -> str:
    """The class's source, as the script shows it (its comments too)."""
    text = ast.get_source_segment(_text(name), _class(name))
    assert text is not None
    return text


def imports(name: str) -> list[tuple[str, str | None]]:
    """What the class needs imported: (module, name) for `from module import name`, or
    (`module` or `module as alias`, None)."""
    out: list[tuple[str, str | None]] = []
    for node in _module(name).body:
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((f"{a.name} as {a.asname}" if a.asname else a.name, None))
        elif isinstance(node, ast.ImportFrom) and node.module not in (None, *WRITTEN):
            out += [(str(node.module), a.name) for a in node.names]
    return out


def signature(name: str) -> dict:
    """The table's entry for the class: its __init__'s params (a function's own), read
    from the source."""
    node = _class(name)
    if isinstance(node, ast.ClassDef):
        init = next(
            n for n in node.body
            if isinstance(n, ast.FunctionDef) and n.name == "__init__"
        )  # fmt: skip
        params = [a.arg for a in init.args.args[1:]]
    else:
        init, params = node, [a.arg for a in node.args.args]
    required = params[: len(params) - len(init.args.defaults)]
    return {"params": params, "required": required,
            "varkw": init.args.kwarg is not None, "numeric": {}}  # fmt: skip
