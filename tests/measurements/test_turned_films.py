"""Films stored turned by a quarter turn (the head along x): the orientation they carry, or
the one their landmarks show where the header says nothing, and the measurements on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pelvis_builder import Pelvis, Placement, place

from orthoplan.frames import orientation_from_landmarks
from orthoplan.measurements import measure_hip
from orthoplan.model import Calibration, CalibrationSource, ImageOrientation, Landmark, Landmarks

REPO = Path(__file__).resolve().parents[2]
TOL = 2e-4


def _landmarks(placement: Placement, only=None) -> Landmarks:
    return Landmarks.from_landmarks([Landmark(k, x, y) for k, (x, y) in place(Pelvis(), placement, only).items()])


def _cal(placement: Placement) -> Calibration:
    return Calibration(placement.mm_per_px, CalibrationSource.BALL_MARKER, 3.0)


def _points(lms: Landmarks) -> dict:
    return {lm.name: lm.xy for lm in lms}


@pytest.mark.parametrize("turn", [90, -90])
@pytest.mark.parametrize("tilt", [-10.0, 0.0, 10.0])
def test_an_unlabelled_turned_film_is_measured_as_its_landmarks_show(turn, tilt):
    """No orientation in the header: the standard AP is assumed, which is wrong for a film
    stored turned. Its landmarks say how it lies, and measured that way every value is the
    construction's; measured as assumed, the angles would be nonsense (LCEA about -130° on the
    real films of the notes) and are refused instead."""
    placement = Placement(tilt_deg=tilt, turn_deg=turn, center_mm=(220.0, 150.0))
    lms = _landmarks(placement)
    found = orientation_from_landmarks(_points(lms), ImageOrientation())
    assert (found.turn_deg, found.patient_left_x, found.source) == (turn, 1, "assumed-turned-from-landmarks")
    ms = measure_hip(lms, _cal(placement), found)
    for name, value in Pelvis().truth().items():
        assert ms[name].value == pytest.approx(value, abs=TOL), name
    as_assumed = measure_hip(lms, _cal(placement), ImageOrientation())
    assert "lcea_left_deg" not in as_assumed.values()
    assert "from the image's left-right axis" in dict(as_assumed.missing)["lcea_left_deg"]


def test_what_the_landmarks_cannot_say_changes_nothing():
    """Upright landmarks, a header's orientation, or two heads alone (nothing says where the
    head of the patient is): the orientation stays."""
    upright = _landmarks(Placement(tilt_deg=10.0))
    assert orientation_from_landmarks(_points(upright), ImageOrientation()) == ImageOrientation()
    turned = _points(_landmarks(Placement(turn_deg=90, center_mm=(220.0, 150.0))))
    header = ImageOrientation(1, -1, "PatientOrientation")
    assert orientation_from_landmarks(turned, header) is header
    heads = {k: v for k, v in turned.items() if k.value.startswith("femoral_head_center")}
    assert orientation_from_landmarks(heads, ImageOrientation()) == ImageOrientation()
    assert orientation_from_landmarks({}, ImageOrientation()) == ImageOrientation()
    from orthoplan.errors import LandmarkError, MeasurementError

    with pytest.raises(MeasurementError, match=r"\(x, y\) point"):
        orientation_from_landmarks({"teardrop_left": (1.0, 2.0, 3.0)}, ImageOrientation())
    with pytest.raises(LandmarkError, match="unknown landmark"):
        orientation_from_landmarks({"femoral_head_top_left": (1.0, 2.0)}, ImageOrientation())


def test_the_readers_films_stored_turned_are_found_and_no_upright_one():
    """On every usable FracAtlas hip film, the orientation the reader's landmarks show is the
    one the reader recorded: 17 of the 18 stored turned (the 18th is read at its two greater
    trochanters only, which do not say where the head is), and none of the 211 stored head up
    is taken for turned, one-hip films included."""
    from orthoplan.frames import SUPERIOR_OF
    from orthoplan.landmarks.references import load_references

    refs = [r for r in load_references(REPO / "datasets" / "fracatlas-hip" / "references") if r.usable]
    seen = {"turned": 0, "up": 0}
    for ref in refs:
        pts = {name: (p.x, p.y) for name, p in ref.points.items()}
        got = orientation_from_landmarks(pts, ImageOrientation())
        if ref.superior == "up":
            assert got == ImageOrientation(), ref.stem
            seen["up"] += 1
        elif got.superior_name == ref.superior:
            assert got.source == "assumed-turned-from-landmarks"
            seen["turned"] += 1
        else:  # unchanged only where no pair of the reading says where the head is
            assert got == ImageOrientation(), ref.stem
            assert not any(f"{a}_{s}" in pts and f"{b}_{s}" in pts for a, b in SUPERIOR_OF for s in ("left", "right"))
    assert seen == {"turned": 17, "up": 211}
