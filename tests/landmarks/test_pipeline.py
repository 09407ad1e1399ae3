"""The whole pipeline with detection: measurements against the truth by construction.

``plan_radiograph(rad)`` calibrates on the 25 mm ball and detects the landmarks. The
angles at the acetabular roof rest on points ~25 mm apart, so a 1 mm landmark error is
~2° there: their tolerances are looser (measured; see docs/accuracy.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from orthoplan.pipeline import plan_radiograph

#: measurement prefix: (tolerance, fraction of cases that must be measured and within it)
TOLERANCES = {
    "femoral_offset": (2.0, 0.85),
    "acetabular_offset": (1.5, 0.9),
    "global_offset": (2.5, 0.85),
    "neck_shaft_angle": (2.0, 0.85),
    "lld_teardrop": (3.5, 0.75),
    "lld_ischial": (6.0, 0.5),
    "lcea": (7.0, 0.85),
    "tonnis_angle": (8.0, 0.75),
    "sharp_angle": (3.5, 0.85),
}


@pytest.fixture(scope="module")
def plans(detected_cases):
    """Plans measured on the session's detections (the pipeline's own detection is run
    in :func:`test_pipeline_detects_when_no_landmarks_are_given`; same function)."""
    return [(d, plan_radiograph(d.radiograph, landmarks=d.detection.landmarks)) for d in detected_cases]


@pytest.mark.parametrize("prefix", sorted(TOLERANCES))
def test_measurements_from_detected_landmarks(plans, prefix):
    tol, frac = TOLERANCES[prefix]
    ok = total = 0
    worst = []
    for d, plan in plans:
        assert plan.calibration.source.value == "ball-marker"
        for name, truth in d.case.measurements.items():
            if not name.startswith(prefix):
                continue
            side = d.kwargs.get("implant_side")
            if side and side in name and prefix in ("neck_shaft_angle", "lcea", "tonnis_angle", "sharp_angle"):
                continue  # needs landmarks the implant replaced
            total += 1
            m = plan.measurements.get(name)
            if m is not None and abs(m.value - truth) <= tol:
                ok += 1
            elif m is not None:
                worst.append((d.kwargs["seed"], name, round(m.value - truth, 1)))
    assert total and ok >= frac * total, (prefix, ok, total, worst)


def test_pipeline_detects_when_no_landmarks_are_given(detected_cases):
    d = detected_cases[0]
    plan = plan_radiograph(d.radiograph)
    assert len(plan.landmarks) >= 16
    assert all(lm.source.value == "auto" for lm in plan.landmarks)
    assert np.isfinite(plan.measurements["lld_teardrop_mm"].value)
    assert abs(plan.measurements["lld_teardrop_mm"].value - d.case.measurements["lld_teardrop_mm"]) <= 3.0
