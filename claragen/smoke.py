"""`claragen smoke`: prove that a compiled config really runs, not just parses.

It compiles the config (validation every epoch, one epoch), makes a synthetic NIfTI dataset
that fits it (the datalist keys the config reads, the network's input channels, a labelled
foreground), and runs the generated script on the CPU: two training iterations and one
validation, with small crops and windows. It reports pass or fail, and why.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.ir import Component, Config, Lit, to_python
from claragen.transpiler.pipeline import Compilation, compile_to_dir

# A smoke run trains from scratch: no checkpoint to load.
SMOKE_SETS = (("dont_load_ckpt_model", "true"),)
SHAPE = (48, 48, 48)
WINDOW = 32  # crop and sliding-window size: divisible by the 16 of a 4-level UNet
TIMEOUT_S = 600


@dataclass
class SmokeResult:
    passed: bool
    stage: str  # "compile" | "data" | "train" | "validate"
    reason: str


def _slot_arg(config: Config, section: str, key: str, arg: str, default):
    comp = config.sections.get(section, {}).get(key)
    if isinstance(comp, Component):
        value = comp.arg(arg) if arg else None
        if value is not None:
            try:
                return to_python(value)
            except TypeError:
                return default
    return default


def _list_keys(config: Config) -> list[str]:
    keys = []
    for section in config.sections.values():
        dataset = section.get("dataset")
        if isinstance(dataset, Component):
            key = dataset.attr("data_list_key")
            if isinstance(key, Lit) and isinstance(key.value, str):
                keys.append(key.value)
    return list(dict.fromkeys(keys + ["training", "validation", "test"]))


def make_data(folder: Path, config: Config, train_model: Component | None) -> None:
    """Volumes and a datalist that fit the compiled config."""
    import nibabel as nib

    channels = 1
    if train_model is not None and train_model.arg("in_channels") is not None:
        channels = int(to_python(train_model.arg("in_channels")))
    batch = int(_slot_arg(config, "train", "dataloader", "batch_size", 1) or 1)
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij"))
    center = np.array(SHAPE)[:, None, None, None] / 2
    body = (((grid - center) / (np.array(SHAPE)[:, None, None, None] * 0.45)) ** 2).sum(
        0
    ) <= 1
    entries = []
    for i in range(2 * batch + 1):  # two training iterations, and one validation case
        shift = rng.integers(-4, 5, 3)[:, None, None, None]
        organ = ((grid - center - shift) ** 2).sum(0) <= 8**2
        image = np.where(body, rng.normal(0, 20, SHAPE), -1000.0)
        image[organ] = rng.normal(120, 15, int(organ.sum()))
        if channels > 1:
            image = np.stack([image] * channels, axis=-1)
        name = f"case_{i:03d}.nii.gz"
        nib.save(
            nib.Nifti1Image(image.astype(np.float32), np.eye(4)),
            folder / "images" / name,
        )
        nib.save(
            nib.Nifti1Image(organ.astype(np.uint8), np.eye(4)), folder / "labels" / name
        )
        entries.append({"image": f"images/{name}", "label": f"labels/{name}"})
    datalist = {key: entries[:-1] for key in _list_keys(config)}
    for key in datalist:
        if "valid" in key or "test" in key:
            datalist[key] = entries[-1:]
    (folder / "dataset.json").write_text(json.dumps(datalist, indent=2))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def smoke(config: Path, env: Path | None = None, sets: tuple = (),
          workdir: Path | None = None, validation: Path | None = None,
          target: str = "auto") -> SmokeResult:  # fmt: skip
    """Compile and run `config` on synthetic data; never raises for a config's faults.

    With `validation`, the validation config is compiled beside it and its validate.py run
    on the trained checkpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir or tmp)
        base = Compilation(config, CompileOptions(set_values=tuple(sets)), env_path=env)
        try:
            built, _ = base.build()
        except CompileError as exc:
            return SmokeResult(False, "compile", _first(exc, base))
        extra = tuple((k, v) for k, v in SMOKE_SETS if k in built.globals)

        options = CompileOptions(set_values=tuple(sets) + extra, target=target)
        comp = Compilation(config, options, env_path=env)
        out = root / "out"
        try:
            manifest = compile_to_dir(comp, out)
        except CompileError as exc:
            return SmokeResult(False, "compile", _first(exc, comp))
        data = root / "data"
        try:
            config_ir = comp.run_passes(*comp.build())
            make_data(data, config_ir, comp.train_models.get("J0001"))
        except Exception as exc:  # the data maker is ours: report, do not crash the run
            return SmokeResult(False, "data", f"cannot make data: {exc}")
        script = out / manifest["jobs"][0]["script"]
        text = script.read_text()
        cmd = [sys.executable, str(script), "--epochs", "1", "--device", "cpu",
               "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
               "--mmar-ckpt-dir", str(root / "models")]  # fmt: skip
        for option in ("--crop-size", "--roi-size"):
            if option in text:
                cmd += [option, *[str(WINDOW)] * 3]
        if "--val-interval" in text:
            cmd += ["--val-interval", "1"]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            return SmokeResult(False, "train", f"no result in {TIMEOUT_S} s")
        if proc.returncode != 0:
            return SmokeResult(False, "train", _last_line(proc.stderr))
        result = json.loads((root / "models" / "result.json").read_text())
        if "validate" in config_ir.sections and result.get("best_value") is None:
            return SmokeResult(False, "validate", "no validation ran")
        if validation is not None:
            return smoke_validation(config, validation, env, sets, root, target)
        return SmokeResult(
            True, "train", f"{result['key_metric']} = {result['best_value']}"
        )


# The validation loads the checkpoint the smoke training saved, not a TorchScript file.
VALIDATION_SETS = (("dont_load_ts_model", "true"), ("dont_load_ckpt_model", "false"))


def smoke_validation(config: Path, validation: Path, env: Path | None, sets: tuple,
                     root: Path, target: str = "auto") -> SmokeResult:  # fmt: skip
    options = CompileOptions(set_values=tuple(sets) + VALIDATION_SETS, target=target)
    comp = Compilation(config, options, env_path=env, validation_path=validation)
    try:
        manifest = compile_to_dir(comp, root / "out_validation")
    except CompileError as exc:
        return SmokeResult(False, "compile", _first(exc, comp))
    script = root / "out_validation" / manifest["jobs"][0]["validate"]
    models = root / "models"
    ckpt = (
        models / "model.pt"
        if (models / "model.pt").is_file()
        else models / "model_final.pt"
    )
    return _run_validate(root, script, ckpt)


def _run_validate(root: Path, script: Path, ckpt: Path | None) -> SmokeResult:
    """Run a validate.py on root/data; its metrics go to root/eval."""
    data = root / "data"
    text = script.read_text()
    if "torch.jit.load" in text:
        return SmokeResult(False, "validate", "needs a TorchScript model, which a smoke "
                           "run does not make")  # fmt: skip
    cmd = [sys.executable, str(script), "--device", "cpu", "--data-root", str(data),
           "--dataset-json", str(data / "dataset.json"),
           "--mmar-eval-output-path", str(root / "eval")]  # fmt: skip
    if ckpt is not None and "--mmar-ckpt" in text:
        cmd += ["--mmar-ckpt", str(ckpt)]
    if "--roi-size" in text:
        cmd += ["--roi-size", *[str(WINDOW)] * 3]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return SmokeResult(False, "validate", f"no result in {TIMEOUT_S} s")
    if proc.returncode != 0:
        return SmokeResult(False, "validate", _last_line(proc.stderr))
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    shown = ", ".join(f"{k} = {v:.4f}" for k, v in metrics.items()) or "no metrics"
    return SmokeResult(True, "validate", shown)


def _first(exc: CompileError, comp: Compilation) -> str:
    errors = [d for d in exc.diagnostics if d.severity == "error"]
    return format_all(errors[:1], comp.sources).splitlines()[0]


def smoke_validation_alone(validation: Path, env: Path | None = None, sets: tuple = (),
                           workdir: Path | None = None,
                           target: str = "auto") -> SmokeResult:  # fmt: skip
    """A validation config with no training config: its own network, untrained (a smoke
    run proves the script runs, not what it scores)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir or tmp)
        own = tuple(sets) + (
            ("dont_load_ckpt_model", "true"),
            ("dont_load_ts_model", "true"),
        )
        comp = Compilation(None, CompileOptions(set_values=own, target=target),
                           env_path=env, validation_path=validation)  # fmt: skip
        try:
            manifest = compile_to_dir(comp, root / "out")
            config_ir = comp.run_passes(*comp.build(validation, "validation"))
        except CompileError as exc:
            return SmokeResult(False, "compile", _first(exc, comp))
        model = config_ir.sections.get("validate", {}).get("model")
        make_data(
            root / "data", config_ir, model if isinstance(model, Component) else None
        )
        return _run_validate(root, root / "out" / manifest["jobs"][0]["validate"], None)
