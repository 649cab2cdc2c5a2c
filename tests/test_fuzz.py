"""Fuzzing: mutated real configs never crash claragen, hang it, run a payload, or make it
write outside -o.

Hypothesis mutates seed configs (the examples and a few corpus configs of each dialect):
it deletes, swaps and retypes values, renames keys, injects quotes, braces, newlines, `#`,
`@`, `\"\"\"`, `__import__`, scope and attribute-chain escapes, bidi and line separators,
rich markup and %-formatting into strings and keys, and truncates the text. Beyond what
mutating a parsed document makes, it writes deep nesting, huge and infinite numbers and
duplicate keys into the text, names the file oddly (not UTF-8, markup, quotes), plants
links in -o, and puts payloads into environment.json and `--set` values.

The oracle is what a user runs. `claragen compile` must either write scripts that
`compile()` accepts and whose `python <script> --help` runs in a scratch folder (exit 0),
or report diagnostics (exit 1): never a traceback, never an internal error (exit 2), never
more than TIME_LIMIT seconds, never a file outside the output folder (nor a write through a
planted link), never the payload's marker file.

`make test` runs 500 inputs; `make fuzz` runs 10,000 (CLARAGEN_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import CORPUS, ENV, EXAMPLE
from tests.helprunner import HelpRunner

EXAMPLES = int(os.environ.get("CLARAGEN_FUZZ_EXAMPLES", "500"))
TIME_LIMIT = 20  # seconds per input; a compile takes well under one
FOLDER = CORPUS / "clara-train-examples"
SEEDS = [
    EXAMPLE / "config" / "config_train.json",  # 4.1, with search blocks
    EXAMPLE.parent / "spleen_3x" / "config" / "config_train.json",  # 3.x
    FOLDER / "PyTorch-Early-Access__NoteBooks__AutoML__config__trn_autoML_LR_LP@f38ab4f.json",
    FOLDER / "PyTorch__NoteBooks__GettingStarted__config__trn_base.json",
    FOLDER / "Tensorflow-Deprecated__GettingStarted__config__trn_base.json",
]  # fmt: skip
SEEDS = [s for s in SEEDS if s.is_file()]
TEXTS = {s.name: s.read_text() for s in SEEDS}

NASTY = [
    '"', "'", "{", "}", "{{", "}}", "\n", "\r\n", "#", "@", "@model", "#@model", '"""',
    "'''", "\\", "__import__('os').system('touch PWNED')", "lambda x: x", "lambda",
    "{learning_rate}", "{nope}", "#(", ")", "\u2028", "\x00", "ref", "disabled", "😀",
    "@disabled", "a#b", "#__import__", "$", "%", ".", "..", "../..", "/",
    "\u202e", "\u2066", "\u2029", "\ufb01le", "[/x]", "[bold]", "%(x)d", "%s",
    "#[0 for eval in ()] or eval('1')", "#torch.os.system('touch PWNED')",
    "lambda x: x.gi_frame", "#monai.bundle.ConfigParser({})", "subprocess.Popen",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),  # JSON has no NaN; claragen's parser rejects it anyway
    st.text(max_size=12),
    st.sampled_from(NASTY),
)


def paths(node: Any, at: tuple = ()) -> list[tuple]:
    """Every place in a JSON document: a tuple of keys and indexes."""
    out = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, at + (i,))
    return out


def get(doc: Any, at: tuple) -> Any:
    for step in at:
        doc = doc[step]
    return doc


def put(doc: Any, at: tuple, value: Any) -> Any:
    if not at:
        return value
    get(doc, at[:-1])[at[-1]] = value
    return doc


def delete(doc: Any, at: tuple) -> Any:
    if at:
        parent = get(doc, at[:-1])
        del parent[at[-1]]
    return doc


@st.composite
def mutated(draw) -> tuple[str, str]:
    """(seed name, mutated config text)."""
    name = draw(st.sampled_from(sorted(TEXTS)))
    doc = json.loads(TEXTS[name])
    for _ in range(draw(st.integers(1, 4))):
        places = paths(doc)
        at = draw(st.sampled_from(places))
        op = draw(
            st.sampled_from(["delete", "swap", "retype", "inject", "rename", "nest"])
        )
        try:
            here = get(doc, at)
        except (KeyError, IndexError, TypeError):
            continue
        if op == "delete":
            doc = delete(doc, at)
        elif op == "swap":
            other = draw(st.sampled_from(places))
            try:
                there = get(doc, other)
            except (KeyError, IndexError, TypeError):
                continue
            if at[: len(other)] == other or other[: len(at)] == at:
                continue  # one holds the other
            doc = put(doc, other, json.loads(json.dumps(here)))
            doc = put(doc, at, json.loads(json.dumps(there)))
        elif op == "retype":
            doc = put(doc, at, draw(st.one_of(SCALARS, st.just([]), st.just({}))))
        elif op == "inject" and isinstance(here, str):
            bit = draw(st.sampled_from(NASTY))
            cut = draw(st.integers(0, len(here)))
            doc = put(doc, at, here[:cut] + bit + here[cut:])
        elif op == "rename" and at and isinstance(at[-1], str):
            parent = get(doc, at[:-1])
            new = draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)))
            items = [(new if k == at[-1] else k, v) for k, v in parent.items()]
            parent.clear()
            parent.update(items)
        elif op == "nest":
            doc = put(
                doc, at, draw(st.sampled_from([[here], {"name": here}, {"args": here}]))
            )
    text = json.dumps(doc, indent=2, ensure_ascii=draw(st.booleans()))
    for _ in range(
        draw(st.integers(0, 2))
    ):  # what mutating a parsed document never makes
        text = draw(text_edit(text))
    if draw(st.integers(0, 9)) == 0:  # now and then, a torn file
        text = text[: draw(st.integers(0, len(text)))]
    return name, text


@st.composite
def text_edit(draw, text: str) -> str:
    """Deep nesting, a huge or infinite number, a key given twice: at a random place of
    the text (where it may or may not be valid JSON)."""
    cut = draw(st.integers(0, len(text)))
    kind = draw(st.sampled_from(["deep", "number", "duplicate"]))
    if kind == "deep":
        depth = draw(st.sampled_from([50, 101, 300, 5000]))
        bit = "[" * depth + "1" + "]" * depth
    elif kind == "number":
        bit = draw(
            st.sampled_from(["9" * 5000, "1e999", "-" + "1" * 150, "0." + "1" * 300])
        )
    else:
        keys = [m.start() for m in re.finditer(r'"[A-Za-z_]+": ', text)]
        if not keys:
            return text
        start = draw(st.sampled_from(keys))
        end = text.find(",\n", start)
        if end < 0:
            return text
        return text[:start] + text[start:end] + ",\n" + text[start:]
    return text[:cut] + bit + text[cut:]


# The config's file name: most often the usual one, now and then one that is not UTF-8,
# holds markup or %-formatting, or spaces and quotes.
FILE_NAMES = st.sampled_from(
    ["config_train.json"] * 6
    + [os.fsdecode(b"config_\xff.json"), "config [bold]x[/].json", "c%s%(x)d.json",
       "con fig'\"$(x).json", "config_\u202e.json"]
)  # fmt: skip
# Links planted in -o before the compile: none, or links to a file and a folder outside.
LINKS = st.sampled_from(
    [(), ("manifest.json",), ("J0001",), ("manifest.json", "J0001")]
)
# Payloads in environment.json and --set values.
ENV_PAYLOADS = st.sampled_from([None, *NASTY])


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {TIME_LIMIT} s")


HELP: HelpRunner | None = None  # one warm worker for every input


def help_runner() -> HelpRunner:
    global HELP
    if HELP is None:
        HELP = HelpRunner(timeout=TIME_LIMIT)
    return HELP


def snapshot(root: Path, out: Path) -> dict[Path, bytes | None]:
    """Every path outside -o, with a file's bytes (so that a write through a link shows)."""
    return {
        p: (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in root.rglob("*")
        if not p.is_relative_to(out)
    }


def compile_once(
    text: str,
    args: list[str],
    file_name: str = "config_train.json",
    links: tuple[str, ...] = (),
    env_payload: str | None = None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "mmar" / "config" / file_name
        config.parent.mkdir(parents=True)
        config.write_text(text, encoding="utf-8")
        env = dict(ENV)
        if env_payload is not None:
            env["DATA_ROOT"] = env_payload
            args = [*args, "--set", f"learning_rate={env_payload}"]
        (config.parent / "environment.json").write_text(json.dumps(env))
        out = root / "out"
        if links:
            (root / "outside").mkdir()
            (root / "outside" / "victim").write_text("keep")
            out.mkdir()
            for link in links:
                target = "victim" if link == "manifest.json" else ""
                (out / link).symlink_to(root / "outside" / target)
        before = snapshot(root, out)
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TIME_LIMIT)
        cwd = os.getcwd()
        os.chdir(root)
        try:
            result = CliRunner().invoke(
                app, ["compile", str(config), "-o", str(out), *args]
            )
        finally:
            os.chdir(cwd)
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        if result.exception is not None and not isinstance(
            result.exception, SystemExit
        ):
            raise result.exception  # a traceback: claragen crashed on this input
        # 2: an internal error, or an option typer refused (a --set with no '=')
        assert (
            result.exit_code in (0, 1) or "Invalid value" in result.output
        ), result.output
        if result.exit_code == 1:
            assert (
                "error[E" in result.output or "error: -o" in result.output
            ), result.output
        elif result.exit_code == 0:
            scratch = root / "scratch"
            scratch.mkdir()
            for script in out.rglob("*.py"):
                compile(script.read_text(encoding="utf-8"), str(script), "exec")
                code, output = help_runner().help(script, scratch)
                assert code == 0 and "usage:" in output, f"{script} --help: {output}"
            for bundle in out.rglob("*.json"):
                json.loads(bundle.read_text(encoding="utf-8"))
        assert not list(root.rglob("PWNED")), "a payload ran"
        after = snapshot(root, out)
        after.pop(root / "scratch", None)
        assert after == before, f"written outside -o: {set(after) ^ set(before)}"


@pytest.mark.skipif(not SEEDS, reason="no seed configs")
@settings(
    max_examples=EXAMPLES,
    deadline=None,  # TIME_LIMIT bounds each input instead (hypothesis' deadline is soft)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 500,  # make test: the same inputs on every run
    database=None,
)
@given(
    mutated(),
    st.sampled_from([[], ["--jobs", "random:2"], ["--target", "bundle"]]),
    FILE_NAMES,
    LINKS,
    ENV_PAYLOADS,
)
def test_mutated_configs_compile_or_get_diagnostics(
    seed_and_text, args, file_name, links, env_payload
):
    _, text = seed_and_text
    compile_once(text, args, file_name, links, env_payload)
