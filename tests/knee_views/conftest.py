"""Synthetic AP and lateral knee cases shared by the knee-view tests (made once per session, small)."""

from __future__ import annotations

import pytest

from orthoplan.model import Calibration, CalibrationSource
from orthoplan.phantoms.knee import make_knee_ap, make_knee_lateral

#: 950 x 700 pixels at 0.4 mm (0.36 mm/px at the knee): a 345 x 255 mm field.
SMALL = dict(rows=950, columns=700, detector_spacing_mm=0.4)


@pytest.fixture(scope="session")
def knee_case():
    """``knee_case(view, seed=..., **kw)``: a cached synthetic knee of ``view``."""
    cache: dict = {}

    def make(view: str, seed: int = 0, **kw):
        key = (view, seed, tuple(sorted(kw.items())))
        if key not in cache:
            maker = make_knee_ap if view == "knee-ap" else make_knee_lateral
            cache[key] = maker(seed=seed, **{**SMALL, **kw})
        return cache[key]

    return make


def exact_calibration(case) -> Calibration:
    """The case's true anatomical scale (for measurements that must be exact)."""
    return Calibration(case.mm_per_px, CalibrationSource.EXPLICIT_SPACING, 0.0)
