"""The synthetic generator: truth consistent with its own landmarks, pixels as specified, valid DICOM."""

from __future__ import annotations

import math
import shutil
import subprocess

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

from orthoplan.phantoms import pelvis as phantom
from orthoplan.model import LandmarkName as N

SMALL = dict(rows=800, columns=1000, detector_spacing_mm=0.4)


def _mm(case, name):
    lm = case.landmarks[name]
    return np.array([lm.x, lm.y]) * case.mm_per_px


def _perp_dist(p, a, b):
    """Signed distance from p to line ab, positive towards the feet (image +y on these AP images)."""
    d = (b - a) / np.linalg.norm(b - a)
    n = np.array([-d[1], d[0]])
    if n[1] < 0:
        n = -n
    return float((p - a) @ n)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_truth_matches_independent_geometry(seed):
    case = phantom.make_pelvis(seed=seed, **SMALL)
    t = case.measurements
    tl, tr = _mm(case, N.TEARDROP_LEFT), _mm(case, N.TEARDROP_RIGHT)
    lld = _perp_dist(_mm(case, N.LESSER_TROCHANTER_LEFT), tl, tr) - _perp_dist(_mm(case, N.LESSER_TROCHANTER_RIGHT), tl, tr)
    assert lld == pytest.approx(t["lld_teardrop_mm"], abs=1e-3)
    il, ir = _mm(case, N.ISCHIAL_TUBEROSITY_LEFT), _mm(case, N.ISCHIAL_TUBEROSITY_RIGHT)
    lld_i = _perp_dist(_mm(case, N.LESSER_TROCHANTER_LEFT), il, ir) - _perp_dist(_mm(case, N.LESSER_TROCHANTER_RIGHT), il, ir)
    assert lld_i == pytest.approx(t["lld_ischial_mm"], abs=1e-3)
    for side in ("left", "right"):
        h = _mm(case, N.of("femoral_head_center", side))
        sp, sd = _mm(case, N.of("femoral_shaft_proximal", side)), _mm(case, N.of("femoral_shaft_distal", side))
        nc = _mm(case, N.of("femoral_neck_center", side))
        assert abs(_perp_dist(h, sp, sd)) == pytest.approx(t[f"femoral_offset_{side}_mm"], abs=1e-3)
        u, v = h - nc, sd - sp
        nsa = math.degrees(math.acos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
        assert nsa == pytest.approx(t[f"neck_shaft_angle_{side}_deg"], abs=1e-3)
        # Sharp: angle between the teardrop line and teardrop → lateral edge
        td, e = _mm(case, N.of("teardrop", side)), _mm(case, N.of("acetabular_lateral_edge", side))
        w, x = tl - tr, e - td
        sharp = math.degrees(math.acos(abs(w @ x) / np.linalg.norm(w) / np.linalg.norm(x)))
        assert sharp == pytest.approx(t[f"sharp_angle_{side}_deg"], abs=1e-3)
        assert t[f"global_offset_{side}_mm"] == pytest.approx(t[f"femoral_offset_{side}_mm"] + t[f"acetabular_offset_{side}_mm"])
        r = case.landmarks[N.of("femoral_head_center", side)].radius_px * case.mm_per_px
        assert 20 <= r <= 29


def test_ball_diameter_in_pixels():
    for m_ball in (None, 1.2):
        case = phantom.make_pelvis(seed=5, ball_magnification=m_ball, noise=0, text=False, **SMALL)
        px = case.dataset.pixel_array.astype(float)
        bx, by, r = case.ball["x"], case.ball["y"], case.ball["radius_px"]
        expected_r = 12.5 * (m_ball or case.magnification) / 0.4
        assert r == pytest.approx(expected_r)
        win = px[max(0, int(by - 1.5 * r)):int(by + 1.5 * r), max(0, int(bx - 1.5 * r)):int(bx + 1.5 * r)]
        inside = px[int(by), int(bx)]
        background = np.median(px[int(by), max(0, int(bx - 1.5 * r)) : max(1, int(bx - 1.15 * r))].tolist() + px[int(by), int(bx + 1.15 * r) : int(bx + 1.5 * r)].tolist())
        r0, c0 = max(0, int(by - 1.5 * r)), max(0, int(bx - 1.5 * r))
        yy, xx = np.mgrid[r0 : r0 + win.shape[0], c0 : c0 + win.shape[1]]
        near = np.hypot(xx + 0.5 - bx, yy + 0.5 - by) < 1.1 * r  # ignore bright bone further away
        area = np.count_nonzero((win > (inside + background) / 2) & near)
        assert 2 * math.sqrt(area / math.pi) == pytest.approx(2 * expected_r, rel=0.01)


def test_bone_bright_and_monochrome1_inverted():
    m2 = phantom.make_pelvis(seed=2, noise=0, **SMALL)
    m1 = phantom.make_pelvis(seed=2, noise=0, photometric="MONOCHROME1", **SMALL)
    a2, a1 = m2.dataset.pixel_array.astype(int), m1.dataset.pixel_array.astype(int)
    assert np.array_equal(a1, 65535 - a2)
    head = m2.landmarks[N.FEMORAL_HEAD_CENTER_RIGHT]
    thigh_soft = (int(head.y + 0.7 * (m2.landmarks[N.FEMORAL_SHAFT_DISTAL_RIGHT].y - head.y)), int(head.x - 2.2 * head.radius_px))
    assert a2[int(head.y), int(head.x)] > a2[thigh_soft] + 2000


@pytest.mark.parametrize("ts", [JPEG2000Lossless, JPEGLSLossless])
def test_lossless_transfer_syntaxes_decode_identically(ts):
    plain = phantom.make_pelvis(seed=4, **SMALL)
    comp = phantom.make_pelvis(seed=4, transfer_syntax=ts, **SMALL)
    assert comp.dataset.file_meta.TransferSyntaxUID == ts
    assert np.array_equal(plain.dataset.pixel_array, comp.dataset.pixel_array)


def test_dciodvfy_has_no_errors(tmp_path):
    exe = shutil.which("dciodvfy")
    assert exe, "dciodvfy (Debian dicom3tools) is required: run scripts/test"
    files = phantom.write_case(phantom.make_pelvis(seed=1, calibration_tags="pixel", **SMALL), tmp_path)
    out = subprocess.run([exe, str(files["image"])], capture_output=True, text=True)
    errors = [l for l in (out.stdout + out.stderr).splitlines() if l.startswith("Error")]
    assert errors == []


def test_random_cases_distinct_and_plausible():
    seen = set()
    for seed in range(20):
        case = phantom.make_pelvis(seed=seed, rows=300, columns=360, detector_spacing_mm=1.1, noise=0)
        m = case.measurements
        seen.add(round(m["lld_teardrop_mm"], 6))
        assert -13 < m["lld_teardrop_mm"] < 13
        for side in ("left", "right"):
            assert 110 < m[f"neck_shaft_angle_{side}_deg"] < 150
            assert 20 < m[f"sharp_angle_{side}_deg"] < 70
        for lm in case.landmarks:
            assert 0 <= lm.x <= 360 and 0 <= lm.y <= 300, lm.name
    assert len(seen) == 20


def test_deterministic():
    a = phantom.make_pelvis(seed=9, **SMALL)
    b = phantom.make_pelvis(seed=9, **SMALL)
    assert a.dataset.SOPInstanceUID == b.dataset.SOPInstanceUID
    assert np.array_equal(a.dataset.pixel_array, b.dataset.pixel_array)
