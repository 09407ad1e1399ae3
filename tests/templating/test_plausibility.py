"""Issue 15: values outside their plausible range are flagged in the plan, and such a plan is
not stored unless as a draft (Python and the CLI). A phantom with one landmark moved far off."""

from __future__ import annotations

import json
import subprocess
import sys

import pydicom
import pytest

from orthoplan.errors import PlanError
from orthoplan.measurements import DEFINITIONS, LOWER_LIMB_DEFINITIONS
from orthoplan.measurements.definitions import IMPLAUSIBLE_NOTE, KNEE_DEFINITIONS
from orthoplan.pipeline import store_plan, update_landmarks


def test_every_definition_has_a_plausible_range_around_its_normal_range():
    for d in [*DEFINITIONS.values(), *LOWER_LIMB_DEFINITIONS.values(), *KNEE_DEFINITIONS.values()]:
        assert d.plausible_range is not None, d.name
        lo, hi = d.plausible_range
        if d.normal_range:
            assert lo <= d.normal_range[0] <= d.normal_range[1] <= hi, d.name


@pytest.fixture(scope="module")
def implausible(case0):
    """The case0 plan with the left lesser trochanter 180 mm too low (a click on the wrong film part)."""
    _case, rad, plan = case0
    lt = plan.landmarks["lesser_trochanter_left"]
    moved = lt.moved_to(lt.x, lt.y + 180.0 / plan.calibration.mm_per_px)
    return rad, update_landmarks(plan, moved)


def test_an_implausible_value_is_flagged_in_the_plan(implausible, case0):
    _rad, plan = implausible
    lld = plan.measurements["lld_teardrop_mm"]
    assert abs(lld.value) > 150
    assert any(n.startswith(IMPLAUSIBLE_NOTE) and "-60 to 60 mm" in n for n in lld.notes)
    assert not any(n.startswith(IMPLAUSIBLE_NOTE) for m in case0[2].measurements for n in m.notes)


def test_store_plan_refuses_it_unless_a_draft(implausible, tmp_path):
    rad, plan = implausible
    url = f"folder://{tmp_path / 'archive'}"
    with pytest.raises(PlanError, match="not stored: implausible values \\(lld_teardrop_mm = .* check the landmarks"):
        store_plan(rad, plan, url)
    assert not list((tmp_path / "archive").rglob("*.dcm"))
    from dataclasses import replace

    with pytest.raises(PlanError, match="only be stored as a draft"):
        store_plan(rad, replace(plan, status="final", author="Surgeon^A"), url, allow_implausible=True)
    store_plan(rad, plan, url, allow_implausible=True)
    srs = [pydicom.dcmread(f) for f in (tmp_path / "archive").rglob("*.dcm")]
    sr = next(d for d in srs if d.Modality == "SR")
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("PARTIAL", "UNVERIFIED")


def test_cli_plan_refuses_to_store_it_and_stores_a_draft(tmp_path):
    from orthoplan.phantoms import pelvis as phantom

    case = phantom.make_pelvis(seed=0, rows=1000, columns=1200, detector_spacing_mm=0.35)
    files = phantom.write_case(case, tmp_path / "case")
    doc = json.loads(files["landmarks"].read_text())
    x, y = doc["landmarks"]["lesser_trochanter_left"][:2]
    doc["landmarks"]["lesser_trochanter_left"] = [x, y + 600.0]  # ~180 mm at ~0.3 mm/px
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(doc))
    archive = tmp_path / "archive"
    cmd = [sys.executable, "-m", "orthoplan.cli", "plan", str(files["image"]), "--landmarks", str(moved),
           "--out", str(tmp_path / "out"), "--archive", f"folder://{archive}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 7, r.stderr
    assert "implausible values (lld_teardrop_mm" in r.stderr and "--draft" in r.stderr
    assert not list(archive.rglob("*.dcm")) and not (tmp_path / "out" / "plan-sr.dcm").exists()
    r = subprocess.run(cmd + ["--draft"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "implausible: check the landmarks" in r.stdout
    assert len(list(archive.rglob("*.dcm"))) == 2


def test_cli_measure_gives_each_length_its_interval(tmp_path):
    """Issue 15: the CLI's JSON and text give each length its 95 % interval from the scale."""
    from orthoplan.phantoms import pelvis as phantom

    case = phantom.make_pelvis(seed=1, rows=1000, columns=1200, detector_spacing_mm=0.35)
    files = phantom.write_case(case, tmp_path / "case")
    base = [sys.executable, "-m", "orthoplan.cli", "measure", str(files["image"]), "--landmarks", str(files["landmarks"])]
    r = subprocess.run(base + ["--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    u = doc["calibration"]["uncertainty_pct"] / 100.0
    assert u > 0
    lld = doc["measurements"]["global_offset_left_mm"]
    # the scale's interval, widened by the (person's) landmarks' positional uncertainty
    lo, hi = lld["interval_95"]
    assert lo < lld["value"] * (1 - u) and hi > lld["value"] * (1 + u)
    assert hi - lld["value"] == pytest.approx(lld["value"] - lo)
    lcea = doc["measurements"]["lcea_left_deg"]
    assert lcea["interval_95"][0] < lcea["value"] < lcea["interval_95"][1]
    text = subprocess.run(base, capture_output=True, text=True).stdout
    line = next(t for t in text.splitlines() if t.startswith("global_offset_left_mm"))
    assert "(95 %" in line


def _labels(plan):
    from orthoplan.overlay import plan_overlay

    return [g.label or "" for layer in plan_overlay(plan) for g in layer.graphics]


def test_the_picture_shows_intervals_and_implausible_values(implausible, case0):
    from orthoplan.model import Calibration
    from orthoplan.pipeline import recalibrate

    _rad, plan = implausible
    assert any("LLD (teardrop)" in t and "IMPLAUSIBLE: check the landmarks" in t for t in _labels(plan))
    _case, _rad0, good = case0
    wide = recalibrate(good, Calibration(good.calibration.mm_per_px, "explicit-spacing", 5.0))
    offset = next(t for t in _labels(wide) if t.startswith("L: Femoral offset"))
    lo, hi = wide.measurements["femoral_offset_left_mm"].interval
    assert f"(95 % {lo:.1f} to {hi:.1f})" in offset
    assert not any("IMPLAUSIBLE" in t for t in _labels(wide))


def test_the_picture_marks_forced_and_ranged_sizes(catalog, case0):
    from orthoplan.model import Calibration
    from orthoplan.pipeline import recalibrate, template_hip

    _case, rad, plan = case0
    wide = recalibrate(plan, Calibration(plan.calibration.mm_per_px, "explicit-spacing", 10.0))
    out = template_hip(wide, rad, catalog, "left", resection_above_lt_mm=94.0, force=True)
    labels = _labels(out)
    assert any("within the scale's interval" in t for t in labels)
    assert any(t.startswith("generic uncemented straight stem") and "FORCED: stem left: the neck cut lies 94 mm" in t
               for t in labels)
