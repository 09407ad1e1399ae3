"""Speed of the plan's DICOM output (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_dicom.py --benchmark-only``

Target from the design: SR + GSPS for a full hip plan (20 landmarks, 16 measurements,
the overlay of :func:`orthoplan.overlay.plan_overlay`) under 50 ms; figures are medians.
"""

from __future__ import annotations

import copy

import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.dicom import build_gsps, build_sr, plan_from_sr
from orthoplan.image import reference_from_dataset
from orthoplan.measurements import measure_hip, measurement_names
from orthoplan.model import Calibration, CalibrationSource, ImageOrientation, Plan
from orthoplan.overlay import plan_overlay


@pytest.fixture(scope="module")
def full_plan():
    case = phantom.make_pelvis(seed=5, rows=2500, columns=3000, detector_spacing_mm=0.15)
    header = copy.deepcopy(case.dataset)
    del header.PixelData
    cal = Calibration(case.mm_per_px, CalibrationSource.BALL_MARKER, 2.0, magnification=case.magnification,
                      spacing_basis="ImagerPixelSpacing", warnings=("ball 2 cm off the hip plane",))
    orientation = ImageOrientation(1, -1, "PatientOrientation")
    ms = measure_hip(case.landmarks, cal, orientation)
    assert set(ms.values()) == set(measurement_names())
    plan = Plan(reference_from_dataset(header), cal, case.landmarks, ms, orientation, plan_uid="1.2.3.4.5",
                status="final", author="Surgeon^Ann", created="2026-01-31T14:05:00+00:00")
    return plan, header, plan_overlay(plan)


def _record(benchmark):
    benchmark.extra_info["median_ms"] = round(benchmark.stats.stats.median * 1000, 2)


def test_build_sr_and_gsps(benchmark, full_plan):
    plan, header, layers = full_plan
    sr, pr = benchmark(lambda: (build_sr(plan, header), build_gsps(plan, header, layers)))
    assert sr.SOPInstanceUID != pr.SOPInstanceUID
    _record(benchmark)


def test_build_sr(benchmark, full_plan):
    plan, header, _ = full_plan
    benchmark(build_sr, plan, header)
    _record(benchmark)


def test_build_gsps(benchmark, full_plan):
    plan, header, layers = full_plan
    benchmark(build_gsps, plan, header, layers)
    _record(benchmark)


def test_plan_from_sr(benchmark, full_plan):
    plan, header, _ = full_plan
    sr = build_sr(plan, header)
    assert benchmark(plan_from_sr, sr) == plan
    _record(benchmark)
