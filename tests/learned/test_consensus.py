"""A consensus of independent readings (references.median_reading) and the held-out detector
scored against it (landmarks.consensus)."""

from __future__ import annotations

import pytest

from orthoplan.errors import LandmarkError
from orthoplan.landmarks.consensus import consensus_check, consensus_references
from orthoplan.landmarks.crossval import Row
from orthoplan.landmarks.references import Reference, ReferencePoint, median_reading


def _reading(reader: str, head_x: float, radius: float, certainty: str = "clear", image: str = "images/a.jpg",
             teardrop: bool = True, usable: bool = True) -> Reference:
    pts = {"femoral_head_center_left": ReferencePoint("femoral_head_center_left", head_x, 100.0, certainty, radius)}
    if teardrop:
        pts["teardrop_left"] = ReferencePoint("teardrop_left", 80.0, 120.0, "probable")
    return Reference(image, 400, 300, "ap-hip", usable, reader, pts, patient="adult")


def test_the_median_of_three_readings_is_not_moved_by_one_readers_slip():
    m = median_reading([_reading("r1", 200.0, 24.0), _reading("r2", 202.0, 26.0, "uncertain"),
                        _reading("r3", 260.0, 40.0, teardrop=False)])
    head = m.points["femoral_head_center_left"]
    assert head.xy == (202.0, 100.0) and head.radius == 26.0 and head.certainty == "uncertain"
    assert "teardrop_left" not in m.points and m.reader == "r1+r2+r3" and m.usable
    two = median_reading([_reading("r1", 200.0, 24.0), _reading("r2", 204.0, 26.0)])
    assert two.points["femoral_head_center_left"].xy == (202.0, 100.0)  # two readings: their mean


def test_a_median_of_other_films_or_of_nothing_is_refused():
    with pytest.raises(LandmarkError, match="same film"):
        median_reading([_reading("r1", 200.0, 24.0), _reading("r2", 200.0, 24.0, image="images/b.jpg")])
    with pytest.raises(LandmarkError, match="same film"):
        median_reading([])
    with pytest.raises(LandmarkError, match="same film"):
        median_reading(["a reading"])


def test_the_detector_is_scored_against_the_consensus_of_the_films_every_reading_read():
    first = [_reading("r1", 200.0, 24.0), _reading("r1", 200.0, 24.0, image="images/b.jpg")]
    second = [_reading("r2", 204.0, 24.0), _reading("r2", 200.0, 24.0, image="images/b.jpg", usable=False)]
    third = [_reading("r3", 202.0, 24.0)]
    cons = consensus_references(first, second, third)
    assert [c.stem for c in cons] == ["a"]  # b: unusable in one reading, unread in another
    rows = [Row("a", "femoral_head_center_left", "adult", 0, (200.0, 100.0), (206.0, 100.0), 0.7, 0.9, 48.0),
            Row("a", "teardrop_left", "adult", 0, (80.0, 120.0), (80.0, 125.0), 0.4, 0.5, 48.0),
            Row("b", "femoral_head_center_left", "adult", 0, (200.0, 100.0), (200.0, 100.0), 0.7, 0.9, 48.0)]
    check = consensus_check(rows, cons)
    assert check["femoral_head_center"]["n"] == 1
    assert check["femoral_head_center"]["median_pct"] == pytest.approx(100 * 4.0 / 48.0)  # against x = 202
    assert check["femoral_head_center"]["within"] == 1.0 and check["femoral_head_center"]["top_confidence"] is None
    assert check["teardrop"]["median_pct"] == pytest.approx(100 * 5.0 / 48.0)
