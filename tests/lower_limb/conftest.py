"""Synthetic long-leg cases shared by the lower-limb tests (made once per session, small).

Also makes the area's helper module (limb_cases) importable under importlib import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from limb_cases import SMALL  # noqa: E402

from orthoplan.phantoms.limb import LimbParams, make_long_leg  # noqa: E402


@pytest.fixture(scope="session")
def make_case():
    cache: dict = {}

    def make(right: str, left: str, photometric: str = "MONOCHROME2", patient_left_x: int = 1, seed: int = 0, **kw):
        key = (right, left, photometric, patient_left_x, seed, tuple(sorted(kw.items())))
        if key not in cache:
            params = LimbParams.random(np.random.default_rng(seed), right, left)
            opts = {**SMALL, "calibration_tags": "pixel", **kw}
            cache[key] = make_long_leg(params, seed=seed, photometric=photometric, patient_left_x=patient_left_x, **opts)
        return cache[key]

    return make
