"""Advice that works: every option an error or warning of ``orthoplan calibrate`` recommends is
accepted when the user follows it, and ``--assume-magnification`` works wherever a detector
spacing exists (issue 15). Run as a user runs it: the CLI in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orthoplan.phantoms import pelvis as phantom

#: What a user types after each advised option (a plausible value).
FOLLOW = {
    "--known-length": ["10", "10", "310", "10", "60"],
    "--spacing": ["0.2"],
    "--assume-magnification": ["1.15"],
}
#: The calibration source that proves the option was used, not ignored.
SOURCE_OF = {"--known-length": "known-length", "--spacing": "explicit-spacing",
             "--assume-magnification": "assumed-magnification"}


def calibrate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orthoplan.cli", "calibrate", *args],
                          capture_output=True, text=True, timeout=300)


def advised(text: str) -> set[str]:
    """The command-line options a message recommends."""
    return set(re.findall(r"--[a-z][a-z-]+", text))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, real_dir: Path) -> dict[str, list[str]]:
    tmp = tmp_path_factory.mktemp("advice")
    png = tmp / "hip.png"
    rng = np.random.default_rng(3)
    Image.fromarray((80 + 60 * rng.random((400, 500))).astype(np.uint8)).save(png)
    dx = tmp / "dx_detector_only.dcm"
    case = phantom.make_pelvis(seed=5, rows=500, columns=600, detector_spacing_mm=0.6, ball_diameter_mm=None,
                               calibration_tags="imager")
    case.dataset.save_as(dx, enforce_file_format=True)
    return {
        "mono1-leg": [str(real_dir / "lower_leg_cr_rg3_mono1.dcm")],
        "png-without-spacing": [str(png)],
        "chest-zero-spacing": [str(real_dir / "chest_cr_rg1_zero_spacing.dcm"), "--no-ball"],
        "dx-imager-spacing-only": [str(dx), "--no-ball"],
    }


@pytest.mark.parametrize("name", ["mono1-leg", "png-without-spacing", "chest-zero-spacing", "dx-imager-spacing-only"])
def test_every_advice_in_an_error_is_accepted_when_followed(inputs, name):
    args = inputs[name]
    proc = calibrate(*args)
    assert proc.returncode == 5, proc.stderr
    options = advised(proc.stderr)
    assert "--known-length" in options, proc.stderr
    for option in sorted(options):
        assert option in FOLLOW, f"{name}: unexpected advice {option} in: {proc.stderr}"
        followed = calibrate(*args, option, *FOLLOW[option], "--json")
        assert followed.returncode == 0, f"{name}: advice {option} refused: {followed.stderr}"
        assert json.loads(followed.stdout)["source"] == SOURCE_OF[option], (name, option)


def test_png_without_spacing_error_names_spacing(inputs):
    proc = calibrate(*inputs["png-without-spacing"])
    assert proc.returncode == 5
    assert "--spacing" in proc.stderr
    assert "--assume-magnification" not in proc.stderr  # it needs a detector spacing a bitmap has not


def test_images_without_a_detector_spacing_are_not_advised_to_assume_a_magnification(inputs):
    for name in ("mono1-leg", "png-without-spacing", "chest-zero-spacing"):
        proc = calibrate(*inputs[name])
        assert proc.returncode == 5
        assert "--assume-magnification" not in proc.stderr, (name, proc.stderr)
        # ... and when asked anyway, the refusal still advises only what works
        asked = calibrate(*inputs[name], "--assume-magnification", "1.15")
        assert asked.returncode == 5
        assert "--assume-magnification" not in asked.stderr and "--spacing" in asked.stderr, asked.stderr


def test_detector_only_dx_is_advised_to_assume_and_accepts_it(inputs):
    proc = calibrate(*inputs["dx-imager-spacing-only"])
    assert "--assume-magnification" in proc.stderr
    cal = json.loads(calibrate(*inputs["dx-imager-spacing-only"], "--assume-magnification", "1.2", "--json").stdout)
    assert cal["source"] == "assumed-magnification" and cal["assumed"]
    assert cal["mm_per_px"] == pytest.approx(0.6 / 1.2)


def test_assume_magnification_with_no_ball_on_the_real_hip_cr(real_dir: Path):
    """hip_cr_rg2: PixelSpacing 0.2 without a calibration type, no ImagerPixelSpacing (the issue's case)."""
    hip = str(real_dir / "hip_cr_rg2.dcm")
    plain = json.loads(calibrate(hip, "--no-ball", "--json").stdout)
    assert plain["source"] == "dicom-pixel-spacing" and plain["uncertainty_pct"] == 20.0
    assert "--assume-magnification" in " ".join(plain["warnings"])  # the advice ...
    assumed = json.loads(calibrate(hip, "--no-ball", "--assume-magnification", "1.15", "--json").stdout)
    assert assumed["source"] == "assumed-magnification" and assumed["assumed"]  # ... is taken
    assert assumed["mm_per_px"] == pytest.approx(0.2 / 1.15)
    assert assumed["uncertainty_pct"] == 10.0 and assumed["magnification"] == 1.15
    assert assumed["interval_mm_per_px"] != plain["interval_mm_per_px"]
    # the untyped PixelSpacing is taken as the detector spacing, and the user is told so
    assert any("taken as the detector spacing" in w for w in assumed["warnings"])
    # every option advised in the plain run's warnings is taken when followed
    for option in advised(" ".join(plain["warnings"])):
        followed = json.loads(calibrate(hip, "--no-ball", option, *FOLLOW[option], "--json").stdout)
        assert followed["source"] == SOURCE_OF[option], option


def test_assume_magnification_is_not_used_silently_when_the_image_is_calibrated(tmp_path: Path):
    case = phantom.make_pelvis(seed=6, rows=500, columns=600, detector_spacing_mm=0.6, ball_diameter_mm=None,
                               calibration_tags="imager+ermf")
    path = tmp_path / "ermf.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    cal = json.loads(calibrate(str(path), "--no-ball", "--assume-magnification", "1.3", "--json").stdout)
    assert cal["source"] == "dicom-imager-spacing+ermf"
    assert any("assumed magnification 1.3 is not used" in w for w in cal["warnings"])
