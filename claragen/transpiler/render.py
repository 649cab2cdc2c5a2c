"""Render a target's model with its jinja2 template, then black; check every render.

A rendered file must parse, and black must be stable on it (a second pass changes
nothing). A failure is a claragen bug: it raises `InternalError` with the text.
"""

from __future__ import annotations

import ast
from functools import cache

import black
import jinja2


class InternalError(Exception):
    """claragen generated something that is not valid, stable Python. Please report it."""


BLACK_MODE = (
    black.Mode()
)  # the default style, so `black --check` passes on the output as is


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
    return env


def format_python(text: str, what: str) -> str:
    try:
        ast.parse(text)
        formatted = black.format_str(text, mode=BLACK_MODE)
    except (SyntaxError, black.InvalidInput) as exc:
        raise InternalError(
            f"INTERNAL ERROR, please report: {what} is not valid Python: {exc}\n"
            f"{text}"
        ) from exc
    if black.format_str(formatted, mode=BLACK_MODE) != formatted:
        raise InternalError(
            f"INTERNAL ERROR, please report: black is unstable on {what}"
        )
    return formatted


def render(template: str, what: str, **model: object) -> str:
    text = environment().get_template(template).render(**model)
    return format_python(text, what)
