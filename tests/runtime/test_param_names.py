"""One name and one value per search parameter (issue 30, item 4): the study, MLflow,
the journal, the live table, the leaderboard and the report show the same
(claragen/runtime/params.py)."""

import json
from pathlib import Path

import pytest
from mlflow.utils.validation import validate_param_and_metric_name

from claragen.runtime import params
from claragen.runtime.live import shown_values
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation
from tests.conftest import CORPUS


@pytest.mark.parametrize(
    ("param_id", "raw", "name", "value"),
    [
        (":learning_rate", 0.0002, "learning_rate", 0.0002),
        ("train.model:num_res_units", [2], "train.model:num_res_units", 2),
        ("train.model:channels", [[16, 32]], "train.model:channels", [16, 32]),
        ("train.pre_transforms[2]:a_min,a_max", [-57, 164],
         "train.pre_transforms.2:a_min/a_max", {"a_min": -57, "a_max": 164}),
        (":mySearchLoss1,mySearchLoss2", [False, True], "mySearchLoss1/mySearchLoss2",
         {"mySearchLoss1": False, "mySearchLoss2": True}),
        ("train.loss[0]:@disabled", [True], "train.loss.0:disabled", True),
        (":@myTransformDisable", [False], "myTransformDisable", False),
        (":lr", ["café", [1]], "lr", ["café", [1]]),
    ],
)  # fmt: skip
def test_a_parameter_has_one_name_and_its_python_value(param_id, raw, name, value):
    """The review's cases: `[2]` in MLflow for Optuna's 2; `a_min_a_max` in MLflow for
    Optuna's `a_min,a_max`; a choice of two tags that did not say which took which."""
    assert params.name(param_id) == name
    assert params.value(param_id, raw) == value
    assert validate_param_and_metric_name(name)
    # (JSON, its letters as they are: `café`, not `caf\u00e9`)
    assert params.text(value) == (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    )
    assert shown_values({param_id: raw}) == f"{name}={params.text(value)}"


def searched_configs():
    return sorted(
        p for p in CORPUS.rglob("*.json") if '"search"' in p.read_text(errors="ignore")
    )


@pytest.mark.skipif(not searched_configs(), reason="needs ../shared/corpus")
def test_every_parameter_of_the_corpus_has_a_valid_and_distinct_name():
    """Every search parameter of every corpus config that has a search: its name is an
    MLflow key, and no two of a config's parameters share one."""
    seen = 0
    for path in searched_configs():
        try:
            _, base = Compilation(path, CompileOptions()).build()
        except Exception:  # (not a training config, or one that does not compile)
            continue
        ids = [p.id for p in base.space.params]
        names = [params.name(i) for i in ids]
        assert all(validate_param_and_metric_name(n) for n in names), (path, names)
        assert len(set(names)) == len(names), (path, ids)
        seen += len(ids)
    assert seen > 20


def test_two_parameters_of_one_name_are_an_error_that_names_both():
    """An attack found `:@foo` and `:_foo` both named `_foo`, one of them lost in the
    study, MLflow and the journal."""
    from claragen.runtime.rundir import SearchError
    from claragen.transpiler.space import SearchArg, SearchParam

    def tag(pid):
        return SearchParam(pid, "", "tag", "t", "enum", (SearchArg(pid[1:]),),
                           choices=([True], [False]))  # fmt: skip

    assert params.names_of((tag(":@foo"), tag(":bar"))) == {
        ":@foo": "foo", ":bar": "bar"}  # fmt: skip
    with pytest.raises(SearchError, match="':@foo' and ':foo' have one name, 'foo'"):
        params.names_of((tag(":@foo"), tag(":foo")))


def test_a_name_longer_than_an_mlflow_key_ends_in_a_hash():
    long = ":" + ",".join(f"myVeryLongSearchVariableNumber{i:02d}" for i in range(8))
    other = long.replace("07", "08")
    assert len(params.name(long)) == params.MAX_NAME
    assert validate_param_and_metric_name(params.name(long))
    assert params.name(long) != params.name(other)  # (the hash of the whole id)


def test_true_is_not_the_choice_1():
    """An attack found `True` taken for the choice `1` in --enqueue, TPE's first job and
    the study's records."""
    from claragen.runtime.study import SearchStudy
    from claragen.transpiler.space import SearchArg, SearchParam

    p = SearchParam(":x", "", "variable", "x", "enum", (SearchArg("x"),),
                    choices=([0], [False], [1], [True]))  # fmt: skip
    assert params.parse((p,), "x=true", "--enqueue") == {":x": [True]}
    assert params.parse((p,), "x=1", "--enqueue") == {":x": [1]}
    assert params.parse((p,), "x=True", "--enqueue") == {":x": [True]}  # as --set
    study = SearchStudy(Path(__import__("tempfile").mkdtemp()) / "optuna.log", "r",
                        (p,), "GridController")  # fmt: skip
    assert study.params_of({":x": [True]}) == {"x": "true"}
    assert study.params_of({":x": [1]}) == {"x": "1"}
