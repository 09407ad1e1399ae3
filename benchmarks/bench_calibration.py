"""Speed of orthoplan.calibration (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_calibration.py --benchmark-only``

The target from the design: ``calibrate`` with a 25 mm ball on a 3000 x 2500 radiograph
well under 250 ms on one core (the image already loaded; the figure is the median).
"""

from __future__ import annotations

import pytest

from orthoplan import calibration, image

from orthoplan.phantoms import pelvis as phantom
from orthoplan.model import CalibrationSource


@pytest.fixture(scope="module")
def full_size():
    case = phantom.make_pelvis(seed=11, rows=2500, columns=3000, detector_spacing_mm=0.15,
                                 calibration_tags="imager+ermf")
    return case, image.from_dataset(case.dataset)


def test_calibrate_ball_full_size(benchmark, full_size):
    case, rad = full_size
    cal = benchmark(calibration.calibrate, rad, ball_diameter_mm=25.0)
    assert cal.source is CalibrationSource.BALL_MARKER
    assert abs(cal.mm_per_px / case.mm_per_px - 1) < 0.01
    benchmark.extra_info["median_ms"] = round(benchmark.stats.stats.median * 1000, 1)


def test_find_balls_wide_search_full_size(benchmark, full_size):
    """Without spacing tags the radius range is wide (8 px to 12 % of the image)."""
    _case, rad = full_size
    cands = benchmark(calibration.find_balls, rad.display)
    assert cands and cands[0].score > 0.5
