"""Speed of the AP and lateral knee pipelines (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_knee.py --benchmark-only -s``

load → calibrate → detect → measure on a full-size synthetic knee DX (1900 × 1400 at 0.2 mm,
16 bit, DICOM file on disk) with the classical knee detector (exact on phantoms); and the learned
knee detector (the default) on real FracAtlas knee films: one knee, both knees (read a half at a
time: three network runs), a lateral film. Reported as medians; no target in the issue.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orthoplan.pipeline import calibrate_radiograph, detect_landmarks, load_radiograph, measure
from orthoplan.phantoms.knee import make_knee_ap, make_knee_lateral


@pytest.fixture(scope="module", params=["knee-ap", "knee-lateral"])
def knee_file(request, tmp_path_factory):
    make = make_knee_ap if request.param == "knee-ap" else make_knee_lateral
    case = make(seed=3, side="left")
    path = tmp_path_factory.mktemp("knee") / "knee.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    return request.param, str(path), case


def pipeline(view: str, path: str):
    rad = load_radiograph(path)
    cal = calibrate_radiograph(rad)
    lms = detect_landmarks(rad, cal, view=view, side="left")
    return measure(lms, cal, rad, view)


def test_knee_pipeline(benchmark, knee_file, monkeypatch):
    monkeypatch.setenv("ORTHOPLAN_DETECTOR", "classical")
    view, path, case = knee_file
    ms = benchmark(pipeline, view, path)
    for name, truth in case.measurements.items():  # the result is right, not only fast
        assert abs(ms[name].value - truth) < (1.0 if name.endswith("_deg") else 2.0), name


REAL = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "real"


@pytest.mark.parametrize("image, view, side, knees", [
    ("IMG0000013.jpg", "knee-ap", None, 1),      # 2304 x 2880, one knee
    ("IMG0000333.jpg", "knee-ap", None, 2),      # 454 x 373, both knees
    ("IMG0000014.jpg", "knee-lateral", "right", 1),
])
def test_learned_knee_detection_real_films(benchmark, image, view, side, knees):
    from orthoplan.landmarks.knee_learned import detect_knee_learned, knee_model_path
    from orthoplan.landmarks.network import load_model

    rad = load_radiograph(str(REAL / "fracatlas-knee" / "images" / image))
    load_model(knee_model_path(view), view="knee")  # loaded once per process: not timed
    det = benchmark.pedantic(detect_knee_learned, args=(rad, view, side), rounds=15, iterations=1, warmup_rounds=1)
    assert len({lm.name.side for lm in det.landmarks}) == knees and len(det.landmarks) >= 6


def test_learned_knee_detection_real_film_stored_upside_down(benchmark):
    """The one-knee AP film (IMG0000013, 2304 x 2880) stored upside down without tags: read as
    stored, found to read as surely upside down, judged by the upright model, read head down."""
    import dataclasses

    import numpy as np

    from orthoplan.landmarks.knee_learned import detect_knee_learned, knee_model_path
    from orthoplan.landmarks.network import load_model

    rad = load_radiograph(str(REAL / "fracatlas-knee" / "images" / "IMG0000013.jpg"))
    half = np.ascontiguousarray(np.rot90(np.asarray(rad.display), 2))
    half.flags.writeable = False
    rad = dataclasses.replace(rad, display=half, pixels=half)
    load_model(knee_model_path("knee-ap"), view="knee")  # loaded once per process: not timed
    det = benchmark.pedantic(detect_knee_learned, args=(rad, "knee-ap"), rounds=9, iterations=1, warmup_rounds=1)
    assert det.info["superior"] == "down" and len(det.landmarks) >= 6


def test_learned_knee_detection_real_lateral_film_stored_turned(benchmark):
    """A lateral film (IMG0000055, 2304 x 2880) stored turned by a quarter turn without tags: read
    as stored, taken for turned by the lateral turn model, read turned (since 8 December 2026)."""
    import dataclasses

    import numpy as np

    from orthoplan.landmarks.knee_learned import detect_knee_learned, knee_model_path
    from orthoplan.landmarks.network import load_model

    rad = load_radiograph(str(REAL / "fracatlas-knee" / "images" / "IMG0000055.jpg"))
    turned = np.ascontiguousarray(np.rot90(np.asarray(rad.display), -1))
    turned.flags.writeable = False
    rad = dataclasses.replace(rad, display=turned, pixels=turned)
    load_model(knee_model_path("knee-lateral"), view="knee")  # loaded once per process: not timed
    det = benchmark.pedantic(detect_knee_learned, args=(rad, "knee-lateral", "right"), rounds=9, iterations=1,
                             warmup_rounds=1)
    assert det.info["superior"] == "right" and len(det.landmarks) >= 6
