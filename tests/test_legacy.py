"""Legacy dialects end to end: the 3.x spleen against the 4.1 one, and the corpus' legacy
AutoML configs expanded into their grids."""

import os
import shutil

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from claragen.transpiler.reports import collect_scripts, diff_scripts
from tests.conftest import CORPUS, EXAMPLE
from tests.test_corpus import environment_of, rows
from tests.test_golden import GOLDEN, check_golden
from tests.test_search_jobs import expected_grid


def compile_mmar(tmp_path, name):
    mmar = tmp_path / name
    shutil.copytree(EXAMPLE.parent / name, mmar, ignore=shutil.ignore_patterns("data"))
    comp = Compilation(mmar / "config" / "config_train.json", CompileOptions(),
                       env_path=mmar / "config" / "environment.json", mmar_root=mmar)  # fmt: skip
    compile_to_dir(comp, tmp_path / f"out_{name}")
    return tmp_path / f"out_{name}" / "J0001" / "train.py"


def test_3x_and_41_spleen_differ_only_where_the_dialects_do(tmp_path):
    """The pinned diff: a reviewer reads it once; a change to either lowering shows here."""
    old = compile_mmar(tmp_path, "spleen_3x")
    new = compile_mmar(tmp_path, "spleen_41")
    text = diff_scripts(collect_scripts(old), collect_scripts(new))
    text = text.replace(str(tmp_path) + os.sep, "")
    produced = tmp_path / "spleen_3x_vs_41.diff"
    produced.write_text(text)
    check_golden(produced, GOLDEN / "spleen_3x_vs_41.diff")


DEFECTIVE = ("half-ported", "bug in original")  # INDEX.tsv notes: diagnostics expected
LEGACY_SEARCH = [
    r
    for r in rows()
    if r["has_search"] == "Y" and r["syntax_detected"] in ("3.x-TF", "4.0")
    and r["kind"] == "train" and r["json_ok"] == "yes"
]  # fmt: skip


@pytest.mark.corpus
@pytest.mark.parametrize("row", LEGACY_SEARCH, ids=lambda r: r["file"].split("/")[-1])
def test_legacy_search_configs_expand_to_their_grid(row, tmp_path):
    config = CORPUS / row["file"]
    comp = Compilation(config, CompileOptions(jobs="grid", float_steps=3),
                       env_path=environment_of(row))  # fmt: skip
    if any(mark in row["notes"] for mark in DEFECTIVE):
        # a diagnostic at its place: an error, or (where claragen can port the half-ported
        # parts) a warning about what it left out
        try:
            compile_to_dir(comp, tmp_path)
            found = comp.diags.warnings
        except CompileError as exc:
            found = [d for d in exc.diagnostics if d.severity == "error"]
        assert found and all(d.span.line > 0 for d in found)
        return

    manifest = compile_to_dir(comp, tmp_path)
    assert len(manifest["jobs"]) == expected_grid(config, 3) > 1
