"""Issue 28, item 10: the plain train.py reads as MONAI's tutorial does. Top-down:
imports, the config's constants, main() with transforms, data, model, loss, optimizer
and the loop, validate(), then the run's plumbing under a line saying so; main() short
enough to read; the tutorial's idioms in the loop; and two jobs of a search differ only
where the search made them differ."""

from __future__ import annotations

import ast
import difflib
import json
import re

from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import compile_edited_example
from tests.test_golden import compile_example

PLUMBING = "# -- The run's plumbing"
runner = CliRunner()


def functions(text: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(text)
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def epoch_loop(main: ast.FunctionDef) -> ast.For:
    loops = [n for n in main.body if isinstance(n, ast.For)
             and ast.unparse(n.target) == "epoch"]  # fmt: skip
    assert len(loops) == 1
    return loops[0]


def test_main_of_the_example_is_at_most_250_lines_to_the_end_of_its_loop(tmp_path):
    text = (compile_example(tmp_path) / "J0001" / "train.py").read_text()
    main = functions(text)["main"]
    loop = epoch_loop(main)
    assert loop.end_lineno - main.lineno + 1 <= 250


def test_the_example_reads_top_down(tmp_path):
    text = (compile_example(tmp_path) / "J0001" / "train.py").read_text()
    tree = ast.parse(text)
    kinds = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            kind = "import"
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            kind = "constant"
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            kind = node.name
        else:
            kind = type(node).__name__
        if not kinds or kinds[-1] != kind or kind not in ("import", "constant"):
            kinds.append(kind)
    # (the docstring, then imports, `log` and the constants, then main and validate)
    assert kinds[:6] == ["Expr", "import", "constant", "main", "validate", "parse_args"]
    lines = text.splitlines()
    plumbing = lines.index(next(x for x in lines if x.startswith(PLUMBING))) + 1
    defs = functions(text)
    assert defs["validate"].end_lineno < plumbing < defs["parse_args"].lineno
    # main(): the tutorial's order of what it builds, then the loop
    main = defs["main"]
    first = {}
    for node in ast.walk(main):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            first.setdefault(node.targets[0].id, node.lineno)
    order = ["train_transforms", "train_dataset", "train_loader", "val_transforms",
             "val_dataset", "val_loader", "model", "loss_function", "optimizer"]  # fmt: skip
    assert [first[name] for name in order] == sorted(first[name] for name in order)
    assert first["optimizer"] < epoch_loop(main).lineno


def test_the_loop_uses_the_tutorials_idioms(tmp_path):
    """model(inputs) under a SimpleInferer; the metrics called on each case's prediction
    and label (y_pred=, y=), without from_engine; only those two decollated."""
    out = compile_example(tmp_path)
    text = (out / "J0001" / "train.py").read_text()
    assert "preds = model(inputs)  # line 159 train.inferer: SimpleInferer" in text
    assert "train_inferer" not in text and "SimpleInferer(" not in text
    assert "from_engine" not in text
    assert 'decollate_batch({"pred": preds.detach(), "label": labels})' in text
    assert 'decollate_batch({"pred": preds, "label": labels})' in text  # validate()
    assert "decollate_batch(batch)" not in text
    assert '["train_acc"](y_pred=y_pred, y=y)' in text
    assert '["val_mean_dice"](y_pred=y_pred, y=y)' in text
    assert "from_engine" not in (out / "J0001" / "validate.py").read_text()


def test_the_idioms_give_way_where_the_config_needs_more(tmp_path):
    """A train inferer that is not a plain SimpleInferer is called; a post-transform
    that reads the image keeps the whole batch; an output_transform other than
    from_engine(["pred", "label"]) is called on the items."""

    def edit(cfg):
        cfg["train"]["inferer"] = {"name": "SlidingWindowInferer",
                                   "args": {"roi_size": [96, 96, 96]}}  # fmt: skip
        cfg["train"]["post_transforms"].append(
            {"name": "CopyItemsd", "args": {"keys": "image", "names": "image_copy"}}
        )
        cfg["train"]["key_metric"]["args"][
            "output_transform"
        ] = "#monai.handlers.from_engine(['pred', 'label'], first=True)"

    compile_edited_example(tmp_path, edit)
    text = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "preds = train_inferer(inputs, model)" in text
    assert "outputs = decollate_batch(batch)" in text
    assert "# the post-transforms read more of the batch" in text
    assert (
        'from_engine(["pred", "label"], first=True)(items)' in text
        and "y_pred, y =" not in text.split("def validate")[0]
    )


def test_from_engine_pred_label_is_the_default_metric_call(tmp_path):
    """An output_transform that is from_engine(["pred", "label"]) (its keys given by
    position or name, first=False or left out) compiles as a metric without one."""
    scripts = []
    for i, transform in enumerate([
        None,
        "#monai.handlers.from_engine(['pred', 'label'])",
        "#monai.handlers.from_engine(keys=['pred', 'label'], first=False)",
    ]):  # fmt: skip

        def edit(cfg, transform=transform):
            for metric in [cfg["train"]["key_metric"], cfg["validate"]["key_metric"]]:
                metric["args"].pop("output_transform", None)
                if transform:
                    metric["args"]["output_transform"] = transform

        compile_edited_example(tmp_path / str(i), edit)
        text = (tmp_path / str(i) / "out" / "J0001" / "train.py").read_text()
        text = re.sub(r"line \d+", "line N", text)  # (the config has a line more)
        scripts.append(text.replace(str(tmp_path / str(i)), "/path/to"))
    assert scripts[0] == scripts[1] == scripts[2]


def changed_lines(a: list[str], b: list[str]):
    """(side, index, text) of each line a unified diff of a and b shows changed."""
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
        if tag != "equal":
            yield from (("-", i, a[i]) for i in range(i1, i2))
            yield from (("+", j, b[j]) for j in range(j1, j2))


def block_locators(lines: list[str]) -> list[str | None]:
    """Each line's block in main(): the locator of the `# line N <locator>` comment
    above it, up to the next blank line."""
    out, current = [], None
    for line in lines:
        found = re.match(r"\s*# line \d+ (\S+)", line)
        if found:
            current = found.group(1)
        elif not line.strip():
            current = None
        out.append(current)
    return out


def test_two_jobs_differ_only_where_the_search_made_them_differ(tmp_path):
    """Every job of the example's grid against the first: each changed line is the job's
    name, a searched value in the docstring, a constant of a parameter whose value
    changed, its entry in TRAIN_CONF, or a line of a component it chose (and that
    component's import)."""
    manifest, _ = compile_edited_example(tmp_path, jobs="grid")
    out = tmp_path / "out"
    cfg = json.loads((tmp_path / "spleen_41/config/config_train.json").read_text())
    shown = runner.invoke(app, ["space", "-m", str(tmp_path / "spleen_41"), "--json"])
    space = {p["id"]: p for p in json.loads(shown.output)["params"]}
    appliers: dict[str, set[str]] = {}  # a variable -> the components that apply it
    for section, slots in cfg.items():
        for key, slot in slots.items() if isinstance(slots, dict) else []:
            for i, comp in enumerate(slot if isinstance(slot, list) else [slot]):
                for var in (comp.get("apply") or {}).values() if isinstance(
                        comp, dict) else []:  # fmt: skip
                    suffix = f"[{i}]" if isinstance(slot, list) else ""
                    appliers.setdefault(var, set()).add(f"{section}.{key}{suffix}")
    jobs = manifest["jobs"]
    assert len(jobs) == 144
    first = (out / jobs[0]["script"]).read_text().splitlines()
    for job in jobs[1:]:
        other = (out / job["script"]).read_text().splitlines()
        changed = [p for p in space if job["values"][p] != jobs[0]["values"][p]]
        allowed_locators = set()
        for pid in changed:
            owner = pid.split(":")[0]
            allowed_locators |= {owner} if owner else set().union(
                *(appliers.get(a, set()) for a in space[pid]["args"]))  # fmt: skip
        for side, index, text in changed_lines(first, other):
            lines = first if side == "-" else other
            locator = block_locators(lines)[index]
            ok = (
                text.startswith('"""Train job ')
                or any(text.startswith(f"    {pid} = ") for pid in changed)
                or any(text.startswith(f"{c} = ") for pid in changed
                       for c in space[pid]["constants"])
                or any(text.startswith(f'    "{a}": ') for pid in changed
                       for a in space[pid]["args"])
                or (locator is not None and locator in allowed_locators)
                or (allowed_locators and text.startswith(("from ", "import ")))
            )  # fmt: skip
            assert ok, (job["id"], changed, side, text)


def test_every_script_of_every_target_puts_main_first_and_the_plumbing_last(tmp_path):
    """train.py and validate.py of the plain and engines targets, and train_fast.py:
    main() is the first function; the helpers come after the line that says so."""
    from tests.test_golden import compile_example

    scripts = []
    for target in ("plain", "engines"):
        out = compile_example(tmp_path / target, target=target,
                              optimize=("amp",) if target == "plain" else ())  # fmt: skip
        scripts += sorted(out.glob("J0001/*.py"))
    assert len(scripts) == 5
    for script in scripts:
        text = script.read_text()
        tree = ast.parse(text)
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert defs[0].name == "main", script
        lines = text.splitlines()
        plumbing = next(i for i, x in enumerate(lines, 1) if x.startswith(PLUMBING))
        # (save_metrics_report writes what the config's MetricsSaver asks for)
        config = ("main", "validate", "save_metrics_report")
        helpers = [d for d in defs if d.name not in config]
        assert all(d.lineno > plumbing for d in helpers), script


def test_no_comment_stands_alone_and_no_constant_goes_unused(tmp_path):
    """The 3.x example's script (a review's finding): its train CheckpointSaver saves
    only at the end, so the loop carries no comment for it; nothing saves train_conf,
    so there is no TRAIN_CONF."""
    from tests.test_faithful import _compile_3x

    script, _ = _compile_3x(tmp_path, None)
    lines = script.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip().startswith("# line "):
            assert lines[i + 1].strip(), (i, line)
    assert "TRAIN_CONF" not in script
    example = (compile_example(tmp_path / "41") / "J0001" / "train.py").read_text()
    assert "TRAIN_CONF = {" in example  # its savers save train_conf
