"""MONAI's other names of a class compile as the class itself (issue 28, item 1).

MONAI exports `AsDiscreted` as `AsDiscreteD` and `AsDiscreteDict` too, `UNet` as `Unet`;
a rule keyed to one spelling was walked around by another (`AsDiscreteD(threshold_values=
True)` was emitted as is, and MONAI swallowed the keyword). The `canonical` pass names each
class by its own name before any rule runs; these tests enumerate every alias the table
holds, and the table is checked against the installed MONAI.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from claragen.transpiler import symbols
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.ir import to_python
from claragen.transpiler.pipeline import PASSES, Compilation, compile_to_dir
from tests.conftest import CORPUS, EXAMPLE, REPO, compilation, minimal

spec = importlib.util.spec_from_file_location(
    "gen_components", REPO / "tools" / "gen_components.py"
)
gen_components = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(gen_components)  # type: ignore[union-attr]

ALIASES = sorted(symbols.aliases().items())


def test_the_table_is_what_the_installed_packages_say():
    """Signatures, aliases and where each **kwargs goes, regenerated in memory."""
    path = REPO / "claragen" / "transpiler" / "data" / "components.json"
    assert gen_components.build_table() == json.loads(path.read_text())


def test_every_alias_is_the_same_class_as_its_canonical_name():
    import warnings

    warnings.simplefilter("ignore")
    assert len(ALIASES) > 300  # every ...D/...Dict of MONAI's dictionary transforms
    for alias, own in ALIASES:
        a, b = symbols.lookup(alias), symbols.lookup(own)
        assert a is not None and b is not None and b.name == own
        cls = getattr(importlib.import_module(a.module), alias)
        assert cls is getattr(importlib.import_module(b.module), own)
        assert cls.__name__ == own


def test_the_canonical_pass_runs_before_every_rule():
    """Only the dialect's lowering comes before it (its rules key on Clara's names, which
    are not MONAI's aliases, and 4.1 lowers nothing), and the job's values given before
    the ports (keyed on the space's locators, no class name): every pass that keys on a
    MONAI class name (search, references, migration, checks) comes after it."""
    names = [name for name, _ in PASSES]
    assert names[:3] == ["preset_search", "lower_dialect", "canonical"]


def test_the_lowerings_rules_key_on_no_alias():
    from claragen.transpiler.dialects import clara40, port_table

    keyed = {*clara40.CLARA_NAMES, *clara40.HANDLER_TO_TRANSFORM}
    ported = {p.target for p in port_table.COMPONENTS.values()}
    assert not keyed & set(symbols.aliases()) - {"Dice"}  # 4.0's Clara Dice, W106
    assert not ported & set(symbols.aliases())  # 3.x ports write the class's own name


SLOTS = {"monai.transforms": ("post_transforms", True), "monai.networks.nets":
         ("model", False), "monai.losses": ("loss", False)}  # fmt: skip


def _with(name: str) -> dict:
    cfg = minimal()
    slot, listed = SLOTS[symbols.lookup(name).module]  # type: ignore[union-attr]
    comp = {"name": name, "args": {}}
    if listed:
        cfg["train"][slot] = [comp]
    else:
        cfg["train"][slot] = comp
    return cfg


def _passes(tmp_path, cfg):
    """The IR after every pass (without the names as written), and the diagnostics by
    code and place."""
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    try:
        config = comp.run_passes(built, ctx)
    except CompileError:
        config = None
    found = sorted(
        (d.code, d.span.line, d.span.column)
        for d in [*ctx.diags.errors, *ctx.diags.warnings]
    )
    if config is None:
        return None, found
    text = re.sub(r"origin=('[^']*'|None)", "", repr(config.sections))
    text = re.sub(r" object at 0x[0-9a-f]+", "", text)  # an Expr's ast tree
    return text, found


@pytest.mark.parametrize("alias, own", ALIASES, ids=[a for a, _ in ALIASES])
def test_an_alias_passes_as_its_class(tmp_path, alias, own):
    """Every alias MONAI exports: the config spelled with it and the config spelled with
    the class's own name give the same IR after every pass, and the same diagnostics."""
    assert _passes(tmp_path, _with(alias)) == _passes(tmp_path, _with(own))


def test_as_discrete_d_is_migrated_like_as_discreted(tmp_path):
    """The corpus' 13 uses: `threshold_values=True` was emitted as is, and swallowed."""
    for name in ("AsDiscreteD", "AsDiscreteDict", "AsDiscreted"):
        cfg = minimal()
        cfg["train"]["post_transforms"] = [
            {"name": name, "args": {"keys": "pred", "threshold_values": True,
                                    "logit_thresh": 0.3}}]  # fmt: skip
        comp = compilation(tmp_path / name, cfg)
        built, ctx = comp.build()
        (post,) = comp.run_passes(built, ctx).sections["train"]["post_transforms"]
        assert post.name == "AsDiscreted"
        assert post.origin == (None if name == "AsDiscreted" else name)
        assert {k: to_python(v) for k, v in post.args} == {
            "keys": "pred",
            "threshold": 0.3,
        }


def test_a_removed_class_keeps_its_aliases_rule(tmp_path):
    cfg = minimal()
    cfg["train"]["post_transforms"] = [
        {"name": "AddChannelD", "args": {"keys": "pred"}}
    ]
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    (post,) = comp.run_passes(built, ctx).sections["train"]["post_transforms"]
    assert post.name == "EnsureChannelFirstd"


def test_a_ref_may_spell_an_alias(tmp_path):
    cfg = minimal()
    cfg["train"]["pre_transforms"][0]["name"] = "LoadImageD"
    cfg["validate"] = {
        "pre_transforms": [{"ref": "LoadImaged"}, {"ref": "LoadImageDict"}]
    }
    comp = compilation(tmp_path, cfg)
    built, ctx = comp.build()
    config = comp.run_passes(built, ctx, stop_after="inline_refs")
    names = [c.name for c in config.sections["validate"]["pre_transforms"]]
    assert names == ["LoadImaged", "LoadImaged"]


def _spelled_with_aliases(value):
    """Every class name that has an alias, spelled with one (the same every time)."""
    other = {}
    for alias, own in ALIASES:
        other.setdefault(own, alias)
    if isinstance(value, dict):
        out = {k: _spelled_with_aliases(v) for k, v in value.items()}
        if isinstance(out.get("name"), str):
            name, _, tag = out["name"].partition("#")
            out["name"] = other.get(name, name) + ("#" + tag if tag else "")
        return out
    if isinstance(value, list):
        return [_spelled_with_aliases(v) for v in value]
    return value


def _scripts(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*.py"))}  # fmt: skip


@pytest.mark.parametrize("config", [
    EXAMPLE / "config" / "config_train.json",
    CORPUS / "clara-train-examples"
    / "PyTorch__NoteBooks__GettingStarted__config__config_train_Unet.json",
], ids=["spleen_41", "corpus_unet"])  # fmt: skip
def test_a_config_spelled_with_aliases_compiles_to_the_same_script(tmp_path, config):
    if not config.is_file():
        pytest.skip(f"no {config}")
    data = json.loads(config.read_text())
    aliased = _spelled_with_aliases(data)
    assert aliased != data
    outs = []
    for tag, content in (("own", data), ("alias", aliased)):
        folder = tmp_path / tag / "config"
        folder.mkdir(parents=True)
        for sibling in config.parent.glob("*.json"):
            (folder / sibling.name).write_bytes(sibling.read_bytes())
        (folder / config.name).write_text(json.dumps(content, indent=2))
        env = folder / "environment.json"
        comp = Compilation(folder / config.name, CompileOptions(),
                           env_path=env if env.is_file() else None)  # fmt: skip
        compile_to_dir(comp, tmp_path / tag / "out")
        scripts = _scripts(tmp_path / tag / "out")  # (MMAR_ROOT: the copy's own path)
        outs.append({k: v.replace(str(tmp_path / tag).encode(), b"<mmar>")
                     for k, v in scripts.items()})  # fmt: skip
    assert outs[0] == outs[1] and outs[0]
