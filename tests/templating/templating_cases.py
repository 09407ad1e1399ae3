"""Synthetic pelves with a marrow-filled canal, planned on the exact scale (templating tests)."""

from __future__ import annotations

from functools import lru_cache

from orthoplan.phantoms import pelvis as phantom
from orthoplan.model import Calibration
from orthoplan.pipeline import load_radiograph, plan_radiograph

#: Seeds of the sizing study (each gives two hips).
SEEDS = tuple(range(12))


@lru_cache(maxsize=None)
def planned_case(seed: int, spacing_mm: float = 0.35):
    """(case, radiograph, plan) on a 1000 x 1200 image, the plan on the true scale."""
    case = phantom.make_pelvis(seed=seed, rows=1000, columns=1200, detector_spacing_mm=spacing_mm,
                                 medullary_canal="marrow", ball_diameter_mm=None)
    rad = load_radiograph(case.dataset)
    cal = Calibration(case.mm_per_px, "explicit-spacing", 0.0)
    return case, rad, plan_radiograph(rad, calibration=cal, landmarks=case.landmarks)
