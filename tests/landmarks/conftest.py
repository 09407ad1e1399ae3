"""Fixtures for the landmark detector tests: synthetic cases detected once per session.

The cases are the first ``N_CASES`` of :func:`orthoplan.landmarks.accuracy.synthetic_variants`
(1000 × 1200 pixels at 0.33 mm: anatomy and pose from the seed, MONOCHROME1/2, noise ×0.5–2,
collimation, gonadal shield, ball over bone, a prosthesis in every fifth case).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.landmarks import Detection, detect_details
from orthoplan.landmarks.accuracy import synthetic_variants
from orthoplan.pipeline import load_radiograph

N_CASES = 12


@dataclass(frozen=True)
class Detected:
    kwargs: dict
    case: phantom.SyntheticCase
    radiograph: object
    detection: Detection


@pytest.fixture(scope="session")
def detected_cases() -> list[Detected]:
    out = []
    for kw in synthetic_variants(N_CASES):
        case = phantom.make_pelvis(**kw)
        rad = load_radiograph(case.dataset)
        out.append(Detected(kw, case, rad, detect_details(rad)))
    return out


@pytest.fixture(scope="session")
def hip_cr(real_dir):
    return load_radiograph(str(real_dir / "hip_cr_rg2.dcm"))
