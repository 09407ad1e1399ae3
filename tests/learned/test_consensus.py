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


def test_three_human_readings_give_each_readers_error_without_the_detector():
    """Synthetic films with a known truth: readers of per-axis spread 1, 2 and 3 px and a
    detector of 1 px on heads 50 px across. The readers' errors estimated from the three human
    readings and those estimated with the detector as the third agree, and match the truth
    (the median radial error of a 2-D Gaussian is 1.18 spreads)."""
    import numpy as np

    from orthoplan.landmarks.consensus import readers_check

    rng = np.random.default_rng(0)
    sets, rows = ([], [], []), []
    for i in range(400):
        truth = rng.uniform(100, 300, 2)
        for k, spread in enumerate((1.0, 2.0, 3.0)):
            x, y = truth + rng.normal(0, spread, 2)
            sets[k].append(Reference(f"images/f{i}.jpg", 400, 400, "ap-pelvis", True, f"r{k}",
                                     {"femoral_head_center_left": ReferencePoint("femoral_head_center_left", x, y,
                                                                                 "clear", 25.0)}, patient="adult"))
        d = truth + rng.normal(0, 1.0, 2)
        rows.append(Row(f"f{i}", "femoral_head_center_left", "adult", 0, None, tuple(d), 0.7, 0.9, 50.0))
    c = readers_check(rows, sets[0], sets[1], sets[2], n_boot=20)["femoral_head_center"]
    expect = [100 * 1.1774 * s / 50.0 for s in (1.0, 2.0, 3.0)]
    assert c["n"] == 400
    assert [c["first_pct"], c["second_pct"], c["third_pct"]] == pytest.approx(expect, rel=0.2)
    assert [c["first_with_detector_pct"], c["second_with_detector_pct"]] == pytest.approx(expect[:2], rel=0.2)
    assert c["detector_pct"] == pytest.approx(expect[0], rel=0.25)
    assert c["detector_unseen_pct"] == pytest.approx(expect[0], rel=0.3)


def test_what_is_not_readings_or_rows_gets_a_clear_error():
    with pytest.raises(LandmarkError, match="reading sets"):
        consensus_references(["a.json"], [_reading("r2", 200.0, 24.0)])
    with pytest.raises(LandmarkError, match="rows"):
        consensus_check([{"film": "a"}], [median_reading([_reading("r1", 200.0, 24.0)])])


def test_the_cross_validation_report_with_third_readings_runs_as_a_module(tmp_path):
    """``python -m orthoplan.landmarks.crossval --report-only --third`` prints the consensus
    tables. (Run as a module, the file is ``__main__``: its Row and the Row that
    ``landmarks.consensus`` checks for must be one class, or the report stopped with "a
    consensus check needs the cross-validation's rows".) The rows are the first reading moved
    by 2 px, on the films read three times."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from orthoplan.landmarks.crossval import rows_to_json
    from orthoplan.landmarks.references import load_references

    data = Path(__file__).resolve().parents[2] / "datasets" / "fracatlas-hip"
    third = {r.stem for r in load_references(data / "third-reading")}
    rows = []
    for i, ref in enumerate(r for r in load_references(data / "references") if r.stem in third and r.usable):
        for name, p in ref.points.items():
            head = ref.points.get("femoral_head_center_" + name.rsplit("_", 1)[1])
            if head is not None and head.radius:
                rows.append(Row(ref.stem, name, ref.patient, i % 3, p.xy, (p.x + 2.0, p.y), 0.5, 0.6,
                                2.0 * head.radius))
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows_to_json(rows)))
    out = subprocess.run([sys.executable, "-m", "orthoplan.landmarks.crossval", "--refs", str(data / "references"),
                          "--second", str(data / "second-reading"), "--third", str(data / "third-reading"),
                          "--root", str(tmp_path), "--folds", "3", "--rows", str(path), "--report-only"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Films read three times" in out.stdout and "Reading habits" in out.stdout
    line = next(s for s in out.stdout.splitlines() if s.startswith("| femoral_head_center |") and "%" in s
                and s.count("|") == 6)
    assert 2.0 < float(line.split("|")[3]) < 12.0  # 2 px from the first reading, on heads about 50 px across


def test_reading_habits_show_a_convention_and_not_random_error():
    """On our films read three times: the second and third readers put the proximal shaft point
    well below where the first readers did (a convention: about 15 % of the head diameter, median),
    while on the head centre all readers agree within 1 % (median signed offset)."""
    from pathlib import Path

    from orthoplan.landmarks.consensus import markdown_habits, reading_habits
    from orthoplan.landmarks.references import load_references

    data = Path(__file__).resolve().parents[2] / "datasets" / "fracatlas-hip"
    first, second, third = (load_references(data / d) for d in ("references", "second-reading", "third-reading"))
    rows = [Row(r.stem, n, r.patient, 0, None, p.xy, 0.5, 0.5, 50.0) for r in first if r.usable
            for n, p in r.points.items()]  # a "detector" that is the first reading itself
    h = reading_habits(rows, first, second, third)
    shaft, head = h["femoral_shaft_proximal"], h["femoral_head_center"]
    assert shaft["n"] >= 60 and shaft["second"][1] > 8.0 and shaft["third"][1] > 8.0
    assert all(abs(v) < 1.5 for w in ("second", "third") for v in head[w]) and head["detector"] == (0.0, 0.0)
    assert "| femoral_shaft_proximal |" in markdown_habits(h)
    with pytest.raises(LandmarkError, match="three sets of readings"):
        reading_habits(rows, first, second, ["not a reading"])
    with pytest.raises(LandmarkError, match="three sets of readings"):
        reading_habits([{"film": "a"}], first, second, third)
