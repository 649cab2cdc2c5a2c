"""The generated scripts' files (issue 27, class 5): every file a script writes itself is
created afresh, never through a link that an MMAR (or anyone) left in its checkpoint or
evaluation folder, and nothing in a script goes around its file helpers
(templates/_files.py.j2)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.conftest import synthetic_data
from tests.test_golden import compile_example

pytestmark = pytest.mark.e2e

# what the scripts write themselves, and the temporary files they write it through
TRAIN_FILES = ["result.json", "result.json.tmp", "progress.jsonl", "model.pt",
               "model.pt.tmp", "model_final.pt", "model_final.pt.tmp", "resume.pt",
               "resume.pt.tmp"]  # fmt: skip
EVAL_FILES = ["metrics.json", "metrics.json.tmp", "metrics.csv",
              "val_mean_dice_raw.csv", "val_mean_dice_summary.csv"]  # fmt: skip
# the file helpers; any other write is a way around them
HELPERS = {"remove_file", "open_new", "replace_atomically", "write_json",
           "append_line", "own_file"}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("data"), 4, 1, (32, 32, 32))


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return compile_example(tmp_path_factory.mktemp("example"))


def plant(folder, names, victims):
    """A link at each name: half to files that hold a secret, half to files that do not
    exist yet (a write through the link would make them)."""
    folder.mkdir(parents=True)
    victims.mkdir()
    for i, name in enumerate(names):
        target = victims / f"{name}.victim"
        if i % 2 == 0:
            target.write_text("secret")
        os.symlink(target, folder / name)


def untouched(victims):
    for path in victims.iterdir():
        assert path.read_text() == "secret", path
    return sorted(p.name for p in victims.iterdir())


def run(*cmd):
    proc = subprocess.run([sys.executable, *map(str, cmd)], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_train_and_validate_write_no_file_through_a_link(tmp_path, data, out):
    ckpt, evaluation, victims = tmp_path / "models", tmp_path / "eval", tmp_path / "v"
    plant(ckpt, TRAIN_FILES, victims)
    run(out / "J0001" / "train.py", "--device", "cpu", "--epochs", "1",
        "--data-root", data, "--dataset-json", data / "dataset.json",
        "--mmar-ckpt-dir", ckpt, "--crop-size", 16, 16, 16, "--roi-size", 16, 16, 16)  # fmt: skip
    before = untouched(victims)
    for name in ("result.json", "progress.jsonl", "model.pt", "model_final.pt",
                 "resume.pt"):  # fmt: skip
        path = ckpt / name
        assert path.is_file() and not path.is_symlink(), name
    plant(evaluation, EVAL_FILES, tmp_path / "ve")
    run(out / "J0001" / "validate.py", "--device", "cpu",
        "--data-root", data, "--dataset-json", data / "dataset.json",
        "--mmar-ckpt", ckpt / "model.pt", "--mmar-eval-output-path", evaluation,
        "--roi-size", 16, 16, 16)  # fmt: skip
    untouched(tmp_path / "ve")
    assert untouched(victims) == before
    for name in ("metrics.json", "metrics.csv", "val_mean_dice_raw.csv"):
        assert (evaluation / name).is_file() and not (evaluation / name).is_symlink()


def test_a_resume_reads_no_checkpoint_through_a_link(tmp_path, data, out):
    ckpt, victims = tmp_path / "models", tmp_path / "v"
    plant(ckpt, ["resume.pt"], victims)
    proc = subprocess.run(
        [sys.executable, str(out / "J0001" / "train.py"), "--device", "cpu",
         "--epochs", "1", "--resume", "--data-root", str(data),
         "--dataset-json", str(data / "dataset.json"), "--mmar-ckpt-dir", str(ckpt),
         "--crop-size", "16", "16", "16", "--roi-size", "16", "16", "16"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "training from the start" in proc.stderr
    untouched(victims)


def writes_outside_helpers(text: str) -> list[str]:
    """Calls that open, save, remove or rename a file outside the file helpers."""
    tree = ast.parse(text)
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in HELPERS:
            inside |= {id(n) for n in ast.walk(node)}
        # replace_atomically(path, lambda f: torch.save(state, f)): into the helper's file
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "replace_atomically"
        ):
            for arg in node.args[1:]:
                if isinstance(arg, ast.Lambda) and len(arg.args.args) == 1:
                    param = arg.args.args[0].arg
                    inside |= {
                        id(n)
                        for n in ast.walk(arg.body)
                        if isinstance(n, ast.Call)
                        and [ast.unparse(a) for a in n.args[1:2]] == [param]
                    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in inside:
            continue
        name = ast.unparse(node.func)
        if name in ("open", "os.open", "os.fdopen", "io.open", "os.remove", "os.unlink",
                    "os.rename", "json.dump", "torch.save", "shutil.copy",
                    "shutil.move") or name.endswith((".write_text", ".write_bytes")):  # fmt: skip
            found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("target", ["plain", "engines"])
def test_no_script_writes_around_its_file_helpers(tmp_path, target):
    out = compile_example(
        tmp_path, target=target, optimize=("amp",) * (target == "plain")
    )
    scripts = sorted(out.rglob("*.py"))
    assert len(scripts) >= 2
    for script in scripts:
        assert writes_outside_helpers(script.read_text()) == [], script
    assert writes_outside_helpers(
        "def f():\n    torch.save(x, 'a')\n"
    )  # it can see one
    assert writes_outside_helpers("replace_atomically(p, lambda f: torch.save(x, 'a'))")
