"""What a rewrite returns, and the helpers rewrites share: the lowered script's blocks are
Python source emitted from an AST (`emit`), so a rewrite parses one, changes the tree and
writes it back with `ast.unparse`, never by editing text."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from claragen.transpiler.targets.plain_script import Block, PlainScript


@dataclass(frozen=True)
class Change:
    name: str
    what: str  # what it changed
    why: str  # what it gains
    numerics: str = ""  # "" when exact; else how the numbers may differ


@dataclass(frozen=True)
class Skip:
    name: str
    why: str


def block(script: PlainScript, target: str) -> Block | None:
    return next((b for b in script.blocks if b.target == target), None)


def call_of(code: str) -> ast.Call | None:
    """The call a block builds (`DataLoader(...)`), or None when it is something else."""
    try:
        node = ast.parse(code, mode="eval").body
    except SyntaxError:
        return None
    return node if isinstance(node, ast.Call) else None


def callee(call: ast.Call) -> str:
    """`torch.optim.Adam` -> "torch.optim.Adam"; `DataLoader` -> "DataLoader"."""
    return ast.unparse(call.func)


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    return next((k for k in call.keywords if k.arg == name), None)


def expr(code: str) -> ast.expr:
    return ast.parse(code, mode="eval").body


def set_code(target: Block, call: ast.Call, comment: str) -> None:
    target.code = ast.unparse(call)
    target.comments.append(comment)


def note(name: str, text: str) -> str:
    """The comment a changed block carries."""
    return f"--optimize {name}: {text}"


def drop_unused_import(script: PlainScript, module: str, name: str) -> None:
    """Take `name` out of `from module import ...` when no block calls it any more."""
    called = re.compile(rf"(?<![\w.]){re.escape(name)}\(")
    if any(called.search(b.code) for b in script.blocks):
        return
    head = f"from {module} import "
    for i, line in enumerate(script.imports):
        if line.startswith(head):
            names = [n for n in line[len(head) :].split(", ") if n != name]
            if names:
                script.imports[i] = head + ", ".join(names)
            else:
                del script.imports[i]
            return


def add_import(script: PlainScript, module: str, name: str) -> None:
    """`from module import name` among the script's imports, in isort's order (the
    emitter's `Imports.lines`: `import x` lines, then `from` lines sorted by module)."""
    head = f"from {module} import "
    for i, line in enumerate(script.imports):
        if line.startswith(head):
            names = set(line[len(head) :].split(", ")) | {name}
            script.imports[i] = head + ", ".join(sorted(names))
            return
    froms = [i for i, line in enumerate(script.imports) if line.startswith("from ")]
    at = next((i for i in froms if script.imports[i] > head), None)
    if at is None:
        at = (froms[-1] + 1) if froms else len(script.imports)
    script.imports.insert(at, head + name)
