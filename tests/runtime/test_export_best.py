"""`claragen export-best` (issue 30, item 9): the best job as a config of its own, its
values written in and its search blocks removed (Clara's remove_search_augs), beside its
script. Over every AutoML config of the corpus: the exported config, compiled with no
search, is the job's script."""

import ast
import json
import re
from pathlib import Path

import pytest

from claragen.runtime.export import export_best, written_in
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.passes.expand_jobs import Job, expand_jobs
from claragen.transpiler.pipeline import Compilation
from claragen.transpiler.render import Renderer
from tests.runtime.test_param_names import searched_configs


def keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from keys(v)


def script(path: Path, values: dict, folder: Path) -> ast.Module:
    """The job's script as a syntax tree: its docstring out (it lists the search
    values), the module-level constants of its searched values put in where they are
    read (the exported config has each value in its place instead)."""
    comp = Compilation(path, CompileOptions(jobs="grid" if values else "default"))
    config, base = comp.build()
    text = comp.compile_job(config, base, folder, Job("J0001", values), Renderer())
    tree = ast.parse(text)
    tree.body = tree.body[1:]  # the docstring
    searched = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.isupper() and values  # (a job of the search)
        and node.targets[0].id in SEARCHED.findall(text)
    }  # fmt: skip

    class Inline(ast.NodeTransformer):
        def visit_Name(self, node):
            return (
                searched.get(node.id, node) if isinstance(node.ctx, ast.Load) else node
            )

        def visit_BoolOp(self, node):
            """`bool(True) and x` -> `x`, `bool(False) and x` -> `False`: what the
            compiler writes for a literal where a job's constant was read."""
            node = self.generic_visit(node)
            first = node.values[0]
            if (isinstance(node.op, ast.And) and isinstance(first, ast.Call)
                    and getattr(first.func, "id", None) == "bool"
                    and isinstance(first.args[0], ast.Constant)):  # fmt: skip
                if not first.args[0].value:
                    return ast.Constant(False)
                rest = node.values[1:]
                return rest[0] if len(rest) == 1 else ast.BoolOp(ast.And(), rest)
            return node

    tree.body = [
        n for n in tree.body
        if not (isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) in searched)
    ]  # fmt: skip
    return Inline().visit(tree)


LINE = re.compile(r"\blines? \d+(-\d+)?")
# a line of the block of searched values: `NAME = value  # <param id> (domain, type)`
SEARCHED = re.compile(r"^([A-Z_][A-Z0-9_]*) = .*#.*\((?:\w+), (?:float|enum)\)$", re.M)


def mmar_out(text: str, folder: Path) -> str:
    """`text` with its MMAR folder's path, as it is or resolved, made `<MMAR>`."""
    for form in (str(folder.resolve()), str(folder)):
        text = text.replace(form, "<MMAR>")
    return text


def jobs_of(path: Path):
    """The space, and the grid's first and last jobs."""
    _, base = Compilation(path, CompileOptions()).build()
    jobs = expand_jobs(base.space, {}, "grid", 2, 0)
    return tuple(base.space.params), [jobs[0], jobs[-1]]


def inert_of(path: Path, job) -> frozenset[str]:
    """The parameters whose values change nothing in the job's script (W107)."""
    comp = Compilation(path, CompileOptions(jobs="grid"))
    return frozenset(comp.job_passes(*comp.build(), job)[1].inert_params)


@pytest.mark.skipif(not searched_configs(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("path", searched_configs(), ids=lambda p: p.name[-40:])
def test_an_exported_config_is_its_jobs_config(path, tmp_path):
    params, jobs = jobs_of(path)
    config = json.loads(path.read_text())
    for n, job in enumerate(jobs):
        values = job.values
        try:
            theirs = script(path, values, tmp_path / f"{n}b")
            inert = inert_of(path, job)
        except CompileError:  # (its search cannot run either: no job to export)
            pytest.skip("the config's jobs do not compile")
        exported = written_in(config, params, values, inert)
        assert not {"search", "apply"} & set(keys(exported))
        copy = tmp_path / f"{n}" / path.name
        copy.parent.mkdir()
        copy.write_text(json.dumps(exported))
        # (a docstring may name the config's lines, which the exported file has others
        # of; the script names its MMAR, the copy's folder, resolved or not)
        mine = LINE.sub("line N", ast.dump(script(copy, {}, tmp_path / f"{n}a")))
        theirs = LINE.sub("line N", ast.dump(theirs))
        assert mmar_out(mine, copy.parent) == mmar_out(theirs, path.parent)


def test_export_best_writes_the_config_the_script_and_the_values(tmp_path):
    (config_path,) = [p for p in searched_configs() if "LR_LP.json" in p.name
                      and "Deprecated" not in p.name][:1] or [None]  # fmt: skip
    if config_path is None:
        pytest.skip("needs ../shared/corpus")
    params, (first, last) = jobs_of(config_path)
    run = tmp_path / "run"
    (run / "W1_2_J2").mkdir(parents=True)
    (run / "W1_2_J2" / "train.py").write_text("print('J2')\n")
    records = [
        {"event": "search", "run_id": "run", "config": str(config_path),
         "direction": "maximize"},
        {"event": "recommend", "job": "J1", "rec_id": 1, "values": first.values},
        {"event": "recommend", "job": "J2", "rec_id": 2, "values": last.values},
        {"event": "end", "job": "J1", "name": "W1_1_J1", "status": "ok", "score": 0.5},
        {"event": "end", "job": "J2", "name": "W1_2_J2", "status": "ok", "score": 0.7},
    ]  # fmt: skip
    (run / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    written = export_best(run, tmp_path / "out", params)
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == [
        f"config/{config_path.name}", "train.py", "best.json"]  # fmt: skip
    assert (tmp_path / "out" / "train.py").read_text() == "print('J2')\n"
    best = json.loads((tmp_path / "out" / "best.json").read_text())
    assert best["job"] == "J2" and best["score"] == 0.7
    assert best["values"]["learning_rate"] == last.values[":learning_rate"]
    exported = json.loads(written[0].read_text())
    assert exported["learning_rate"] == last.values[":learning_rate"]


def test_the_command_exports_and_says_what_it_wrote(tmp_path):
    from typer.testing import CliRunner

    from claragen.cli import app

    (config_path,) = [p for p in searched_configs() if "LR_LP.json" in p.name
                      and "Deprecated" not in p.name][:1] or [None]  # fmt: skip
    if config_path is None:
        pytest.skip("needs ../shared/corpus")
    _, (_, last) = jobs_of(config_path)
    run = tmp_path / "run"
    run.mkdir()
    records = [
        {"event": "search", "run_id": "run", "config": str(config_path),
         "direction": "maximize", "options": {"float_steps": 2}},
        {"event": "recommend", "job": "J1", "rec_id": 1, "values": last.values},
        {"event": "end", "job": "J1", "name": "W1_1_J1", "status": "ok", "score": 0.5},
    ]  # fmt: skip
    (run / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = CliRunner().invoke(
        app, ["export-best", str(run), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == [str(tmp_path / "o" / "config" / config_path.name),
                                     str(tmp_path / "o" / "best.json")]  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(
        app, ["export-best", str(empty), "-o", str(tmp_path / "p")]
    )
    assert result.exit_code == 1 and "holds no search journal" in result.output


def fake_run(tmp_path, config_path, values, options=None):
    run = tmp_path / "run"
    run.mkdir()
    records = [
        {"event": "search", "run_id": "run", "config": str(config_path),
         "direction": "maximize", "options": options or {}},
        {"event": "recommend", "job": "J1", "rec_id": 1, "values": values},
        {"event": "end", "job": "J1", "name": "W1_1_J1", "status": "ok", "score": 0.5},
    ]  # fmt: skip
    (run / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_the_searchs_set_values_are_in_the_export_and_its_config_is_safe(tmp_path):
    """An attack found --set values missing from the exported config (the job trained
    with them) and `-o MMAR` overwriting the search's own config."""
    from claragen.runtime.rundir import SearchError

    mmar = tmp_path / "mmar" / "config"
    mmar.mkdir(parents=True)
    config = {"learning_rate": 2e-4, "amp": True,
              "search": [{"domain": "lr", "type": "float", "args": ["learning_rate"],
                          "targets": [1e-4, 1e-3]}]}  # fmt: skip
    path = mmar / "config_train.json"
    path.write_text(json.dumps(config))
    from claragen.transpiler.space import SearchArg, SearchParam

    lr = SearchParam(":learning_rate", "", "variable", "lr", "float",
                     (SearchArg("learning_rate"),), low=1e-4, high=1e-3)  # fmt: skip
    run = fake_run(tmp_path, path, {":learning_rate": 5e-4},
                   {"sets": [["amp", "false"], ["epochs", "3"]]})  # fmt: skip
    written, *_ = export_best(run, tmp_path / "out", (lr,))
    exported = json.loads(written.read_text())
    assert exported == {"learning_rate": 5e-4, "amp": False, "epochs": 3}
    with pytest.raises(SearchError, match="is the search's own config"):
        export_best(run, tmp_path / "mmar", (lr,))
    assert "search" in json.loads(path.read_text())  # untouched
