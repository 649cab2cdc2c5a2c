"""JSON with a source position on every node.

Clara configs are JSON; Python's `json` forgets where a value came from, and every
diagnostic and every generated comment needs it. A small lark grammar keeps it::

    >>> doc = parse_json('{"a": [1, "x"]}', "c.json")
    >>> doc.get("a").items[1].span
    Span(file='c.json', line=1, column=11)
"""

from __future__ import annotations

import contextlib
import gc
import json
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from claragen.transpiler.diagnostics import Diagnostics, Span, did_you_mean
from claragen.transpiler.limits import check_number

GRAMMAR = r"""
?start: value
?value: object
      | array
      | STRING    -> string
      | NUMBER    -> number
      | "true"    -> true
      | "false"   -> false
      | "null"    -> null
object: "{" [pair ("," pair)*] "}"
array: "[" [value ("," value)*] "]"
pair: STRING ":" value

STRING: /"(?:[^"\\\x00-\x1f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/
NUMBER: /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/
%import common.WS
%ignore WS
"""


@dataclass(frozen=True)
class JNode:
    span: Span


@dataclass(frozen=True)
class JScalar(JNode):
    """A number, `true`, `false` or `null`."""

    value: int | float | bool | None

    def to_python(self) -> Any:
        return self.value


@dataclass(frozen=True)
class JString(JNode):
    value: str

    def to_python(self) -> Any:
        return self.value


@dataclass(frozen=True)
class JArray(JNode):
    items: tuple[JNode, ...]

    def to_python(self) -> Any:
        return [item.to_python() for item in self.items]


@dataclass(frozen=True)
class JObject(JNode):
    pairs: tuple[tuple[JString, JNode], ...]

    def get(self, key: str, default: JNode | None = None) -> JNode | None:
        for k, v in reversed(
            self.pairs
        ):  # the last duplicate wins, as in Python's json
            if k.value == key:
                return v
        return default

    def keys(self) -> list[str]:
        return [k.value for k, _ in self.pairs]

    def key_span(self, key: str) -> Span:
        for k, _ in reversed(self.pairs):
            if k.value == key:
                return k.span
        return self.span

    def to_python(self) -> Any:
        return {k.value: v.to_python() for k, v in self.pairs}


_PARSER = Lark(
    GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False
)


class _Build(Transformer):
    def __init__(self, file: str, diags: Diagnostics):
        super().__init__()
        self.file = file
        self.diags = diags

    def _span(self, line: int, column: int) -> Span:
        return Span(self.file, line, column)

    def string(self, children: list[Token]) -> JString:
        (tok,) = children
        return JString(self._span(tok.line, tok.column), json.loads(tok))

    def number(self, children: list[Token]) -> JScalar:
        (tok,) = children
        span = self._span(tok.line, tok.column)
        return JScalar(span, check_number(str(tok), span, self.diags))

    @v_args(meta=True)
    def true(self, meta, _children) -> JScalar:
        return JScalar(self._span(meta.line, meta.column), True)

    @v_args(meta=True)
    def false(self, meta, _children) -> JScalar:
        return JScalar(self._span(meta.line, meta.column), False)

    @v_args(meta=True)
    def null(self, meta, _children) -> JScalar:
        return JScalar(self._span(meta.line, meta.column), None)

    @v_args(meta=True)
    def array(self, meta, children) -> JArray:
        return JArray(self._span(meta.line, meta.column), tuple(children))

    @v_args(meta=True)
    def object(self, meta, children) -> JObject:
        seen: set[str] = set()
        for key, _ in children:
            if key.value in seen:
                self.diags.warning(
                    "W108",
                    key.span,
                    f"the key {key.value!r} is given twice in this object; the last "
                    "one is used, as Clara's JSON reader did",
                    "remove the one you do not mean",
                )
            seen.add(key.value)
        return JObject(self._span(meta.line, meta.column), tuple(children))

    def pair(self, children) -> tuple[JString, JNode]:
        key_tok, value = children
        key = JString(self._span(key_tok.line, key_tok.column), json.loads(key_tok))
        return key, value


def _describe(exc: UnexpectedInput, text: str) -> tuple[str, str | None]:
    """The message and help for a JSON syntax error."""
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of file", "a '}' or ']' is missing"
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return "unexpected end of file", "a '}' or ']' is missing"
        expected = sorted(exc.expected)
        if tok.type in ("RBRACE", "RSQB") and any(
            e in expected for e in ("STRING", "LBRACE")
        ):
            return (
                f"trailing comma before {str(tok)!r}",
                "JSON allows no comma after the last item",
            )
        if tok.type == "STRING" and "COMMA" in expected:
            return f"unexpected string {str(tok)}", "a ',' is missing before it"
        return f"unexpected {str(tok)!r}", None
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        word = (
            text[pos:].split(None, 1)[0] if text[pos:].strip() else text[pos : pos + 1]
        )
        word = word.rstrip(",]}")[:30] or text[pos : pos + 1]
        if word[:1].isalpha():
            return f"unknown literal {word!r}", did_you_mean(
                word.lower(), ("true", "false", "null")
            )
        if word.startswith("'"):
            return "strings must use double quotes", None
        if word.startswith("//") or word.startswith("/*"):
            return "JSON has no comments", "remove the comment"
        return f"unexpected character {text[pos : pos + 1]!r}", None
    return str(exc), None


@contextlib.contextmanager
def _no_cycle_collection():
    """No cyclic garbage collection while a parse builds its tree: the tree has no
    cycles, and a collection at every few thousand new objects scans all of them, which
    makes a parse of many nodes cost more than linear time (benchmarks/bench_linear.py).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_json(text: str, file: str, diags: Diagnostics | None = None) -> JNode | None:
    """Parse JSON text into position-carrying nodes; syntax errors go to `diags`.

    A syntax error stops the parse (the rest of the file has no reliable structure), so a
    malformed file yields one error and None.
    """
    try:
        with _no_cycle_collection():
            tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        message, help_ = _describe(exc, text)
        span = Span(
            file, exc.line if exc.line > 0 else 1, exc.column if exc.column > 0 else 1
        )
        if diags is None:
            raise
        diags.error("E101", span, f"invalid JSON: {message}", help_)
        return None
    sink = diags if diags is not None else Diagnostics()
    with _no_cycle_collection():
        root = _Build(file, sink).transform(tree)
    if diags is None and sink.errors:
        raise ValueError(sink.errors[0].message)
    return root
