"""The picture of a plan (overlay.png) on a real film: a legend of the landmark codes, labels that
do not cover each other, and every text inside the picture.

The film is the real CR hip of ``../shared/data/real/hip_cr_rg2.dcm`` (2140 × 1760, PixelSpacing
without a calibration type, so the calibration carries a ~300-character warning). Landmarks are
placed by hand, three of them within a few pixels of each other, as a crowded acetabulum gives.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.text import Annotation, Text  # noqa: E402

from orthoplan.model import Landmark, LandmarkName, Landmarks, LandmarkSource  # noqa: E402
from orthoplan.pipeline import calibrate_radiograph, load_radiograph, plan_radiograph  # noqa: E402
from orthoplan.render import render_plan  # noqa: E402

L = LandmarkName
CROWDED = {L.SOURCIL_MEDIAL_LEFT: (905.0, 730.0), L.ACETABULAR_LATERAL_EDGE_LEFT: (910.0, 733.0),
           L.TEARDROP_LEFT: (902.0, 738.0)}
OTHERS = {L.FEMORAL_HEAD_CENTER_LEFT: (900.0, 870.0), L.GREATER_TROCHANTER_LEFT: (1080.0, 860.0),
          L.LESSER_TROCHANTER_LEFT: (1030.0, 1140.0), L.ISCHIAL_TUBEROSITY_LEFT: (690.0, 1230.0)}


@pytest.fixture(scope="module")
def picture(real_dir: Path):
    rad = load_radiograph(real_dir / "hip_cr_rg2.dcm")
    cal = calibrate_radiograph(rad, ball_diameter_mm=None)
    assert any(len(w) > 150 for w in cal.warnings), "the film's calibration warning is long"
    lms = Landmarks(tuple(
        Landmark(name, x, y, confidence=0.9, source=LandmarkSource.AUTO,
                 radius_px=140.0 if name is L.FEMORAL_HEAD_CENTER_LEFT else None)
        for name, (x, y) in {**CROWDED, **OTHERS}.items()))
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms, view="ap-hip")
    fig = render_plan(rad, plan)
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.canvas.draw()  # every position final, as in the saved PNG
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    return plan, fig, ax, renderer


def _texts(ax) -> list[Text]:
    return [t for t in ax.texts if not isinstance(t, Annotation) and t.get_visible() and t.get_text()]


def _labels(ax) -> list[Annotation]:
    return [t for t in ax.texts if isinstance(t, Annotation)]


def _extent(t: Text, renderer):
    return Text.get_window_extent(t, renderer)  # the text itself (an annotation's leader line left out)


def test_a_legend_explains_every_code_drawn(picture):
    plan, _fig, ax, renderer = picture
    legend = [t for t in _texts(ax) if "teardrop" in t.get_text()]
    assert len(legend) == 1, [t.get_text() for t in _texts(ax)]
    text = legend[0].get_text()
    codes = {"TD": "teardrop", "SM": "sourcil medial", "LE": "acetabular lateral edge", "FH": "femoral head center",
             "GT": "greater trochanter", "LT": "lesser trochanter", "IT": "ischial tuberosity"}
    for code, meaning in codes.items():
        assert any(line.split()[:1] == [code] or f"   {code} " in line for line in text.splitlines()), code
        assert meaning in text
        assert any(a.get_text().startswith(code + " ") for a in _labels(ax)), f"{code} is drawn"
    assert "confidence" in text
    frame = ax.get_window_extent(renderer)
    bb = _extent(legend[0], renderer)
    assert frame.x0 <= bb.x0 and bb.x1 <= frame.x1 and frame.y0 <= bb.y0 and bb.y1 <= frame.y1


def test_the_calibration_warning_is_whole_and_inside_the_picture(picture):
    plan, _fig, ax, renderer = picture
    frame = ax.get_window_extent(renderer)
    long_warning = next(w for w in plan.calibration.warnings if len(w) > 150)
    shown = [t for t in _texts(ax) if "PixelSpacingCalibrationType" in t.get_text()]
    assert len(shown) == 1
    assert " ".join(shown[0].get_text().split()) == " ".join(long_warning.split()), "not cut"
    for t in _texts(ax):
        bb = _extent(t, renderer)
        assert frame.x0 <= bb.x0 and bb.x1 <= frame.x1 + 0.5, (t.get_text()[:40], bb, frame)
        assert frame.y0 <= bb.y0 and bb.y1 <= frame.y1 + 0.5, (t.get_text()[:40], bb, frame)


def test_texts_do_not_cover_each_other(picture):
    _plan, _fig, ax, renderer = picture
    boxes = [(t.get_text()[:30], _extent(t, renderer)) for t in _texts(ax)]
    for (na, a), (nb, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (na, nb)


def test_landmark_labels_do_not_cover_each_other_or_the_texts(picture):
    _plan, _fig, ax, renderer = picture
    labels = [(a.get_text(), _extent(a, renderer)) for a in _labels(ax)]
    crowded = {lab for lab, _ in labels if lab.split()[0] in ("SM", "LE", "TD")}
    assert len(crowded) == 3
    for (na, a), (nb, b) in itertools.combinations(labels, 2):
        assert not a.overlaps(b), (na, nb)
    for name, lab in labels:
        for t in _texts(ax):
            assert not lab.overlaps(_extent(t, renderer)), (name, t.get_text()[:30])
