"""Hostile configs: nothing in a config runs at compile time, and no config text can leave
its place in the generated script (issue 6, "Safety").

Each case puts a payload that would create the file PWNED into one place of a config: a
`#expr`, a `lambda`, a string arg, a key, an alias, a tag, a BYOC path, an environment value,
a `--set` value. claragen must either refuse it with a diagnostic (exit 1) or compile it into
scripts in which every token holding the payload is a string or a comment: inert data.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import ENV, minimal, write

runner = CliRunner()
MARK = "PWNED"
# Each payload holds the mark as a name too, so that a smuggled statement shows as a NAME
# token of the script (inert copies are inside strings and comments).
RUN = f"__import__('os').system('touch {MARK}') or {MARK}"
OPEN = f"{MARK} = open('{MARK}', 'w')"
SET_RUN = f"__import__('os').mkdir('{MARK}')or({MARK})"  # --set splits at blanks
BREAKOUT = f'"""\'\'\'");\n{OPEN}\n#'  # quotes, a newline, a statement, a comment


def edit(fn):
    cfg = minimal()
    fn(cfg)
    return cfg


def add_transform(cfg, comp):
    cfg["train"]["pre_transforms"].append(comp)


def byoc_handler(args):
    return lambda c: c["train"]["handlers"].append({"path": "my_mod.H", "args": args})


CASES = {
    "#expr": (edit(lambda c: c["train"]["model"]["args"].update(channels="#" + RUN)),
              (), "refused"),
    "#expr that closes its call": (
        edit(lambda c: c["train"]["model"]["args"].update(channels=f"#[4, 8])\n{OPEN}\n(")),
        (), "refused"),
    "lambda": (edit(lambda c: add_transform(c, {"name": "Lambdad", "args": {
        "keys": "image", "func": "lambda x: " + RUN}})), (), "refused"),
    "lambda with a statement": (edit(lambda c: add_transform(c, {"name": "Lambdad", "args": {
        "keys": "image", "func": f"lambda x: x\n{OPEN}"}})), (), "refused"),
    "string arg": (edit(lambda c: c["train"]["handlers"][0]["args"].update(
        tag_name=BREAKOUT)), (), "inert"),
    "arg name": (edit(byoc_handler({f"x={OPEN}, y": 1})), (), "refused"),
    "arg name with a newline": (edit(byoc_handler({f"x\n{OPEN}": 1})), (), "refused"),
    "dict key and value in an arg": (edit(byoc_handler({"x": {BREAKOUT: BREAKOUT}})),
                                     (), "inert"),
    "section key": (edit(lambda c: c["train"].update({BREAKOUT: {"name": "Identity"}})),
                    (), "inert"),
    "first-level key": (edit(lambda c: c.update({BREAKOUT: BREAKOUT})), (), "inert"),
    "component name": (edit(lambda c: c["train"]["inferer"].update(name=BREAKOUT)),
                       (), "refused"),
    "BYOC path": (edit(lambda c: c["train"]["handlers"].append(
        {"path": f"os;{OPEN};x.H"})), (), "refused"),
    "alias": (edit(lambda c: add_transform(c, {
        "name": "RandFlipd", "args": {"keys": "image", "prob": 0.1},
        "search": [{"type": "float", "args": [f"prob#a\n{OPEN}"],
                    "targets": [0.0, 0.5]}]})), ("--jobs", "grid"), "refused"),
    "apply of an alias": (edit(lambda c: add_transform(c, {
        "name": "RandFlipd", "args": {"keys": "image", "prob": 0.1},
        "apply": {"prob": BREAKOUT}})), (), "refused"),
    "free tag": (edit(lambda c: c.update(search=[{"type": "enum", "args": [f"@t\n{OPEN}"],
                                                  "targets": [[True], [False]]}])),
                 ("--jobs", "grid"), "refused"),
    "searched string value": (edit(lambda c: c["train"]["handlers"][0].update(search=[
        {"type": "enum", "args": ["tag_name"], "targets": [[BREAKOUT], ["x"]]}])),
        ("--jobs", "grid"), "inert"),
    "variable value": (edit(lambda c: c.update(epochs=BREAKOUT)), (), "refused"),
    "--set value": (minimal(), ("--set", f"learning_rate={SET_RUN}"), "inert"),
}  # fmt: skip


def payload_code(source: str) -> list[str]:
    """The payload's names that are code in `source` (its inert copies are strings and
    comments, which hold no names); an f-string's fields are code too."""
    return [
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and MARK in node.id
    ]


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_config_is_refused_or_inert(tmp_path, monkeypatch, name):
    cfg, args, expected = CASES[name]
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg, indent=2))
    env = {
        **ENV,
        "DATA_ROOT": BREAKOUT,
    }  # an environment value is a payload in each case
    write(tmp_path, "mmar/config/environment.json", json.dumps(env))
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(config), "-o", str(out), *args])
    assert not list(tmp_path.rglob(MARK)), "the payload ran at compile time"
    assert result.exception is None or isinstance(
        result.exception, SystemExit
    ), result.output
    if expected == "refused":
        assert result.exit_code == 1, result.output
        assert "error[E" in result.output and not out.exists()
        return
    assert result.exit_code == 0, result.output
    scripts = sorted(out.rglob("*.py"))
    assert scripts
    for script in scripts:
        source = script.read_text()
        assert payload_code(source) == [], script
        assert MARK in source  # the payload is there, as data
    # the scripts stay inside -o
    assert {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()} <= {
        "mmar", "out"}  # fmt: skip


def test_the_check_of_payload_code_can_fail():
    """The test above would see a smuggled statement, or a field smuggled into an
    f-string."""
    assert payload_code(f"x = 1\n{OPEN}\n")
    assert payload_code(f'log.info(f"{{{MARK}}} loss")\n')
    assert not payload_code(f"x = {OPEN!r}  # {OPEN}\n")


def test_a_run_id_cannot_leave_the_automl_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mmar = tmp_path / "mmar"
    write(tmp_path, "mmar/config/config_train.json", json.dumps(minimal(), indent=2))
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    for run_id in ("../../escaped", "/tmp/escaped", "..", "a/b"):
        result = runner.invoke(
            app, ["automl", "-m", str(mmar), "--run-id", run_id, "--max-jobs", "1"]
        )
        assert result.exit_code == 2, result.output  # a usage error
        assert "must be a plain folder name" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mmar"]
    assert not Path("/tmp/escaped").exists()


@pytest.mark.parametrize(
    "text", [RUN, "$" + RUN, "%other.json#x", f"a@b {BREAKOUT}", "x#y", "$@model"]
)
def test_config_text_stays_text_in_a_monai_bundle(tmp_path, monkeypatch, text):
    """MONAI evaluates `$` strings and resolves `@`/`%` ones: the bundle target writes
    config text so that MONAI's own parser gives back exactly that text."""
    from monai.bundle import ConfigParser

    monkeypatch.chdir(tmp_path)
    cfg = minimal()
    cfg["train"]["handlers"][0]["args"]["tag_name"] = text
    config = write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg, indent=2))
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["compile", str(config), "-o", str(out), "--target", "bundle"]
    )
    assert result.exit_code == 0, result.output
    bundle = json.loads((out / "J0001" / "configs" / "train.json").read_text())
    (stats,) = [
        h for h in bundle["train"]["handlers"] if h["_target_"].endswith("StatsHandler")
    ]
    parser = ConfigParser({"tag": stats["tag_name"]})
    assert parser.get_parsed_content("tag") == text
    assert not list(tmp_path.rglob(MARK))
