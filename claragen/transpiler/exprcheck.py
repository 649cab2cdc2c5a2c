"""Check a config's `#` expression or `lambda` before it becomes code (SPEC 4.3).

Names are resolved per scope, as Python resolves them: a lambda's parameters exist only in
its body, a comprehension's targets only inside it (its first iterable is read outside).
A name is a lambda parameter or comprehension target in scope, an `@ref`, one of a few
harmless builtins, or the first part of a module chain. A module chain (`torch.nn.ReLU`,
`monai.handlers.from_engine`) must name public ML API: a class of the component table or
an entry of `PUBLIC_API` below, never a module alone, never what a module happens to import
(`torch.os`, `torch.serialization.pickle`), never an evaluator of strings
(`monai.bundle.ConfigParser`, `monai.utils.optional_import`)::

    >>> [p.code for p in check_expression(ast.parse("torch.os.system('x')", mode="eval"))]
    ['E205']
    >>> check_expression(ast.parse("[0 for eval in ()] or 2", mode="eval"))
    []
    >>> [p.code for p in check_expression(ast.parse("[0 for eval in ()] or eval('x')", mode="eval"))]
    ['E204']

Attributes of other values (`x['pred'].argmax`, `engine.state.iteration`) may not be
private (`_x`, `__x__`) nor reach a frame, code object or globals (`gi_frame`, `f_globals`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache

from claragen.transpiler import symbols

# The modules an expression may name; `np` is numpy (`import numpy as np`).
MODULES = {"monai": "monai", "torch": "torch", "numpy": "numpy", "np": "numpy",
           "math": "math", "ignite": "ignite"}  # fmt: skip
REF_PREFIX = (
    "__claragen_ref_"  # how an @name inside #expr is spelled in the parsed tree
)
VAR_PREFIX = "__claragen_var_"  # how a {VAR} inside #expr or a lambda is spelled there

BUILTINS = frozenset(
    {"len", "min", "max", "int", "float", "str", "bool", "list", "dict", "tuple",
     "range", "abs", "round", "sum", "sorted", "zip", "enumerate", "isinstance", "slice",
     "print", "True", "False", "None"}
)  # fmt: skip

# Functions, constants and enums that configs use in expressions, beside the component
# table's classes. Each is plain ML API: it computes on values, it neither imports, opens,
# unpickles nor evaluates text.
_TORCH_DTYPES = ("float16", "float32", "float64", "bfloat16", "half", "float", "double",
                 "int8", "int16", "int32", "int64", "uint8", "long", "int", "bool")  # fmt: skip
_TORCH_FUNCS = ("tensor", "as_tensor", "zeros", "ones", "zeros_like", "ones_like", "full",
                "arange", "linspace", "cat", "stack", "argmax", "argmin", "max", "min",
                "mean", "sum", "sigmoid", "softmax", "tanh", "relu", "exp", "log", "sqrt",
                "abs", "clamp", "where", "squeeze", "unsqueeze", "flatten", "round",
                "device", "Size", "no_grad")  # fmt: skip
_FUNCTIONAL = ("softmax", "log_softmax", "sigmoid", "relu", "leaky_relu", "one_hot",
               "interpolate", "pad", "cross_entropy", "binary_cross_entropy",
               "binary_cross_entropy_with_logits", "mse_loss", "l1_loss", "avg_pool3d",
               "max_pool3d", "avg_pool2d", "max_pool2d")  # fmt: skip
_NUMPY = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
          "bool_", "array", "asarray", "zeros", "ones", "arange", "linspace", "mean",
          "sum", "max", "min", "argmax", "stack", "concatenate", "clip", "pi", "e", "inf",
          "nan", "round", "abs", "sqrt", "exp", "log", "where", "squeeze", "expand_dims",
          "transpose")  # fmt: skip
_MATH = ("pi", "e", "inf", "nan", "tau", "sqrt", "exp", "log", "log2", "log10", "pow",
         "floor", "ceil", "cos", "sin", "tan", "isclose", "isfinite", "isnan", "fabs",
         "radians", "degrees")  # fmt: skip
_MONAI = ("handlers.from_engine", "utils.InterpolateMode", "utils.GridSampleMode",
          "utils.GridSamplePadMode", "utils.NumpyPadMode", "utils.PytorchPadMode",
          "utils.BlendMode", "utils.LossReduction", "utils.MetricReduction",
          "utils.UpsampleMode", "utils.Weight", "utils.CommonKeys", "utils.Method",
          "utils.ForwardMode", "utils.TransformBackends", "data.decollate_batch",
          "data.list_data_collate", "data.MetaTensor")  # fmt: skip
PUBLIC_API = frozenset(
    [f"torch.{n}" for n in _TORCH_DTYPES + _TORCH_FUNCS]
    + [f"torch.nn.functional.{n}" for n in _FUNCTIONAL]
    + [f"numpy.{n}" for n in _NUMPY]
    + [f"math.{n}" for n in _MATH]
    + [f"monai.{n}" for n in _MONAI]
    + ["ignite.engine.Events"]
)

# Attributes of any value that lead to frames, code or globals (and so to builtins).
INTROSPECTION = frozenset(
    {"gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await",
     "ag_frame", "ag_code", "ag_await", "f_globals", "f_locals", "f_builtins", "f_back",
     "f_code", "tb_frame", "tb_next", "func_globals", "func_code", "mro"}
)  # fmt: skip


@dataclass(frozen=True)
class Problem:
    code: str  # E204 (a name), E205 (an attribute), E206 (a construct)
    message: str  # completes "the '#' expression '...' ..."
    help: str | None = None


@cache
def public_api() -> frozenset[str]:
    """Every dotted name an expression may reach: the component table's classes and
    PUBLIC_API."""
    return symbols.qualified_names() | PUBLIC_API


def check_expression(tree: ast.Expression) -> list[Problem]:
    """Every problem of an expression, in source order, each said once."""
    checker = _Checker()
    checker.visit(tree.body, frozenset())
    return list(dict.fromkeys(checker.problems))


def module_chain(node: ast.expr) -> tuple[str, list[str]] | None:
    """`torch.nn.ReLU` -> ("torch", ["nn", "ReLU"]); None when the chain's root is no
    name."""
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return node.id, attrs[::-1]


def _targets(node: ast.expr) -> list[ast.Name] | None:
    """The names a comprehension target binds; None when it assigns anything else (an
    attribute or an item: `for torch.x in ...` would change a module)."""
    if isinstance(node, ast.Name):
        return [node]
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    if isinstance(node, ast.Tuple | ast.List):
        names: list[ast.Name] = []
        for elt in node.elts:
            got = _targets(elt)
            if got is None:
                return None
            names += got
        return names
    return None


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def report(self, code: str, message: str, help_: str | None = None) -> None:
        self.problems.append(Problem(code, message, help_))

    def visit(self, node: ast.AST, scope: frozenset[str]) -> None:
        if isinstance(node, ast.Lambda):
            return self.visit_lambda(node, scope)
        if isinstance(
            node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
        ):
            return self.visit_comprehension(node, scope)
        if isinstance(node, ast.Attribute):
            return self.visit_attribute(node, scope)
        if isinstance(node, ast.Name):
            return self.visit_name(node, scope)
        if isinstance(node, ast.NamedExpr):
            self.report("E206", "assigns a name (':='), which a config may not do",
                        "compute the value without ':='")  # fmt: skip
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            if "__" in str(node.value):
                self.report(
                    "E206",
                    f"holds the string {node.value!r}: a '__' name in a string can "
                    "reach Python's internals",
                    "a config's expressions need no '__' names",
                )
            return None
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope)
        return None

    def visit_lambda(self, node: ast.Lambda, scope: frozenset[str]) -> None:
        args = node.args
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default, scope)  # defaults are read where the lambda is made
        params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        params += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        for name in params:
            if name.startswith("__"):
                self.report("E204", f"names a parameter {name!r}, which a config may "
                            "not use")  # fmt: skip
        self.visit(node.body, scope | frozenset(params))

    def visit_comprehension(self, node: ast.expr, scope: frozenset[str]) -> None:
        inner = scope
        for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
            # The first iterable is evaluated in the enclosing scope, the others inside.
            self.visit(gen.iter, scope if i == 0 else inner)
            names = _targets(gen.target)
            if names is None:
                self.report(
                    "E206",
                    f"assigns to {ast.unparse(gen.target)!r} in a comprehension",
                    "a comprehension's 'for' takes plain names: 'for x in ...'",
                )
                continue
            for name in names:
                if name.id.startswith("__"):
                    self.report(
                        "E204", f"binds {name.id!r}, which a config may not use"
                    )
            inner = inner | frozenset(n.id for n in names)
            for cond in gen.ifs:
                self.visit(cond, inner)
        if isinstance(node, ast.DictComp):
            self.visit(node.key, inner)
            self.visit(node.value, inner)
        else:
            self.visit(node.elt, inner)  # type: ignore[attr-defined]

    def visit_name(self, node: ast.Name, scope: frozenset[str]) -> None:
        name = node.id
        if (
            name in scope
            or name.startswith((REF_PREFIX, VAR_PREFIX))
            or name in BUILTINS
        ):
            return
        if name.startswith("__"):
            self.report("E204", f"uses {name!r}, which a config may not use")
        elif name in MODULES:
            self.report(
                "E205",
                f"uses the module {name!r} itself; an expression may use its classes "
                "and functions, not the module",
                f"name what you need of it, e.g. '{name}.{_example(name)}'",
            )
        else:
            self.report(
                "E204",
                f"uses the name {name!r}, which is neither a module claragen imports "
                f"({', '.join(sorted(MODULES))}), a lambda parameter nor a "
                "comprehension variable in scope",
            )

    def visit_attribute(self, node: ast.Attribute, scope: frozenset[str]) -> None:
        chain = module_chain(node)
        if chain is not None and chain[0] in MODULES and chain[0] not in scope:
            return self.visit_module_chain(chain[0], chain[1])
        if node.attr.startswith("_"):
            self.report("E205", f"uses the private attribute {node.attr!r}",
                        "an expression may use public attributes only")  # fmt: skip
        elif node.attr in INTROSPECTION:
            self.report("E205", f"uses the attribute {node.attr!r}, which reaches "
                        "Python's frames, code or globals")  # fmt: skip
        self.visit(node.value, scope)
        return None

    def visit_module_chain(self, root: str, attrs: list[str]) -> None:
        dotted = ".".join([MODULES[root], *attrs])
        shown = ".".join([root, *attrs])
        api = public_api()
        parts = dotted.split(".")
        for end in range(len(parts), 1, -1):
            if ".".join(parts[:end]) in api:
                # past a class, only its constants: monai.utils.InterpolateMode.BILINEAR
                if all(p.isupper() and not p.startswith("_") for p in parts[end:]):
                    return
                break
        if any(prefix.startswith(dotted + ".") for prefix in api):
            self.report(
                "E205",
                f"uses the module {shown!r} itself; an expression may use its classes "
                "and functions, not the module",
            )
            return
        self.report(
            "E205",
            f"uses {shown!r}, which is not public ML API that a config may reach "
            "(a class of the component table or a listed function)",
            "use the classes and functions of monai, torch, numpy and math, e.g. "
            "'monai.handlers.from_engine'; a module's own imports (os, pickle, ...) "
            "and evaluators of text are out of reach",
        )


def _example(module: str) -> str:
    return {"monai": "handlers.from_engine", "torch": "float32", "numpy": "float32",
            "np": "float32", "math": "pi", "ignite": "engine.Events"}[module]  # fmt: skip
