"""Every scan of a config runs in time linear in its size, on inputs made to defeat that.

For each family of adversarial input, the input is doubled twice and each step is timed
(the best of a few runs); a quadratic pass would take four times as long for twice the
input. The check fails when a doubling takes more than `MAX_RATIO` times as long.

    python benchmarks/bench_linear.py      # the table; exit 1 when a family is not linear

`make bench` runs it too and puts the table in benchmarks/results.md. (Not a unit test:
timings belong to benchmarks.)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from claragen.transpiler.context import CompileOptions  # noqa: E402
from claragen.transpiler.diagnostics import CompileError, Diagnostics  # noqa: E402
from claragen.transpiler.jsonparse import parse_json  # noqa: E402
from claragen.transpiler.limits import check_depth  # noqa: E402
from claragen.transpiler.pipeline import Compilation  # noqa: E402

MAX_RATIO = 3.0  # twice the input: 2x when linear, 4x when quadratic
RUNS = 3
MINIMAL = {
    "epochs": 2,
    "train": {
        "model": {"name": "UNet", "args": {"spatial_dims": 3, "in_channels": 1,
                  "out_channels": 2, "channels": [4, 8], "strides": [2]}},
        "loss": {"name": "DiceLoss"},
        "optimizer": {"name": "Adam", "args": {"params": "#@model.parameters()", "lr": 0.1}},
        "pre_transforms": [{"name": "LoadImaged", "args": {"keys": "image"}}],
        "dataset": {"name": "Dataset", "data_list_file_path": "{DATASET_JSON}",
                    "data_file_base_dir": "{DATA_ROOT}", "data_list_key": "training",
                    "args": {"transform": "@pre_transforms"}},
        "dataloader": {"name": "DataLoader", "args": {"dataset": "@dataset"}},
        "inferer": {"name": "SimpleInferer"},
        "trainer": {"name": "SupervisedTrainer", "args": {
            "max_epochs": "{epochs}", "train_data_loader": "@dataloader",
            "network": "@model", "loss_function": "@loss", "optimizer": "@optimizer",
            "inferer": "@inferer"}},
    },
}  # fmt: skip


def escaped_quotes(n: int) -> str:
    return '"' + '\\"' * (n // 2)  # an unterminated string of escaped quotes


def brackets_in_strings(n: int) -> str:
    return "[" + ",".join(['"[[{{\\"]]"'] * (n // 11)) + "]"


def nested(n: int) -> str:
    block = "[" * 90 + "]" * 90
    return "[" + ",".join([block] * (n // 181)) + "]"


def config_with(edit: Callable[[dict, int], None]) -> Callable[[int], str]:
    def make(n: int) -> str:
        config = json.loads(json.dumps(MINIMAL))
        edit(config, n)
        return json.dumps(config, indent=1)

    return make


def unknown_args(config: dict, n: int) -> None:  # one diagnostic each
    config["train"]["loss"]["args"] = {f"arg{i}": i for i in range(n // 12)}


def variable_uses(config: dict, n: int) -> None:
    config["train"]["pre_transforms"][0]["args"]["meta_keys"] = ["{epochs}"] * (n // 11)


def duplicate_keys(n: int) -> str:
    text = json.dumps(MINIMAL)
    return text[:-1] + "," + ",".join(['"epochs": 3'] * (n // 12)) + "}"


def scan(text: str) -> None:
    diags = Diagnostics()
    if check_depth(text, "c.json", diags):
        parse_json(text, "c.json", diags)


def compile_passes(text: str, folder: Path) -> None:
    path = folder / "config" / "config_train.json"
    path.write_text(text)
    comp = Compilation(path, CompileOptions(max_config_bytes=64 * 1024 * 1024))
    try:
        config, ctx = comp.build()
        comp.run_passes(config, ctx)
    except CompileError:
        pass


FAMILIES: list[tuple[str, Callable[[int], str], str]] = [
    ("an unterminated string of escaped quotes", escaped_quotes, "scan"),
    ("brackets inside strings", brackets_in_strings, "scan"),
    ("nesting near the depth limit, repeated", nested, "scan"),
    ("unknown args (a diagnostic each)", config_with(unknown_args), "passes"),
    ("{VAR} uses", config_with(variable_uses), "passes"),
    ("duplicate keys (a warning each)", duplicate_keys, "passes"),
]
# the raw-text scans up to --max-config-size's default (4 MiB); the passes, whose work
# per byte is larger, up to a fifth of it
SIZES = {
    "scan": (1_000_000, 2_000_000, 4_000_000),
    "passes": (200_000, 400_000, 800_000),
}


def timed(fn: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> list[dict]:
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config").mkdir()
        for name, make, what in FAMILIES:
            times = []
            for n in SIZES[what]:
                text = make(n)
                if what == "scan":
                    times.append(timed(lambda t=text: scan(t)))
                else:
                    times.append(timed(lambda t=text: compile_passes(t, folder)))
            ratios = [b / a for a, b in zip(times, times[1:], strict=False)]
            rows.append({"family": name, "what": what, "seconds": times,
                         "sizes": SIZES[what], "ratio": max(ratios)})  # fmt: skip
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| input | checked by | n | 2n | 4n | worst time ratio per doubling |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = " | ".join(f"{n // 1000} KB: {s * 1000:.0f} ms"
                           for n, s in zip(r["sizes"], r["seconds"], strict=True))  # fmt: skip
        lines.append(f"| {r['family']} | {r['what']} | {cells} | {r['ratio']:.2f} |")
    return lines


if __name__ == "__main__":
    found = main()
    print("\n".join(table(found)))
    bad = [r["family"] for r in found if r["ratio"] > MAX_RATIO]
    if bad:
        print(f"not linear (a doubling took over {MAX_RATIO}x): {bad}")
        sys.exit(1)
