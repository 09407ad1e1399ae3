"""Synthetic long legs detected once per session (the first ``N_CASES`` of
:func:`orthoplan.landmarks.accuracy.limb_variants`: 1950 × 720 pixels at 0.57 mm/px, every
deformity preset, MONOCHROME1/2, both image orientations, noise ×0.5–2)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orthoplan.calibration import calibrate
from orthoplan.landmarks.accuracy import limb_variants, make_limb_case
from orthoplan.landmarks.limb import LimbDetection, detect_long_leg_details
from orthoplan.pipeline import load_radiograph

N_CASES = 8


@dataclass(frozen=True)
class Detected:
    kwargs: dict
    case: object
    radiograph: object
    calibration: object
    detection: LimbDetection


@pytest.fixture(scope="session")
def limb_cases() -> list[Detected]:
    out = []
    for kw in limb_variants(N_CASES):
        case = make_limb_case(kw)
        rad = load_radiograph(case.dataset)
        cal = calibrate(rad)
        out.append(Detected(kw, case, rad, cal, detect_long_leg_details(rad, cal)))
    return out
