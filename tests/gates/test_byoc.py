"""The BYOC gate (claragen/gates/byoc.py, issue 27 class 2): a `path` is allowed only as
a class of the component table or a module inside custom/ or --pythonpath, for every
config that names code (training, validation, inference, config_automl.json) and for
smoke's stand-ins. The property tests enumerate what the environment has, not examples.
"""

from __future__ import annotations

import json
import os
import pkgutil
import sys

import pytest

from claragen import stand_ins
from claragen.gates import byoc
from claragen.runtime import automl_conf
from claragen.transpiler import symbols
from tests.conftest import ENV, EXAMPLE, minimal, write
from tests.gates.common import compile_cli, invoke, mmar


def installed_top_level() -> list[str]:
    """Every top-level module this environment can import: sys.path's, the standard
    library's, the interpreter's built-in ones, and claragen (an editable install)."""
    names = {m.name for m in pkgutil.iter_modules()}
    names |= set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    names |= {"claragen", "builtins", "tests"}
    return sorted(names)


def test_every_installed_module_but_the_table_is_refused(tmp_path):
    custom = tmp_path / "custom"
    custom.mkdir()
    allowed = []
    for name in installed_top_level():
        for path in (f"{name}.Anything", f"{name}.sub.Anything", f"{name}.main"):
            found = byoc.resolve(path, [custom])
            if not isinstance(found, byoc.Refused):
                allowed.append((path, found))
    assert not allowed
    assert len(installed_top_level()) > 300  # the enumeration saw the environment


def test_a_framework_path_is_allowed_only_as_a_class_of_the_table():
    for fw in symbols.FRAMEWORKS:
        for path in (f"{fw}.serialization.load", f"{fw}.os.system", f"{fw}.Anything",
                     f"{fw}.bundle.ConfigParser", f"{fw}.hub.load"):  # fmt: skip
            assert isinstance(byoc.resolve(path, []), byoc.Refused), path
    for name in symbols.component_names():
        sym = symbols.lookup(name)
        found = byoc.resolve(f"{sym.module}.{name}", [])
        assert isinstance(found, byoc.Resolved) and found.kind == byoc.TABLE, name


@pytest.fixture
def mmar_custom(tmp_path):
    root = mmar(tmp_path)
    (root / "custom").mkdir()
    return root


def test_a_module_of_custom_is_the_users_and_one_of_pythonpath_too(
    mmar_custom, tmp_path
):
    (mmar_custom / "custom" / "my_net.py").write_text("class MyNet: pass\n")
    (mmar_custom / "custom" / "pkg").mkdir()
    (mmar_custom / "custom" / "pkg" / "__init__.py").write_text("")
    (mmar_custom / "custom" / "pkg" / "nets.py").write_text("class Net: pass\n")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "more_nets.py").write_text("class More: pass\n")
    folders = byoc.roots(mmar_custom, [extra])
    for path in ("my_net.MyNet", "pkg.nets.Net", "more_nets.More"):
        found = byoc.resolve(path, folders)
        assert isinstance(found, byoc.Resolved) and found.kind == byoc.CUSTOM, path
    assert byoc.resolve("never_shipped.Net", folders).kind == byoc.ABSENT


def test_a_custom_module_that_shadows_an_installed_one_is_refused(mmar_custom):
    for name in ("click", "numpy", "json", "jinja2"):
        (mmar_custom / "custom" / f"{name}.py").write_text("class X: pass\n")
        found = byoc.resolve(f"{name}.X", byoc.roots(mmar_custom))
        assert isinstance(found, byoc.Refused), name


def test_a_custom_folder_that_is_a_link_out_of_the_mmar_is_refused(tmp_path):
    """custom/ -> a folder of installed packages: what it holds is not the MMAR's."""
    root = mmar(tmp_path)
    site = tmp_path / "site"
    (site / "argcomplete_like").mkdir(parents=True)
    (site / "argcomplete_like" / "__init__.py").write_text("class Finder: pass\n")
    os.symlink(site, root / "custom")
    found = byoc.resolve("argcomplete_like.Finder", byoc.roots(root))
    assert isinstance(found, byoc.Refused) and "outside the MMAR" in found.reason
    inner = root / "real_custom"
    inner.mkdir()
    (inner / "mine.py").write_text("class Mine: pass\n")
    os.unlink(root / "custom")
    os.symlink(inner, root / "custom")  # a link inside the MMAR is the MMAR's own
    assert byoc.resolve("mine.Mine", byoc.roots(root)).kind == byoc.CUSTOM


def test_a_link_in_custom_that_leaves_it_is_refused(mmar_custom, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("class X: pass\n")
    os.symlink(outside / "evil.py", mmar_custom / "custom" / "linked.py")
    os.symlink(outside, mmar_custom / "custom" / "linkedpkg")
    (outside / "__init__.py").write_text("")
    folders = byoc.roots(mmar_custom)
    assert isinstance(byoc.resolve("linked.X", folders), byoc.Refused)
    assert isinstance(byoc.resolve("linkedpkg.evil.X", folders), byoc.Refused)


@pytest.mark.parametrize(
    "path",
    ["click.testing.CliRunner", "jinja2.Template", "_pytest.pytester.Pytester",
     "typer.testing.CliRunner", "rich.console.Console", "mlflow.projects.run",
     "optuna.storages.JournalStorage", "http.server.HTTPServer", "tests.conftest.write",
     "claragen.runtime.executor.LocalExecutor", "setuptools.sandbox.run_setup"],
)  # fmt: skip
def test_a_training_config_naming_an_installed_package_is_e106(tmp_path, path):
    root = mmar(tmp_path, lambda c: c["train"]["handlers"].append({"path": path}))
    code, output = compile_cli("-m", root, "-o", tmp_path / "out")
    assert code == 1 and "error[E106]" in output, output
    assert not (tmp_path / "out").exists()


def test_a_validation_config_naming_an_installed_package_is_e106(tmp_path):
    root = mmar(tmp_path)
    validation = json.loads((EXAMPLE / "config" / "config_validation.json").read_text())
    validation["handlers"].append({"path": "click.testing.CliRunner"})
    write(tmp_path, "mmar/config/config_validation.json", json.dumps(validation))
    code, output = compile_cli("-m", root, "-o", tmp_path / "out")
    assert code == 1 and "error[E106]" in output, output


def planted(tmp_path, monkeypatch) -> str:
    """A module on sys.path (installed, as far as Python knows) that leaves a marker
    when it is imported."""
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "IMPORTED"
    (site / "planted_mod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nclass Ctl:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return str(marker)


@pytest.mark.parametrize("slot", ["controller", "executor", "handlers"])
def test_config_automl_json_paths_go_through_the_gate(tmp_path, monkeypatch, slot):
    marker = planted(tmp_path, monkeypatch)
    spec = {"path": "planted_mod.Ctl"}
    conf = {slot: [spec] if slot == "handlers" else spec}
    path = tmp_path / "config_automl.json"
    path.write_text(json.dumps(conf))
    with pytest.raises(automl_conf.AutomlConfError, match="installed module"):
        parsed = automl_conf.read_automl_conf(path, {})
        for s in [parsed.controller, parsed.executor, *parsed.handlers]:
            if s is not None:
                automl_conf.build(s, automl_conf.CONTROLLERS, [tmp_path / "custom"])
    assert not os.path.exists(marker)
    assert "planted_mod" not in sys.modules


def test_claragen_automl_refuses_an_installed_controller(tmp_path, monkeypatch):
    marker = planted(tmp_path, monkeypatch)
    root = mmar(tmp_path)
    write(tmp_path, "mmar/config/config_automl.json",
          json.dumps({"controller": {"path": "planted_mod.Ctl"}}))  # fmt: skip
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    monkeypatch.chdir(tmp_path)
    code, output = invoke("automl", "-m", root, "--max-jobs", "1", "-o", tmp_path / "a")
    assert code != 0 and "installed module" in output, output
    assert not os.path.exists(marker)


def test_a_custom_controller_is_imported_from_custom(tmp_path):
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "my_ctl_mod.py").write_text("class Ctl:\n    def __init__(self, **kw):\n"
                                          "        self.kw = kw\n")  # fmt: skip
    spec = automl_conf.ComponentSpec("controller", None, "my_ctl_mod.Ctl", {"a": 1})
    built = automl_conf.build(spec, automl_conf.CONTROLLERS, [custom])
    assert type(built).__name__ == "Ctl" and built.kw == {"a": 1}


def test_smoke_stands_in_only_for_what_the_gate_allows(tmp_path):
    root = mmar(tmp_path)
    cfg = minimal()
    cfg["train"]["handlers"] += [{"path": "click.testing.CliRunner"},
                                 {"path": "never_shipped.Handler"}]  # fmt: skip
    from tests.conftest import run_passes

    config = run_passes(tmp_path / "p", cfg, ENV, until="references")
    folder = tmp_path / "stand_ins"
    stood = stand_ins.write_stand_ins([config], root, folder)
    assert stood == ["never_shipped.Handler"]
    assert not (folder / "click").exists()
    assert not stand_ins.missing("click.testing.CliRunner", root)
    assert not stand_ins.missing("os.system", root)


def test_what_this_process_imported_before_does_not_decide(mmar_custom, monkeypatch):
    """The gate asks the finders, not sys.modules; and a module of that name loaded
    from elsewhere is not taken for the custom one."""
    import types

    (mmar_custom / "custom" / "stale_mod.py").write_text("class X: pass\n")
    stale = types.ModuleType("stale_mod")
    stale.__file__ = "/elsewhere/stale_mod.py"
    stale.X = object
    monkeypatch.setitem(sys.modules, "stale_mod", stale)
    folders = byoc.roots(mmar_custom)
    found = byoc.resolve("stale_mod.X", folders)
    assert isinstance(found, byoc.Resolved) and found.kind == byoc.CUSTOM
    with pytest.raises(ImportError, match="from elsewhere"):
        byoc.load(found, folders)


@pytest.mark.parametrize("name", ["exec", "open", "getattr", "eval", "print"])
def test_a_byoc_class_named_like_a_builtin_is_e106(tmp_path, name):
    root = mmar(
        tmp_path, lambda c: c["train"]["handlers"].append({"path": f"nosuch.{name}"})
    )
    code, output = compile_cli("-m", root, "-o", tmp_path / "out")
    assert code == 1 and "error[E106]" in output and "INTERNAL" not in output, output
