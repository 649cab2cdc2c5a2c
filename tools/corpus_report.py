"""`make corpus`: compile and smoke-run every in-scope config of ../shared/corpus, and write
docs/corpus.md (per file: dialect, kind, compile result, smoke result, first diagnostic).

In scope: the kinds train, finetune, validation and inference (federated-learning, AIAA and
AutoML-runner files are out of scope). A validation or inference config is compiled beside
a training config of its own folder when there is one (for a `ckpt_path` model).

    python tools/corpus_report.py [--corpus ../shared/corpus] [--out docs/corpus.md]
                                  [--no-smoke] [--jobs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from claragen.smoke import smoke, smoke_validation_alone
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from claragen.transpiler.render import InternalError

IN_SCOPE = ("train", "finetune", "validation", "inference")
TRAIN_KINDS = ("train", "finetune")


@dataclass
class Row:
    file: str
    dialect: str
    kind: str
    compiled: bool = False
    smoked: bool | None = None  # None: not run
    note: str = ""
    stand_ins: tuple[str, ...] = ()  # BYOC classes the smoke run stood in for


def stored(corpus: Path, folder: str, pattern: str) -> list[Path]:
    return sorted((corpus / "clara-train-examples").glob(f"{folder}__{pattern}"))


def environment_of(corpus: Path, row: dict) -> Path | None:
    folder = row["path"].rsplit("/", 1)[0].replace("/", "__")
    found = stored(corpus, folder, "environment*.json")
    return found[0] if found else None


def train_beside(corpus: Path, row: dict, rows: list[dict]) -> Path | None:
    folder = row["path"].rsplit("/", 1)[0]
    trains = [r for r in rows if r["kind"] == "train" and r["path"].startswith(folder + "/")
              and r["json_ok"] == "yes"]  # fmt: skip
    same = [r for r in trains if r["commit"] == row["commit"]] or trains
    if not same:
        return None
    # the training config that builds what the validation config reads: most components
    # in common, then none of its own bring-your-own modules, then config_train.json
    mine = components_of(corpus / row["file"])

    def rank(r: dict) -> tuple[int, int, bool]:
        theirs = components_of(corpus / r["file"])
        foreign = sum(c.startswith("path:") for c in theirs - mine)
        return (
            -len(mine & theirs),
            foreign,
            not r["path"].endswith("/config_train.json"),
        )

    return corpus / min(same, key=rank)["file"]


def components_of(path: Path) -> set[str]:
    """{"name:LoadImaged", "path:my.Class", ...}: the components a config names."""
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            for key in ("name", "path"):
                if isinstance(node.get(key), str):
                    found.add(f"{key}:{node[key].split('#')[0]}")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    try:
        visit(json.loads(path.read_text()))
    except ValueError:
        pass
    return found


def first_error(exc: CompileError, comp: Compilation) -> str:
    errors = [d for d in exc.diagnostics if d.severity == "error"]
    return format_all(errors[:1], comp.sources).splitlines()[0]


def check(corpus: Path, row: dict, rows: list[dict], run_smoke: bool) -> Row:
    config = corpus / row["file"]
    dialect = row["syntax_detected"]
    out = Row(row["file"].split("/", 1)[-1], dialect, row["kind"])
    env = environment_of(corpus, row)
    if row["kind"] in TRAIN_KINDS:
        comp = Compilation(config, CompileOptions(), env_path=env)
    else:
        comp = Compilation(train_beside(corpus, row, rows), CompileOptions(), env_path=env,
                           validation_path=config, mmar_root=config.parent)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        try:
            compile_to_dir(comp, Path(tmp))
            out.compiled = True
        except CompileError as exc:
            out.note = first_error(exc, comp)
        except InternalError as exc:
            out.note = str(exc).splitlines()[0]
    if (
        not out.compiled
        and comp.validation_path is not None
        and comp.config_path is not None
    ):
        out.note = out.note.replace(str(corpus) + "/", "")
    if out.compiled and run_smoke and row["kind"] in TRAIN_KINDS:
        result = smoke(config, env, stand_ins=True)
        out.smoked, out.stand_ins = result.passed, result.stand_ins
        out.note = f"[{result.stage}] {result.reason}"
    elif (
        out.compiled and run_smoke
    ):  # validate.py on what a smoke training of its folder saved
        train = train_beside(corpus, row, rows)
        if train is None:
            result = smoke_validation_alone(config, env, stand_ins=True)
            out.smoked, out.stand_ins = result.passed, result.stand_ins
            out.note = f"[{result.stage}] untrained network: {result.reason}"

        else:
            result = smoke(train, env, validation=config, stand_ins=True)
            out.smoked, out.stand_ins = result.passed, result.stand_ins
            out.note = f"[{result.stage}] beside {train.name}: {result.reason}"

    if out.stand_ins:
        out.note += f" (stand-ins: {', '.join(out.stand_ins)})"
    out.note = out.note.replace(str(corpus) + "/", "")
    return out


# What each failure comes from, by its diagnostic or error (first match); a failure that
# matches none is listed as "not yet explained".
CAUSES = (
    (r"error\[E101\]", "config defect: not valid JSON (a typo in the original)"),
    (r"error\[E200\]", "config defect: it reads a variable that it defines nowhere"),
    (r"error\[E504\]", "config defect: 'apply' names an arg that the class does not take"),
    (r"error\[E402\].*gives 'a_offset'",
     "config defect: an arg of NVIDIA's BYOC example subclass given to the built-in class"),
    (r"error\[E601\]", "not a config to train or validate: no components (an empty file, "
     "or a BYOT MMAR whose own code trains)"),
    (r"error\[E403\]", "E403: no MONAI equivalent, named by the diagnostic"),
    (r"torchvision", "this machine: torchvision is not installed (the network needs it)"),
    (r"loading state_dict", "MMAR defect: its validation config's network is not the one "
     "its training config trains (the checkpoint does not load in Clara either)"),
    (r"Sequence must have length 2, got 3", "MMAR mismatch: a BraTS validation config "
     "(3 output channels, split tc/wt/et) beside training configs that train 2; the "
     "TorchScript model it reads is not in the corpus (with theirs it fails in Clara too)"),
    (r"error\[E603\]", "the MMAR folder of the corpus lacks the training config whose "
     "network the validation config reads"),
)  # fmt: skip


def causes(rows: list[Row]) -> list[str]:
    """A table of the failures by cause."""
    found: dict[str, list[str]] = {}
    for r in rows:
        if r.compiled and r.smoked is not False:
            continue
        cause = next(
            (why for pattern, why in CAUSES if re.search(pattern, r.note)),
            "not yet explained",
        )
        found.setdefault(cause, []).append(r.file)
    lines = ["## Failures by cause", "", "| cause | configs |", "|---|---|"]
    for cause, files in sorted(
        found.items(), key=lambda kv: (kv[0] == "not yet explained", kv[0])
    ):
        lines.append(
            f"| {cause} | {len(files)}: {', '.join(f'`{f}`' for f in files)} |"
        )
    return lines + [""]


def report(rows: list[Row], smoked: bool) -> str:
    n = len(rows)
    compiled = sum(r.compiled for r in rows)
    ran = sum(bool(r.smoked) for r in rows)
    own = sum(bool(r.smoked) and not r.stand_ins for r in rows)
    lines = [
        "# The corpus as a conformance suite",
        "",
        "Generated by `make corpus` (tools/corpus_report.py); do not edit by hand.",
        "",
        f"In-scope configs (kinds {', '.join(IN_SCOPE)}): **{n}**. "
        f"Compile: **{compiled}/{n} ({100 * compiled / n:.0f}%)**."
        + (
            f" Smoke run: **{ran}/{n} ({100 * ran / n:.0f}%)**, {own} of them with no "
            f"stand-in, {ran - own} with stand-ins for bring-your-own modules."
            if smoked
            else ""
        ),
        "",
        "A training config's smoke run trains two iterations and validates once; a",
        "validation or inference config's runs its validate.py on the checkpoint that a",
        "smoke training of a training config of its folder saved (with none, its own",
        "network untrained; a TorchScript model is exported from the smoke training).",
        "",
        "The corpus holds configs, not their MMARs' `custom/` folders: where a config's",
        "bring-your-own module is missing, the smoke run stands in for it with the simplest",
        "class of its role (`claragen smoke --stand-ins`, see claragen/stand_ins.py) and the",
        "row names each one. Such a run proves everything else of the compiled config runs;",
        "the user's own code is not in it.",
        "",
        *causes(rows),
        "## Every config",
        "",
        "| file | dialect | kind | compile | smoke | first diagnostic / result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        smoke_cell = "-" if r.smoked is None else ("pass" if r.smoked else "FAIL")
        note = r.note.replace("|", "\\|")
        lines.append(f"| {r.file} | {r.dialect} | {r.kind} | "
                     f"{'ok' if r.compiled else 'FAIL'} | {smoke_cell} | {note} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--out", type=Path, default=Path("docs/corpus.md"))
    parser.add_argument("--no-smoke", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--only",
        metavar="TEXT",
        help="check only files whose name holds TEXT; print rows",
    )
    args = parser.parse_args(argv)
    corpus = args.corpus.resolve()
    with open(corpus / "INDEX.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    scope = [r for r in rows if r["kind"] in IN_SCOPE]
    if args.only:
        scope = [r for r in scope if args.only in r["file"]]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(
            pool.map(lambda r: check(corpus, r, rows, not args.no_smoke), scope)
        )
    if args.only:  # a developer's look at a few rows; docs/corpus.md stays whole
        print(report(results, not args.no_smoke).split("|---|", 1)[1].split("\n", 1)[1])
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, not args.no_smoke))
    compiled = sum(r.compiled for r in results)
    ran = sum(bool(r.smoked) for r in results)
    own = sum(bool(r.smoked) and not r.stand_ins for r in results)
    print(f"{args.out}: {compiled}/{len(results)} compile, {ran} smoke-run "
          f"({own} without stand-ins)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
