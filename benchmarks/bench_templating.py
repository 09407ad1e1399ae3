"""Speed of orthoplan.templating (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_templating.py --benchmark-only``

Targets from issue 4: full auto-templating of both components of one hip under 0.5 s on one
core (the image loaded, the landmarks given); moving a placed stem and re-evaluating the
prediction under 10 ms. Figures are medians.
"""

from __future__ import annotations

import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.catalog import load_catalog
from orthoplan.model import Calibration
from orthoplan.pipeline import load_radiograph, plan_radiograph
from orthoplan.pipeline import template_hip, update_placement


@pytest.fixture(scope="module")
def full_size():
    """A 3000 x 2500 pelvis at 0.15 mm detector pixels (the clinical size)."""
    case = phantom.make_pelvis(seed=11, rows=2500, columns=3000, detector_spacing_mm=0.15, medullary_canal="marrow")
    rad = load_radiograph(case.dataset)
    plan = plan_radiograph(rad, calibration=Calibration(case.mm_per_px, "explicit-spacing", 0.0), landmarks=case.landmarks)
    return rad, plan, load_catalog(include_env=False, include_entry_points=False)


def test_auto_template_one_hip(benchmark, full_size):
    rad, plan, catalog = full_size
    out = benchmark(template_hip, plan, rad, catalog, "left", cup_family="Trident II Clusterhole HA",
                    stem_family="Corail standard offset")
    assert {p.kind.value for p in out.placements} == {"cup", "stem", "head"}
    benchmark.extra_info["median_ms"] = round(benchmark.stats.stats.median * 1000, 1)
    assert benchmark.stats.stats.median < 0.5


def test_move_stem_and_reevaluate(benchmark, full_size):
    rad, plan, catalog = full_size
    planned = template_hip(plan, rad, catalog, "left")
    out = benchmark(update_placement, planned, "stem", "left", catalog=catalog, move_px=(0.0, -4.0))
    assert out.predictions["lld_teardrop_mm"].value != planned.predictions["lld_teardrop_mm"].value
    benchmark.extra_info["median_ms"] = round(benchmark.stats.stats.median * 1000, 2)
    assert benchmark.stats.stats.median < 0.010
