"""Strings that MONAI resolves to code (second attack): LoadImage's `reader`, SaveImage's
`writer` and PatchInferer's `merger_cls` may be any dotted path to MONAI (pydoc.locate
imports it, and LoadImage calls it with the config's other args). The BYOC gate allows
only the names MONAI documents for them, recorded from MONAI; MONAI's own source is
scanned so that a new such site cannot pass unlisted."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import monai
import pytest

from claragen.transpiler import symbols
from tests.conftest import REPO
from tests.gates.common import invoke, mmar

spec = importlib.util.spec_from_file_location(
    "gen_components", REPO / "tools" / "gen_components.py"
)
gen_components = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(gen_components)  # type: ignore[union-attr]

MONAI = Path(monai.__file__).parent
# MONAI's calls of locate() that no config reaches: FlexibleUNet's encoder registry
# (register_class, called by code), Auto3DSeg (no component of the table) and
# monai.utils.instantiate (the bundle's; a config expression cannot name it, E205)
UNREACHED = {"networks/nets/flexible_unet.py", "auto3dseg/utils.py", "utils/module.py"}
REACHED = {"transforms/io/array.py": {"LoadImage", "SaveImage"},
           "inferers/inferer.py": {"PatchInferer"}}  # fmt: skip


def test_monai_locates_code_only_where_the_table_knows():
    sites = {
        str(path.relative_to(MONAI))
        for path in MONAI.rglob("*.py")
        if re.search(r"\blocate\(", path.read_text(errors="replace"))
        and "bundle" not in path.parts
        and "apps" not in path.parts
    }
    assert sites == UNREACHED | set(REACHED), sites
    listed = set(gen_components.LOCATE_SITES)
    assert listed == set().union(*REACHED.values())


def test_the_table_records_monais_own_names():
    assert symbols.code_strings() == gen_components.code_strings(
        json.loads((REPO / "claragen/transpiler/data/components.json").read_text())[
            "components"
        ]
    )
    assert "NibabelReader" in symbols.code_strings()["LoadImaged"]["reader"]


def diagnostics(tmp_path, edit) -> list[dict]:
    root = mmar(tmp_path, edit)
    _, output = invoke(
        "check", root / "config" / "config_train.json", "--format", "json"
    )
    return json.loads(output)["diagnostics"]


def e106(diags):
    return [d for d in diags if d["code"] == "E106"]


@pytest.mark.parametrize("name", sorted(symbols.code_strings()))
@pytest.mark.parametrize(
    "value",
    ["os.system", "subprocess.getoutput", "pandas.read_pickle", "pickle.Unpickler",
     "numpy.load", "this.s", "itkreader", "load_decathlon_datalist",
     ["NibabelReader", "subprocess.getoutput"], "#'os.' + 'system'",
     ["NibabelReader", "#'os.system'"]],
)  # fmt: skip
def test_a_code_string_that_is_not_monais_own_is_e106(tmp_path, name, value):
    (arg,) = symbols.code_strings()[name]

    def edit(c):
        c["train"]["pre_transforms"].append({"name": name, "args": {arg: value}})

    assert e106(diagnostics(tmp_path, edit)), (name, value)


@pytest.mark.parametrize(
    "expr",
    ["#monai.transforms.LoadImage(reader='os.system')",
     "#monai.transforms.LoadImage('subprocess.getoutput')",  # reader, by position
     "#monai.transforms.SaveImage(writer='this.s')",
     "#monai.inferers.PatchInferer(merger_cls='a.b')",
     "#monai.transforms.LoadImage(reader='os.' + 'system')"],
)  # fmt: skip
def test_a_code_string_in_an_expression_is_e106(tmp_path, expr):
    def edit(c):
        c["train"]["pre_transforms"][0]["args"]["reader"] = expr

    assert e106(diagnostics(tmp_path, edit)), expr


@pytest.mark.parametrize(
    "value", ["NibabelReader", ["ITKReader", "NibabelReader"],
              "#monai.data.NibabelReader", "#monai.data.NibabelReader()"],
)  # fmt: skip
def test_monais_own_readers_compile(tmp_path, value):
    def edit(c):
        c["train"]["pre_transforms"][0]["args"]["reader"] = value

    assert not e106(diagnostics(tmp_path, edit))
