"""Move MONAI 0.5-0.8 names that Clara 4.x configs use to the installed MONAI (SPEC 8, 10).

    {"name": "UNet", "args": {"dimensions": 3}}
    -> {"name": "UNet", "args": {"spatial_dims": 3}}   # note: "dimensions -> spatial_dims"

Class renames are a table; every rule beyond a rename is a named function in `ARG_RULES`.
Each migration leaves a note that the generated code shows as a comment.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.ir import (
    Component,
    Config,
    ListV,
    Lit,
    Ref,
    RuntimeVar,
    Template,
    Value,
    map_components,
    map_config,
    read_variable,
    walk,
)
from claragen.transpiler.monai_history import (
    CHANGED_DEFAULTS,
    CLASS_RENAMES,
    MATTERS_WITH,
    NO_OPS,
)
from claragen.transpiler.written import written_for

Rule = Callable[[Component], Component]

# Clara custom modules that MONAI took in: BYOC module -> the MONAI module now.
UPSTREAMED: dict[str, str] = {
    "deepgrow.transforms": "monai.apps.deepgrow.transforms",
    "deepgrow.interaction": "monai.apps.deepgrow.interaction",
}
# BYOC classes that are a MONAI class under another name: path -> (name, note).
UPSTREAMED_CLASSES: dict[str, tuple[str, str]] = {
    "deepgrow.interaction.ClickInteraction": (
        "Interaction",
        "ClickInteraction (custom/deepgrow) -> MONAI's Interaction; it only built its "
        "click transforms from config dicts",
    ),
}
# Args of the upstreamed classes that MONAI no longer takes, and why.
DROPPED_ARGS: dict[str, tuple[tuple[str, str], ...]] = {
    name: (
        ("batched", "MONAI's Interaction decollates the batch for click transforms"),
    )
    for name in ("FindDiscrepancyRegionsd", "AddRandomGuidanced", "AddGuidanceSignald")
}


def _note(comp: Component, text: str) -> Component:
    return dataclasses.replace(comp, notes=comp.notes + (f"migrated: {text}",))


def keys_to_dict_transform(comp: Component) -> Component:
    """An array transform given `keys` (`RandGaussianNoise`, 4.0-EA) -> its dict version."""
    sym = symbols.lookup(comp.class_name)
    if comp.arg("keys") is None or sym is None or sym.accepts("keys"):
        return comp
    dict_sym = symbols.lookup(comp.class_name + "d")
    if dict_sym is None or not dict_sym.accepts("keys"):
        return comp
    old = comp.class_name
    comp = dataclasses.replace(comp, name=old + "d")
    return _note(comp, f"{old} with keys -> {old}d (the dictionary transform)")


def dimensions_to_spatial_dims(comp: Component) -> Component:
    """`UNet(dimensions=3)` -> `UNet(spatial_dims=3)` (MONAI 0.9 renamed the arg)."""
    sym = symbols.lookup(comp.class_name)
    value = comp.arg("dimensions")
    if value is None or sym is None or sym.params is None or "dimensions" in sym.params:
        return comp
    if "spatial_dims" not in sym.params or comp.arg("spatial_dims") is not None:
        return comp
    comp = comp.with_arg_renamed("dimensions", "spatial_dims")
    return _note(comp, "dimensions -> spatial_dims")


def dropped_no_ops(comp: Component) -> Component:
    """An arg of MONAI 0.8 that chose what today's class always does (NO_OPS): left
    out, with a note, where the class no longer takes it."""
    sym = symbols.lookup(comp.class_name)
    for arg, why in NO_OPS.items():
        if comp.arg(arg) is not None and sym is not None and arg not in sym.params:
            comp = _note(comp.with_arg(arg, None), f"{arg} left out ({why})")
    return comp


def _flags(value: Value | None) -> list[bool] | None:
    """`True` -> [True]; `[true, false]` (one per key) -> [True, False]; else None."""
    if isinstance(value, Lit) and isinstance(value.value, bool):
        return [value.value]
    if (
        isinstance(value, ListV)
        and value.items
        and all(isinstance(v, Lit) and isinstance(v.value, bool) for v in value.items)
    ):
        return [v.value for v in value.items]  # type: ignore[union-attr]
    return None


def as_discrete_n_classes(comp: Component) -> Component:
    """MONAI 0.8's boolean `to_onehot` (with `n_classes`) -> MONAI 1.x's class count,
    which refuses a boolean: `to_onehot=True, n_classes=N` -> `to_onehot=N`, `False` ->
    left out (off), and per key alike (`[true, false]` -> `[N, None]`); a redundant
    n_classes is dropped. `True` with no class count is left for `migrate` to refuse.
    MONAI 0.7 and 0.8 also named the count `num_classes` beside a boolean to_onehot."""
    onehot = comp.arg("to_onehot")
    flags = _flags(onehot)
    if flags is not None and comp.arg("n_classes") is None and comp.arg("num_classes"):
        comp = comp.with_arg("n_classes", comp.arg("num_classes"))
        comp = comp.with_arg("num_classes", None)
    n_classes = comp.arg("n_classes")
    if n_classes is not None:
        comp = comp.with_arg("n_classes", None)
    if flags is None:  # a count already (or an expression): MONAI 1.x's own form
        if n_classes is None:
            return comp
        return _note(
            comp, "n_classes dropped (to_onehot already gives the class count)"
        )
    if not any(flags):
        comp = comp.with_arg("to_onehot", None)
        return _note(
            comp, "to_onehot=False left out (MONAI 1.x: to_onehot=None is off)"
        )
    if n_classes is None:
        return comp
    assert onehot is not None
    if isinstance(onehot, Lit):
        count: Value = n_classes
    else:  # per key, with one class count or one per key
        counts = (list(n_classes.items) if isinstance(n_classes, ListV)
                  else [n_classes] * len(flags))  # fmt: skip
        if len(counts) != len(flags):
            return comp.with_arg("n_classes", n_classes)  # E401 says what replaced it
        count = ListV(onehot.span, tuple(c if f else Lit(onehot.span, None)
                                          for f, c in zip(flags, counts, strict=True)))  # fmt: skip
    comp = comp.with_arg("to_onehot", count)
    return _note(comp, "to_onehot=True, n_classes=N -> to_onehot=N")


def as_discrete_threshold(comp: Component) -> Component:
    """`threshold_values=True, logit_thresh=t` -> `threshold=t` (else silently ignored)."""
    flag = comp.arg("threshold_values")
    thresh = comp.arg("logit_thresh")
    if flag is None and thresh is None:
        return comp
    flags = _flags(flag) if flag is not None else [False]
    if flags is None:  # computed: E401 says what replaced it
        return comp
    comp = comp.with_arg("threshold_values", None).with_arg("logit_thresh", None)
    if not any(flags):
        return _note(
            comp, "threshold_values/logit_thresh dropped (thresholding was off)"
        )
    span = flag.span if flag is not None else comp.span
    default = Lit(span, 0.5)  # MONAI 0.8's logit_thresh
    if isinstance(flag, Lit):  # one for every key
        comp = comp.with_arg("threshold", thresh if thresh is not None else default)
        return _note(comp, "threshold_values=True, logit_thresh=t -> threshold=t")
    per_key = (list(thresh.items) if isinstance(thresh, ListV)
               else [thresh or default] * len(flags))  # fmt: skip
    if len(per_key) != len(flags):
        return comp.with_arg("threshold_values", flag)  # E401 says what replaced it
    comp = comp.with_arg("threshold", ListV(span, tuple(
        t if f else Lit(span, None) for f, t in zip(flags, per_key, strict=True))))  # fmt: skip
    return _note(comp, "threshold_values/logit_thresh per key -> threshold per key")


def changed_defaults(comp: Component) -> Component:
    """An arg a Clara 4.x config leaves out meant MONAI 0.8's default: where today's
    differs, the old one is written out (`SaveImaged` resampled to the original image).
    """
    for arg, (old, new) in CHANGED_DEFAULTS.get(comp.class_name, {}).items():
        needs = MATTERS_WITH.get(arg)
        if needs is not None and _no_value(comp.arg(needs)):
            continue
        if comp.arg(arg) is None:
            comp = _note(
                comp.with_arg(arg, Lit(comp.span, old)),
                f"{arg}={old!r}, MONAI 0.8's default (today's is {new!r})",
            )
    return comp


def _no_value(value) -> bool:
    """An arg left out, or given as 0 (a margin of none)."""
    return value is None or (isinstance(value, Lit) and value.value in (0, [0], None))


def path_to_name(comp: Component) -> Component:
    """A `path` into MONAI (or a Clara module MONAI took in) -> the table's class, so its
    args are checked and migrated like any other: `deepgrow.transforms.AddGuidanceSignald`
    -> `AddGuidanceSignald` (monai.apps.deepgrow.transforms)."""
    assert comp.path is not None
    module, _, name = comp.path.rpartition(".")
    note = None
    if comp.path in UPSTREAMED_CLASSES:
        name, note = UPSTREAMED_CLASSES[comp.path]
        module = UPSTREAMED[module]
    elif module in UPSTREAMED:
        note = f"{comp.path} -> {UPSTREAMED[module]}.{name} (MONAI took it in)"
        module = UPSTREAMED[module]
    sym = symbols.lookup(name)
    if sym is None or sym.module != module and not module.startswith(sym.module):
        return comp
    comp = dataclasses.replace(comp, name=name, path=None)
    if note:
        comp = _note(comp, note)
    for arg, why in DROPPED_ARGS.get(name, ()):
        if comp.arg(arg) is not None:
            comp = _note(comp.with_arg(arg, None), f"{arg!r} dropped: {why}")
    return comp


def persistent_cache_dir(comp: Component, ckpt_dir: str) -> Component:
    """`PersistentDataset` without `cache_dir` (Clara filled one in) -> a `cache` folder
    beside the checkpoints, which MONAI now requires."""
    if comp.arg("cache_dir") is not None:
        return comp
    parts = (RuntimeVar(comp.span, "MMAR_CKPT_DIR", ckpt_dir), "/cache")
    comp = comp.with_arg("cache_dir", Template(comp.span, parts))
    return _note(comp, "cache_dir={MMAR_CKPT_DIR}/cache (MONAI requires a cache_dir)")


def load_image_meta(comp: Component, needs_meta: bool) -> Component:
    """`LoadImaged` returns no `*_meta_dict` by default now; keep it where one is read."""
    if not needs_meta or comp.arg("image_only") is not None:
        return comp
    comp = comp.with_arg("image_only", Lit(comp.span, False))
    return _note(comp, "image_only=False, since the config reads *_meta_dict")


ARG_RULES: dict[str, tuple[Rule, ...]] = {
    "AsDiscreted": (as_discrete_n_classes, as_discrete_threshold),
    "AsDiscrete": (as_discrete_n_classes, as_discrete_threshold),
}


# Transforms that still read `<key>_meta_dict` entries rather than MetaTensor metadata.
META_DICT_READERS = frozenset(
    {
        "SpatialCropForegroundd",
        "SpatialCropGuidanced",
        "AddGuidanceFromPointsd",
        "Fetch2DSliced",
        "ResizeGuidanced",
        "RestoreLabeld",
    }
)


def _reads_meta_dict(config: Config) -> bool:
    for _, _, comp in config.components():
        if comp.class_name in META_DICT_READERS or (
            comp.path and comp.path.rpartition(".")[2] in META_DICT_READERS
        ):
            return True
        for _, value in comp.args:
            for node in walk(value):
                if isinstance(node, Lit) and isinstance(node.value, str):
                    if node.value.endswith("_meta_dict"):
                        return True
                source = getattr(node, "source", "")
                if "_meta_dict" in source:
                    return True
    return False


def to_tensor_for_invertd(comp: Component) -> Component:
    """`ToTensord` in a config that inverts its transforms -> `EnsureTyped`: since MONAI 0.9
    ToTensord's inverse turns tensors back into numpy arrays, which the spatial inverses
    that follow it in `Invertd` reject."""
    comp = dataclasses.replace(comp, name="EnsureTyped")
    return _note(comp, "ToTensord -> EnsureTyped (Invertd runs this list backwards)")


def _spatial_rank(comp: Component) -> int | None:
    size = comp.arg("spatial_size")
    return len(size.items) if isinstance(size, ListV) else None


def slices_of_2d_labels(pipeline: list[Component]) -> list[Component]:
    """`FindAllValidSlicesd` in a pipeline of 2D images -> dropped, with a note on the
    transform after it. Clara's custom/deepgrow version passed 2D labels through; MONAI's
    requires CDHW labels, and its seed-point transforms need no slice ids for 2D labels
    (NVIDIA's own 4.1 deepgrow_2D config dropped it the same way)."""
    if not any(_spatial_rank(c) == 2 for c in pipeline):
        return pipeline
    out: list[Component] = []
    dropped: Component | None = None
    for comp in pipeline:
        if comp.class_name == "FindAllValidSlicesd":
            dropped = comp
            continue
        if dropped is not None:
            comp = _note(
                comp,
                f"FindAllValidSlicesd (line {dropped.span.line}) dropped: the images "
                "are 2D slices, and MONAI's version takes 3D labels only",
            )
            dropped = None
        out.append(comp)
    return out


def _inverts_nothing(comp: Component, config: Config) -> bool:
    """An Invertd whose `transform` is a list of transforms none of which MONAI can
    invert (no InvertibleTransform; a BYOC one may be)."""
    ref = comp.arg("transform")
    if comp.class_name != "Invertd" or not isinstance(ref, Ref) or ref.section is None:
        return False
    pipeline = config.sections.get(ref.section, {}).get(ref.name)
    if not isinstance(pipeline, list):
        return False
    for step in pipeline:
        if step.class_name == "ToTensord":
            continue  # inverted, it is EnsureTyped (to_tensor_for_invertd): no inverse
        sym = symbols.lookup(step.class_name) if step.path is None else None
        if sym is None or sym.invertible is not False:
            return False
    return True


def drop_empty_inverts(config: Config, ctx: PassContext) -> Config:
    """Invertd over a pipeline that inverts nothing leaves its keys as they are and warns
    for each case (MONAI: "transform info ... is not available"): it is left out, and
    W101 says so once."""
    sections = {}
    for section, slots in config.sections.items():
        new = dict(slots)
        for key, slot in slots.items():
            if not isinstance(slot, list):
                continue
            kept: list = []
            pending: str | None = None
            for comp in slot:
                if isinstance(comp, Component) and _inverts_nothing(comp, config):
                    ref = comp.arg("transform")
                    pending = (
                        f"Invertd (line {comp.span.line}) left out: it inverts nothing "
                        f"of {ref.section}.{ref.name}"  # type: ignore[union-attr]
                    )
                    ctx.diags.warning(
                        "W101",
                        comp.name_span or comp.span,
                        f"Invertd is left out: no transform of {ref.section}."  # type: ignore[union-attr]
                        f"{ref.name} is invertible, so it would change nothing and "  # type: ignore[union-attr]
                        f"warn for every case ({comp.locator})",
                        "remove it from the config, or invert a pipeline with spatial "
                        "transforms",
                    )
                    continue
                if pending is not None and isinstance(comp, Component):
                    comp = dataclasses.replace(comp, notes=(*comp.notes, pending))
                    pending = None
                kept.append(comp)
            if pending is not None and kept and isinstance(kept[-1], Component):
                kept[-1] = dataclasses.replace(
                    kept[-1], notes=kept[-1].notes + (pending,)
                )
            new[key] = kept
        sections[section] = new
    return dataclasses.replace(config, sections=sections)


def migrate_monai(config: Config, ctx: PassContext) -> Config:
    config = drop_empty_inverts(config, ctx)
    needs_meta = _reads_meta_dict(config)
    inverts = any(c.class_name == "Invertd" for c in config.every_component())
    ckpt_dir = str(read_variable(config, "MMAR_CKPT_DIR", "models"))

    def migrate(comp: Component, present: set[str]) -> Component:
        if comp.path is not None:
            comp = path_to_name(comp)
        if comp.path is not None or comp.name is None:
            return comp
        args = {k for k, _ in comp.args}
        if (older := written_for(comp.name, args, present)) is not None:
            comp = _note(
                dataclasses.replace(
                    comp, name=older.name, origin=comp.origin or comp.name
                ),
                f"{older.was}, written out below ({older.why})",
            )
        if comp.name in CLASS_RENAMES:
            new_name, extra, renames = CLASS_RENAMES[comp.name]
            old = comp.name
            comp = dataclasses.replace(comp, name=new_name, origin=comp.origin or old)
            for before, after in renames:
                comp = comp.with_arg_renamed(before, after)
            for key, value in extra:
                if comp.arg(key) is None:
                    comp = comp.with_arg(key, Lit(comp.span, value))
            comp = _note(comp, f"{old} -> {new_name}")
        comp = keys_to_dict_transform(comp)
        comp = dimensions_to_spatial_dims(comp)
        comp = dropped_no_ops(comp)

        for rule in ARG_RULES.get(comp.class_name, ()):
            comp = rule(comp)
        if comp.class_name in ARG_RULES and True in (
            _flags(comp.arg("to_onehot")) or ()
        ):
            ctx.diags.error(
                "E401",
                comp.arg_span("to_onehot"),
                f"{comp.class_name}'s to_onehot=True needs the number of classes: MONAI "
                f"0.8 read it from n_classes, which the config does not give, and MONAI "
                f"1.x refuses a boolean ({comp.locator})",
                "write to_onehot=<number of classes>",
            )
        if config.dialect != "3":  # a 3.x port chose its args itself
            comp = changed_defaults(comp)
        if comp.class_name in ("LoadImaged", "LoadImage"):
            comp = load_image_meta(comp, needs_meta)
        if comp.class_name == "ToTensord" and inverts:
            comp = to_tensor_for_invertd(comp)
        if comp.class_name == "PersistentDataset":
            comp = persistent_cache_dir(comp, ckpt_dir)
        return comp

    def nested(present: set[str]) -> Callable[[Value], Value]:  # in args, plain slots
        return lambda v: migrate(v, present) if isinstance(v, Component) else v

    # each section's components, knowing the classes beside them (written_for); then
    # those outside the sections
    sections = {}
    for section, slots in config.sections.items():
        one = dataclasses.replace(config, sections={section: slots}, extras={})
        present = {c.class_name for c in one.every_component()}
        one = map_config(one, nested(present))
        one = map_components(one, functools.partial(migrate, present=present))
        sections[section] = one.sections[section]
    rest = map_config(dataclasses.replace(config, sections={}), nested(set()))
    config = dataclasses.replace(config, sections=sections, extras=rest.extras)
    sections = {
        section: {
            key: slices_of_2d_labels(slot) if isinstance(slot, list) else slot
            for key, slot in slots.items()
        }
        for section, slots in config.sections.items()
    }
    return dataclasses.replace(config, sections=sections)
