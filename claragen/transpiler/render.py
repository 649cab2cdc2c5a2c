"""Render a target's model with its jinja2 template, then black; check every render.

Templates mark segments (`#<segment N>`: N blank lines before the next one; `#<lines N>`:
the next segment is formatted statement by statement, one per line). Each segment is
formatted by black once per shape (its digits masked), so the scripts of one search,
which share everything but their values, pay for black once. The first segment, the module docstring, is plain
text built black-stable (`docstring_line`). Every script must compile (`compile()`,
which also refuses what `ast.parse` lets through: a repeated keyword); the first script of
each structure is checked whole by black, which must leave it unchanged (so a second pass
would too). A failure is a claragen bug, raised as `InternalError` with the text.
"""

from __future__ import annotations

import ast
import re
import warnings
from functools import cache

import black
import jinja2

from claragen.gates import names
from claragen.transpiler import calls
from claragen.transpiler.emit import comment_text, fstring_text


class InternalError(Exception):
    """claragen generated something that is not valid, stable Python. Please report it."""


BLACK_MODE = (
    black.Mode()
)  # the default style, so `black --check` passes on the output as is
MARKER = re.compile(r"^#<(segment|lines) (\d)>\n", re.MULTILINE)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("claragen", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = repr
    env.filters["comment"] = comment_text
    env.filters["fstring"] = fstring_text
    env.filters["comment_items"] = comment_items
    return env


def comment_items(items: list[str], pad: str, width: int = 84) -> str:
    """Comment lines that name items separated by ", ", each line as full as `width`
    allows, no item broken: the text after the first `# ` (`pad` indents the others)."""
    lines = [""]
    for item in (comment_text(i) for i in items):
        if lines[-1] and len(lines[-1]) + len(item) + 2 > width:
            lines[-1] += ","
            lines.append(item)
        else:
            lines[-1] += (", " if lines[-1] else "") + item
    return f"\n{pad}# ".join(lines)


def _internal(what: str, problem: str, text: str) -> InternalError:
    return InternalError(f"INTERNAL ERROR, please report: {what} {problem}\n{text}")


class Renderer:
    """Renders files, sharing black's work between files of the same structure."""

    # black's text of a segment, and of a shape, shared by every compile of the process
    # (black is a pure function of the text: a test session, or `claragen automl`'s
    # controller, compiles the same plumbing many times); emptied when it grows large
    CACHE: dict[str, str] = {}
    SHAPES: dict[str, str] = {}  # shape -> black's text for the first of it
    LIMIT = 50_000

    def __init__(self) -> None:
        if len(self.CACHE) + len(self.SHAPES) > self.LIMIT:
            self.CACHE.clear()
            self.SHAPES.clear()
        self.cache, self.shapes = self.CACHE, self.SHAPES
        self.verified: set[tuple[str, ...]] = set()
        self.compiled: set[str] = set()  # segments of files that compiled
        self.shapes_of: dict[str, str] = {}  # segment -> shape(segment)

    def black(self, text: str, what: str) -> str:
        """black's text for `text`. Jobs of one search differ in their numbers, and black
        decides on tokens and lengths, never on the values of digits, nor does it add,
        drop or reorder a digit: so a text of a shape (its digits masked) seen before gets
        the earlier result with its own digits put back in order."""
        if text in self.cache:
            return self.cache[text]
        key = shape(text)
        known = self.shapes.get(key)
        if known is not None:
            digits = iter(DIGIT.findall(text))
            return DIGIT.sub(lambda _: next(digits), known)
        try:
            formatted = black.format_str(text, mode=BLACK_MODE)
        except black.InvalidInput as exc:
            raise _internal(what, f"is not valid Python: {exc}", text) from exc
        self.cache[text] = formatted
        # only where black kept every digit in its order (it moves a comment when it
        # joins a bracket: then the next text of the shape is black's own again)
        if DIGIT.findall(formatted) == DIGIT.findall(text):
            self.shapes[key] = formatted
        return formatted

    def render(self, template: str, what: str, **model: object) -> str:
        raw = environment().get_template(template).render(**model)
        pieces = MARKER.split(raw)  # text, kind, n, text, kind, n, text ...
        out: list[str] = []
        segments: list[str] = []  # each segment as formatted
        structure: list[str] = []
        kind, gap = "segment", 0
        for i in range(0, len(pieces), 3):
            segment = pieces[i]
            if out:
                out.append("\n" * gap)
            if kind == "lines":
                lines = [line + "\n" for line in segment.splitlines() if line.strip()]
                formatted = "".join(self.black(line, what) for line in lines)
            elif i == 0:
                # the docstring: different in every job, plain text by construction
                formatted = segment
            else:
                formatted = self.black(segment, what)
                structure.append(segment)
            out.append(formatted)
            segments.append(formatted)
            if i + 2 < len(pieces):
                kind, gap = pieces[i + 1], int(pieces[i + 2])
        text = "".join(out)
        byoc = {
            line.split()[1].split(".")[0]
            for line in getattr(model.get("s"), "byoc_imports", None) or ()
            if line.startswith("from ")
        }
        self.check_compiles(text, segments, what, byoc)
        key = tuple(self.shape_of(segment) for segment in structure)
        if key not in self.verified:
            # black leaves it unchanged, so a second black pass would too
            if black.format_str(text, mode=BLACK_MODE) != text:
                raise _internal(what, "differs from black on the whole file", text)
            # every call of a class of the table binds against its real signature (one
            # per structure: the files of a shape differ in their digits only)
            unbound = calls.unbound_calls(ast.parse(text))
            if unbound:
                raise _internal(what, f"makes calls that do not bind: {unbound}", text)
            self.verified.add(key)
        return text

    def check_compiles(
        self, text: str, segments: list[str], what: str, byoc: set[str] = frozenset()
    ) -> None:
        """`compile()` the file: not `ast.parse`, since compile also refuses a repeated
        keyword, and its SyntaxWarnings are errors (`True(items)` compiles, and never
        runs). Each segment is a run of whole statements at the top level (black formats
        it alone), and whether such statements compile does not depend on what is around
        them, except a `__future__` import: so a file of segments that compiled before
        in a file compiled whole needs only its new segments compiled."""
        new = [segment for segment in segments if segment not in self.compiled]
        whole = len(new) == len(segments) or "__future__" in text
        for code in [text] if whole else new:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", SyntaxWarning)
                    tree = compile(
                        code, what, "exec", ast.PyCF_ONLY_AST, dont_inherit=True
                    )
                    compile(tree, what, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                raise _internal(what, f"is not valid Python: {exc}", text) from exc
            problems = names.check_python(tree, byoc)  # the output language's gate
            if problems:
                raise _internal(what, f"does what no script may: {problems}", text)
        self.compiled.update(segments)

    def shape_of(self, segment: str) -> str:
        found = self.shapes_of.get(segment)
        if found is None:
            found = self.shapes_of[segment] = shape(segment)
        return found


DIGIT = re.compile(r"[0-9]")


def shape(text: str) -> str:
    """`text` with every digit masked: the scripts of one search share their shapes."""
    return DIGIT.sub("0", text)


def docstring_line(text: str) -> str:
    """A line that can sit in a generated docstring: no escape of its own, no closing
    quotes, no trailing blanks (what black would strip), and no line break, bidi control
    or other unprintable character in the source (written as an escape, which the
    docstring's value reads back)."""
    text = comment_text(text.replace("\\", "\\\\"))
    return text.replace('"""', '\\"\\"\\"').rstrip()
