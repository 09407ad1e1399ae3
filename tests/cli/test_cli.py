"""The ``orthoplan`` command, run as a user runs it (a subprocess), against known truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from orthoplan.phantoms import pelvis as phantom


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "orthoplan.cli", *args], capture_output=True, text=True, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_calibrate_ball_without_magnification_tag_within_1pct(case_dir: Path, truth: dict):
    out = json.loads(run("calibrate", str(case_dir / "image.dcm"), "--ball-mm", "25", "--json").stdout)
    assert out["source"] == "ball-marker"
    assert out["mm_per_px"] == pytest.approx(truth["mm_per_px"], rel=0.01)
    lo, hi = out["interval_mm_per_px"]
    assert lo <= truth["mm_per_px"] <= hi


def test_measure_with_exact_landmarks_reproduces_truth(case_dir: Path, truth: dict):
    out = json.loads(
        run("measure", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"), "--json").stdout
    )
    got = out["measurements"]
    expected = truth["measurements"]
    assert set(expected) <= set(got)
    for name, value in expected.items():
        tol = 0.5 if name.endswith("_deg") else 0.5
        # ball calibration error (≤ 1 %) scales lengths; lengths here are < 60 mm → ≤ 0.6 mm
        if name.endswith("_mm"):
            tol = 0.5 + 0.01 * abs(value)
        assert got[name]["value"] == pytest.approx(value, abs=tol), name
        assert got[name]["unit"] == ("deg" if name.endswith("_deg") else "mm")
    assert out["calibration"]["source"] == "ball-marker"


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_measure_both_photometric_interpretations(tmp_path: Path, photometric: str):
    case = phantom.make_pelvis(seed=3, rows=1000, columns=1200, detector_spacing_mm=0.35, photometric=photometric)
    files = phantom.write_case(case, tmp_path)
    out = json.loads(run("measure", str(files["image"]), "--landmarks", str(files["landmarks"]), "--json").stdout)
    for name, value in case.measurements.items():
        tol = 0.5 if name.endswith("_deg") else 0.5 + 0.01 * abs(value)
        assert out["measurements"][name]["value"] == pytest.approx(value, abs=tol), name


def test_plan_writes_json_and_picture(case_dir: Path, tmp_path: Path):
    proc = run("plan", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"),
               "--out", str(tmp_path / "p"), "--no-dicom")
    plan = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert plan["schema"] == "orthoplan.plan" and plan["calibration"]["source"] == "ball-marker"
    png = (tmp_path / "p" / "overlay.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "lld_teardrop_mm" in proc.stdout


def test_missing_landmark_is_reported_not_zero(case_dir: Path, tmp_path: Path):
    data = json.loads((case_dir / "landmarks.json").read_text())
    del data["landmarks"]["lesser_trochanter_left"]
    lf = tmp_path / "lm.json"
    lf.write_text(json.dumps(data))
    out = json.loads(run("measure", str(case_dir / "image.dcm"), "--landmarks", str(lf), "--json").stdout)
    assert "lld_teardrop_mm" not in out["measurements"]
    assert "lesser_trochanter_left" in out["missing"]["lld_teardrop_mm"]


def _bad_files(tmp_path: Path, real_dir: Path) -> dict[str, Path]:
    hip = (real_dir / "hip_cr_rg2.dcm").read_bytes()
    files = {}
    files["truncated"] = tmp_path / "truncated.dcm"
    files["truncated"].write_bytes(hip[: len(hip) // 2])
    files["not-dicom"] = tmp_path / "notes.dcm"
    files["not-dicom"].write_text("this is not an image\n")
    ds = pydicom.dcmread(real_dir / "hip_cr_rg2.dcm")
    ds.PatientName = "SECRET^NAME"
    rgb = ds.copy()
    rgb.SamplesPerPixel, rgb.PhotometricInterpretation, rgb.PlanarConfiguration = 3, "RGB", 0
    rgb.BitsAllocated = rgb.BitsStored = 8
    rgb.HighBit = 7
    rgb.Rows, rgb.Columns = 8, 8
    rgb.PixelData = np.zeros((8, 8, 3), np.uint8).tobytes()
    files["colour"] = tmp_path / "rgb.dcm"
    rgb.save_as(files["colour"])
    mf = ds.copy()
    mf.Rows, mf.Columns, mf.NumberOfFrames = 8, 8, 3
    mf.PixelData = np.zeros((3, 8, 8), np.uint16).tobytes()
    files["multi-frame"] = tmp_path / "mf.dcm"
    mf.save_as(files["multi-frame"])
    sr = ds.copy()
    del sr.PixelData
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    sr.Modality = "SR"
    files["non-image"] = tmp_path / "sr.dcm"
    sr.save_as(files["non-image"])
    return files


@pytest.mark.parametrize("kind,code", [("truncated", 3), ("not-dicom", 3), ("colour", 4), ("multi-frame", 4), ("non-image", 4)])
def test_bad_input_is_one_line_and_a_specific_exit_code(tmp_path: Path, real_dir: Path, kind: str, code: int):
    path = _bad_files(tmp_path, real_dir)[kind]
    proc = run("calibrate", str(path), check=False)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orthoplan: error:"), proc.stderr
    assert "Traceback" not in proc.stderr and "SECRET" not in proc.stderr


def test_uncalibrated_image_refused_unless_magnification_assumed(real_dir: Path):
    leg = str(real_dir / "lower_leg_cr_rg3_mono1.dcm")
    proc = run("calibrate", leg, "--no-ball", check=False)
    assert proc.returncode == 5 and "assume" in proc.stderr.lower()


def test_zero_spacing_chest_refused(real_dir: Path):
    proc = run("calibrate", str(real_dir / "chest_cr_rg1_zero_spacing.dcm"), "--no-ball", check=False)
    assert proc.returncode == 5


def test_bad_landmark_file(case_dir: Path, tmp_path: Path):
    lf = tmp_path / "lm.json"
    lf.write_text('{"landmarks": {"teardrop_middle": [1, 2]}}')
    proc = run("measure", str(case_dir / "image.dcm"), "--landmarks", str(lf), check=False)
    assert proc.returncode == 6 and "teardrop_middle" in proc.stderr


def test_calibrate_and_plan_ball_at_choose_the_ball_or_exit_5(tmp_path: Path):
    """Issue 15: --ball-at picks the candidate whose circle holds the point (a ball beside a round
    bone shadow); the shadow, or a point with no candidate, is a clear refusal, exit 5."""
    case = phantom.make_pelvis(seed=1, rows=800, columns=960, detector_spacing_mm=0.375, magnification=1.15,
                               ball_material="steel", round_shadow_mm=26.0, round_shadow_offset_mm=(55.0, -10.0),
                               calibration_tags="imager", ball_position="thigh")
    path = tmp_path / "shadow.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    bx, by = case.ball["x"], case.ball["y"]
    inside = f"{bx + 10:.0f},{by - 10:.0f}"
    out = json.loads(run("calibrate", str(path), "--ball-at", inside, "--json").stdout)
    assert out["details"]["center_xy"] == pytest.approx([bx, by], abs=1.0)
    lo, hi = out["interval_mm_per_px"]
    assert lo <= case.mm_per_px <= hi
    # the shadow: 55 mm right of and 10 mm above the ball, at the detector
    sx, sy = bx + 55.0 / 0.375, by - 10.0 / 0.375
    shadow = run("calibrate", str(path), "--ball-at", f"{sx:.0f},{sy:.0f}", check=False)
    assert shadow.returncode == 5, shadow.stderr
    assert "not taken for the 25 mm ball" in shadow.stderr or "no 25 mm calibration ball at" in shadow.stderr
    nothing = run("plan", str(path), "--ball-at", "480,40", "--out", str(tmp_path / "p"), "--no-dicom", check=False)
    assert nothing.returncode == 5, nothing.stderr
    assert f"the candidates are at x={bx:.0f}" in nothing.stderr and "Traceback" not in nothing.stderr
    assert not (tmp_path / "p" / "plan.json").exists()
