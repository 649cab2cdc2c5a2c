"""The smoke run's synthetic data fits the config's own pipeline, and its failure names the
first real exception (claragen/script_errors.py)."""

from claragen.script_errors import cause as _last_line
from claragen.smoke import voxel_size
from tests.conftest import minimal, run_passes

THREAD_THEN_MAIN = """\
Exception in thread Thread-1 (_run):
Traceback (most recent call last):
  File "monai/transforms/utils.py", line 617, in correct_crop_centers
ValueError: The size of the proposed random crop ROI is larger than the image size
Traceback (most recent call last):
  File "train.py", line 500, in main
TypeError: the data to aggregate must be PyTorch Tensor
"""
CHAINED = """\
Traceback (most recent call last):
KeyError: 'label'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
RuntimeError: applying transform <monai.transforms.Spacingd object>
"""


def test_the_first_real_exception_is_reported():
    assert _last_line(THREAD_THEN_MAIN).startswith(
        "ValueError: The size of the proposed"
    )
    assert _last_line(CHAINED) == "KeyError: 'label'"
    # a progress bar redrawn with carriage returns, then no error line: its last state
    assert _last_line("Loading: 10%\rLoading: 100%\n") == "Loading: 100%"


def test_the_volumes_have_the_spacing_the_config_resamples_to(tmp_path):
    cfg = minimal()
    cfg["train"]["pre_transforms"].insert(
        1, {"name": "Spacingd", "args": {"keys": ["image"], "pixdim": [1.5, 1.5, 2.0]}}
    )
    config = run_passes(tmp_path, cfg)
    assert voxel_size(config, 3) == [1.5, 1.5, 2.0]
    assert voxel_size(config, 2) == [1.5, 1.5, 1.0]
    assert voxel_size(run_passes(tmp_path / "b", minimal()), 3) == [1.0, 1.0, 1.0]


def test_smoke_of_a_bundle_says_what_to_run_instead(tmp_path):
    """The bundle target writes configs, no train.py: smoke says so (it raised a
    TypeError with a traceback; found by the attack on issue 28)."""
    from typer.testing import CliRunner

    from claragen.cli import app
    from tests.conftest import EXAMPLE

    result = CliRunner().invoke(
        app,
        ["smoke", str(EXAMPLE / "config" / "config_train.json"), "--target", "bundle"],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "the bundle target writes no train.py to run" in result.output
    assert result.exit_code != 0
