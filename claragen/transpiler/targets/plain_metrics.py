"""The plain target's metrics: a section's key and additional metrics -> the
`monai.metrics` objects the loop updates, by the rules of `targets/metrics.py`.

    validate.key_metric {"name": "MeanDice", "log_label": "val_mean_dice",
                         "args": {"include_background": false}}
    -> Metric(var="val_key_metric", label="val_mean_dice",
              code='DiceMetric(reduction="mean", include_background=False)',
              inputs=None)  # each case's "pred" and "label": y_pred=, y=
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.emit import Emitter, Imports, literal_node
from claragen.transpiler.ir import Component, DictV, ListV, Lit, Ref, Slot, Value
from claragen.transpiler.targets.metrics import METRICS
from claragen.transpiler.targets.plain_script import SECTION_PREFIX, Block, Metric


class MetricsLowering:
    """Metrics; a mixin of PlainLowering, whose state it reads."""

    diags: Diagnostics
    imports: Imports
    emitter: Emitter
    slot: Callable[[Ref], Slot | None]
    ref_name: Callable[[Ref], str]
    note: Callable[[Component], list[str]]

    def metric(self, comp: Component, section: str, var: str) -> Metric | None:
        rule = METRICS.get(comp.class_name) if comp.path is None else None
        if rule is None:
            self.diags.error(
                "E600",
                comp.span,
                f"the plain target cannot lower the metric {comp.class_name!r} ({comp.locator})",
                "it lowers " + ", ".join(sorted(METRICS)),
            )
            return None
        keywords = [ast.keyword(k, literal_node(v)) for k, v in rule.fixed]
        fixed = {k for k, _ in rule.fixed}
        transform = None
        for key, value in comp.args:
            if key == "output_transform":
                transform = value
            elif key in rule.keep:
                keywords = [kw for kw in keywords if kw.arg != key]
                keywords.append(ast.keyword(key, self.emitter.node(value)))
            elif key not in fixed:
                self.diags.error(
                    "E600",
                    comp.arg_span(key),
                    f"the plain target cannot lower {comp.class_name}'s argument {key!r} yet",
                )
        if rule.written:
            self.imports.add_written(rule.metric)
        else:
            self.imports.add_name("monai.metrics", rule.metric)
        code = ast.unparse(ast.Call(ast.Name(rule.metric), [], keywords))
        inputs: str | None = None  # each case's "pred" and "label"
        if isinstance(transform, Lit | ListV | DictV):  # data: nothing to call
            self.diags.error(
                "E602",
                transform.span,
                f"{comp.class_name}'s output_transform must be a callable: a lambda or "
                f"a '#' expression, not {_data_text(transform)} ({comp.locator})",
                "e.g. \"#monai.handlers.from_engine(['pred', 'label'])\"",
            )
            inputs = "()"
        elif transform is not None and not _reads_pred_label(
            Emitter(Imports(), self.ref_name).node(transform)
        ):
            # from_engine(["pred", "label"]) is what the loop gives a metric by default
            # (looked at above without importing what it names); anything else is called
            call = ast.Call(self.emitter.node(transform), [ast.Name("items")], [])
            inputs = ast.unparse(call)
        label = comp.attr("log_label")
        label_text = str(label.value) if isinstance(label, Lit) else var
        notes = self.note(comp) + ([rule.note] if rule.note else [])
        return Metric(notes, var, label_text, code, inputs, rule.per_case)

    def metrics_of(
        self, section: str, key_ref: Value | None, extra_ref: Value | None
    ) -> list[Metric]:
        metrics: list[Metric] = []
        prefix = SECTION_PREFIX[section]
        if isinstance(key_ref, Ref):
            slot = self.slot(key_ref)
            if isinstance(slot, Component):
                metric = self.metric(slot, section, f"{prefix}_key_metric")
                if metric:
                    metrics.append(metric)
        if isinstance(extra_ref, Ref):
            slot = self.slot(extra_ref)
            for i, comp in enumerate(slot if isinstance(slot, list) else []):
                metric = self.metric(comp, section, f"{prefix}_metric_{i + 1}")
                if metric:
                    metrics.append(metric)
        return metrics


PRED_LABEL = frozenset({"pred", "label"})
FROM_ENGINE = {"from_engine", "monai.handlers.from_engine"}


def _reads_pred_label(node: ast.expr) -> bool:
    """Whether an output_transform is MONAI's `from_engine(["pred", "label"])` (with
    first=False, its default), which gives what the loop gives a metric by default: each
    case's "pred" and "label"."""
    if not (isinstance(node, ast.Call) and ast.unparse(node.func) in FROM_ENGINE):
        return False
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except ValueError:
        return False
    if len(args) > 2 or None in kwargs:
        return False
    bound = dict(zip(("keys", "first"), args, strict=False)) | kwargs
    return set(bound) <= {"keys", "first"} and bound.get("keys") in (
        ["pred", "label"], ("pred", "label")) and bound.get("first", False) is False  # fmt: skip


def keys_beyond_pred_label(post: Block | None, metrics: list[Metric]) -> list[str]:
    """The strings that the post-transforms and metric inputs name besides "pred" and
    "label", any of which may be a key of the batch; ["?"] when a part is not known (a
    transform of the user's own, a post-processing the script does not build). Where
    there are none, the loop decollates the prediction and the label only."""
    named: set[str] = set()
    if post is not None:
        if post.items is not None and any(i.name is None for i in post.items):
            return ["?"]
        for code in [i.code for i in post.items] if post.items else [post.code]:
            named |= _strings(code)
    for metric in metrics:
        named |= _strings(metric.inputs or "")
    return sorted(named - PRED_LABEL)


def _strings(code: str) -> set[str]:
    if not code:
        return set()
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return {"?"}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}  # fmt: skip


def _data_text(value: Value) -> str:
    """How a diagnostic names a value that is data: `True`, `'x'`, a list, an object."""
    if isinstance(value, Lit):
        return repr(value.value)
    return "a list" if isinstance(value, ListV) else "an object"
