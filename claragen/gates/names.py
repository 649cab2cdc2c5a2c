"""What a name or a string from a config may be in each language claragen writes, checked
against that language's own rules, not claragen's.

    Python source   a name is an identifier, not a keyword, spelled as Python reads it
                    (NFKC); strings are written with repr (emit.py), never spliced
    bundle JSON     MONAI's ConfigParser reads keys such as `_target_`, `_requires_`,
                    `_mode_`, `_disabled_`, `_desc_`, `_meta_` as directives, keys that
                    start with `+` as merges, and strings that start with `$`, `@` or `%`
                    (or hold its id separators) as code, references and macros: a config
                    name is a bundle key only when it is none of those, and
                    `check_bundle` walks every file the bundle target writes, so that no
                    key or string reaches MONAI as a directive that claragen did not put
                    there itself
    HTML            text is escaped, quotes included, and control characters are shown
                    as escapes

MONAI's syntax is read from MONAI itself when the component table is made
(`tools/gen_components.py` -> components.json "bundle"), and a test keeps it in step with
the installed MONAI; the compiler does not import MONAI.
"""

from __future__ import annotations

import ast
import html as _html
import keyword
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from claragen.transpiler import symbols

TARGET = "_target_"  # the one directive the bundle target writes itself


def is_python_name(text: str) -> bool:
    """A Python identifier that is not a keyword, spelled as Python reads it: what may
    become a name in the script. Python folds identifiers to NFKC ('\ufb01le' is 'file'),
    so a name that folds to another spelling is none (two args could become one)."""
    return (
        text.isidentifier()
        and not keyword.iskeyword(text)
        and unicodedata.normalize("NFKC", text) == text
    )


# -- MONAI bundle JSON ------------------------------------------------------------------


def bundle_syntax() -> dict[str, list[str]]:
    """MONAI's bundle syntax, as the component table recorded it from MONAI."""
    return symbols.bundle_syntax()


def is_bundle_key(key: str) -> bool:
    """Whether a config name can be a key of a bundle dict and mean only itself: a
    Python name, no directive of MONAI's (nor anything shaped like one, `_x_`), no
    merge prefix, no id separator, no dunder."""
    syntax = bundle_syntax()
    return (
        is_python_name(key)
        and key not in syntax["directive_keys"]
        and not (key.startswith("_") and key.endswith("_"))
        and not key.startswith(tuple(syntax["key_prefixes"]))
        and not any(sep in key for sep in syntax["separators"])
    )


def is_inert_key(key: str) -> bool:
    """Whether MONAI reads a key of a bundle file as data (a looser rule than
    `is_bundle_key`, for keys claragen writes itself, such as a changelog's "0.1.0")."""
    syntax = bundle_syntax()
    return (
        key not in syntax["directive_keys"]
        and not (key.startswith("_") and key.endswith("_"))
        and not key.startswith((*syntax["key_prefixes"], *syntax["value_prefixes"]))
        and not any(sep in key for sep in syntax["separators"])
        and key.isprintable()
    )


def is_bundle_text(text: str) -> bool:
    """Whether a string reaches MONAI as plain text: it starts with no `$`, `@` or `%`
    and holds no id separator (MONAI rewrites `#` in any string)."""
    syntax = bundle_syntax()
    return not text.startswith(tuple(syntax["value_prefixes"])) and not any(
        sep in text for sep in syntax["separators"]
    )


def is_bundle_literal(text: str) -> bool:
    """Whether a string literal inside a `$` expression is left alone by MONAI, which
    replaces `@id` and rewrites separators anywhere in the expression's text."""
    syntax = bundle_syntax()
    return not any(
        c in text for c in (*syntax["value_prefixes"], *syntax["separators"])
    )


_REF = re.compile(r"@(\w+(?:::\w+)*)")  # an id, or a nested one: @train::trainer
_MARK = (
    "__claragen_bundle_ref_"  # an @id of a `$` expression, as check_bundle parses it
)
_SEP = "__claragen_bundle_sep_"  # the `::` of a nested id, likewise


def bundle_ids(data: dict[str, Any]) -> set[str]:
    """Every id of a bundle file that an `@` may name: each key, and each key of a dict
    under it joined by MONAI's separator (`train::trainer`, `train::trainer::max_epochs`).
    """
    ids: set[str] = set()
    todo = [("", data)]
    while todo:
        prefix, node = todo.pop()
        for key, value in node.items():
            ids.add(prefix + str(key))
            if isinstance(value, dict):
                todo.append((f"{prefix}{key}::", value))
    return ids


def check_bundle(data: Any, ids: set[str], targets: set[str]) -> list[str]:
    """Every place of a bundle file where MONAI would read a directive, a reference, a
    macro or code that claragen did not write itself; [] when there is none.

    claragen writes: `_target_` with a dotted name of `targets` (the classes it imported);
    `@id` with an id of the file (`ids`); `$` expressions that parse as Python once their
    `@id`s are names, whose string literals MONAI leaves alone; `$import module`
    statements under "imports"."""
    return list(_problems(data, "", ids, targets))


def _problems(data: Any, where: str, ids: set[str], targets: set[str]) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            if key == TARGET:
                if not (isinstance(value, str) and value in targets):
                    yield f"{here}: {value!r} is no class claragen imports"
                continue
            if not isinstance(key, str) or not is_inert_key(key):
                yield f"{where or '(top)'}: the key {key!r} means more than itself"
            if where == "" and key == "imports":
                yield from _imports(value, here)
                continue
            yield from _problems(value, here, ids, targets)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _problems(value, f"{where}[{i}]", ids, targets)
    elif isinstance(data, str):
        yield from _string(data, where, ids)


def _string(text: str, where: str, ids: set[str]) -> Iterator[str]:
    if is_bundle_text(text):
        return
    if text.startswith("@"):
        if text[1:] not in ids:
            yield f"{where}: {text!r} refers to no id of the bundle"
        return
    if not text.startswith("$"):
        yield f"{where}: {text!r} is a macro or holds an id separator"
        return
    refs = set(_REF.findall(text))
    if refs - ids:
        yield f"{where}: {text!r} refers to {sorted(refs - ids)}, no id of the bundle"
    try:
        marked = _REF.sub(lambda m: _MARK + m.group(1).replace("::", _SEP), text[1:])
        tree = ast.parse(marked, mode="eval")
    except SyntaxError:
        yield f"{where}: {text!r} is no Python expression"
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _MARK in node.value or not is_bundle_literal(node.value):
                yield f"{where}: the string {node.value!r} would be rewritten by MONAI"
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            yield f"{where}: {text!r} reaches {node.attr!r}"


def _imports(value: Any, where: str) -> Iterator[str]:
    if not isinstance(value, list):
        yield f"{where}: the imports are no list"
        return
    for i, line in enumerate(value):
        parts = line.split(" ") if isinstance(line, str) else []
        if (
            len(parts) != 2
            or parts[0] != "$import"
            or not all(is_python_name(p) for p in parts[1].split("."))
        ):
            yield f"{where}[{i}]: {line!r} is no '$import module' line"


# -- Python source ----------------------------------------------------------------------

# What a generated script may import: the standard library modules its templates use, and
# the frameworks of the component table (plus, at run time, the BYOC modules that passed
# gates/byoc.py, which the renderer names).
PYTHON_IMPORTS = frozenset(
    {"__future__", "argparse", "atexit", "functools", "json", "logging", "math",
     "multiprocessing", "os", "shlex", "signal", "stat", "sys", "tempfile", "time",
     "monai", "torch", "ignite", "numpy"}
)  # fmt: skip
# Builtins that run, import or open by name; a generated script calls none of them
# (exprcheck refuses them in a config's expressions; this is the check on the output).
PYTHON_FORBIDDEN = frozenset(
    {"eval", "exec", "compile", "__import__", "breakpoint", "globals", "locals", "vars",
     "getattr", "setattr", "delattr", "open", "input", "memoryview"}
)  # fmt: skip


def check_python(tree: ast.AST, byoc: set[str] = frozenset()) -> list[str]:
    """What a piece of generated Python does that no generated script may: import a
    module outside PYTHON_IMPORTS and the gate-approved BYOC modules `byoc` (by their
    top-level names), call a builtin of PYTHON_FORBIDDEN, reach a dunder attribute."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            roots = [(node.module or "").split(".")[0]] if node.level == 0 else ["."]
        else:
            roots = []
        problems += [f"imports {r!r}" for r in roots
                     if r not in PYTHON_IMPORTS and r not in byoc]  # fmt: skip
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in PYTHON_FORBIDDEN:
                problems.append(f"calls {node.func.id}()")
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            problems.append(f"reaches the attribute {node.attr!r}")
    return problems


# -- HTML -------------------------------------------------------------------------------


def html(text: object) -> str:
    """Text as HTML element content or a quoted attribute value: `&<>"'` escaped, and
    control characters (which a browser may drop or act on) shown as escapes."""
    shown = str(text)
    if not shown.isprintable():
        shown = "".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
            for c in shown
        )
    return _html.escape(shown, quote=True)
