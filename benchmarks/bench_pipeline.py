"""End-to-end speed of the core job on a 3000 x 2500 16-bit DX (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_pipeline.py --benchmark-only``

The core issue's target: load + calibrate (25 mm ball) + measure under 0.5 s on one core,
without the picture; the picture (render to PNG) is timed separately. Landmarks are the
phantom's exact ones, so the figure is the cost of the pipeline, not of detection
(``bench_landmarks.py`` times detection).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.model import CalibrationSource
from orthoplan.pipeline import calibrate_radiograph, load_radiograph, plan_radiograph


@pytest.fixture(scope="module")
def dx_file(tmp_path_factory) -> tuple[Path, phantom.SyntheticCase]:
    case = phantom.make_pelvis(seed=5, rows=2500, columns=3000, detector_spacing_mm=0.15,
                                 bits_stored=16, calibration_tags="imager")
    files = phantom.write_case(case, tmp_path_factory.mktemp("dx"))
    return files["image"], case


def _load_calibrate_measure(path: Path, case: phantom.SyntheticCase):
    rad = load_radiograph(path)
    cal = calibrate_radiograph(rad, ball_diameter_mm=25.0)
    return rad, plan_radiograph(rad, calibration=cal, landmarks=case.landmarks)


def test_load_calibrate_measure_3000x2500(benchmark, dx_file):
    path, case = dx_file
    _rad, plan = benchmark(_load_calibrate_measure, path, case)
    assert plan.calibration.source is CalibrationSource.BALL_MARKER
    assert abs(plan.calibration.mm_per_px / case.mm_per_px - 1) < 0.01
    assert abs(plan.measurements["lld_teardrop_mm"].value - case.measurements["lld_teardrop_mm"]) < 0.5


def test_render_png_3000x2500(benchmark, dx_file, tmp_path):
    from orthoplan.render import render_plan

    path, case = dx_file
    rad, plan = _load_calibrate_measure(path, case)
    out = tmp_path / "overlay.png"
    benchmark(render_plan, rad, plan, out)
    assert out.stat().st_size > 10_000
