"""The plain loop's checkpoints hold what MONAI's CheckpointSaver's do (issue 28, item 6,
and the attack on it): the same names, and one object alone saved as its state_dict
itself, as ignite's Checkpoint saves it, so that code loading one target's model.pt
loads the other's."""

from __future__ import annotations

import ast

import torch
from ignite.engine import Engine
from ignite.handlers import Checkpoint, DiskSaver

from tests.test_golden import compile_example


def save_checkpoint_of(script):
    """The script's own save_checkpoint and the file helpers it calls (nothing else of
    the script runs)."""
    import json
    import os
    import stat
    import sys

    names = {"save_checkpoint", "replace_atomically", "open_new", "remove_file"}
    tree = ast.parse(script.read_text())
    module = ast.Module(
        [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names], []
    )
    space = {"os": os, "sys": sys, "stat": stat, "json": json, "torch": torch}
    exec(compile(module, str(script), "exec"), space)  # the script's own functions
    return space["save_checkpoint"]


def ignite_saves(folder, objects):
    saver = Checkpoint(objects, DiskSaver(str(folder), require_empty=False),
                       filename_prefix="x")  # fmt: skip
    saver(Engine(lambda e, b: None))
    (path,) = folder.glob("*.pt")
    return torch.load(path, weights_only=True)


def test_one_object_is_saved_as_ignite_saves_it(tmp_path):
    save = save_checkpoint_of(compile_example(tmp_path / "c") / "J0001" / "train.py")
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for objects in ({"model": net}, {"model": net, "optimizer": opt}):
        folder = tmp_path / str(len(objects))
        folder.mkdir()
        save(str(folder / "plain.pt"), objects)
        plain = torch.load(folder / "plain.pt", weights_only=True)
        ignite = ignite_saves(folder / "ignite", objects)
        assert plain.keys() == ignite.keys()
    assert sorted(plain) == ["model", "optimizer"]
    bare = torch.load(tmp_path / "1" / "plain.pt", weights_only=True)
    torch.nn.Linear(2, 1).load_state_dict(bare)  # what a user's loading code does


def test_the_engines_savers_settings_hold_in_its_names_and_its_score(tmp_path):
    """key_metric_n_saved=3: MONAI refuses a fixed key_metric_filename (it was forced to
    model.pt, and the script failed at start); key_metric_negative_sign: the lowest is the
    best, in result.json and for the search (it reported the highest; both found by a
    review of issue 28)."""
    from monai.handlers import CheckpointSaver

    from tests.conftest import compile_edited_example

    def edit(cfg):
        saver = cfg["validate"]["handlers"][2]["args"]
        saver.update(key_metric_negative_sign=True, key_metric_n_saved=3)

    _, comp = compile_edited_example(tmp_path, edit, target="engines")
    script = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "key_metric_filename" not in script
    CheckpointSaver(
        str(tmp_path),
        {"m": torch.nn.Linear(1, 1)},
        save_key_metric=True,
        key_metric_n_saved=3,
    )  # fmt: skip  (what MONAI accepts)
    assert "best = min(scored" in script and '"direction": "minimize"' in script
    assert comp.minimizing == {"J0001/train.py"}
    _, comp = compile_edited_example(tmp_path / "plain_saver", target="engines")
    text = (tmp_path / "plain_saver" / "out" / "J0001" / "train.py").read_text()
    assert 'key_metric_filename="model.pt"' in text and not comp.minimizing
