"""Speed of reading the R and L side markers (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_side_markers.py --benchmark-only -s``

:func:`orthoplan.landmarks.markers.read_side_markers` on the display image of real FracAtlas
films: a 2304 x 2880 knee film with the station's R marker, and a 373 x 454 hip film without a
readable one. Every AP pelvis, hip and knee plan reads them once (twice where the film is
displayed mirrored). Reported as medians; no target in the issues.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orthoplan.landmarks.markers import read_side_markers
from orthoplan.pipeline import load_radiograph

REAL = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "real"


@pytest.mark.parametrize("film, letters", [
    ("fracatlas-knee/images/IMG0000013.jpg", ["R"]),  # 2304 x 2880
    ("fracatlas-hip/images/IMG0000330.jpg", []),      # 373 x 454
])
def test_read_side_markers(benchmark, film, letters):
    display = load_radiograph(REAL / film).display
    read_side_markers(display)  # the templates are drawn once per process
    found = benchmark(read_side_markers, display)
    assert [m.letter for m in found] == letters  # the right answer, not only a fast one
