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
from orthoplan.model import Calibration, Landmark, Landmarks, Measurement, Plan
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
    """Landmarks without a positional σ: a length has the scale's interval, an angle none (with
    one, both widen: tests/measurements/test_positional_interval.py)."""
    _case, _rad, plan = case0
    bare = replace(plan, landmarks=Landmarks(tuple(replace(lm, sigma_px=None) for lm in plan.landmarks),
                                             plan.landmarks.missing))
    p = _on_scale(bare, 1.0, 5.0)
    lld = p.measurements["lld_teardrop_mm"]
    lo, hi = lld.interval
    assert (lo, hi) == pytest.approx(tuple(sorted((lld.value * 0.95, lld.value * 1.05))))
    assert p.measurements["lcea_left_deg"].interval is None
    widened = _on_scale(plan, 1.0, 5.0).measurements  # a person's landmarks: a reader's σ
    assert widened["lld_teardrop_mm"].interval[1] - widened["lld_teardrop_mm"].interval[0] > hi - lo
    assert widened["lcea_left_deg"].interval is not None
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


def _cropped(plan, rows):
    """The plan on a film that ends at ``rows`` (the femur shown that far)."""
    return replace(plan, image=replace(plan.image, rows=int(rows)))


def test_a_stem_longer_than_the_femur_shown_is_refused_unless_forced(catalog, case0):
    """Issue 15: a component outside the femur. A film that ends 30 mm below the lesser
    trochanter shows well under half of the stem below the cut: refused; forced, marked FORCED.
    A tip just beyond the film's edge is only a note."""
    from orthoplan.templating import find_family, stem_tip_px

    _case, _rad, plan = case0
    ok = template_hip(plan, None, catalog, "left", stem_size="1", resection_above_lt_mm=15.0)
    assert not any("beyond the image" in n or n.startswith("FORCED") for n in ok.notes)
    lt = plan.landmarks["lesser_trochanter_left"]
    short = _cropped(plan, lt.y + 30.0 / plan.calibration.mm_per_px)
    with pytest.raises(TemplatingError, match=r"mm of the left stem's .* mm below the neck cut lie beyond the image: "
                                              r"the stem is longer than the femur shown.*force it"):
        template_hip(short, None, catalog, "left", stem_size="1", resection_above_lt_mm=15.0)
    forced = template_hip(short, None, catalog, "left", stem_size="1", resection_above_lt_mm=15.0, force=True)
    assert any(n.startswith("FORCED: stem left: ") and "longer than the femur shown" in n for n in forced.notes)
    stem = ok.placement("stem", "left")
    size = next(s for s in find_family(catalog, stem, "stem").sizes if s.label == stem.size)
    tip_y = float(stem_tip_px(ok, stem, size)[1])
    edge = template_hip(_cropped(plan, tip_y - 10.0 / plan.calibration.mm_per_px), None, catalog, "left",
                        stem_size="1", resection_above_lt_mm=15.0)
    note = next(n for n in edge.notes if n.startswith("stem left: its tip lies "))
    assert "beyond the image: its fit in the distal canal is not seen" in note
    assert float(note.split("tip lies ")[1].split(" mm")[0]) == pytest.approx(10.0, abs=1.0)  # along a near-vertical axis
    assert not any(n.startswith("FORCED") for n in edge.notes)


def test_a_stem_tip_off_the_shaft_axis_is_outside_the_femur(catalog, case0):
    """A stem turned 15° about its taper point (a constructed bad placement): its tip, ~40 mm
    off the shaft axis, has left the canal."""
    from orthoplan.templating import find_family, stem_outside_femur

    _case, _rad, plan = case0
    ok = template_hip(plan, None, catalog, "left", stem_size="1", resection_above_lt_mm=15.0)
    stem = ok.placement("stem", "left")
    size = next(s for s in find_family(catalog, stem, "stem").sizes if s.label == stem.size)
    assert stem_outside_femur(ok, stem, size) == (None, None)
    turned = replace(stem, angle_deg=stem.angle_deg + 15.0)
    refusal, _note = stem_outside_femur(ok, turned, size)
    assert refusal is not None and "stem's tip lies" in refusal and "from the femoral shaft axis" in refusal
    import math
    expected_mm = size.stem_length_mm * math.sin(math.radians(15.0))  # taper to tip, turned 15°, about
    got = float(refusal.split("tip lies ")[1].split(" mm")[0])
    assert abs(got - expected_mm) < 0.25 * expected_mm
