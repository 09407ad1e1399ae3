"""Issue 15: sizes with the range the scale's interval allows, and no impossible plan without
``force`` (a size beyond the family, a neck cut outside the femur); lengths with their 95 %
interval. Phantoms with a known true scale (``templating_cases``)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from orthoplan.errors import TemplatingError
from orthoplan.model import Calibration, Landmark, Measurement, Plan
from orthoplan.pipeline import recalibrate, template_hip


def _on_scale(plan, factor=1.0, uncertainty_pct=0.0):
    return recalibrate(plan, Calibration(plan.calibration.mm_per_px * factor, "explicit-spacing", uncertainty_pct))


def _sizes(fam):
    return [s.label for s in fam.sizes]


def test_exact_scale_gives_one_size_and_a_wide_interval_a_range(catalog, case0):
    _case, rad, plan = case0
    exact = template_hip(plan, rad, catalog, "left")
    cup = exact.placement("cup", "left")
    assert cup.size_range == (cup.size, cup.size) and not cup.spans_sizes
    assert not any("within the scale's interval" in n for n in exact.notes)

    wide = template_hip(_on_scale(plan, 1.0, 10.0), rad, catalog, "left")
    cup, stem = wide.placement("cup", "left"), wide.placement("stem", "left")
    fam = catalog.find(cup.family)
    labels = _sizes(fam)
    lo, hi = (labels.index(v) for v in cup.size_range)
    assert lo < labels.index(cup.size) < hi  # ±10 % of a ~55 mm cup: at least a size either way
    assert any(n.startswith(f"cup left: {cup.size}, {cup.size_range[0]}–{cup.size_range[1]} within the scale's interval")
               for n in wide.notes)
    slabels = _sizes(catalog.find(stem.family))
    assert slabels.index(stem.size_range[0]) <= slabels.index(stem.size) <= slabels.index(stem.size_range[1])
    back = Plan.from_json(wide.to_json())
    assert back.placement("cup", "left").size_range == cup.size_range


def test_the_range_contains_the_size_chosen_on_the_true_scale(catalog, case0):
    """On a scale 6 % off with an honest ±8 % interval, the range holds the true-scale size."""
    _case, rad, plan = case0
    truth = template_hip(plan, rad, catalog, "right").placement("cup", "right").size
    off = template_hip(_on_scale(plan, 1.06, 8.0), rad, catalog, "right").placement("cup", "right")
    labels = _sizes(catalog.find(off.family))
    assert labels.index(off.size_range[0]) <= labels.index(truth) <= labels.index(off.size_range[1])


def test_a_cup_beyond_the_family_is_refused_unless_forced(catalog, case0):
    _case, rad, plan = case0
    huge = _on_scale(plan, 1.45)  # a 1.45x wrong scale: the head looks ~75 mm
    with pytest.raises(TemplatingError, match="the left cup needs about .* mm; .* goes from .* force it"):
        template_hip(huge, rad, catalog, "left", stem_size="5")
    forced = template_hip(huge, rad, catalog, "left", stem_size="5", force=True)
    cup = forced.placement("cup", "left")
    assert cup.size == _sizes(catalog.find(cup.family))[-1]
    assert any(n.startswith("FORCED: the left cup needs about") for n in forced.notes)
    assert any(f"cup left: {cup.size} is the largest" in n for n in forced.notes)


def test_a_neck_cut_outside_the_femur_is_refused_unless_forced(catalog, case0):
    _case, rad, plan = case0
    with pytest.raises(TemplatingError, match="neck cut would lie 94 mm above the lesser trochanter.*outside the femur"):
        template_hip(plan, rad, catalog, "left", resection_above_lt_mm=94.0)
    with pytest.raises(TemplatingError, match="20 mm below the lesser trochanter"):
        template_hip(plan, rad, catalog, "left", resection_above_lt_mm=-20.0)
    forced = template_hip(plan, rad, catalog, "left", resection_above_lt_mm=94.0, force=True)
    assert any(n.startswith("FORCED: stem left: the neck cut lies 94 mm above") for n in forced.notes)


def test_a_cup_sized_without_a_head_circle_says_how_far_to_trust_it(catalog, case0):
    _case, rad, plan = case0
    with_circle = template_hip(plan, rad, catalog, "left").placement("cup", "left")
    head = plan.landmarks["femoral_head_center_left"]
    no_circle = replace(plan, landmarks=plan.landmarks.with_landmark(
        Landmark(head.name, head.x, head.y, head.confidence, head.source, None)))
    out = template_hip(no_circle, rad, catalog, "left")
    cup = out.placement("cup", "left")
    note = next(n for n in out.notes if "sized to the acetabular lateral edge" in n)
    assert "-15 % to +23 %" in note and "place the femoral head circle" in note
    labels = _sizes(catalog.find(cup.family))
    assert labels.index(cup.size_range[1]) - labels.index(cup.size_range[0]) >= 3  # honest: a wide range
    assert labels.index(cup.size_range[0]) <= labels.index(with_circle.size) <= labels.index(cup.size_range[1])


def test_lengths_carry_the_scale_interval_and_angles_none(case0):
    _case, _rad, plan = case0
    p = _on_scale(plan, 1.0, 5.0)
    lld = p.measurements["lld_teardrop_mm"]
    lo, hi = lld.interval
    assert (lo, hi) == pytest.approx(tuple(sorted((lld.value * 0.95, lld.value * 1.05))))
    assert p.measurements["lcea_left_deg"].interval is None
    back = Plan.from_json(p.to_json())
    assert back.measurements["lld_teardrop_mm"].interval == lld.interval
    with pytest.raises(Exception, match="must be finite and contain the value"):
        Measurement("x_mm", 10.0, "mm", interval=(11.0, 12.0))
    from orthoplan.errors import MeasurementError

    with pytest.raises(MeasurementError, match="finite number to have an interval"):
        p.calibration.length_interval_mm(float("nan"))


def test_cli_refuses_an_impossible_cut_and_forces_it(tmp_path):
    from orthoplan.phantoms import pelvis as phantom

    case = phantom.make_pelvis(seed=0, rows=1000, columns=1200, detector_spacing_mm=0.35, medullary_canal="marrow")
    files = phantom.write_case(case, tmp_path / "case")
    base = [sys.executable, "-m", "orthoplan.cli", "template", str(files["image"]), "--landmarks",
            str(files["landmarks"]), "--side", "left", "--resection-above-lt", "94", "--json"]
    r = subprocess.run(base, capture_output=True, text=True)
    assert r.returncode == 9, r.stderr
    assert "outside the femur" in r.stderr and "force" in r.stderr
    r = subprocess.run(base + ["--force"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "FORCED" in json.dumps(json.loads(r.stdout))


def test_a_stem_that_cannot_be_reduced_onto_the_cup_is_refused_unless_forced(catalog, case0):
    """Issue 15: a component outside the femur. A cup centre put 60 mm above the head (a wrong
    click) leaves the stem's head far from the cup: refused, and marked FORCED when forced."""
    _case, rad, plan = case0
    head = plan.landmarks["femoral_head_center_left"]
    far = (head.x, head.y - 60.0 / plan.calibration.mm_per_px)
    with pytest.raises(TemplatingError, match="stem's head lands .* mm from the cup's centre"):
        template_hip(plan, rad, catalog, "left", cup_center=far, resection_above_lt_mm=15.0)
    forced = template_hip(plan, rad, catalog, "left", cup_center=far, resection_above_lt_mm=15.0, force=True)
    assert any(n.startswith("FORCED: stem left: the left stem's head lands") for n in forced.notes)
    ok = template_hip(plan, rad, catalog, "left", resection_above_lt_mm=15.0)
    assert not any(n.startswith("FORCED") for n in ok.notes)
