"""Clara FL's server and client configs told apart from every other config (issue 31):
given where a training config is read, one is E113 naming the MMAR's FL files, not a
did-you-mean for a trainer it never had. Enumerated over the corpus, every kind."""

import json
from pathlib import Path

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, Diagnostics
from claragen.transpiler.fl_configs import fl_kind
from claragen.transpiler.jsonparse import parse_json
from claragen.transpiler.pipeline import Compilation
from tests.conftest import CORPUS
from tests.test_corpus import rows

KINDS = {"fl_server": "server", "fl_client": "client"}


def root_of(path: Path):
    diags = Diagnostics()
    root = parse_json(path.read_text(), path.name, diags)
    return None if diags.errors else root


@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus")
def test_every_corpus_config_is_told_by_its_kind():
    seen = {"server": 0, "client": 0, None: 0}
    for row in rows():
        root = root_of(CORPUS / row["file"])
        if root is None:  # (a config the JSON parser refuses: E101 says so first)
            continue
        assert fl_kind(root) == KINDS.get(row["kind"]), row["file"]
        seen[fl_kind(root)] += 1
    assert seen["server"] == 18 and seen["client"] >= 20 and seen[None] > 100


@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("kind", ["fl_server", "fl_client"])
def test_an_fl_config_given_as_the_training_config_is_e113(tmp_path, kind):
    (row,) = [r for r in rows() if r["kind"] == kind
              and r["path"].startswith("PyTorch/NoteBooks/FL/adminMMAR/")]  # fmt: skip
    config = tmp_path / "config" / Path(row["path"]).name
    config.parent.mkdir()
    config.write_text((CORPUS / row["file"]).read_text())
    train = tmp_path / "config" / "config_train.json"
    train.write_text(json.dumps({"epochs": 1}))
    (tmp_path / "config" / "config_fed_other.json").write_text("{}")
    comp = Compilation(config, CompileOptions())
    with pytest.raises(CompileError) as info:
        comp.build()
    (diag,) = info.value.diagnostics
    assert diag.code == "E113"
    assert f"a Clara FL {KINDS[kind]} config" in diag.message
    assert "config_fed_other.json" in diag.message and config.name in diag.message
    assert str(train) in diag.help  # the training config to compile instead
