"""Where a class's `**kwargs` go: the names a config may give it beyond its own signature.

A MONAI class that takes `**kwargs` swallows any keyword; whether an unknown one does
anything depends on where the class sends it. This reads the source of the constructor (and
of what it forwards to) with `ast`, nothing is run:

- `Callee(..., **kwargs)`, `super().__init__(..., **kwargs)`, `Base.__init__(self, ...,
  **kwargs)`: the callee's own parameters, and, when it too takes `**kwargs`, where it sends
  them (recursively);
- `kwargs.get("dim")`, `kwargs["dim"]`, `kwargs.pop("dim")`, `"dim" in kwargs`: that name;
- any other use (stored for later, sent to a callee chosen at run time such as `np.pad`, a
  reader or a torchvision transform): open, `None`.

`reach(cls)` is a sorted list of the names the class takes in all (its signature's and those
its `**kwargs` reach), or `None` when they are open. The component table stores it per
class ("kwargs"); `check_components` refuses an arg outside a closed list (E401).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

_DICT_READS = frozenset({"get", "pop", "setdefault"})


def _init_owner(cls: type) -> type:
    return next((k for k in cls.__mro__ if "__init__" in vars(k)), object)


def _function_of(obj: Any) -> tuple[Any, type | None]:
    if inspect.isclass(obj):
        owner = _init_owner(obj)
        return (owner.__init__ if owner is not object else None), obj
    return obj, None


def reach(obj: Any) -> list[str] | None:
    names = _reach(obj, frozenset())
    return None if names is None else sorted(names)


def _reach(obj: Any, seen: frozenset) -> set[str] | None:
    if obj in seen:
        return set()
    seen = seen | {obj}
    fn, cls = _function_of(obj)
    if fn is None:
        return set()
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if cls is not None and params and params[0].name == "self":
        params = params[1:]
    named = {
        p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    varkw = [p.name for p in params if p.kind is p.VAR_KEYWORD]
    if not varkw:
        return named
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    found = _uses(tree, varkw[0], fn, cls, seen)
    return None if found is None else named | found


def _uses(
    tree: ast.AST, kw: str, fn: Any, cls: type | None, seen: frozenset
) -> set[str] | None:
    """The names the uses of `kw` in `tree` reach; None at the first open use."""
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == kw):
            continue
        if isinstance(node.ctx, ast.Store) or isinstance(parents.get(node), ast.arg):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.keyword) and parent.arg is None:
            target = _callee(parents[parent], fn, cls)
            if target is None:
                return None
            more = _reach(target, seen)
            if more is None:
                return None
            out |= more
        elif isinstance(parent, ast.Subscript) and _const(parent.slice) is not None:
            out.add(_const(parent.slice))  # type: ignore[arg-type]
        elif isinstance(parent, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in parent.ops
        ):
            if isinstance(parent.left, ast.Constant) and isinstance(
                parent.left.value, str
            ):
                out.add(parent.left.value)
        elif (
            isinstance(parent, ast.Attribute)
            and parent.attr in _DICT_READS
            and isinstance(call := parents.get(parent), ast.Call)
            and call.args
            and _const(call.args[0]) is not None
        ):
            out.add(_const(call.args[0]))  # type: ignore[arg-type]
        elif isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            more = _stored(parent.targets[0], tree, fn, cls, seen)
            if more is None:
                return None
            out |= more
        else:
            return None
    return out


def _stored(
    target: ast.AST, tree: ast.AST, fn: Any, cls: type | None, seen: frozenset
) -> set[str] | None:
    """`self.kwargs = kwargs` (or `self.converter.kwargs = kwargs`, where the function made
    `self.converter = AsDiscrete(...)`): the names that class's code reads from that
    attribute, by the same rules; None when the holder or a use is not plain."""
    if not isinstance(target, ast.Attribute) or cls is None:
        return None
    holder_expr, attr = target.value, target.attr
    holder: Any = None
    if isinstance(holder_expr, ast.Name) and holder_expr.id == "self":
        holder = cls
    elif (
        isinstance(holder_expr, ast.Attribute)
        and isinstance(holder_expr.value, ast.Name)
        and holder_expr.value.id == "self"
    ):
        for node in ast.walk(tree):  # self.converter = AsDiscrete(...)
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Attribute)
                and node.targets[0].attr == holder_expr.attr
                and isinstance(node.targets[0].value, ast.Name)
                and node.targets[0].value.id == "self"
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
            ):
                holder = getattr(fn, "__globals__", {}).get(node.value.func.id)
    if not inspect.isclass(holder):
        return None
    out: set[str] = set()
    for owner in holder.__mro__:
        if owner is object or owner.__module__.startswith("builtins"):
            continue
        try:
            source = ast.parse(textwrap.dedent(inspect.getsource(owner)))
        except (OSError, TypeError, SyntaxError):
            return None
        for func in ast.walk(source):
            if not isinstance(func, ast.FunctionDef):
                continue
            # `self.<attr>` read in this method: rewrite it to a name and reuse _uses
            reads = [
                n
                for n in ast.walk(func)
                if isinstance(n, ast.Attribute)
                and n.attr == attr
                and isinstance(n.value, ast.Name)
                and n.value.id == "self"
                and isinstance(n.ctx, ast.Load)
            ]
            if not reads:
                continue
            alias = f"_kwargs_{attr}"
            for n in reads:
                n.__class__ = ast.Name
                n.id, n.ctx = alias, ast.Load()
            method = getattr(owner, func.name, None)
            found = _uses(func, alias, method or fn, owner, seen)
            if found is None:
                return None
            out |= found
    return out


def _const(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _callee(call: ast.Call, fn: Any, cls: type | None) -> Any | None:
    """The class or function a `**kwargs` call sends them to, when the source names it."""
    func = call.func
    glb = getattr(fn, "__globals__", {})
    if isinstance(func, ast.Name):
        return glb.get(func.id)
    if not (isinstance(func, ast.Attribute) and func.attr == "__init__"):
        return None
    base = func.value
    if cls is not None and isinstance(base, ast.Call):  # super().__init__
        if isinstance(base.func, ast.Name) and base.func.id == "super":
            mro = cls.__mro__
            after = mro[mro.index(_init_owner(cls)) + 1 :]
            nxt = next((k for k in after if "__init__" in vars(k)), object)
            return None if nxt is object else nxt
    if isinstance(base, ast.Name) and inspect.isclass(glb.get(base.id)):
        return glb[base.id]  # Base.__init__(self, ...)
    return None
