import ast

import pytest

from claragen.transpiler.diagnostics import Diagnostics, Span
from claragen.transpiler.ir import Expr, Lit, Ref, Template, Var
from claragen.transpiler.values import REF_PREFIX, parse_value_string

SPAN = Span("c.json", 3, 10)


def parse(text, code=True):
    diags = Diagnostics()
    value = parse_value_string(text, SPAN, code, diags)
    return value, [d.message for d in diags.errors]


def test_whole_string_variable_keeps_its_type():
    assert parse("{epochs}") == (Var(SPAN, "epochs"), [])


def test_template_with_literal_braces():
    value, errs = parse("{MMAR_ROOT}/x{{y}}")
    assert value == Template(SPAN, (Var(SPAN, "MMAR_ROOT"), "/x{y}")) and not errs
    assert parse("plain {{text}}")[0] == Lit(SPAN, "plain {text}")


def test_reference():
    assert parse("@model") == (Ref(SPAN, "model"), [])


def test_expression_with_embedded_reference():
    value, errs = parse("#@model.parameters()")
    assert isinstance(value, Expr) and not errs
    assert ast.unparse(value.tree) == f"{REF_PREFIX}model.parameters()"
    assert [r.name for r in value.refs] == ["model"]


def test_matmul_is_not_a_reference():
    value, errs = parse("#torch.ones(2) @ torch.ones(2)")
    assert isinstance(value, Expr) and value.refs == () and not errs


def test_lambda():
    value, errs = parse("lambda x: x['loss']")
    assert isinstance(value, Expr) and value.kind == "lambda" and not errs


def test_without_code_strings_everything_is_text():  # 3.x, and search/apply blocks
    assert parse("@disabled", code=False)[0] == Lit(SPAN, "@disabled")
    assert parse("#x", code=False)[0] == Lit(SPAN, "#x")
    assert parse("lambdax")[0] == Lit(SPAN, "lambdax")


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "#import os",
            "the '#' expression 'import os' is not a single Python expression",
        ),
        ("#1 +", "the '#' expression '1 +' is not a single Python expression"),
        ("#a; b", "the '#' expression 'a; b' is not a single Python expression"),
        (
            "@model x",
            "'@model x' is not a reference: a reference is '@' followed by a name",
        ),
        ("{a", "unbalanced brace in string '{a'"),
        (
            "#__import__('os')",
            "the '#' expression \"__import__('os')\" uses '__import__', "
            "which a config may not use",
        ),
        (
            "lambda x: x.__class__",
            "the lambda 'lambda x: x.__class__' uses the private "
            "attribute '__class__'",
        ),
        (
            "lambda x: open(x)",
            "the lambda 'lambda x: open(x)' uses the name 'open', which is "
            "neither a module claragen imports (ignite, math, monai, np, numpy, torch), a "
            "lambda parameter nor a comprehension variable in scope",
        ),
    ],
)
def test_bad_code_strings(text, message):
    value, errs = parse(text)
    assert errs == [message]
    assert isinstance(value, Lit)
