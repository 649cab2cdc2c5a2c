"""The `bundle` target: the job as a MONAI bundle, `configs/train.json` in MONAI's own syntax,
runnable with `python -m monai.bundle run --config_file configs/train.json`.

It is the engines target written as bundle config instead of Python: the engines lowering
decides what is built and how it is wired; this module only translates each of its blocks
from the Python AST into bundle syntax::

    model = UNet(spatial_dims=3, channels=CHANNELS).to(device)
    -> "model": "$monai.networks.nets.UNet(spatial_dims=3, channels=@CHANNELS).to(@device)"
    loss_function = FocalLoss(to_onehot_y=True)
    -> "loss_function": {"_target_": "monai.losses.FocalLoss", "to_onehot_y": true}
    train_loader = DataLoader(dataset=train_dataset, batch_size=2)
    -> "train_loader": {"_target_": "torch.utils.data.DataLoader", "dataset": "@train_dataset", ...}

The script's constants and command-line options become top-level ids (`EPOCHS`, `epochs`,
`dataset_dir`, ...), so `python -m monai.bundle run --epochs 1 --dataset_dir /data` works like
`python train.py --epochs 1 --data-root /data`.

MONAI evaluates `$` strings, resolves `@`/`%` strings and rewrites `#`, so config text never
reaches the bundle as such a string: a string that starts with `$`, `@` or `%`, or holds a
`#` (or, inside a `$` expression, any of them), is written as an expression that builds it
from its bytes; a dict whose keys MONAI would read as ids or directives is written as an
expression too.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from claragen import __version__
from claragen.gates import names
from claragen.transpiler import exprcheck, symbols
from claragen.transpiler.emit import literal_node
from claragen.transpiler.targets.engines import EnginesScript

# Modules a `$` expression may name; MONAI imports them for the bundle ("imports").
IMPORTS = ("os", "torch", "monai", "numpy", "ignite", "types")


class Translator:
    """Python expressions of one script -> bundle values."""

    def __init__(self, script: EnginesScript, engine: str = "trainer"):
        self.qualified = _imported_names(script.imports + script.byoc_imports)
        self.ids = {b.target for b in script.blocks} | {"device"}
        self.ids |= {name for name, _, _ in script.constants + script.search_constants}
        # MONAI's bundle names: the network the script calls `model` is `network`
        # (built from `network_def`), the trainer `train::trainer`, ... (the spec's ids,
        # which MONAI's workflows and tools look for: monai.bundle.properties)
        built = {b.target for b in script.blocks} | {o.dest for o in script.options}
        spec = TRAIN_IDS if engine == "trainer" else EVAL_IDS
        self.renames = {k: v for k, v in spec.items() if k in built}
        self.renames |= network_ids(script)
        if script.conf_saved:
            self.ids.add("TRAIN_CONF")

    # -- values ------------------------------------------------------------------------

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.text(node.value)
        if isinstance(node, ast.Constant) and _is_json_scalar(node.value):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [self.value(v) for v in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            if isinstance(node.operand, ast.Constant) and _is_number(
                node.operand.value
            ):
                return ast.literal_eval(node)
        if isinstance(node, ast.Dict) and all(_plain_key(k) for k in node.keys):
            pairs = zip(node.keys, node.values, strict=True)
            return {k.value: self.value(v) for k, v in pairs}  # type: ignore[union-attr]
        if isinstance(node, ast.Call) and (kwargs := self.keywords(node)) is not None:
            target = self.target(node.func)
            return {"_target_": target, **{k: self.value(v) for k, v in kwargs}}
        if isinstance(node, ast.Name) and node.id in self.ids:
            return f"@{self.renames.get(node.id, node.id)}"
        if _is_args(node):
            return f"@{self.renames.get(node.attr, node.attr)}"  # type: ignore[attr-defined]
        return "$" + self.expression(node)

    def keywords(self, call: ast.Call) -> list[tuple[str, ast.expr]] | None:
        """A call's args by parameter name (positional ones named from the component
        table), or None when the call cannot be a `_target_` component."""
        target = self.target(call.func)
        if target is None or any(
            k.arg is None or not names.is_bundle_key(k.arg) for k in call.keywords
        ):
            return None  # a `$` expression, where an arg name is only a name
        named = [(k.arg, k.value) for k in call.keywords]
        if not call.args:
            return named  # type: ignore[return-value]
        sym = symbols.lookup(target.rsplit(".", 1)[-1])
        if sym is None or f"{sym.module}.{sym.name}" != target:
            return (
                None  # not the table's class of that name: its parameters are unknown
            )
        if sym.params is None or len(call.args) > len(sym.params):
            return None
        if any(isinstance(a, ast.Starred) for a in call.args):
            return None
        return list(zip(sym.params, call.args, strict=False)) + named  # type: ignore[return-value]

    def text(self, text: str) -> str:
        """A config string as a bundle string that MONAI leaves alone."""
        if not names.is_bundle_text(text):
            return "$" + _spelled(text)
        return text

    def target(self, func: ast.expr) -> str | None:
        """The dotted import path of a class or function the code calls, if it has one."""
        if isinstance(func, ast.Name):
            return self.qualified.get(func.id)
        parts = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if isinstance(func, ast.Name) and func.id in IMPORTS:
            return ".".join([func.id, *reversed(parts)])
        return None

    # -- `$` expressions ---------------------------------------------------------------

    def expression(self, node: ast.expr) -> str:
        translator = self
        bound = {  # lambda parameters are not ids, whatever their names
            a.arg
            for lam in ast.walk(node)
            if isinstance(lam, ast.Lambda)
            for a in lam.args.posonlyargs + lam.args.args + lam.args.kwonlyargs
        }

        class Rewrite(ast.NodeTransformer):
            def visit_Name(self, n: ast.Name) -> ast.expr:
                if n.id in bound:
                    return n
                if n.id in translator.ids:
                    return ast.Name(f"@{translator.renames.get(n.id, n.id)}", n.ctx)
                return ast.Name(translator.qualified.get(n.id, n.id), n.ctx)

            def visit_Attribute(self, n: ast.Attribute) -> ast.expr:
                if _is_args(n):
                    return ast.Name(f"@{translator.renames.get(n.attr, n.attr)}", n.ctx)
                self.generic_visit(n)
                return n

            def visit_Constant(self, n: ast.Constant) -> ast.expr:
                if isinstance(n.value, str) and not names.is_bundle_literal(n.value):
                    return ast.parse(_spelled(n.value), mode="eval").body
                return n

            def visit_JoinedStr(self, n: ast.JoinedStr) -> ast.expr:
                """An f-string whose text MONAI would rewrite: the same string as a
                sum of its parts (an f-string's text cannot be an expression)."""
                if all(
                    not isinstance(v, ast.Constant) or names.is_bundle_literal(v.value)
                    for v in n.values
                ):
                    self.generic_visit(n)
                    return n
                parts: list[ast.expr] = [ast.Constant("")]
                for v in n.values:
                    if isinstance(v, ast.Constant):
                        parts.append(self.visit_Constant(v))
                        continue
                    assert isinstance(v, ast.FormattedValue)
                    inner = self.visit(v.value)
                    if v.conversion in (ord("s"), ord("r"), ord("a")):
                        kind = {ord("s"): "str", ord("r"): "repr", ord("a"): "ascii"}
                        inner = ast.Call(ast.Name(kind[v.conversion]), [inner], [])
                    spec = [self.visit(v.format_spec)] if v.format_spec else []
                    parts.append(ast.Call(ast.Name("format"), [inner, *spec], []))
                total = parts[0]
                for part in parts[1:]:
                    total = ast.BinOp(total, ast.Add(), part)
                return total

        tree = Rewrite().visit(ast.parse(ast.unparse(node), mode="eval"))
        return ast.unparse(ast.fix_missing_locations(tree))


def _spelled(text: str) -> str:
    """An expression that yields `text` without writing `$`, `@` or `%` anywhere."""
    return f"bytes.fromhex({text.encode('utf-8').hex()!r}).decode('utf-8')"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_json_scalar(value: object) -> bool:
    return value is None or isinstance(value, bool | int | float)


def _plain_key(key: ast.expr | None) -> bool:
    """A dict key that MONAI reads as data (gates/names.py)."""
    return (
        isinstance(key, ast.Constant)
        and isinstance(key.value, str)
        and names.is_bundle_key(key.value)
    )


def _is_args(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "args"
    )


def network_ids(script: EnginesScript) -> dict[str, str]:
    """{"model": "network"} for the one block built as `X(...).to(device)` (the
    network); {} where there is none or more than one."""
    built = [
        b.target
        for b in script.blocks
        if _moved_to_device(ast.parse(b.code, mode="eval").body) is not None
    ]
    return {built[0]: NETWORK} if len(built) == 1 else {}


NETWORK = "network"
# What a bundle writes (and evaluate.json reads back) lives in the bundle, under
# `bundle_root` (models/, as MONAI's specification lays a bundle out); its data is the
# MMAR's, under `mmar_root`.
BUNDLE_OUTPUTS = frozenset({"MMAR_CKPT_DIR", "MMAR_CKPT", "MMAR_EVAL_OUTPUT_PATH"})
# The names of the engines target -> the ids of MONAI's bundle specification
# (monai.bundle.properties.TrainProperties / InferProperties; `::` nests them).
TRAIN_IDS = {
    "data_root": "dataset_dir",
    "trainer": "train::trainer",
    "train_transforms": "train::preprocessing",
    "train_dataset": "train::dataset",
    "train_loader": "train::dataloader",
    "train_inferer": "train::inferer",
    "train_post_transforms": "train::postprocessing",
    "train_key_metric": "train::key_metric",
    "train_handlers": "train::handlers",
    "evaluator": "validate::evaluator",
    "val_transforms": "validate::preprocessing",
    "val_dataset": "validate::dataset",
    "val_loader": "validate::dataloader",
    "val_inferer": "validate::inferer",
    "val_post_transforms": "validate::postprocessing",
    "val_key_metric": "validate::key_metric",
    "val_handlers": "validate::handlers",
}
# evaluate.json is an inference bundle: the validate section's ids at its top
EVAL_IDS = {
    k: v.removeprefix("validate::")
    for k, v in TRAIN_IDS.items()
    if not v.startswith("train::")
}


def nested(config: dict[str, Any]) -> dict[str, Any]:
    """`{"train::trainer": x}` -> `{"train": {"trainer": x}}`, each section where its
    first id was."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        *path, last = key.split("::")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def _is_loader(code: str) -> bool:
    """Whether a block makes a data loader (MONAI's or torch's DataLoader, or MONAI's
    ThreadDataLoader)."""
    node = ast.parse(code, mode="eval").body
    return isinstance(node, ast.Call) and ast.unparse(node.func).rsplit(".", 1)[-1] in (
        "DataLoader",
        "ThreadDataLoader",
    )


def _moved_to_device(node: ast.expr) -> ast.expr | None:
    """`X(...)` of `X(...).to(device)`, else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "to"
        and isinstance(node.func.value, ast.Call)
        and [ast.unparse(a) for a in node.args] == ["device"]
        and not node.keywords
    ):
        return node.func.value
    return None


def _imported_names(lines: list[str]) -> dict[str, str]:
    """`from monai.networks.nets import UNet` -> {"UNet": "monai.networks.nets.UNet"}."""
    names: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        for stmt in ast.parse(line).body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module:
                for alias in stmt.names:
                    names[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
    return names


class BundleError(Exception):
    """A bundle file would carry something MONAI reads as code that claragen did not
    write (gates/names.check_bundle); the message lists where."""


def checked(config: dict[str, Any], script: EnginesScript) -> dict[str, Any]:
    """`config` once the bundle language's gate has passed it (raises BundleError)."""
    byoc = set(_imported_names(script.byoc_imports).values())
    targets = set(symbols.qualified_names()) | byoc | set(exprcheck.PUBLIC_API)
    # claragen's own: TRAIN_CONF's holder (engines.BUNDLE_CONF)
    targets.add("types.SimpleNamespace")
    problems = names.check_bundle(config, names.bundle_ids(config), targets)
    if problems:
        raise BundleError("; ".join(problems[:5]))
    return config


def train_bundle(script: EnginesScript) -> dict[str, Any]:
    """configs/train.json of one job."""
    return checked(nested(bundle_config(script, "trainer")), script)


def evaluate_bundle(script: EnginesScript) -> dict[str, Any]:
    """configs/evaluate.json of one job: its validation config, on the job's network."""
    t = Translator(script, "evaluator")
    config = bundle_config(script, "evaluator", t)
    for _, path in script.loaders:  # the trained weights (train.py's checkpoint)
        where = t.expression(ast.parse(path, mode="eval").body)
        config["initialize"].append(
            f"$@{t.renames.get('model', 'model')}.load_state_dict((lambda c: c.get('model', c))("
            f"torch.load({where}, map_location=@device, weights_only=True)))"
        )
    return checked(nested(config), script)


def bundle_config(
    script: EnginesScript, engine: str, t: Translator | None = None
) -> dict[str, Any]:
    t = t or Translator(script)
    byoc = sorted(
        {q.rsplit(".", 1)[0] for q in _imported_names(script.byoc_imports).values()}
    )
    config: dict[str, Any] = {
        # bring-your-own modules: run with PYTHONPATH=<the MMAR's custom/ folder>
        "imports": [f"$import {m}" for m in (*IMPORTS, *byoc)],
        # the bundle's own folder, as MONAI's spec names it (`--bundle_root` sets it)
        "bundle_root": ".",
    }
    for name, code, _ in script.constants + script.search_constants:
        if name == "MMAR_ROOT":  # where relative data and model paths start, as in
            # Clara: the MMAR's absolute path, as train.py has it (--mmar_root sets it)
            config["mmar_root"] = t.value(ast.parse(code, mode="eval").body)
        else:
            config[name] = t.value(ast.parse(code, mode="eval").body)
    if script.conf_saved:  # what checkpoints save as "train_conf", options applied
        conf = ast.parse(script.train_conf, mode="eval").body
        assert isinstance(conf, ast.Dict)
        if script.conf_options:  # {"epochs": args.epochs}: "epochs": "@epochs"
            options = ast.parse(script.conf_options, mode="eval").body
            assert isinstance(options, ast.Dict)
            pairs = zip(options.keys, options.values, strict=True)
            by_key = {ast.literal_eval(k): v for k, v in pairs}  # type: ignore[arg-type]
            own = zip(conf.keys, conf.values, strict=True)
            conf.values = [by_key.get(ast.literal_eval(k), v) for k, v in own]  # type: ignore[arg-type]
        config["TRAIN_CONF"] = t.value(conf)
    for option in script.options:
        if option.const == "MMAR_ROOT":
            continue
        dest = t.renames.get(option.dest, option.dest)
        # what the bundle writes goes into its own models/, as the spec lays out
        if option.const in BUNDLE_OUTPUTS:
            config[dest] = f"$os.path.join(@bundle_root, @{option.const})"
        elif option.is_path:  # relative to the MMAR root, as in Clara and train.py
            config[dest] = f"$os.path.join(@mmar_root, @{option.const})"
        else:
            config[dest] = f"@{option.const}"
    config["device"] = (
        "$torch.device('cuda' if torch.cuda.is_available() else 'cpu')"
        if script.device_default.startswith("cuda")
        else f"$torch.device({script.device_default!r})"
    )
    for block in script.blocks:
        node = ast.parse(block.code, mode="eval").body
        inner = _moved_to_device(node)
        name = t.renames.get(block.target, block.target)
        if inner is not None:  # UNet(...).to(device): the spec's network_def, network
            config[f"{name}_def"] = t.value(inner)
            config[name] = f"$@{name}_def.to(@device)"
        else:
            config[name] = t.value(node)
    folder = "mmar_ckpt_dir" if engine == "trainer" else "mmar_eval_output_path"
    initialize = [f"$os.makedirs(@{folder}, exist_ok=True)"]
    if script.seed is not None:
        initialize.append(f"$monai.utils.set_determinism(seed={script.seed})")
        initialize += [
            f"${line.split('  #')[0]}"
            for line in script.seed_lines
            if not line.startswith("#")
        ]
    for flag in script.backend_flags:  # "torch.backends.cudnn.benchmark = True"
        target, _, value = flag.partition(" = ")
        owner, _, attr = target.rpartition(".")
        initialize.append(f"$setattr({owner}, {attr!r}, {value})")
    # The data loaders are made here, in the scripts' order, before MONAI's parser makes
    # the network: a loader without workers reseeds its transforms from torch's
    # generator and resets it, so the order decides the weights and the shuffles
    # (with the validation loader made at its first reference, after the network, the
    # bundle trained on another order than the scripts)
    initialize += [
        f"$@{t.renames.get(block.target, block.target)}"
        for block in script.blocks
        if _is_loader(block.code)
    ]
    config["initialize"] = initialize
    runs = script.trainer if engine == "trainer" else engine
    config["run"] = [f"$@{t.renames.get(runs, runs)}.run()"]
    return config


def data(value: Any) -> Any:
    """A JSON value of a config as bundle data that MONAI reads back as that value:
    a string or key that MONAI would act on becomes an expression that rebuilds it."""
    translator = Translator.__new__(Translator)  # no ids, no imports: data only
    translator.qualified, translator.ids = {}, set()
    return translator.value(literal_node(value))


def metadata(
    source: str, job: str, values: dict[str, Any], train: dict[str, Any] | None = None
) -> dict[str, Any]:
    """configs/metadata.json: the fields MONAI's bundle specification requires (the
    versions, the authors, the network's data format, read from `train`, the train.json
    of the job) and where the job came from (MONAI parses it as the file's `_meta_`: its
    config text passes the same gate)."""
    versions = symbols.versions()
    meta = {
        "schema": SCHEMA,
        "version": "0.1.0",
        "changelog": {
            "0.1.0": data(f"compiled from {source} by claragen {__version__}")
        },
        "monai_version": versions.get("monai"),
        "pytorch_version": versions.get("torch", "").split("+")[0],
        "numpy_version": versions.get("numpy"),
        # (MONAI 1.x's name: it reads the older optional_packages_version as this one)
        "required_packages_version": {
            "nibabel": versions.get("nibabel"),
            "pytorch-ignite": versions.get("ignite"),
        },
        "name": data(f"{source} {job}"),
        "task": "training, as the Clara Train config says",
        "description": data(
            f"Job {job} of {source}, compiled by claragen {__version__}."
        ),
        "authors": data(f"the authors of {source}"),
        "copyright": data(f"as {source}"),
        "network_data_format": network_data_format(train or {}),
        "search_values": [
            {"parameter": data(param), "value": data(value)}
            for param, value in values.items()
        ],
    }
    problems = names.check_bundle(meta, set(), set())
    if problems:
        raise BundleError("; ".join(problems[:5]))
    return meta


SCHEMA = (
    "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/"
    "meta_schema_20240725.json"
)


def network_data_format(train: dict[str, Any]) -> dict[str, Any]:
    """The network's input and output, as MONAI's verify_net_in_out reads them: the
    channels of network_def, the window (or crop) the network sees, float32."""
    net = train.get(f"{NETWORK}_def", {})

    def resolved(value: Any) -> Any:  # "@CHANNELS" -> the constant's value
        while isinstance(value, str) and value.startswith("@") and value[1:] in train:
            value = train[value[1:]]
        return value

    shape = next(
        (
            resolved(train[k])
            for k in ("ROI_SIZE", "CROP_SIZE", "IMAGE_SIZE")
            if k in train
        ),
        None,
    )
    inputs, outputs = resolved(net.get("in_channels")), resolved(
        net.get("out_channels")
    )

    def tensor(channels: Any, what: str, fmt: str) -> dict[str, Any]:
        count = channels if isinstance(channels, int) else 1
        return {
            "type": "image",
            "format": fmt,
            "modality": "n/a",
            "num_channels": count,
            "spatial_shape": shape if isinstance(shape, list) else [],
            "dtype": "float32",
            "value_range": [],
            "is_patch_data": True,
            "channel_def": {str(i): f"{what} {i}" for i in range(count)},
        }

    return {
        "inputs": {"image": tensor(inputs, "channel", "magnitude")},
        "outputs": {"pred": tensor(outputs, "class", "segmentation")},
    }


_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(data: dict[str, Any]) -> str:
    """A bundle file's text: UTF-8 as it is, but a lone surrogate (which a config can
    spell as a JSON escape, and UTF-8 cannot hold) written as its JSON escape."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
