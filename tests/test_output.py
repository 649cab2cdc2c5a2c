"""The output folder: a compile writes inside -o only, never through a link, and replaces
an earlier claragen output whole (issue 15, item 6)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import ENV, minimal, write

runner = CliRunner()


def mmar(tmp_path, search: bool = False):
    cfg = minimal()
    if search:
        cfg["search"] = [{"type": "enum", "args": ["learning_rate"],
                          "targets": [[0.1], [0.2], [0.3]]}]  # fmt: skip
    config = write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg))
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    return config


def compile_(config, out, *args):
    result = runner.invoke(app, ["compile", str(config), "-o", str(out), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result


def test_a_link_planted_as_the_manifest_is_not_written_through(tmp_path):
    config = mmar(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").symlink_to(elsewhere)
    result = compile_(config, out)
    assert result.exit_code == 1 and "did not write" in result.output
    assert elsewhere.read_text() == "keep"


def test_links_inside_an_earlier_output_are_removed_not_followed(tmp_path):
    config = mmar(tmp_path)
    out = tmp_path / "out"
    assert compile_(config, out).exit_code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "train.py").write_text("keep")
    (out / "J0001" / "train.py").unlink()
    (out / "J0001" / "train.py").symlink_to(outside / "train.py")
    (out / "J0002").symlink_to(outside)
    result = compile_(config, out)
    assert result.exit_code == 0, result.output
    assert (outside / "train.py").read_text() == "keep"
    assert not (out / "J0001" / "train.py").is_symlink()
    assert "def main(" in (out / "J0001" / "train.py").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["J0001", "manifest.json"]


def test_a_recompile_leaves_no_stale_job(tmp_path):
    config = mmar(tmp_path, search=True)
    out = tmp_path / "out"
    assert compile_(config, out, "--jobs", "grid").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["J0001", "J0002", "J0003",
                                                     "manifest.json"]  # fmt: skip
    assert compile_(config, out).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["J0001", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [j["id"] for j in manifest["jobs"]] == ["J0001"]


def test_a_folder_of_other_files_is_refused(tmp_path):
    config = mmar(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = compile_(config, out)
    assert result.exit_code == 1
    assert "holds files claragen did not write (notes.txt)" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    # ... and an earlier output with a file of the user's beside it
    other = tmp_path / "other"
    assert compile_(config, other).exit_code == 0
    (other / "notes.txt").write_text("mine")
    result = compile_(config, other)
    assert result.exit_code == 1 and "also holds notes.txt" in result.output
    assert (other / "notes.txt").read_text() == "mine"


def test_the_output_folder_itself_may_be_a_link(tmp_path):
    config = mmar(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)
    assert compile_(config, tmp_path / "out").exit_code == 0
    assert (real / "J0001" / "train.py").is_file()


def test_every_name_of_the_table_is_imported_in_isorts_order(tmp_path):
    """All the classes of each module of the component table, in one `from m import`
    as a script writes it: ruff's isort (I001) finds them in its order (case-sensitive
    sorting put ToTensord before TorchVisiond; found by a review of issue 28)."""
    import collections
    import subprocess
    import sys

    import black

    from claragen.transpiler import symbols
    from claragen.transpiler.emit import Imports

    imports = Imports()
    by_module = collections.defaultdict(list)
    for name in symbols.component_names():
        sym = symbols.lookup(name)
        by_module[sym.module].append(name)
        imports.add_name(sym.module, name)
    assert sum(map(len, by_module.values())) > 1000
    text = black.format_str("\n".join(imports.lines()) + "\n", mode=black.Mode())
    (tmp_path / "x.py").write_text(text)
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated",
                           "--select", "I", str(tmp_path / "x.py")],
                          capture_output=True, text=True)  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout[-3000:]
