"""The architecture stays visible: no import cycle among claragen's modules (those a
function imports late included), and no module over 600 lines."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "claragen"
MAX_LINES = 600


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                base = node.module
                found |= {f"{base}.{a.name}" for a in node.names} | {base}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_among_the_dialects():
    graph = _imports()
    dialects = {
        k: {m for m in v if ".dialects." in m and not m.endswith(".dialects")}
        for k, v in graph.items()
        if ".dialects." in k
    }
    assert _cycle(dialects) is None, " -> ".join(_cycle(dialects))


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_module_is_over_600_lines():
    long = {
        str(p.relative_to(ROOT.parent)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these along what they do: {long}"


def test_the_compiler_and_the_runtime_import_no_command_line():
    """The command line (claragen/cli) sits on top: claragen/transpiler and
    claragen/runtime import nothing of it, nor of each other's command line."""
    graph = _imports()
    wrong = {
        module: sorted(m for m in deps if m.startswith("claragen.cli"))
        for module, deps in graph.items()
        if module.startswith(("claragen.transpiler", "claragen.runtime"))
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_no_import_cycle_in_the_command_line():
    graph = _imports()
    cli = {k: {m for m in v if m.startswith("claragen.cli")} for k, v in graph.items()
           if k.startswith("claragen.cli")}  # fmt: skip
    assert _cycle(cli) is None, " -> ".join(_cycle(cli))


def test_the_heavy_first_order_names_test_files_that_exist():
    """tests/conftest.py's HEAVY_FIRST reorders `make test`; a renamed file would drop out
    of it silently."""
    from tests.conftest import HEAVY_FIRST, REPO

    assert [p for p in HEAVY_FIRST if not (REPO / p).is_file()] == []
