"""Negative case: a (synthetic) cross-table lateral hip gives "no pelvis found", not a plan.

No real lateral hip film is available; :func:`orthoplan.phantoms.pelvis.lateral_hip_radiograph`
draws one (one round femoral head, neck and shaft running across the image, acetabular
walls, ischium and pubis seen from the side; no teardrops, no second hip). The AP detector
must not claim a pelvis on it: no pelvic landmark with confidence ≥ 0.5 (in fact none at
all) and a reason that says why.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.landmarks import detect_details
from orthoplan.pipeline import load_radiograph

PELVIC = ("teardrop", "ischial_tuberosity", "acetabular_lateral_edge", "sourcil_medial")
NO_PELVIS = ("no pelvis found", "not an AP pelvis/hip radiograph")


def _lateral(seed: int):
    return phantom.lateral_hip_radiograph(seed=seed, photometric="MONOCHROME1" if seed % 2 else "MONOCHROME2",
                                            noise=(0.5, 1.0, 2.0)[seed % 3])


def test_lateral_phantom_shows_one_round_head():
    """The phantom is what it claims: one bright round head where it says, lateral header."""
    case = _lateral(1)
    rad = load_radiograph(case.dataset)
    assert case.dataset.ViewPosition == "LL" and case.dataset.BodyPartExamined == "HIP"
    x, y = (int(round(v)) for v in case.head_xy_px)
    r = int(case.head_radius_px)
    inside = rad.display[y - r // 3:y + r // 3, x - r // 3:x + r // 3].mean()
    outside = rad.display[y - r // 3:y + r // 3, x - 2 * r:x - int(1.4 * r)].mean()
    assert inside > outside + 0.05  # the head is brighter than the soft tissue beside it


@pytest.mark.parametrize("seed", range(12))
def test_lateral_hip_gives_no_pelvis(seed):
    det = detect_details(load_radiograph(_lateral(seed).dataset))
    lms = det.landmarks
    assert not [lm for lm in lms if lm.name.anatomy in PELVIC and lm.confidence >= 0.5]
    assert len(lms) == 0, [(lm.name.value, lm.confidence) for lm in lms]
    for side in ("left", "right"):
        reason = lms.missing_reason(f"teardrop_{side}")
        assert any(s in reason for s in NO_PELVIS), reason


def test_lateral_phantom_would_fool_a_detector_without_pelvic_evidence():
    """Seed 1 has a head, a shaft and a neck the femur searches find (so the test above is not
    passing vacuously): it is the pelvic-evidence check that turns it down."""
    from orthoplan.landmarks import _assign_sides, femur
    from orthoplan.landmarks.context import make_context

    ctx = make_context(load_radiograph(_lateral(1).dataset))
    heads = femur.select_heads(femur.head_candidates(ctx) + femur.prosthetic_heads(ctx), ctx.mm)
    hips = _assign_sides(ctx, heads)
    assert len(hips) == 1 and hips[0][3] is not None  # one head with a "shaft"
    det = detect_details(ctx.radiograph)
    assert "no pelvis found" in det.landmarks.missing_reason("femoral_head_center_left")
    assert any("lateral" in n for n in det.notes)


def test_cli_plan_on_lateral_is_empty_with_reasons(tmp_path):
    case = _lateral(1)
    path = tmp_path / "lateral.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    proc = subprocess.run([sys.executable, "-m", "orthoplan.cli", "plan", str(path), "--out", str(tmp_path / "out"),
                           "--no-ball"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["landmarks"]["landmarks"] == {}
    assert plan["measurements"]["measurements"] == {}
    reasons = plan["measurements"]["missing"]
    assert reasons and all("no pelvis found" in r for r in reasons.values())
