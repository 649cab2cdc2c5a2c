"""Each gate is the only way in (issue 27): an AST scan of claragen finds no import of
code outside gates/byoc.py, no file access outside gates/safe_io.py, no terminal output
outside gates/show.py, and no bundle file written without the bundle language's check.
Each scan is shown to find what it looks for."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "claragen"


def sources(*skip: str) -> dict[str, ast.Module]:
    return {
        str(p.relative_to(ROOT)): ast.parse(p.read_text())
        for p in sorted(ROOT.rglob("*.py"))
        if str(p.relative_to(ROOT)) not in skip
    }


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


# -- byoc: the one importer of code --------------------------------------------------------

IMPORTERS = {"importlib.import_module", "import_module", "__import__", "exec", "eval",
             "importlib.util.find_spec", "importlib.util.spec_from_file_location",
             "importlib.util.module_from_spec", "importlib.reload", "runpy.run_path",
             "runpy.run_module", "pkgutil.iter_modules", "find_spec"}  # fmt: skip
IMPORT_MODULES = {"importlib", "importlib.util", "runpy", "pkgutil", "imp",
                  "importlib.machinery"}  # fmt: skip


def code_importers(tree: ast.AST) -> list[str]:
    found = [name for _, name in calls(tree) if name in IMPORTERS]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in IMPORT_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in IMPORT_MODULES:
            found += [
                f"from {node.module} import {a.name}"
                for a in node.names
                if a.name != "resources"
            ]  # fmt: skip  (package data, no code)
    return found


def test_only_the_byoc_gate_imports_code():
    found = {f: code_importers(t) for f, t in sources("gates/byoc.py").items()}
    assert not {f: v for f, v in found.items() if v}
    assert code_importers(ast.parse("import importlib\nimportlib.import_module('x')"))


# -- safe_io: the one way to the files of output, run and checkpoint folders --------------

FILE_CALLS = {"open", "io.open", "os.open", "os.fdopen", "os.remove", "os.unlink",
              "os.rename", "os.replace", "shutil.rmtree", "shutil.copy", "shutil.copy2",
              "shutil.copyfile", "shutil.copytree", "shutil.move", "json.load",
              "json.dump", "torch.save", "tarfile.open"}  # fmt: skip
FILE_METHODS = {"read_text", "write_text", "read_bytes", "write_bytes", "unlink",
                "touch", "rename", "rmdir", "symlink_to", "hardlink_to"}  # fmt: skip
# the config reader (limits.py, the input gate: regular files, bounded), the component
# table and the written-out classes (package data)
INPUTS = ("gates/safe_io.py", "transpiler/limits.py", "transpiler/symbols.py",
          "transpiler/written.py")  # fmt: skip


def file_accesses(tree: ast.AST) -> list[str]:
    found = []
    buffers = {  # names of in-memory files: io.BytesIO()
        t.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and ast.unparse(node.value).startswith("io.BytesIO(")
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    for node, name in calls(tree):
        if (
            name == "torch.save"
            and ast.unparse(node.args[1:2] or [ast.Name("")]) in buffers
        ):
            continue
        method = name.rsplit(".", 1)[-1] if "." in name else None
        if name == "tarfile.open" and any(k.arg == "fileobj" for k in node.keywords):
            continue  # an archive in memory
        if (
            name == "torch.load"
            and node.args
            and ast.unparse(node.args[0]).startswith("io.BytesIO(")
        ):
            continue  # bytes read through safe_io
        if name.startswith("safe_io."):
            continue
        if name == "torch.load" or name in FILE_CALLS or method in FILE_METHODS:
            found.append(ast.unparse(node))
    return found


def test_only_safe_io_opens_the_files_of_output_and_run_folders():
    found = {f: file_accesses(t) for f, t in sources(*INPUTS).items()}
    assert not {f: v for f, v in found.items() if v}
    for code in ("open(p)", "p.read_text()", "os.open(p, 0)", "shutil.rmtree(p)",
                 "torch.load(p)", "Path(p).unlink()"):  # fmt: skip
        assert file_accesses(ast.parse(code)), code


# -- show: the one way to a terminal --------------------------------------------------------

OUTPUT_CALLS = {"print", "typer.echo", "typer.secho", "click.echo", "click.secho",
                "sys.stdout.write", "sys.stderr.write", "logging.basicConfig",
                "Console", "Table", "Text", "Live", "rich.print"}  # fmt: skip
OUTPUT_METHODS = {"print", "print_json", "log", "rule"}


def terminal_outputs(tree: ast.AST) -> list[str]:
    found = []
    for node, name in calls(tree):
        last = name.rsplit(".", 1)[-1]
        if name in OUTPUT_CALLS or last in ("Console", "Table", "Text", "Live"):
            found.append(ast.unparse(node))
        elif (
            "." in name
            and last in OUTPUT_METHODS
            and not name.startswith(
                (
                    "log.",
                    "logging.",
                    "self.client.",
                )  # loggers (escaped), MLflow's client
            )
        ):
            found.append(ast.unparse(node))
    return found


def test_only_show_writes_to_a_terminal():
    found = {f: terminal_outputs(t) for f, t in sources("gates/show.py").items()}
    assert not {f: v for f, v in found.items() if v}
    for code in ("print(x)", "typer.echo(x)", "console.print(x)", "Table(title=x)",
                 "rich.table.Table()", "sys.stderr.write(x)"):  # fmt: skip
        assert terminal_outputs(ast.parse(code)), code


# -- names: every bundle file passes the bundle language's check ---------------------------


def unchecked_bundle_files(tree: ast.AST) -> list[str]:
    """Calls of bundle.dumps whose argument is not what `bundle_file` (the check) gave."""
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        checked = {
            t.id
            for node in ast.walk(func)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func).endswith("bundle_file")
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        for node, name in calls(func):
            if not name.endswith("bundle.dumps") or not node.args:
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id in checked:
                continue
            if isinstance(arg, ast.Call) and ast.unparse(arg.func).endswith(
                "bundle_file"
            ):
                continue
            found.append(ast.unparse(node))
    return found


def test_every_bundle_file_passes_the_bundle_check():
    found = {f: unchecked_bundle_files(t) for f, t in sources().items()}
    assert not {f: v for f, v in found.items() if v}
    assert unchecked_bundle_files(ast.parse("def f():\n    bundle.dumps(x)\n"))
    text = (ROOT / "transpiler" / "pipeline.py").read_text()
    assert text.count("bundle.dumps(") >= 3  # train.json, metadata.json, evaluate.json


@pytest.mark.parametrize("gate", ["byoc", "names", "deserializers", "safe_io", "show"])
def test_each_gate_is_one_module(gate):
    assert (ROOT / "gates" / f"{gate}.py").is_file()
