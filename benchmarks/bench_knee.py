"""Speed of the AP and lateral knee pipelines (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_knee.py --benchmark-only -s``

load → calibrate → detect → measure on a full-size synthetic knee DX (1900 × 1400 at 0.2 mm,
16 bit, DICOM file on disk). Reported as medians; no target in the issue.
"""

from __future__ import annotations

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


def test_knee_pipeline(benchmark, knee_file):
    view, path, case = knee_file
    ms = benchmark(pipeline, view, path)
    for name, truth in case.measurements.items():  # the result is right, not only fast
        assert abs(ms[name].value - truth) < (1.0 if name.endswith("_deg") else 2.0), name
