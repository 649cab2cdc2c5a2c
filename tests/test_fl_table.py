"""The Clara FL -> NVIDIA FLARE table (issue 31), checked against what it names:
every NVFlare class and arg it maps to is in nvflare's real signatures (read from its
source, so the HE classes are checked without TenSEAL), and every setting, component
and arg of every FL config of the corpus has a fate (nothing silent)."""

import ast
import importlib.util
import json
from pathlib import Path

import pytest

from claragen.transpiler.fl.account import BYOC, UNKNOWN, account
from claragen.transpiler.fl.table import (
    COMPONENTS,
    FATES,
    MAP,
    NO_COUNTERPART,
    SETTINGS,
    TARGETS,
)
from tests.conftest import CORPUS
from tests.test_corpus import rows


def init_params(dotted: str) -> set[str]:
    """The __init__ parameters of an nvflare class, from its module's source."""
    module, cls = dotted.rsplit(".", 1)
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, dotted
    tree = ast.parse(Path(spec.origin).read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args
            return {a.arg for a in (*args.args, *args.kwonlyargs)} - {"self"}
    return set()


def every_fate():
    yield from SETTINGS.values()
    for port in COMPONENTS.values():
        yield from port.args.values()


def test_every_target_and_mapped_arg_is_nvflares():
    for port in COMPONENTS.values():
        if port.target:
            init_params(port.target)  # the class exists where the table says
    for fate in every_fate():
        assert fate.fate in FATES
        if fate.fate == MAP and fate.nvflare:
            cls, _, arg = fate.nvflare.partition(".")
            params = init_params(TARGETS[cls])
            assert not arg or arg in params, (fate.nvflare, sorted(params))


def fl_configs():
    if not CORPUS.is_dir():
        return []
    out = []
    for row in rows():
        if row["kind"] in ("fl_server", "fl_client"):
            try:
                config = json.loads((CORPUS / row["file"]).read_text())
            except json.JSONDecodeError:  # (the corpus's one broken file: E101)
                continue
            out.append((row["file"], row["kind"][3:], config))
    return out


@pytest.mark.skipif(not fl_configs(), reason="needs ../shared/corpus")
def test_every_item_of_every_corpus_fl_config_has_a_fate():
    byoc, unknown = set(), set()
    for _, kind, config in fl_configs():
        for item in account(config, kind):
            assert item.how, item
            if item.fate == BYOC:
                byoc.add(item.what)
            elif item.fate == UNKNOWN:
                unknown.add(item.what)
    # the one Clara component FLARE has no counterpart of; the corpus's own classes
    assert unknown == set(NO_COUNTERPART)
    assert byoc == {"BYO_Aggregator.MyJustInTimeAggregator",
                    "BYO_aggregator.CustomModelAggregator", "BYO_Privacy.MyPrivacyProtocol",
                    "monai_trainer.MONAITrainer"}  # fmt: skip
    assert len(fl_configs()) >= 38


def test_an_unknown_setting_or_arg_is_said_not_dropped():
    items = account({"servers": [{"num_rounds": 2, "num_round": 3}],
                     "aggregator": {"name": "InTimeAccumulateWeightedAggregator",
                                    "args": {"aggregation_weight": {}}}}, "server")  # fmt: skip
    fates = {i.what: i.fate for i in items}
    assert fates["servers.num_rounds"] == MAP
    assert fates["servers.num_round"] == UNKNOWN
    assert fates["InTimeAccumulateWeightedAggregator.aggregation_weight"] == UNKNOWN


def test_the_docs_are_the_table():
    """docs/fl.md is written by tools/gen_fl_doc.py from the table: rerun it when this
    fails, and review the diff."""
    spec = importlib.util.spec_from_file_location(
        "gen_fl_doc", Path(__file__).parent.parent / "tools" / "gen_fl_doc.py"
    )
    gen = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(gen)  # type: ignore[union-attr]
    assert gen.DOC.read_text() == gen.render()
