"""A long-leg film whose header says it is stored turned by a quarter turn (Patient Orientation
with the head along the rows): until 7 December 2026 the long-leg detector refused it; it now
reads it turned head up and maps the points back (the same points, the same values)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from orthoplan.landmarks.accuracy import limb_variants, make_limb_case
from orthoplan.pipeline import load_radiograph, plan_radiograph


def test_a_long_leg_film_stored_turned_gives_the_points_and_values_of_the_film_head_up():
    case = make_limb_case(limb_variants(1)[0])
    ds = case.dataset
    head_up = load_radiograph(ds)
    assert head_up.orientation.superior_name == "up"
    up = plan_radiograph(head_up, view="long-leg")
    turned = copy.deepcopy(ds)
    pixels = np.ascontiguousarray(np.rot90(ds.pixel_array, k=-1))  # clockwise: the head towards +x
    turned.PixelData, (turned.Rows, turned.Columns) = pixels.tobytes(), pixels.shape
    turned.PatientOrientation = ["H", "L"]
    rad = load_radiograph(turned)
    assert rad.orientation.turn_deg == 90
    plan = plan_radiograph(rad, view="long-leg")
    assert len(up.landmarks) >= 10 and len(plan.landmarks) == len(up.landmarks)
    for lm in up.landmarks:
        got = plan.landmarks[lm.name]
        assert math.hypot(got.x - (ds.Rows - lm.y), got.y - lm.x) < 0.05, lm.name.value
    values = [m for m in up.measurements if m.value is not None]
    assert values
    for m in values:
        assert plan.measurements[m.name].value == pytest.approx(m.value, abs=0.1), m.name
