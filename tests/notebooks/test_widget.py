"""The notebook widget's Python model (PlanningSession) and the widget driven by synthetic mouse events."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.notebook import PlanningSession, PlanningWidget


@pytest.fixture(scope="module")
def case():
    return phantom.make_pelvis(seed=21, rows=1000, columns=1200, detector_spacing_mm=0.36)


@pytest.fixture()
def session(case, tmp_path):
    return PlanningSession.open(case.dataset, landmarks=case.landmarks, archive_url=f"folder://{tmp_path / 'archive'}")


def _perpendicular_to_teardrop_line(plan) -> np.ndarray:
    a = np.array(plan.landmarks["teardrop_right"].xy)
    b = np.array(plan.landmarks["teardrop_left"].xy)
    d = (b - a) / np.linalg.norm(b - a)
    n = np.array([-d[1], d[0]])
    return n if n[1] > 0 else -n  # towards the image's bottom: inferior in a standard AP


def test_moving_a_lesser_trochanter_changes_lld_by_the_distance_moved(session):
    plan = session.plan
    before = plan.measurements["lld_teardrop_mm"].value
    k_px = 25.0
    n = _perpendicular_to_teardrop_line(plan)
    lt = np.array(plan.landmarks["lesser_trochanter_left"].xy)
    session.move_landmark("lesser_trochanter_left", *(lt + k_px * n))
    after = session.plan.measurements["lld_teardrop_mm"].value
    assert after - before == pytest.approx(k_px * plan.calibration.mm_per_px, abs=0.02)
    assert session.plan.landmarks["lesser_trochanter_left"].source.value == "manual"
    session.undo()
    assert session.plan.measurements["lld_teardrop_mm"].value == pytest.approx(before)


def test_listeners_hear_every_change(session):
    seen = []
    session.on_change(lambda plan: seen.append(plan))
    lm = session.plan.landmarks["teardrop_left"]
    session.move_landmark("teardrop_left", lm.x + 3, lm.y)
    assert len(seen) == 1 and seen[0] is session.plan


def test_template_then_resize_updates_the_prediction(session):
    session.template("left")
    cup = session.plan.placement("cup", "left")
    assert cup is not None and session.plan.predictions
    sizes = session.sizes("cup", "left")
    bigger = sizes[min(len(sizes) - 1, sizes.index(cup.size) + 2)]
    session.edit_placement("cup", "left", size=bigger)
    assert session.plan.placement("cup", "left").size == bigger
    rows = {r["name"]: r for r in session.table()}
    assert rows["lld_teardrop_mm"]["predicted"] is not None
    # moving the stem by 10 px down changes the predicted LLD (the femur moves with it)
    pre = rows["lld_teardrop_mm"]["predicted"]
    stem = session.plan.placement("stem", "left")
    session.edit_placement("stem", "left", to_xy=(stem.x, stem.y + 10))
    post = {r["name"]: r for r in session.table()}["lld_teardrop_mm"]["predicted"]
    assert abs(post - pre) == pytest.approx(10 * session.plan.calibration.mm_per_px, rel=0.15)


def test_save_stores_sr_and_gsps(session, tmp_path):
    result = session.save()
    assert not getattr(result, "queued", False)
    files = sorted((tmp_path / "archive").rglob("*.dcm"))
    modalities = sorted(pydicom.dcmread(f, stop_before_pixels=True).Modality for f in files)
    assert modalities == ["PR", "SR"]


def test_saving_after_an_edit_stores_the_next_revision(session, tmp_path):
    """Issue 16 (revisions): a second save after an edit is revision 2 of the same plan, not
    revision 1 stored again; an unchanged plan saved again stays revision 1."""
    session.save()
    first = session.plan
    session.save()
    assert session.plan == first
    lm = session.plan.landmarks["teardrop_left"]
    session.move_landmark("teardrop_left", lm.x + 3, lm.y)
    session.save()
    assert (session.plan.plan_uid, session.plan.revision) == (first.plan_uid, first.revision + 1)
    assert session.plan.created > first.created
    srs = [pydicom.dcmread(f, stop_before_pixels=True) for f in (tmp_path / "archive").rglob("*.dcm")]
    srs = [d for d in srs if d.Modality == "SR"]
    assert len(srs) == 2 and len({d.SeriesInstanceUID for d in srs}) == 2
    newest = max(srs, key=lambda d: d.InstanceCreationTime)
    assert newest.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0] \
        .ReferencedSOPInstanceUID in {d.SOPInstanceUID for d in srs}


def _event(ax, x, y):
    return SimpleNamespace(inaxes=ax, xdata=x, ydata=y)


def test_widget_drag_and_dropdowns_drive_the_session(session):
    w = PlanningWidget(session, side="left")
    lm = session.plan.landmarks["lesser_trochanter_left"]
    before = session.plan.measurements["lld_teardrop_mm"].value
    w.on_press(_event(w.ax, lm.x + 2, lm.y + 1))      # a press near the landmark picks it
    w.on_motion(_event(w.ax, lm.x + 2, lm.y + 20))
    w.on_release(_event(w.ax, lm.x + 2, lm.y + 30))   # the release drops it there
    moved = session.plan.landmarks["lesser_trochanter_left"]
    assert (moved.x, moved.y) == pytest.approx((lm.x + 2, lm.y + 30), abs=1e-3)
    assert session.plan.measurements["lld_teardrop_mm"].value != before
    assert f"{session.plan.measurements['lld_teardrop_mm'].value:.1f}" in w.values.value

    w.template_button.click()
    assert session.plan.placement("stem", "left") is not None
    options = list(w.stem_size.options)
    assert w.stem_size.value == session.plan.placement("stem", "left").size
    other = options[0] if options[0] != w.stem_size.value else options[1]
    w.stem_size.value = other
    assert session.plan.placement("stem", "left").size == other
    necks = list(w.neck_length.options)
    assert len(necks) >= 2
    w.neck_length.value = necks[-1]
    assert session.plan.placement("head", "left").neck_length_mm == pytest.approx(necks[-1])
    w.save_button.click()
    assert "saved" in w.status.value


def test_press_on_nothing_does_nothing(session):
    w = PlanningWidget(session)
    before = session.plan
    w.on_press(_event(w.ax, 1.0, 1.0))
    w.on_release(_event(w.ax, 50.0, 50.0))
    assert session.plan is before


def test_the_widget_shows_the_plans_notes(session):
    """What the detector says about the film (a child's pelvis, metal, an abducted femur ...) is
    listed beside the measurements, escaped."""
    w = PlanningWidget(session, side="left")
    assert "<ul>" not in w.values.value  # the phantom's plan has no notes
    session._set(replace(session.plan, notes=("Landmark detection: femur abducted <24°>",)))
    w.refresh()
    assert "<li>Landmark detection: femur abducted &lt;24°&gt;</li>" in w.values.value
