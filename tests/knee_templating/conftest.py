"""Synthetic long legs with varied knee widths, shared by the knee-templating tests (made once)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from orthoplan.catalog import load_catalog
from orthoplan.model import Calibration
from orthoplan.phantoms.limb import LimbParams, make_long_leg

#: A small image (0.57 mm/px) holding both legs from pelvis to feet (as tests/lower_limb).
SMALL = dict(rows=1950, columns=720, detector_spacing_mm=0.6, noise=0.5)
KINDS = ("neutral", "femoral_varus", "tibial_varus", "joint_line_valgus", "femoral_valgus", "tibial_valgus")
N_CASES = 12


def _params(seed: int) -> LimbParams:
    rng = np.random.default_rng(1000 + seed)
    base = LimbParams.random(rng, KINDS[seed % len(KINDS)], KINDS[(seed + 3) % len(KINDS)])

    def widths(p):
        return replace(p, condyle_half_width_mm=float(rng.uniform(14.0, 25.0)),
                       plateau_half_width_mm=float(rng.uniform(30.0, 42.0)))

    return replace(base, right=widths(base.right), left=widths(base.left))


@pytest.fixture(scope="session")
def knee_cases():
    """``[(case, radiograph, plan)]``: 12 long legs (24 knees), both orientations, exact scale."""
    from orthoplan.pipeline import load_radiograph, plan_radiograph

    out = []
    for seed in range(N_CASES):
        case = make_long_leg(_params(seed), seed=seed, patient_left_x=1 if seed % 2 == 0 else -1,
                             photometric="MONOCHROME1" if seed % 3 == 0 else "MONOCHROME2", **SMALL)
        rad = load_radiograph(case.dataset)
        cal = Calibration(case.mm_per_px, "dicom-pixel-spacing", 1.0, magnification=case.magnification,
                          spacing_basis="PixelSpacing")
        plan = plan_radiograph(rad, calibration=cal, landmarks=case.landmarks, view="long-leg")
        out.append((case, rad, plan))
    return out


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(include_env=False, include_entry_points=False)

