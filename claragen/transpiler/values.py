"""The value grammar: what a string in a Clara config means (SPEC 4).

    >>> v = parse_value_string("{epochs}", SPAN, code_strings=True, diags=Diagnostics())
    >>> type(v).__name__, v.name
    ('Var', 'epochs')

A lark grammar splits the string into a reference (`@name`), code (`#expr`, `lambda ...`)
or a template of text and `{VAR}` fields (`{{`/`}}` are literal braces, as in
`str.format`). Code is parsed with `ast` in expression mode and checked; it is never run.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput

from claragen.transpiler.diagnostics import Diagnostics, Span
from claragen.transpiler.exprcheck import (
    MODULES,
    REF_PREFIX,
    VAR_PREFIX,
    check_expression,
)
from claragen.transpiler.ir import Expr, Lit, Ref, Template, Value, Var

REF_KEY = "@"  # "@model": object reference (4.1)
EXPR_KEY = "#"  # "#@model.parameters()": Python expression (4.1)
LAMBDA_PREFIX = "lambda"  # "lambda x: x['loss']": a callable (4.0, 4.1)

EXPR_MODULES = frozenset(MODULES)  # the modules an expression may name
MAX_CODE_CHARS = 10_000  # the longest '#' expression or lambda (the corpus: under 200)

TEMPLATE_GRAMMAR = r"""
start: piece* -> template
?piece: TEXT -> text
      | "{{" -> lbrace
      | "}}" -> rbrace
      | "{" NAME "}" -> field

NAME: /[A-Za-z_][A-Za-z0-9_]*/
TEXT: /[^{}]+/
"""

CODE_GRAMMAR = r"""
start: REF -> ref
     | EXPR -> expr
     | LAMBDA -> lambda_
REF: /@[A-Za-z_][A-Za-z0-9_]*/
EXPR: /#(.|\n)+/
LAMBDA: /lambda\b(.|\n)*/
"""

_LAMBDA_START = re.compile(r"lambda\b")
_CODE_PARSER = Lark(CODE_GRAMMAR, parser="lalr")
_TEXT_PARSER = Lark(TEMPLATE_GRAMMAR, parser="lalr")


class _ToParts(Transformer):
    def ref(self, c: list[Token]):
        return ("ref", str(c[0])[1:])

    def expr(self, c: list[Token]):
        return ("expr", str(c[0])[1:])

    def lambda_(self, c: list[Token]):
        return ("lambda", str(c[0]))

    def template(self, c):
        return ("template", c)

    def text(self, c: list[Token]):
        return str(c[0])

    def lbrace(self, _c):
        return "{"

    def rbrace(self, _c):
        return "}"

    def field(self, c: list[Token]):
        return ("var", str(c[0]))


def parse_value_string(
    text: str, span: Span, code_strings: bool, diags: Diagnostics
) -> Value:
    """Classify one config string. `code_strings`: whether `@`/`#`/`lambda` mean code (4.x)."""
    starts_code = (
        text.startswith((REF_KEY, EXPR_KEY)) or _LAMBDA_START.match(text) is not None
    )
    parser = _CODE_PARSER if code_strings and starts_code else _TEXT_PARSER
    try:
        kind, payload = _ToParts().transform(parser.parse(text))
    except UnexpectedInput as exc:
        if code_strings and text.startswith(REF_KEY):
            diags.error(
                "E202",
                span,
                f"{text!r} is not a reference: a reference is '@' followed by a name",
                "write '@model', or '#...' for an expression",
            )
        else:
            col = span.column + 1 + max(exc.column - 1, 0)
            diags.error(
                "E201",
                Span(span.file, span.line, col),
                f"unbalanced brace in string {text!r}",
                "write '{{' or '}}' for a literal brace; a variable is '{NAME}'",
            )
        return Lit(span, text)
    if kind == "ref":
        return Ref(span, payload)
    if kind == "expr":
        return parse_code(payload, span, "expr", diags, offset=1)
    if kind == "lambda":
        return parse_code(payload, span, "lambda", diags, offset=0)
    parts = tuple(Var(span, p[1]) if isinstance(p, tuple) else p for p in payload)
    merged: list[str | Var] = []
    for part in parts:  # join adjacent text pieces ("a", "{", "b" -> "a{b")
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    if len(merged) == 1 and isinstance(merged[0], Var):
        return merged[0]
    if all(isinstance(p, str) for p in merged):
        return Lit(span, "".join(merged))  # type: ignore[arg-type]
    return Template(span, tuple(merged))


def _mark_refs(source: str) -> tuple[str, list[str]]:
    """Spell each prefix `@name` as a plain name; return the new source and the names."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    refs: list[str] = []
    out: list[tuple[int, str]] = []
    prev: tokenize.TokenInfo | None = None
    skip = False
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        is_prefix = prev is None or (
            prev.type == tokenize.OP and prev.string not in (")", "]", "}")
        )
        if (
            tok.type == tokenize.OP
            and tok.string == "@"
            and is_prefix
            and nxt is not None
            and nxt.type == tokenize.NAME
            and nxt.start == tok.end
        ):
            refs.append(nxt.string)
            out.append((tokenize.NAME, REF_PREFIX + nxt.string))
            skip = True
            prev = nxt
            continue
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER):
            out.append((tok.type, tok.string))
        prev = tok if tok.type not in (tokenize.NL, tokenize.NEWLINE) else prev
    return tokenize.untokenize(out), refs


def _mark_vars(source: str) -> tuple[str, list[str]]:
    """Spell each `{NAME}` (braces and name with nothing between them) as a plain name;
    return the new source and the variables. A config substitutes variables into every
    string (SPEC 4.1), `#` expressions and lambdas too: `"#{epochs} * 2"`."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    names: list[str] = []
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        three = tokens[i : i + 3]
        if (
            len(three) == 3
            and [t.string for t in (three[0], three[2])] == ["{", "}"]
            and three[1].type == tokenize.NAME
            and three[0].end == three[1].start
            and three[1].end == three[2].start
        ):
            names.append(three[1].string)
            out.append((tokenize.NAME, VAR_PREFIX + three[1].string))
            i += 3
            continue
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER):
            out.append((tok.type, tok.string))
        i += 1
    return tokenize.untokenize(out), names


IMPORTABLE = frozenset({"monai", "torch", "numpy"})  # what 4.0 lambdas __import__ed


class ImportedModules(ast.NodeTransformer):
    """`__import__('monai')` -> `monai`: NVIDIA's 4.0 MMARs wrote their lambdas so, e.g.
    `lambda x: __import__('monai').handlers.from_engine(['pred', 'label'])(x)`; the script
    imports the module itself. Any other `__import__` stays, for the check to refuse."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in IMPORTABLE
        ):
            return ast.copy_location(ast.Name(node.args[0].value, ast.Load()), node)
        return node


def parse_code(
    source: str, span: Span, kind: str, diags: Diagnostics, offset: int
) -> Value:
    """Parse a `#expr` or `lambda` string into an `Expr`; report what is wrong with it."""
    what = "'#' expression" if kind == "expr" else "lambda"
    text = "#" + source if kind == "expr" else source  # what the config says
    if len(source) > MAX_CODE_CHARS:
        diags.error(
            "E203",
            span,
            f"the {what} of {len(source):,} characters is longer than an expression "
            f"may be ({MAX_CODE_CHARS:,})",
            "write it as a class of your own in custom/ (BYOC)",
        )
        return Lit(span, text)
    try:
        marked, var_names = _mark_vars(source) if "{" in source else (source, [])
        marked, ref_names = _mark_refs(marked) if kind == "expr" else (marked, [])
        tree = ImportedModules().visit(ast.parse(marked.strip(), mode="eval"))
        problems = check_expression(tree)
    except (RecursionError, MemoryError):
        diags.error("E203", span, f"the {what} is nested too deeply to be read",
                    "write it as a class of your own in custom/ (BYOC)")  # fmt: skip
        return Lit(span, text)
    except (SyntaxError, tokenize.TokenError, IndentationError) as exc:
        col = span.column + 1 + offset + max(getattr(exc, "offset", 1) or 1, 1) - 1
        diags.error(
            "E203",
            Span(span.file, span.line, col),
            f"the {what} {source!r} is not a single Python expression",
            "a '#' string holds one expression, e.g. '#@model.parameters()'",
        )
        return Lit(span, text)
    if kind == "lambda" and not isinstance(tree.body, ast.Lambda):
        diags.error("E203", span, f"{source!r} is not a lambda expression")
        return Lit(span, text)
    for problem in problems:
        diags.error(problem.code, span, f"the {what} {source!r} {problem.message}",
                    problem.help)  # fmt: skip
    if problems:
        return Lit(span, text)
    refs = tuple(Ref(span, name) for name in dict.fromkeys(ref_names))
    values = tuple((VAR_PREFIX + n, Var(span, n)) for n in dict.fromkeys(var_names))
    return Expr(span, source, tree, kind, refs, values)


def expr_modules(expr: Expr) -> set[str]:
    """The modules an expression needs imported."""
    return {
        n.id
        for n in ast.walk(expr.tree)
        if isinstance(n, ast.Name) and n.id in EXPR_MODULES
    }
