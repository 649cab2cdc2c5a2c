"""Write docs/diagnostics.md: every diagnostic code with an example the compiler produced.

Each code has a case under tests/diagnostics/<CODE>/: a small MMAR (config/, maybe custom/)
and an optional `args` file (one command-line word per line). The example shown for the
code is what `claragen check -m . ARGS` prints in that folder, so the docs cannot drift from
the compiler: tests/test_diagnostics.py fails when this file's output and the checked-in
docs differ.

    python tools/gen_diagnostics_doc.py            # rewrite docs/diagnostics.md
    python tools/gen_diagnostics_doc.py --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "diagnostics"
DOC = REPO / "docs" / "diagnostics.md"
sys.path.insert(0, str(REPO))

from claragen.cli import app  # noqa: E402
from claragen.transpiler.codes import CODES  # noqa: E402

HEAD = """\
# Diagnostics

claragen reports every problem it finds in a config in one run, in the form

```text
FILE:LINE:COL: error[CODE]: what is wrong, and where in the config (its locator)
 LINE | the config line
      |     ^ (the column)
help: what to do, when a fix is known
```

`claragen check CONFIG` (or `-m MMAR`) runs every pass and the lowering of every job without
writing anything and prints every error and warning; it exits 1 when there is an error.
`claragen compile` reports the same diagnostics and writes nothing when there is an error.
`claragen check --format json` prints them as a JSON object for editors and CI:

```json
{"diagnostics": [{"severity": "error", "code": "E401", "name": "unknown-argument",
                  "file": "config/config_train.json", "line": 29, "column": 9,
                  "message": "...", "help": "did you mean 'channels'?"}],
 "errors": 1, "warnings": 0, "jobs": 0}
```

A code never changes meaning. Errors: E1xx input and syntax, E2xx values, E3xx structure
and references, E4xx components and their args, E5xx search spaces, E6xx lowering to a
target. Warnings: W1xx.

Every example below is the real output of `claragen check -m . ARGS` in
`tests/diagnostics/<CODE>/` (written by `tools/gen_diagnostics_doc.py`; a test keeps this
page in step with the compiler).

| code | name | meaning |
|---|---|---|
"""


def case_args(case: Path) -> list[str]:
    extra = case / "args"
    return ["check", "-m", "."] + (
        extra.read_text().split("\n") if extra.is_file() else []
    )


def run_case(case: Path) -> tuple[int, str]:
    """`claragen check` in the case's folder: its exit status and its output."""
    args = [a for a in case_args(case) if a]
    with contextlib.chdir(case):
        result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def render() -> str:
    out = [HEAD]
    for code in CODES.values():
        out.append(
            f"| [{code.code}](#{code.code.lower()}) | `{code.name}` | {code.summary} |\n"
        )
    for code in CODES.values():
        case = CASES / code.code
        _, text = run_case(case)
        shown = " ".join(a for a in case_args(case) if a)
        out.append(
            f"\n## {code.code}\n\n`{code.name}`: {code.summary}.\n\n"
            f"```text\n$ claragen {shown}\n{text.rstrip()}\n```\n"
        )
    return "".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.is_file() or DOC.read_text() != text:
            print(
                f"{DOC.relative_to(REPO)} is out of date: run {' '.join(sys.argv[:1])}"
            )
            return 1
        return 0
    DOC.write_text(text)
    print(f"{len(CODES)} codes -> {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", "100")
    sys.exit(main(sys.argv[1:]))
