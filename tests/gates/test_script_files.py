"""The generated scripts' files (issue 27, class 5): every file a script writes itself is
created afresh, never through a link that an MMAR (or anyone) left in its checkpoint or
evaluation folder, and nothing in a script goes around its file helpers
(templates/_files.py.j2)."""

from __future__ import annotations

import ast
import os
import sys

import pytest

from tests import scriptrunner
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
           "append_line", "own_file", "own_folder"}  # fmt: skip


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
    return scriptrunner.run([sys.executable, *map(str, cmd)], timeout=600)


def train(out, data, ckpt, *extra):
    return run(out / "J0001" / "train.py", "--device", "cpu", "--epochs", "1",
               "--data-root", data, "--dataset-json", data / "dataset.json",
               "--mmar-ckpt-dir", ckpt, "--crop-size", 16, 16, 16,
               "--roi-size", 16, 16, 16, *extra)  # fmt: skip


@pytest.mark.parametrize("resume", [False, True])
def test_links_in_the_checkpoint_folder_stop_training_before_it_writes(
    tmp_path, data, out, resume
):
    """Links at every file the script writes (and one in a subfolder, where a MONAI
    saver would write): the script stops at once, naming a link, and writes nothing."""
    ckpt, victims = tmp_path / "models", tmp_path / "v"
    plant(ckpt, TRAIN_FILES, victims)
    (ckpt / "sub").mkdir()
    os.symlink(victims / "x", ckpt / "sub" / "events.out.tfevents.1")
    proc = train(out, data, ckpt, *(["--resume"] if resume else []))
    assert proc.returncode != 0 and "is a symbolic link" in proc.stderr, proc.stderr
    assert untouched(victims) == sorted(f"{n}.victim" for n in TRAIN_FILES[::2])


def test_a_checkpoint_folder_that_is_a_link_is_refused(tmp_path, data, out):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "models")
    proc = train(out, data, tmp_path / "models")
    assert proc.returncode != 0 and "is a symbolic link" in proc.stderr, proc.stderr
    assert list(elsewhere.iterdir()) == []


def test_links_in_the_evaluation_folder_stop_validation_before_it_writes(tmp_path, out):
    """Links where validate.py writes, and where MONAI's SaveImaged would (a case's
    subfolder): the script stops before anything is written."""
    evaluation, victims = tmp_path / "eval", tmp_path / "ve"
    plant(evaluation, EVAL_FILES, victims)
    (evaluation / "case_003").mkdir()
    os.symlink(victims / "seg", evaluation / "case_003" / "case_003_trans.nii.gz")
    proc = run(out / "J0001" / "validate.py", "--device", "cpu",
               "--mmar-ckpt", tmp_path / "none.pt", "--mmar-eval-output-path",
               evaluation)  # fmt: skip
    assert proc.returncode != 0 and "is a symbolic link" in proc.stderr, proc.stderr
    untouched(victims)
    assert not (victims / "seg").exists()


def helpers_of(script) -> dict:
    """The file helpers of a generated script, as functions (nothing else of it runs)."""
    tree = ast.parse(script.read_text())
    module = ast.Module(
        [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in HELPERS],
        [],
    )
    space = {
        "os": os,
        "sys": sys,
        "stat": __import__("stat"),
        "json": __import__("json"),
    }
    exec(compile(module, str(script), "exec"), space)  # the script's own helpers
    return space


def test_the_helpers_replace_a_link_that_appears_after_the_check(tmp_path, out):
    """A link made while the script runs (after own_folder looked) is replaced when the
    script writes that file, never written through."""
    f = helpers_of(out / "J0001" / "train.py")
    victim = tmp_path / "victim"
    victim.write_text("secret")
    for name in ("result.json", "result.json.tmp"):
        os.symlink(victim, tmp_path / name)
    f["write_json"](str(tmp_path / "result.json"), {"a": 1})
    assert victim.read_text() == "secret"
    assert not (tmp_path / "result.json").is_symlink()
    os.symlink(victim, tmp_path / "progress.jsonl")
    with pytest.raises(OSError):
        f["append_line"](str(tmp_path / "progress.jsonl"), "x")
    assert victim.read_text() == "secret"
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError):  # not waited on
        f["append_line"](str(tmp_path / "fifo"), "x")
    assert not f["own_file"](str(tmp_path / "progress.jsonl"))


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


def test_every_dir_param_of_the_table_is_known_as_written_or_read():
    """The folders a MONAI part writes into are checked by own_folder: every `*_dir`
    parameter of the component table is one of them, or an input."""
    from claragen.transpiler import symbols
    from claragen.transpiler.targets.plain_options import INPUT_FOLDERS, WRITTEN_FOLDERS

    params = {p for n in symbols.component_names() for p in symbols.lookup(n).params
              if p.endswith("_dir")}  # fmt: skip
    assert params <= set(WRITTEN_FOLDERS) | set(INPUT_FOLDERS) | {"create_dir"}, params


def test_a_saver_folder_that_is_a_link_stops_training(tmp_path, data):
    """SaveImaged's output_dir (a folder MONAI writes into, not the checkpoint folder)."""
    import json as _json

    from tests.conftest import copy_example
    from tests.gates.common import compile_cli

    elsewhere, link = tmp_path / "elsewhere", tmp_path / "link"
    elsewhere.mkdir()
    os.symlink(elsewhere, link)
    mmar = copy_example(tmp_path)
    path = mmar / "config" / "config_train.json"
    config = _json.loads(path.read_text())
    config["validate"]["post_transforms"].append(
        {"name": "SaveImaged", "args": {"keys": "pred", "output_dir": str(link)}}
    )
    path.write_text(_json.dumps(config))
    code, output = compile_cli("-m", mmar, "-o", tmp_path / "out")
    assert code == 0, output
    proc = train(tmp_path / "out", data, tmp_path / "models")
    assert (
        proc.returncode != 0 and f"{link} is a symbolic link" in proc.stderr
    ), proc.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("output_dir", ["/tmp/claragen-smoke-absolute", "../../up",
                                        "{MMAR_EVAL_OUTPUT_PATH}/../../up"])  # fmt: skip
def test_smoke_writes_nothing_outside_its_scratch_folder(tmp_path, data, output_dir):
    """A config that writes to an absolute path (or climbs out with '..') is smoke-run
    with that folder moved into the scratch folder."""
    import json as _json

    from claragen.smoke import _confined

    mmar = tmp_path / "mmar"
    (mmar / "config").mkdir(parents=True)
    config = {"train": {"pre_transforms": [
        {"name": "SaveImaged", "args": {"keys": "image", "output_dir": output_dir}},
        {"name": "LoadImaged", "args": {"keys": "image", "output_dir": "fine/here"}}]}}  # fmt: skip
    path = mmar / "config" / "config_train.json"
    path.write_text(_json.dumps(config))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    copy = _confined(path, scratch)
    assert copy.parent == scratch / "configs"
    moved = _json.loads(copy.read_text())["train"]["pre_transforms"]
    assert moved[0]["args"]["output_dir"].startswith(str(scratch / "outputs"))
    assert moved[1]["args"]["output_dir"] == "fine/here"
    assert _confined(copy, scratch) == copy  # nothing left to move
