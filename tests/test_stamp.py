"""Job stamps (claragen/transpiler/stamp.py): a job that differs from a compiled one only
in float values is stamped from it, and must get the bytes the full compile gives it.

The oracle is the full compile of every job (stamps off); the configs are the example, the
corpus's search configs, and configs made to defeat a stamp: a float value formatted into
a string, a float value the lowering decides on, a `--set` over a searched variable.
"""

import pytest

from claragen.transpiler import pipeline, stamp
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.pipeline import Compilation, compile_files
from claragen.transpiler.render import InternalError, Renderer
from tests.conftest import CORPUS, EXAMPLE, compilation, minimal
from tests.test_corpus import environment_of, rows

EX = EXAMPLE / "config"


def both_ways(make, monkeypatch, out):
    """(stamped files and manifest, full files and manifest, job_passes calls stamped)."""
    calls = []
    real = Compilation.job_passes
    monkeypatch.setattr(Compilation, "job_passes",
                        lambda self, *a: calls.append(1) or real(self, *a))  # fmt: skip
    stamped = compile_files(make(), out)
    passes = len(calls)
    with monkeypatch.context() as m:
        m.setattr(pipeline.Stamps, "model", lambda self, values: None)
        full = compile_files(make(), out)
    return stamped, full, passes


def example(jobs, **options):
    return lambda: Compilation(
        EX / "config_train.json",
        CompileOptions(jobs=jobs, **options),
        env_path=EX / "environment.json",
        mmar_root=EXAMPLE,
        validation_path=EX / "config_validation.json",
    )


@pytest.mark.parametrize(
    "jobs, options",
    [("random:120", {}), ("random:40", {"target": "engines"}),
     ("grid", {"float_steps": 3}), ("random:30", {"seed": 7})],
)  # fmt: skip
def test_the_example_stamped_is_byte_for_byte_the_full_compile(
    jobs, options, monkeypatch, tmp_path
):
    stamped, full, passes = both_ways(example(jobs, **options), monkeypatch, tmp_path)
    assert stamped == full
    # and stamps did the work: the passes (train.py and validate.py) ran for each enum
    # combination's model and a check per float, not for every job
    floats = (":learning_rate", "train.pre_transforms[5]:prob")
    groups = {
        str({k: v for k, v in job["values"].items() if k not in floats})
        for job in full[1]["jobs"]
    }
    if len(full[1]["jobs"]) > 100:  # a model and a check per float: 3 jobs a group
        assert passes <= 2 * 3 * len(groups) < 2 * len(full[1]["jobs"]), passes


def with_lr_search(cfg):
    cfg["search"] = [{"domain": "lr", "args": ["learning_rate"], "type": "float",
                      "targets": [0.0001, 0.001]}]  # fmt: skip
    return cfg


def lr_in_a_string():
    """A searched float inside a string (the script makes it an f-string of the
    constant)."""
    cfg = with_lr_search(minimal())
    cfg["train"]["pre_transforms"][0]["args"]["meta_key_postfix"] = "m{learning_rate}"
    return cfg


def lowering_decides_on_a_float():
    """LrScheduleHandler's print_lr searched as a float: 0.0 turns the printing off."""
    cfg = minimal()
    cfg["train"]["lr_scheduler"] = {
        "name": "StepLR",
        "args": {"optimizer": "@optimizer", "step_size": 5},
    }
    cfg["train"]["handlers"].append({
        "name": "LrScheduleHandler",
        "args": {"lr_scheduler": "@lr_scheduler", "print_lr": 1.0},
        "search": [{"domain": "h", "args": ["print_lr"], "type": "float",
                    "targets": [0.0, 1.0]}]})  # fmt: skip
    return cfg


def two_floats_and_an_enum():
    cfg = with_lr_search(minimal())
    cfg["train"]["pre_transforms"].append({
        "name": "RandGaussianNoised", "args": {"keys": "image", "prob": 0.5},
        "search": [{"domain": "t", "args": ["prob#p"], "type": "float", "targets": [0, 1]},
                   {"domain": "t", "args": ["std"], "type": "enum",
                    "targets": [[0.1], [0.2]]}]})  # fmt: skip
    return cfg


def enum_choices_in_another_key_order():
    """Two enum choices equal but for the order of their keys are two choices."""
    cfg = with_lr_search(minimal())
    cfg["opts"] = {"a": 1, "b": 2}
    cfg["search"].append({"domain": "o", "args": ["opts"], "type": "enum",
                          "targets": [[{"a": 1, "b": 2}], [{"b": 2, "a": 1}]]})  # fmt: skip
    return cfg


def a_float_first_level_flag():
    """cudnn_benchmark searched as a float: bool() of it flips at 0 (grid's middle)."""
    cfg = minimal()
    cfg["cudnn_benchmark"] = False
    cfg["search"] = [{"domain": "b", "args": ["cudnn_benchmark"], "type": "float",
                      "targets": [-1, 1]}]  # fmt: skip
    return cfg


@pytest.mark.parametrize(
    "make, sets",
    [(lr_in_a_string, ()), (lowering_decides_on_a_float, ()),
     (two_floats_and_an_enum, ()),
     (lambda: with_lr_search(minimal()), (("learning_rate", "0.005"),)),
     (enum_choices_in_another_key_order, ()), (a_float_first_level_flag, ())],
    ids=["float-in-a-string", "lowering-decides", "two-floats-an-enum", "set-over-search",
         "enum-key-order", "float-flag"],
)  # fmt: skip
@pytest.mark.parametrize("jobs", ["grid", "random:12"])
def test_configs_made_to_defeat_a_stamp_get_the_full_compile(
    make, sets, jobs, monkeypatch, tmp_path
):
    def comp():
        c = compilation(tmp_path, make(), sets=sets)
        c.options = CompileOptions(jobs=jobs, float_steps=5, set_values=tuple(sets))
        return c

    stamped, full, _ = both_ways(comp, monkeypatch, tmp_path / "out")
    assert stamped == full
    assert len({text for name, text in full[0].items()}) == len(full[0])


def test_a_model_whose_compile_read_a_float_stamps_nothing(tmp_path):
    comp = compilation(tmp_path, lowering_decides_on_a_float())
    config, ctx = comp.build()
    stamps = stamp.Stamps(ctx.space)
    (pid,) = stamps.floats
    for read in (frozenset(), frozenset({pid})):
        stamps.models.clear()
        stamps.add(stamp.Model("J0001", {pid: 0.5}, None, "t", "plain", False, read))
        assert (stamps.model({pid: 0.75}) is None) == bool(read)


SEARCH = [
    r
    for r in rows()
    if r["has_search"] == "Y" and r["kind"] == "train" and r["json_ok"] == "yes"
]


@pytest.mark.corpus
@pytest.mark.parametrize("row", SEARCH, ids=lambda r: r["file"].split("/")[-1])
def test_corpus_searches_stamped_are_the_full_compile(row, monkeypatch, tmp_path):
    def comp():
        return Compilation(CORPUS / row["file"], CompileOptions(jobs="random:8"),
                           env_path=environment_of(row))  # fmt: skip

    try:
        stamped, full, _ = both_ways(comp, monkeypatch, tmp_path)
    except CompileError:
        pytest.skip("does not compile (docs/corpus.md says why)")
    assert stamped == full


def test_a_file_of_compiled_segments_needs_only_its_new_ones_compiled():
    renderer = Renderer()
    first = ['"""Doc."""\n', "X = 1\n", "def f():\n    return X\n"]
    renderer.check_compiles("\n".join(first), first, "a.py")
    # a new constants segment that does not compile is still caught, alone
    for bad in ("X = (\n", "f(a=1, a=2)\n", "X = True(1)\n"):
        segments = [first[0], bad, first[2]]
        with pytest.raises(InternalError):
            renderer.check_compiles("\n".join(segments), segments, "b.py")


def test_a_future_import_makes_the_whole_file_compile_again():
    renderer = Renderer()
    first = ['"""Doc."""\n', "from __future__ import annotations\n", "X = 1\n"]
    renderer.check_compiles("".join(first), first, "a.py")
    # every segment compiled before, but the import is no longer first
    moved = [first[0], first[2], first[1]]
    with pytest.raises(InternalError):
        renderer.check_compiles("".join(moved), moved, "b.py")
