"""Terminal control bytes (issue 27, class 8): config keys, domains, tags, searched values,
job names and reasons reach the terminal only through claragen/gates/show.py, which
shows every control character escaped: through `check`, `space`, the live table, the
leaderboard, the log lines and the error lines."""

from __future__ import annotations

import io
import json
import logging

import pytest
from rich.console import Console

from claragen.gates import show
from claragen.runtime.live import Display, JobRow, leaderboard
from tests.gates.common import invoke, mmar

# ESC (CSI clear screen, OSC title, OSC 8 link), C1 CSI, BEL, DEL, bidi override and
# isolate, line and paragraph separators, a carriage return, NUL
PAYLOADS = ["\x1b[2J", "\x1b]0;pwned\x07", "\x1b]8;;http://x\x1b\\", "\x9b31m", "\x7f",
            "\u202e", "\u2066", "\u2028", "\u2029", "\r", "\x00"]  # fmt: skip
EVIL = "a" + "".join(PAYLOADS) + "z"
RAW = [c for p in PAYLOADS for c in p if not c.isprintable()]


def clean(output: str) -> None:
    found = sorted({repr(c) for c in RAW if c in output})
    assert not found, f"raw control characters reached the terminal: {found}"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_show_text_escapes_each_control_character(payload):
    shown = show.text(f"x{payload}y\tz")
    clean(shown)
    assert shown.startswith("x") and shown.endswith("y\tz")  # a tab stays a tab


def test_show_block_keeps_its_own_line_breaks_only():
    assert show.block("a\x1b[1m\nb") == "a\\x1b[1m\nb"


def evil_config(c):
    c[f"key{EVIL}"] = 1
    c["train"]["handlers"][0]["args"]["tag_name"] = EVIL
    c["train"]["loss"]["args"][f"bad{EVIL}"] = 1  # an unknown arg: E104/E401
    c["learning_rate"] = 1e-4
    c["search"] = [{"domain": f"lr{EVIL}", "type": "float", "args": ["learning_rate"],
                    "targets": [1e-5, 1e-3]}]  # fmt: skip


def test_check_shows_config_text_escaped(tmp_path):
    root = mmar(tmp_path, evil_config)
    code, output = invoke("check", root / "config" / "config_train.json")
    assert code == 1, output
    clean(output)
    assert "\\x1b" in output  # said, escaped


def test_space_shows_domains_and_tags_escaped(tmp_path):
    def edit(c):
        evil_config(c)
        del c["train"]["loss"]["args"][f"bad{EVIL}"]

    root = mmar(tmp_path, edit)
    for extra in ([], ["--json"]):
        code, output = invoke("space", "-m", root, *extra)
        assert code == 0, output
        clean(output)


def rendered(renderable) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False, color_system=None)
    show.render(console, renderable)
    return buffer.getvalue()


def test_the_live_table_and_the_leaderboard_escape_names_values_and_reasons():
    row = JobRow("J1", name=f"W1_1_J1{EVIL}", worker=EVIL, status="failed",
                 reason=EVIL, score=None)  # fmt: skip
    ok = JobRow("J2", name="W1_1_J2", worker="w", status="ok", score=0.5)
    display = Display(EVIL, Console(file=io.StringIO(), force_terminal=False))
    display.rows = {"J1": row, "J2": ok}
    table = rendered(display.table())
    clean(table)
    assert "W1_1_J2" in table and "W1_1_J1a" in table
    values = {"J1": {f":lr{EVIL}": EVIL}, "J2": {":lr": [f"{EVIL}"]}}
    board = rendered(leaderboard([row, ok], values, EVIL, width=100))
    clean(board)
    assert "W1_1_J2" in board and "W1_1_J1" in board and "0.5000" in board


def test_the_lines_of_a_search_without_a_terminal_are_escaped():
    buffer = io.StringIO()
    display = Display(
        "t", Console(file=buffer, force_terminal=False, color_system=None)
    )
    display.update(JobRow("J1", name=EVIL, worker=EVIL, status="running"))
    display.update(JobRow("J1", name=EVIL, worker=EVIL, status="failed", reason=EVIL))
    clean(buffer.getvalue())
    assert "FAILED" in buffer.getvalue()


def test_log_lines_are_escaped(capsys):
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = []
    try:
        show.setup_logging(logging.INFO)
        logging.getLogger("claragen.test").warning("job %s ended: %s", EVIL, EVIL)
    finally:
        root.handlers[:] = saved
    clean(capsys.readouterr().err)


def test_an_automl_error_line_is_escaped(tmp_path, monkeypatch):
    root = mmar(tmp_path)
    conf = {"controller": {"name": f"Bayes{EVIL}"}}
    (root / "config" / "config_automl.json").write_text(json.dumps(conf))
    monkeypatch.chdir(tmp_path)
    code, output = invoke("automl", "-m", root, "--max-jobs", "1", "-o", tmp_path / "a",
                          "--no-tracking")  # fmt: skip
    assert code == 1 and "unknown controller" in output, output
    clean(output)


def test_a_diagnostic_keeps_its_caret_under_the_column_after_escapes(tmp_path):
    text = json.dumps({"\x1b[2J": 1, "train": {"model": {"nme": "UNet"}}})
    path = tmp_path / "config" / "config_train.json"
    path.parent.mkdir()
    path.write_text(text)
    code, output = invoke("check", path)
    clean(output)
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "| " in line and i + 1 < len(lines) and lines[i + 1].rstrip().endswith("^"):
            caret = lines[i + 1].index("^")
            assert line[caret] in '"{[', (line, lines[i + 1])
