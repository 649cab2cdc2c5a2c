"""The one rule for config args that would weaken a deserializer.

A Clara config may name a dataset or a reader whose files come with the MMAR (a
PersistentDataset's cache_dir, a folder of .npy files). What keeps those files from running
code is the deserializer's own guard: `torch.load(weights_only=True)`, `numpy.load
(allow_pickle=False)` and its header bound. An arg that lowers a guard is an error (E411),
wherever the config writes it: as an arg of any component (MONAI passes a reader's
**kwargs on to numpy), as a key of a dict arg (`reader_kwargs`), or as a keyword of a call
in a `#` expression (`#monai.data.NumpyReader(allow_pickle=True)`), whose `**` unpacking
is refused for the same reason (it would hide the keyword).

`WEAKENING` lists each guard's keyword and the values that keep it; tests/gates/
test_deserializers.py enumerates every parameter of torch.load, numpy.load and the component
table that reads like one, so that a new guard of a new release cannot pass unlisted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from claragen.transpiler import symbols

# keyword -> the values that keep the guard; () means the keyword itself is refused
WEAKENING: dict[str, tuple[Any, ...]] = {
    "weights_only": (True,),  # torch.load, PersistentDataset: no pickled objects
    "pickle_module": (),  # torch.load, PersistentDataset: which unpickler runs
    "allow_pickle": (False,),  # numpy.load, NumpyReader: no pickled objects
    "max_header_size": (),  # numpy.load: its bound on a header it parses
}
# Parameters that name pickling but guard no reading: the protocol a writer uses, and
# torch.load's **kwargs for its unpickler (encoding), which only a pickle would read.
HARMLESS = frozenset({"pickle_protocol", "pickle_load_args"})
MISSING = object()  # a value that is not a literal (an expression, a reference)


def why(keyword: str, value: Any = MISSING) -> str | None:
    """Why `keyword=value` weakens a deserializer, or None when it does not."""
    if keyword not in WEAKENING:
        return None
    keeps = WEAKENING[keyword]
    if value is not MISSING and any(
        type(value) is type(k) and value == k for k in keeps
    ):
        return None
    if not keeps:
        return f"{keyword!r} chooses how a file is deserialized"
    shown = " or ".join(repr(k) for k in keeps)
    return f"{keyword!r} may only be {shown}: anything else lets a file run code"


def in_expression(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """(node, why) for each call keyword, dict key or string of an expression that would
    weaken a deserializer, and each `**` unpacking in a call (it hides keywords)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from _positional(node)
            for kw in node.keywords:
                if kw.arg is None:
                    yield kw, "a call unpacks '**' arguments, which may hide a keyword"
                elif (reason := why(kw.arg, _literal(kw.value))) is not None:
                    yield kw, reason
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in WEAKENING:
                yield node, f"the string {node.value!r} names a deserializer's guard"


def _positional(call: ast.Call) -> Iterator[tuple[ast.AST, str]]:
    """A call of a class of the component table, its positional args bound to the
    class's parameters as Python binds them (`NumpyReader(None, None, True)` passes
    allow_pickle=True); a `*` unpacking that could reach a guard is refused."""
    sym = symbols.lookup(ast.unparse(call.func).rsplit(".", 1)[-1])
    if sym is None or not sym.params or not call.args:
        return
    guarded = any(p in WEAKENING for p in sym.params)
    for param, arg in zip(sym.params, call.args, strict=False):
        if isinstance(arg, ast.Starred):
            if guarded:
                yield arg, (f"a call of {sym.name} unpacks '*' arguments, which may "
                            "pass one of its guards")  # fmt: skip
            return
        reason = why(param, _literal(arg))
        if reason is not None:
            yield arg, f"{reason} (the argument {param!r} of {sym.name}, by position)"


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING
