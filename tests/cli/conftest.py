"""Fixtures for the command-line and pipeline tests: small synthetic cases written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orthoplan.phantoms import pelvis as phantom


@pytest.fixture(scope="session")
def case_dir(tmp_path_factory) -> Path:
    """A DX with a 25 mm ball, ImagerPixelSpacing only (no magnification tag), truth files beside it."""
    case = phantom.make_pelvis(seed=11, rows=1250, columns=1500, detector_spacing_mm=0.3)
    out = tmp_path_factory.mktemp("case")
    phantom.write_case(case, out)
    (out / "truth-mm_per_px.txt").write_text(repr(case.mm_per_px))
    return out


@pytest.fixture(scope="session")
def truth(case_dir) -> dict:
    return json.loads((case_dir / "truth.json").read_text())
