"""The plain target's runtime options and the script's head: what a run can choose on
the command line (the MMAR's paths, the exposed sizes, --epochs, --device), the module
constants that hold their defaults, the searched values, the seed and backend flags,
the imports and the docstring.

    "spatial_size": [96, 96, 96] of RandCropByPosNegLabeld -> --crop-size, CROP_SIZE
    "DATA_ROOT": "data" in environment.json                -> --data-root, DATA_ROOT
    train.trainer {"max_epochs": 2}                         -> --epochs, EPOCHS = 2
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

from claragen import __version__
from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import Diagnostics, Span
from claragen.transpiler.dialects import get_dialect
from claragen.transpiler.emit import Emitter, Imports, literal_node, option_dest
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    Expr,
    ListV,
    Lit,
    RuntimeVar,
    SearchValue,
    Template,
    Value,
    is_literal,
    map_components,
    map_config,
    read_variable,
    to_python,
    walk,
)
from claragen.transpiler.passes.variables import PATH_VARIABLES
from claragen.transpiler.render import docstring_line
from claragen.transpiler.targets.plain_script import Distributed, Option, PlainScript

PLAIN_DATA = (str, int, float, bool, list, dict, type(None))

CROP_ARGS = ("spatial_size", "roi_size")  # of random crop transforms -> --crop-size
ROI_INFERERS = frozenset(
    {"SlidingWindowInferer", "SliceInferer"}
)  # roi_size -> --roi-size
# Transforms that bring every image to one size (DeepGrow's crop and resize) -> --image-size
SIZING_TRANSFORMS = frozenset({"SpatialCropForegroundd", "Resized"})
DEFAULT_CKPT_DIR = "models"
# Clara 3.x's determinism keys beyond random_seed: key -> (the code that sets it, its
# module, a comment)
SEEDS = {
    "python_seed": ('os.environ.update(PYTHONHASHSEED="{}")', "os", ""),
    "numpy_seed": ("numpy.random.seed({})", "numpy", ""),
    "tf_seed": ("torch.manual_seed({})", "torch", ": TensorFlow's, now torch's"),
}  # fmt: skip
# Options of a train script read from one arg of a train component: (the component's
# locator, or its class, arg, the option's constant).
OPTION_SOURCES = (
    ("train.trainer", "max_epochs", "EPOCHS"),
    ("ValidationHandler", "interval", "VAL_INTERVAL"),
)


# Args that name a folder (or a file, by its folder) that a MONAI part of the config
# writes into: its savers, writers, loggers and dataset caches. The script checks each with
# own_folder before it runs (no link in the way). tests/gates/test_script_files.py checks
# that every `*_dir` parameter of the component table is here or among INPUT_FOLDERS.
WRITTEN_FOLDERS = ("output_dir", "save_dir", "log_dir", "cache_dir")
WRITTEN_FILES = ("mapping_file_path",)
INPUT_FOLDERS = ("data_root_dir",)  # FolderLayout/SaveImage: where inputs are found


def add_loop_options(
    script: Any,
    interval: tuple[str, str] | None,
    epochs: tuple[str, str],
    unit: str = "epochs",
) -> None:
    """--val-interval (when the script validates) and --epochs, with their constants:
    `interval` and `epochs` are (the default's code, where the config gives it); `unit`
    what the interval counts (a ValidationHandler's epoch_level false: iterations)."""
    if interval is not None:
        script.constants.append(
            ("VAL_INTERVAL", interval[0], f"{interval[1]} ValidationHandler interval")
        )
        script.options.append(
            Option("--val-interval", "val_interval", "VAL_INTERVAL",
                   f"validate every N {unit} (default: %(default)s)", type="int")  # fmt: skip
        )
    script.constants.append(("EPOCHS", *epochs))
    script.options.append(
        Option("--epochs", "epochs", "EPOCHS", "epochs to train (default: %(default)s)",
               type="int")  # fmt: skip
    )


class OptionsLowering:
    """Runtime options and the script's head; a mixin of PlainLowering, whose state it
    reads."""

    LOWERS_MULTI_GPU: bool
    config: Config
    ctx: PassContext
    diags: Diagnostics
    imports: Imports
    emitter: Emitter
    script_dir: str
    job: str
    ddp: Distributed | None
    sizes: dict[str, Any]
    multi_gpu_span: Callable[[], Span]

    # -- runtime options -----------------------------------------------------------------

    def expose_sizes(self) -> None:
        """Crop and sliding-window sizes become --crop-size / --roi-size (small-CPU runs)."""
        found: dict[str, Any] = {}

        def expose(comp: Component) -> Component:
            name = comp.class_name
            if name.startswith("Rand") and "Crop" in name:
                keys, option = CROP_ARGS, "CROP_SIZE"
            elif name in ROI_INFERERS:
                keys, option = ("roi_size",), "ROI_SIZE"
            elif name in SIZING_TRANSFORMS:
                keys, option = ("spatial_size",), "IMAGE_SIZE"
            else:
                return comp
            for key in keys:
                value = comp.arg(key)
                if isinstance(value, ListV) and is_literal(value):
                    size = to_python(value)
                    if all(
                        isinstance(v, int) and not isinstance(v, bool) for v in size
                    ):
                        found.setdefault(option, size)
                        if found[option] == size:
                            comp = comp.with_arg(
                                key, RuntimeVar(value.span, option, size)
                            )
            return comp

        self.config = map_components(self.config, expose)
        self.sizes = found
        self.bind_devices()

    def bind_variables(self) -> None:
        """--epochs and --val-interval set the variable their config value came from
        (`"max_epochs": "{epochs}"`), so every other value of that variable follows them:
        `"T_max": "{epochs}"` is `T_max=args.epochs`, and TRAIN_CONF["epochs"] is set from
        the option (`conf_options`). Else `--epochs 10` would leave a scheduler annealing
        over the compiled number of epochs."""
        bound: dict[str, str] = {}
        sources: set[int] = set()
        for comp in self.config.every_component():
            if not comp.locator.startswith("train."):
                continue
            for where, arg, option in OPTION_SOURCES:
                value = (
                    comp.arg(arg) if where in (comp.locator, comp.class_name) else None
                )
                if isinstance(value, Lit) and value.var and comp.path is None:
                    sources.add(id(value))
                    bound.setdefault(value.var, option)
        self.bound_variables = {
            var: option_dest(option) for var, option in bound.items()
        }

        def bind(value: Value) -> Value:
            if (
                isinstance(value, Lit)
                and value.var in bound
                and id(value) not in sources
            ):
                return RuntimeVar(value.span, bound[value.var], value.value)
            return value

        self.config = map_config(self.config, bind)

    def conf_options(self) -> str:
        """`{"epochs": args.epochs}`: the first-level values an option sets (TRAIN_CONF
        is what `@conf` names and what checkpoints save)."""
        bound = getattr(self, "bound_variables", {})
        pairs = [(k, d) for k, d in bound.items() if k in self.config.globals]
        if not pairs:
            return ""
        return "{" + ", ".join(f"{k!r}: args.{d}" for k, d in pairs) + "}"

    def bind_devices(self) -> None:
        """A transform's `"device": "cuda"` is the script's device (the CPU without a GPU)."""

        def bind(comp: Component) -> Component:
            value = comp.arg("device")
            if isinstance(value, Lit) and str(value.value).startswith("cuda"):
                tree = ast.Expression(body=ast.Name("device", ast.Load()))
                comp = comp.with_arg("device", Expr(value.span, "device", tree))
                comp = dataclasses.replace(
                    comp,
                    notes=comp.notes + ('"device": "cuda" -> the script\'s device',),
                )
            return comp

        self.config = map_components(self.config, bind)

    def device_default(self, trainer: Component) -> str:
        device = trainer.arg("device")
        if isinstance(device, Lit) and isinstance(device.value, str):
            return device.value
        return "cuda"

    def device_help(self, trainer: Component) -> str:
        device = self.device_default(trainer)
        if device.startswith("cuda"):
            return f"cuda or cpu (default: {device} when there is a GPU, else cpu)"
        return f"cuda or cpu (default: {device})"

    # -- the run's settings: seed and backend flags --------------------------------------

    def seed(self) -> str | None:
        det = self.config.extras.get("determinism")
        if det is None:
            return None
        seed = det.get("random_seed") if hasattr(det, "get") else None
        if isinstance(seed, Lit) and isinstance(seed.value, int):
            return repr(seed.value)
        self.diags.error("E602", det.span, "determinism needs an integer 'random_seed'")
        return None

    def seed_lines(self) -> list[str]:
        """Clara 3.x seeds each generator by its own key (its docs, "Determinism"):
        `python_seed` is PYTHONHASHSEED, `random_seed` Python's random (SEED, through
        set_determinism, which seeds torch and NumPy alike), `numpy_seed` NumPy's and
        `tf_seed` the framework's (torch's here). Each one the config gives is set after
        set_determinism, as the config says."""
        det = self.config.extras.get("determinism")
        lines = []
        for key, (template, module, comment) in SEEDS.items():
            value = det.get(key) if hasattr(det, "get") else None
            if value is None:
                continue
            seed = value.value if isinstance(value, Lit) else None
            if isinstance(seed, str) and seed.isdecimal() and key == "python_seed":
                seed = int(seed)
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                self.diags.error(
                    "E602", value.span, f"determinism.{key} must be a whole number >= 0"
                )
                continue
            self.imports.add_module(module)
            if key == "python_seed":  # the running process hashed with its own seed
                lines.append("# PYTHONHASHSEED reaches the processes this one starts")
            lines.append(f"{template.format(seed)}  # determinism.{key}{comment}")
        return lines

    def backend_flags(self) -> list[str]:
        flags = []
        variables = self.config.variables
        if "cudnn_benchmark" in variables:
            benchmark = bool(read_variable(self.config, "cudnn_benchmark"))
            flags.append(f"torch.backends.cudnn.benchmark = {benchmark!r}")
        if "tf32" in variables:
            tf32 = bool(read_variable(self.config, "tf32"))
            flags.append(f"torch.backends.cuda.matmul.allow_tf32 = {tf32!r}")
            flags.append(f"torch.backends.cudnn.allow_tf32 = {tf32!r}")
        if (
            read_variable(self.config, "multi_gpu") is True
            and not self.LOWERS_MULTI_GPU
        ):
            self.diags.warning(
                "W104",
                self.multi_gpu_span(),
                "multi_gpu is lowered by the plain target only; "
                "this script runs on one device",
                "compile with --target plain to train on several GPUs with torchrun",
            )
        return flags

    # -- finishing: imports, constants and options ---------------------------------------

    def output_folders(self) -> list[str]:
        """The code of every folder the config's MONAI parts write into, once each."""
        found: list[str] = []
        for comp in self.config.every_component():
            for key, value in comp.args:
                while isinstance(value, SearchValue):
                    value = value.value
                if key not in WRITTEN_FOLDERS + WRITTEN_FILES or not (
                    isinstance(value, Template | RuntimeVar)
                    or (
                        isinstance(value, Lit)
                        and isinstance(value.value, str)
                        and value.value
                    )
                ):
                    continue
                code = self.emitter.value(value)
                if key in WRITTEN_FILES:
                    code = f"os.path.dirname(os.path.abspath({code}))"
                if code not in found:
                    found.append(code)
        return found

    def add_path_options(self, script: Any, always: tuple[str, ...]) -> None:
        """MMAR_ROOT, the path variables the script uses (and `always`), and the exposed
        sizes: constants with their command-line options."""
        values = [
            v for _, _, c in self.config.components() for _, v in c.args + c.attrs
        ]
        for slots in self.config.sections.values():  # plain values of a section, e.g.
            for slot in slots.values():  # the enabled entry of a validation model list
                if isinstance(slot, Component | list):
                    continue
                items = slot.items if isinstance(slot, ListV) else (slot,)
                values += [v for v in items if not _disabled(v)]
        used = {
            node.name: node.default
            for value in values
            for node in walk(value)
            if isinstance(node, RuntimeVar)
        }
        constants: list[tuple[str, str, str]] = []
        options: list[Option] = []
        # the MMAR as an absolute path: the script finds it wherever out/ moves to (a
        # path relative to the script broke when out/ moved); --mmar-root gives another
        mmar, where = str(self.ctx.mmar_root.resolve()), "this script was compiled from"
        asked = self.ctx.overrides.get("MMAR_ROOT")
        if asked is not None and isinstance(asked.value, str):  # --set MMAR_ROOT=...
            mmar, where = os.path.abspath(asked.value), "--set MMAR_ROOT gave"
        constants.append(("MMAR_ROOT", repr(mmar), f"the MMAR {where} (absolute)"))
        options.append(
            Option(
                "--mmar-root",
                "mmar_root",
                "MMAR_ROOT",
                "MMAR root; relative default paths are resolved against it",
            )
        )
        path_names = [
            n for n in PATH_VARIABLES if n != "MMAR_ROOT" and (n in used or n in always)
        ]
        for name in path_names:
            default = used.get(name, read_variable(self.config, name, DEFAULT_CKPT_DIR))
            source = (
                "environment.json"
                if self.ctx.env.get(name) is not None
                else self.config.file
            )
            constants.append((name, repr(default), source))
            options.append(
                Option(
                    f"--{name.lower().replace('_', '-')}",
                    option_dest(name),
                    name,
                    # argparse %-formats help: a % in a path is written %%
                    f"{name} (default: {str(default).replace('%', '%%')}, "
                    "relative to the MMAR root)",
                    is_path=True,
                )
            )
        for name, size in sorted(self.sizes.items()):
            what = {
                "CROP_SIZE": "random crop size",
                "ROI_SIZE": "sliding-window ROI size",
                "IMAGE_SIZE": "size the transforms crop and resize each image to",
            }[name]
            constants.append((name, repr(tuple(size)), f"the config's {what}"))
            options.append(
                Option(
                    f"--{name.lower().replace('_', '-')}",
                    option_dest(name),
                    name,
                    f"{what} (default: %(default)s)",
                    type="int",
                    nargs=len(size),
                )
            )
        script.constants = constants
        script.options = options

    def finish(self, script: PlainScript, values: dict[str, Any]) -> PlainScript:
        self.add_path_options(script, always=("MMAR_CKPT_DIR",))
        interval = None
        if script.val is not None:
            interval = (repr(script.plan.val_interval or 1), script.plan.val_comment)
        add_loop_options(script, interval, self.trainer_epochs())
        script.search_constants = self.search_constants()
        # TRAIN_CONF only where something saves or reads it (`@conf`, a saver's
        # train_conf, the interrupted run's model_final.pt where no saver writes one)
        savers = script.plan.savers["train"] + script.plan.savers["validate"]
        codes = [b.code for b in script.blocks] + [s.objects for s in savers]
        if not any(s.final for s in savers) or any("TRAIN_CONF" in c for c in codes):
            script.train_conf = self.train_conf()
            script.conf_options = self.conf_options()
        script.seed_lines = self.seed_lines()
        for module in ("argparse", "json", "logging", "os", "time", "torch"):
            self.imports.add_module(module)
        if script.train.metrics or script.val is not None:  # per-case items
            self.imports.add_name("monai.data", "decollate_batch")
        if script.plan.report:  # MetricsSaver (its files made in a folder of its own)
            self.imports.add_module("tempfile")
            self.imports.add_name("monai.handlers.utils", "write_metrics_reports")
        if script.seed is not None:
            self.imports.add_name("monai.utils", "set_determinism")
        if any(log.tensorboard_dir for log in script.plan.logs.values()):
            self.imports.add_name("torch.utils.tensorboard", "SummaryWriter")
        if self.imports.byoc:
            self.imports.add_module("sys")
        if script.ddp is not None:
            self.imports.add_name("torch.nn.parallel", "DistributedDataParallel")
        for module in (
            "atexit",
            "functools",
            "multiprocessing",
            "shlex",
            "signal",
            "stat",
            "sys",
        ):
            self.imports.add_module(module)
        script.output_folders = self.output_folders()
        script.imports = self.imports.lines()
        script.byoc_imports = self.imports.byoc_lines()
        script.written = self.imports.written_sources()
        script.docstring = self.docstring(values)
        return script

    def train_conf(self) -> str:
        """TRAIN_CONF: the config's first-level values (what `@conf` names), as this job
        trains with them: `--set` and the job's search values applied."""
        resolved = self.config.variables
        values = {k: resolved.get(k, v.value) for k, v in self.config.globals.items()}
        values = {k: v for k, v in values.items() if isinstance(v, PLAIN_DATA)}
        return ast.unparse(literal_node(values))

    def search_constants(
        self, extra: tuple[Component, ...] = ()
    ) -> list[tuple[str, str, str]]:
        """`CHANNELS = [16, 32]  # train.model:channels (net, enum)`, in search-space order;
        `extra`: components from elsewhere (validate.py's network comes from train)."""
        found: dict[str, SearchValue] = {}
        comps = [c for _, _, c in self.config.components()] + list(extra)
        for comp in comps:
            for _, value in comp.args + comp.attrs:
                for node in walk(value):
                    if isinstance(node, SearchValue):
                        found.setdefault(node.const, node)
        order = {
            arg.const: (i, j)
            for i, p in enumerate(self.ctx.space.params)
            for j, arg in enumerate(p.args)
        }
        out = []
        params = {p.id: p for p in self.ctx.space.params}
        for const, node in sorted(
            found.items(), key=lambda kv: order.get(kv[0], (0, 0))
        ):
            param = params.get(node.param)
            kind = (
                f" ({param.domain}, {param.type})" if param else " (the train search)"
            )
            if not is_literal(node.value):
                self.ctx.diags.error(
                    "E207",
                    node.value.span,
                    f"the searched value of {node.param} is computed; it becomes the "
                    f"module-level constant {const}, which must be a literal",
                    "write the value itself (a number, a string, a list)",
                )
                continue
            out.append((const, self.emitter.value(node.value), f"{node.param}{kind}"))
        return out

    def trainer_epochs(self) -> tuple[str, str]:
        trainer = self.config.sections["train"]["trainer"]
        assert isinstance(trainer, Component)
        value = trainer.arg("max_epochs")
        if (
            isinstance(value, Lit)
            and isinstance(value.value, int)
            and not isinstance(value.value, bool)
        ):
            self.check_validates(value.value)
            return (
                repr(value.value),
                f"line {value.span.line} train.trainer max_epochs",
            )
        self.diags.error(
            "E602",
            (value or trainer).span,
            "train.trainer needs an integer 'max_epochs'",
        )
        return "1", ""

    def check_validates(self, epochs: int) -> None:
        """A validation interval longer than the training never validates, so the best
        key metric's checkpoint (model.pt) is never written: W111 says so."""
        for comp in self.config.every_component():
            interval = comp.arg("interval")
            if not (
                comp.class_name == "ValidationHandler"
                and comp.locator.startswith("train.")
                and isinstance(interval, Lit)
                and isinstance(interval.value, int)
                and interval.value > epochs
            ):
                continue
            self.diags.warning(
                "W111",
                interval.span,
                f"the ValidationHandler validates every {interval.value} epochs and the "
                f"config trains {epochs}: it never validates, so no key metric is "
                f"scored and no best checkpoint (model.pt) is written ({comp.locator})",
                f"give an interval of at most {epochs}, or more epochs",
            )

    def docstring(self, values: dict[str, Any]) -> str:
        lines = [
            f"Train job {self.job} of {self.config.file}, compiled by claragen {__version__}.",
            "",
            f"Dialect: {get_dialect(self.config.dialect).title}. "
            "Target: plain PyTorch + MONAI "
            f"(MONAI {symbols.versions().get('monai', '?')}).",
        ]
        if values:
            lines += ["", "Search values of this job (parameter id = value):"]
            lines += [f"    {k} = {search_value_text(v)}" for k, v in values.items()]
        lines += [
            "",
            "Run:",
            "    python train.py [--epochs N] [--device cpu|cuda] [--data-root DIR] ...",
            "    python train.py --help",
        ]
        if self.ddp is not None:
            lines += [
                "",
                "multi_gpu: on N GPUs of this machine, one process each (DDP):",
                "    torchrun --nproc_per_node=N train.py [options as above]",
                "Each process trains on its share of the data; the gradients are averaged,",
                "the loss and the metrics are those of all processes. Only rank 0 logs and",
                "writes files. Without torchrun it trains on one device.",
            ]
        lines += [
            "",
            "It writes its checkpoints, TensorBoard logs and result.json (the key metric, its",
            "best value and epoch, per-epoch values, wall time) into --mmar-ckpt-dir.",
        ]
        return "\n".join(docstring_line(line) for line in lines)


def _disabled(value: Value) -> bool:
    flag = value.get("disabled") if isinstance(value, DictV) else None
    return isinstance(flag, Lit) and flag.value is True


def search_value_text(value: Any) -> str:
    """A job's value of a search parameter, as its docstring shows it; None: the default
    job leaves the config as it is there (an arg it leaves out, a free tag)."""
    return "(the config's own)" if value is None else json.dumps(value)
