"""Bounds on what claragen reads, so that no input makes it hang, crash or exhaust memory.

Every bound is a diagnostic (E1xx), said before the work it protects starts:

    a config that is no regular file (a FIFO, /dev/zero)   E110, before it is opened
    a config over --max-config-size (default 4 MiB)         E107, read no further
    nesting deeper than MAX_DEPTH                            E108, before it is parsed
    a number of more than MAX_NUMBER_CHARS characters,
    or a float that overflows to infinity                     E109
    {VAR} uses that add more than MAX_EXPANDED bytes, a
    generated file over MAX_OUTPUT_FILE, all over MAX_OUTPUT  E112

Every scan of the raw text is one pass, linear in its length (benchmarks/linear.py
doubles adversarial inputs and checks that the time does not quadruple).

The largest config of the shared corpus is 23 KB and nests 8 deep; the bounds are two
orders of magnitude above what a real config needs.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

from claragen.transpiler.diagnostics import Diagnostics, Span

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # --max-config-size's default
MAX_DEPTH = 100  # arrays and objects inside each other
MAX_NUMBER_CHARS = 100  # digits, sign, point and exponent of one JSON number
MAX_EXPANDED = 1024 * 1024  # what {VAR} substitution may add to one job's config
MAX_OUTPUT_FILE = 16 * 1024 * 1024  # one generated file (a script is about 100 KB)
MAX_OUTPUT = 2 * 1024 * 1024 * 1024  # all the files of one compile

# What the depth scan looks at: an escape (a backslash and the character after it), a
# quote, a bracket. Each match is one or two characters, so the scan is linear.
_TOKEN = re.compile(r'\\.|["\[\]{}]', re.DOTALL)
_SIZE = re.compile(r"^(\d{1,12})([kKmMgG]i?[bB]?)?$")


def parse_size(text: str) -> int:
    """`4M`, `500k`, `1048576` -> bytes; ValueError for anything else."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is no size: write bytes, or 500k, 4M, 1G")
    unit = (match.group(2) or " ")[0].lower()
    return int(match.group(1)) * {" ": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def file_label(path: Path | str) -> str:
    """A file name as diagnostics and generated comments show it: bytes that are not
    UTF-8 (a name Python decoded with surrogates), line breaks, bidi controls and other
    unprintable characters as escapes, so that printing it or writing it into a script
    cannot fail, nor make a terminal or an editor show other text."""
    raw = os.fsdecode(path).encode("utf-8", "surrogateescape")
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
        for c in raw.decode("utf-8", "backslashreplace")
    )


def read_config_text(
    path: Path, diags: Diagnostics, max_bytes: int = MAX_CONFIG_BYTES
) -> str | None:
    """The text of a config file, or None with an error: no regular file (checked before
    it is opened, so a FIFO cannot block), over `max_bytes`, not UTF-8."""
    where = Span(file_label(path), 0, 0)
    try:
        info = os.stat(path)  # follows a link: what it points to must be a file
    except (OSError, ValueError) as exc:
        diags.error("E100", where, f"cannot read: {_reason(exc)}")
        return None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "no regular file"
        diags.error("E110", where, f"cannot read: it is {kind} (a device, a FIFO?)",
                    "give the path of a config_*.json file")  # fmt: skip
        return None
    if info.st_size > max_bytes:
        diags.error("E107", where, _too_large(info.st_size, max_bytes),
                    _size_help(max_bytes))  # fmt: skip
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)  # a file that grows while read stops here
    except OSError as exc:
        diags.error("E100", where, f"cannot read: {_reason(exc)}")
        return None
    if len(data) > max_bytes:
        diags.error("E107", where, _too_large(len(data), max_bytes),
                    _size_help(max_bytes))  # fmt: skip
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        diags.error("E100", Span(where.file, line, col),
                    f"cannot read: byte {data[exc.start]:#04x} is not UTF-8 text",
                    "save the file as UTF-8")  # fmt: skip
        return None


def config_text(path: Path, max_bytes: int = MAX_CONFIG_BYTES) -> str | None:
    """A config's text within the same bounds, or None when it cannot be read (whoever
    reads it fully says why)."""
    diags = Diagnostics()
    text = read_config_text(path, diags, max_bytes)
    return None if diags.errors else text


def check_depth(text: str, file: str, diags: Diagnostics) -> bool:
    """False, with an error at the first bracket too deep, when arrays and objects nest
    deeper than MAX_DEPTH (the parser and the passes recurse on nesting). One pass over
    the text, in time linear in its length whatever it holds (benchmarks/linear.py)."""
    depth, in_string = 0, False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue  # a bracket in a string, or an escaped character
        else:
            depth += 1 if token in "[{" else -1
            if depth > MAX_DEPTH:
                pos = match.start()
                line = text.count("\n", 0, pos) + 1
                col = pos - (text.rfind("\n", 0, pos) + 1) + 1
                diags.error(
                    "E108",
                    Span(file, line, col),
                    f"arrays and objects nest deeper than {MAX_DEPTH} levels here",
                    "a Clara config nests a few levels deep; this one is malformed",
                )
                return False
    return True


def check_number(text: str, span: Span, diags: Diagnostics) -> int | float:
    """A JSON number's value; a number too long to be a config value, or a float that
    overflows, is an error (and reads as 0)."""
    if len(text) > MAX_NUMBER_CHARS:
        diags.error("E109", span, f"a number of {len(text):,} characters",
                    f"a config's numbers have at most {MAX_NUMBER_CHARS} characters")  # fmt: skip
        return 0
    value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and math.isinf(value):
        diags.error("E109", span, f"the number {text} is too large for a float",
                    "write a number below 1.8e308")  # fmt: skip
        return 0
    return value


def _too_large(size: int, limit: int) -> str:
    return f"the file is {size:,} bytes, more than a config may be ({limit:,})"


def _size_help(limit: int) -> str:
    return f"raise the limit with --max-config-size (now {limit // 1024:,}k)"


def _reason(exc: BaseException) -> str:
    return file_label(getattr(exc, "strerror", None) or str(exc))
