"""Bounded input (issue 15, items 4 and 5): inputs that used to crash, hang or exhaust
memory end in one diagnostic, at once, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ENV, minimal, write


def check(*args, timeout: float = 60):
    """`claragen check` as a subprocess (what a user runs): exit status and output."""
    proc = subprocess.run([sys.executable, "-m", "claragen", "check", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    return proc.returncode, output


@pytest.mark.parametrize("depth", [200, 1_000, 100_000])
def test_deep_nesting_is_one_error(tmp_path, depth):
    config = write(tmp_path, "c.json", "[" * depth + "]" * depth)
    code, output = check(config)
    assert code == 1 and "error[E108]" in output and "1 error" in output


def test_deep_nesting_inside_a_config(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["args"]["channels"] = "@"
    text = json.dumps(cfg).replace('"@"', "[" * 300 + "]" * 300)
    code, output = check(write(tmp_path, "c.json", text))
    assert code == 1 and "error[E108]" in output


@pytest.mark.parametrize(
    "number", ["9" * 5000, "-" + "1" * 101, "1e999", "1." + "0" * 200]
)
def test_huge_numbers_are_one_error(tmp_path, number):
    cfg = json.dumps(minimal()).replace('"epochs": 2', f'"epochs": {number}')
    code, output = check(write(tmp_path, "c.json", cfg))
    assert code == 1 and "error[E109]" in output


def test_a_config_over_the_size_limit_is_refused_at_once(tmp_path):
    config = tmp_path / "c.json"
    with open(config, "w") as f:
        f.write('{"a": "' + "x" * (20 * 1024 * 1024) + '"}')
    start = time.monotonic()
    code, output = check(config)
    assert code == 1 and "error[E107]" in output and "--max-config-size" in output
    assert time.monotonic() - start < 30  # it used to take 36 s and 3.3 GB
    small = write(tmp_path, "small.json", json.dumps(minimal()))
    code, output = check(small, "--max-config-size", "1k")
    assert code == 1 and "error[E107]" in output
    code, output = check(small, "--max-config-size", "lots")
    assert code == 2 and "is no size" in output


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "folder"])
def test_a_config_that_is_no_regular_file_is_refused(tmp_path, kind):
    config = tmp_path / "config_train.json"
    if kind == "fifo":
        os.mkfifo(config)  # reading it would block forever
    elif kind == "folder":
        config.mkdir()
    else:
        config.symlink_to(kind)  # reading it would never end
    code, output = check(config, timeout=30)
    assert code == 1 and "error[E110]" in output


def test_a_config_name_that_is_not_utf8(tmp_path):
    name = os.fsdecode(b"config_\xff\xfe.json")
    (tmp_path / name).write_text(json.dumps(minimal()))
    (tmp_path / "environment.json").write_text(json.dumps(ENV))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "claragen", "compile", os.fsencode(tmp_path / name),
         "-o", str(out)],
        capture_output=True,
    )  # fmt: skip
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert "Traceback" not in output
    assert proc.returncode == 0, output
    text = (out / "J0001" / "train.py").read_text(encoding="utf-8")
    assert "config_\\xff\\xfe.json" in text  # named, escaped
    compile(text, "train.py", "exec")
    broken = write(tmp_path, "b.json", "")
    bad = broken.with_name(os.fsdecode(b"bad_\xff.json"))
    bad.write_text("{")
    proc = subprocess.run([sys.executable, "-m", "claragen", "check", os.fsencode(bad)],
                          capture_output=True)  # fmt: skip
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode == 1 and "bad_\\xff.json:1:1: error[E101]" in output, output


def test_a_config_that_is_not_utf8_text(tmp_path):
    config = tmp_path / "c.json"
    config.write_bytes(b'{"epochs": "\xff"}')
    code, output = check(config)
    assert code == 1 and "c.json:1:13: error[E100]" in output and "0xff" in output


@pytest.mark.parametrize(
    "args",
    [["--jobs", "grid", "--float-steps", "100000"], ["--jobs", "grid"]],
)
def test_a_grid_too_large_is_refused_with_its_size(tmp_path, args):
    cfg = minimal()
    cfg["search"] = [
        {"type": "float", "args": ["learning_rate"], "targets": [1e-4, 1e-3]},
        *[{"type": "enum", "args": [f"tag{i}"], "targets": [[v] for v in range(10)]}
          for i in range(12)],
    ]  # fmt: skip
    start = time.monotonic()
    code, output = check(write(tmp_path, "c.json", json.dumps(cfg)), *args)
    assert code == 1 and "error[E507]" in output and "the grid has" in output
    assert "000,000,000,000 jobs" in output  # 10^12 or more, counted, not expanded
    assert time.monotonic() - start < 30


def test_random_jobs_are_bounded(tmp_path):
    code, output = check(write(tmp_path, "c.json", json.dumps(minimal())),
                         "--jobs", "random:" + "9" * 5000)  # fmt: skip
    assert code == 2 and "--jobs" in output


def test_a_set_value_nested_deeply_is_text(tmp_path):
    config = write(tmp_path, "c.json", json.dumps(minimal()))
    code, output = check(config, "--set", "learning_rate=" + "[" * 100_000)
    assert "Traceback" not in output


def test_a_search_of_a_grid_too_large_is_refused(tmp_path):
    cfg = minimal()
    cfg["search"] = [
        {"type": "float", "args": ["learning_rate"], "targets": [1e-4, 1e-3]},
        *[{"type": "enum", "args": [f"tag{i}"], "targets": [[v] for v in range(10)]}
          for i in range(12)],
    ]  # fmt: skip
    write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg))
    write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "claragen", "automl", "-m", str(tmp_path / "mmar"),
         "--run-id", "r", "--controller", "grid", "--no-tracking"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "the grid has 3,000,000,000,000 jobs" in output
    assert "Traceback" not in output and time.monotonic() - start < 60
