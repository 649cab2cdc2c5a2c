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
import sys
import warnings

from claragen.transpiler.signatures import signature_of

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from kwargs_reach import reach  # noqa: E402

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


def main(out: str) -> None:
    data = build_table()
    with open(out, "w") as f:
        json.dump(data, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"{len(data['components'])} components -> {out}")


def build_table() -> dict:
    """The table from the installed MONAI, torch and ignite (nothing written)."""
    warnings.simplefilter("ignore")
    from monai.transforms import InvertibleTransform, RandomizableTrait, Transform

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
                if issubclass(obj, Transform):  # MONAI's own word on randomness
                    table[name]["random"] = issubclass(obj, RandomizableTrait)
                    table[name]["invertible"] = issubclass(obj, InvertibleTransform)
                if sig["varkw"]:  # what its **kwargs reach; None: open
                    table[name]["kwargs"] = reach(obj)
    for package in ("numpy", "nibabel"):  # a bundle's metadata.json names them
        versions[package] = importlib.import_module(package).__version__
    data = {
        "versions": dict(sorted(versions.items())),
        "components": table,
        "bundle": bundle_syntax(),
        "code_strings": code_strings(table),
        "aliases": aliases(table),
        "readers": default_readers(table),
    }
    return json.loads(json.dumps(data))  # as the file holds it (tuples -> lists)


def default_readers(table: dict) -> list[str]:
    """The readers LoadImage builds when a config names none (MONAI's SUPPORTED_READERS),
    by class name: the **kwargs of LoadImage(d) go to each of them."""
    from monai.transforms.io import array

    names = {n.lower(): n for n in table}
    return sorted(names[k] for k in array.SUPPORTED_READERS if k in names)


def aliases(table: dict) -> dict[str, str]:
    """Each name of the table that is another name of a class (`AsDiscreteD`, `Unet`) ->
    the class's own name (`AsDiscreted`, `UNet`), which the table holds too."""
    out = {}
    for name, entry in table.items():
        obj = getattr(importlib.import_module(entry["module"]), name)
        if obj.__name__ != name:
            canonical = table[obj.__name__]
            assert (
                getattr(importlib.import_module(canonical["module"]), obj.__name__)
                is obj
            )
            out[name] = obj.__name__
    return dict(sorted(out.items()))


# The args MONAI resolves to code when they are strings (pydoc.locate of a dotted path,
# or any attribute of a module): class -> arg, and what MONAI documents for that arg.
# tests/gates/test_code_strings.py checks that MONAI calls locate() nowhere else that a
# config reaches.
LOCATE_SITES = {
    "LoadImage": "reader",
    "SaveImage": "writer",
    "PatchInferer": "merger_cls",
}


def code_strings(table: dict) -> dict[str, dict[str, list[str]]]:
    """Every class of the table that passes a code string to one of LOCATE_SITES (the
    class itself, its dictionary version and their aliases), with the names MONAI
    documents for the arg: its readers, writers and mergers, by class name."""
    import monai.data
    import monai.inferers.merger

    def subclasses(module, base) -> list[str]:
        return sorted(
            n
            for n in dir(module)
            if inspect.isclass(getattr(module, n))
            and issubclass(getattr(module, n), base)
        )

    # (class names only, which MONAI finds among its own first: a name such as
    # "itkreader", which it would look up with locate() first, could import a module of
    # that name from wherever the script runs)
    allowed = {
        "reader": subclasses(monai.data, monai.data.ImageReader),
        "writer": subclasses(monai.data, monai.data.ImageWriter),
        "merger_cls": subclasses(monai.inferers.merger, monai.inferers.merger.Merger),
    }
    out: dict[str, dict[str, list[str]]] = {}
    for name, entry in table.items():
        for site, arg in LOCATE_SITES.items():
            if (
                name in (site, f"{site}d", f"{site}D", f"{site}Dict")
                and arg in entry["params"]
            ):
                out[name] = {arg: allowed[arg]}
    return dict(sorted(out.items()))


def bundle_syntax() -> dict[str, list[str]]:
    """What MONAI's bundle ConfigParser reads as more than data, from MONAI's own
    constants: the directive keys of a component and of the file, the key prefix of a
    merge, the prefixes of an expression, a reference and a macro, and the id separators
    (the current one, and the "#" it still rewrites for backward compatibility)."""
    from monai.bundle import ConfigParser
    from monai.bundle import utils as bundle_utils
    from monai.bundle.config_item import ConfigComponent

    return {
        "directive_keys": sorted(
            {*ConfigComponent.non_arg_keys, ConfigParser.meta_key}
        ),
        "key_prefixes": [bundle_utils.MERGE_KEY],
        "value_prefixes": sorted(
            {bundle_utils.EXPR_KEY, bundle_utils.ID_REF_KEY, bundle_utils.MACRO_KEY}
        ),
        "separators": sorted({bundle_utils.ID_SEP_KEY, "#"}),
    }


if __name__ == "__main__":
    main(sys.argv[1])
