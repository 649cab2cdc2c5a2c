"""Never a traceback (issue 27, class 7): a malformed config_automl.json, a `#` inside a
templated path under the bundle target, and a study that disagrees with the journal each
end in a line that says what is wrong, or just work."""

from __future__ import annotations

import json
import os

import pytest

from claragen.runtime import automl_conf
from claragen.transpiler.space import SearchParam
from tests.conftest import ENV, write
from tests.gates.common import compile_cli, invoke, mmar

BAD_CONFS = {
    "a number where a list belongs": {"handlers": 5},
    "a string where a list belongs": {"handlers": "MMARHandler"},
    "a list where a name belongs": {"controller": {"name": ["TPE"]}},
    "a number where a path belongs": {"executor": {"path": 7}},
    "a list where an object belongs": {"controller": []},
    "a string where a handler belongs": {"handlers": ["MMARHandler"]},
    "args that are a list": {"controller": {"name": "TPE", "args": [1]}},
    "an arg that is no name": {"handlers": [{"name": "MMARHandler", "args": {"a b\x1b[2J": 1}}]},
    "a name that is an object": {"handlers": [{"name": {"x": 1}}]},
    "an unknown handler in a list": {"handlers": [{"name": ["MMARHandler"]}]},
}  # fmt: skip


def conf_file(tmp_path, data) -> str:
    path = tmp_path / "config_automl.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("case", sorted(BAD_CONFS))
def test_a_malformed_automl_conf_is_one_error(tmp_path, case):
    path = conf_file(tmp_path, BAD_CONFS[case])
    with pytest.raises(automl_conf.AutomlConfError) as info:
        conf = automl_conf.read_automl_conf(path, {})
        for spec in [conf.controller, conf.executor, *conf.handlers]:
            if spec is not None:
                table = (
                    automl_conf.HANDLERS
                    if "handlers" in spec.where
                    else automl_conf.CONTROLLERS
                )
                automl_conf.build(spec, table, [])
    assert "\x1b" not in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, '{"handlers": ' + "[" * 3000 + "]" * 3000 + "}",
     "{nope", "\xff\xfe", ""],
)  # fmt: skip
def test_an_unreadable_automl_conf_is_one_error(tmp_path, text):
    path = tmp_path / "config_automl.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(automl_conf.AutomlConfError):
        automl_conf.read_automl_conf(path, {})


def test_a_fifo_for_config_automl_json_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "config_automl.json"
    os.mkfifo(path)
    with pytest.raises(automl_conf.AutomlConfError, match="no regular file"):
        automl_conf.read_automl_conf(path, {})


@pytest.mark.parametrize("case", sorted(BAD_CONFS))
def test_claragen_automl_says_what_is_wrong_with_its_conf(tmp_path, monkeypatch, case):
    root = mmar(tmp_path)
    write(tmp_path, "mmar/config/config_automl.json", json.dumps(BAD_CONFS[case]))
    monkeypatch.chdir(tmp_path)
    code, output = invoke("automl", "-m", root, "--max-jobs", "1", "-o", tmp_path / "a",
                          "--no-tracking")  # fmt: skip
    assert code == 1, output
    assert "error:" in output and "config_automl.json" in output, output


def test_a_hash_in_a_templated_path_under_the_bundle_target(tmp_path):
    """An f-string's text cannot be a `$` expression's call: the bundle writes the path
    as a sum of its parts, and MONAI's parser gives back the path."""
    from monai.bundle import ConfigParser

    def edit(c):
        c["train"]["handlers"].append(
            {"name": "CheckpointSaver", "args": {"save_dir": "{MMAR_CKPT_DIR}/a#b%c",
                                                  "save_dict": {"model": "@model"},
                                                  "save_final": True}}
        )  # fmt: skip

    root = mmar(tmp_path, edit)
    write(
        tmp_path,
        "mmar/config/environment.json",
        json.dumps({**ENV, "DATA_ROOT": "d#x"}),
    )
    out = tmp_path / "out"
    code, output = compile_cli("-m", root, "-o", out, "--target", "bundle")
    assert code == 0, output
    bundle = json.loads((out / "J0001" / "configs" / "train.json").read_text())
    (index,) = [i for i, h in enumerate(bundle["train"]["handlers"])
                if h.get("_target_", "").endswith("CheckpointSaver")]  # fmt: skip
    parser = ConfigParser(bundle)
    save_dir = parser.get_parsed_content(f"train::handlers::{index}::save_dir")
    assert save_dir.endswith("models/a#b%c"), save_dir
    assert parser.get_parsed_content("DATA_ROOT") == "d#x"


def search_study(tmp_path):
    from claragen.runtime.study import SearchStudy

    param = SearchParam(id=":lr", locator="", kind="variable", domain="lr", type="float",
                        args=(), low=0.1, high=0.5)  # fmt: skip
    return SearchStudy(tmp_path / "optuna.log", "run", (param,), "TPE", "median", 4)


def test_a_study_that_disagrees_with_the_journal_does_not_stop_a_resume(tmp_path):
    """The study says J1 ended; the journal (the record) says it was cut short, so J1
    runs again: it gets a new trial, and its epochs are reported to it."""
    first = search_study(tmp_path)
    first.start("J1", "W1_1_J1", {":lr": 0.2})
    first.report("J1", 1, 0.5)
    first.end("J1", "ok", 0.5)
    again = search_study(tmp_path)  # a resume
    again.start("J1", "W1_1_J1", {":lr": 0.2})
    again.report("J1", 1, 0.6)  # Optuna raised UpdateFinishedTrialError here
    again.report("J1", 2, 0.7)
    again.end("J1", "ok", 0.7)
    trials = again.study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert trials[-1].intermediate_values == {1: 0.6, 2: 0.7}
    assert trials[0].value == 0.5  # the old trial stays as it was


def test_an_epoch_reported_to_a_finished_trial_is_dropped(tmp_path):
    study = search_study(tmp_path)
    study.start("J1", "W1_1_J1", {":lr": 0.2})
    study.end("J1", "failed", None)
    assert study.report("J1", 3, 0.1) is False


@pytest.mark.parametrize("target", ["bundle", "plain"])
def test_a_lone_surrogate_in_config_text_compiles(tmp_path, target):
    """A JSON escape may spell a lone surrogate, which UTF-8 cannot hold: the bundle
    writes it as its escape, and MONAI reads it back."""

    def edit(c):
        c["train"]["pre_transforms"][0]["args"]["keys"] = ["image", "label", "\ud800"]

    root = mmar(tmp_path, edit)
    write(tmp_path, "mmar/config/environment.json",
          json.dumps({**ENV, "DATA_ROOT": "\udcff"}))  # fmt: skip
    code, output = compile_cli("-m", root, "-o", tmp_path / "out", "--target", target)
    assert code == 0, output
    if target == "bundle":
        from monai.bundle import ConfigParser

        path = tmp_path / "out" / "J0001" / "configs" / "train.json"
        bundle = json.loads(path.read_text(encoding="utf-8"))
        assert ConfigParser(bundle).get_parsed_content("DATA_ROOT") == "\udcff"


def test_searched_text_that_looks_like_math_does_not_stop_the_report(tmp_path):
    """Matplotlib would read "$...$" in a searched value as math notation, and fail."""
    from claragen.runtime.report import optuna_plots
    from claragen.runtime.study import SearchStudy

    choices = (["$x^{{$"], ["$\\frac{$"], ["b"])
    param = SearchParam(id=":tag", locator="", kind="variable", domain="tag", type="enum",
                        args=(), choices=choices)  # fmt: skip
    study = SearchStudy(tmp_path / "optuna.log", "run", (param,), "grid")
    for i, choice in enumerate(choices * 2, start=1):
        study.start(f"J{i}", f"W1_{i}_J{i}", {":tag": choice})
        study.report(f"J{i}", 1, 0.1 * i)
        study.end(f"J{i}", "ok", 0.1 * i)
    figures = optuna_plots(study.study, ["tag"])  # (its one name: runtime/params.py)
    assert len(figures) >= 3, [t for t, _ in figures]
    assert any("$x^{{$" in svg for _, svg in figures)


def test_a_diagnostic_after_a_raw_line_separator_quotes_its_own_line(tmp_path):
    text = ('{"a": "x\u2028y\u0085z",\r\n "train": {"model": {"name": "UNett"}},\r\n'
            ' "b": 1}\r\n')  # fmt: skip
    path = tmp_path / "config" / "config_train.json"
    path.parent.mkdir()
    path.write_text(text)
    code, output = invoke("check", path)
    assert (
        ":2:" in output and "UNett" in output.split(":2:", 1)[1].splitlines()[1]
    ), output
