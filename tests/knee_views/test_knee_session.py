"""Knee views in the interactive faces: the notebook session and the napari dock.

The session infers the view from the header (BodyPartExamined KNEE + ViewPosition), templates a
total knee on an AP knee view (with the lateral view's AP dimension when given) and refuses to
template on a lateral view; the napari dock offers the view and templates the knee.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from orthoplan.errors import PlanError
from orthoplan.model import ImplantKind
from orthoplan.notebook import PlanningSession
from orthoplan.templating.knee import knee_templating_summary


def test_session_infers_knee_views_and_templates_the_knee(knee_case):
    ap, lat = knee_case("knee-ap", seed=2), knee_case("knee-lateral", seed=2)
    s_ap = PlanningSession.open(ap.dataset)
    s_lat = PlanningSession.open(lat.dataset)
    assert s_ap.plan.view == "knee-ap" and s_lat.plan.view == "knee-lateral"
    side = ap.side if hasattr(ap, "side") else "left"
    # the detected condyles are where the truth is
    for name in (f"femoral_condyle_medial_{side}", f"tibial_plateau_lateral_{side}"):
        got, truth = s_ap.plan.landmarks[name], ap.landmarks[name]
        assert np.hypot(got.x - truth.x, got.y - truth.y) * ap.mm_per_px < 3.0, name

    with pytest.raises(PlanError, match="AP"):
        s_lat.template(side)

    s_ap.template(side)  # without the lateral view: the tibia only, the femoral size needs the AP dimension
    assert s_ap.plan.placement(ImplantKind.FEMORAL_COMPONENT, side) is None
    assert s_ap.plan.placement(ImplantKind.TIBIAL_TRAY, side) is not None
    assert "lateral" in knee_templating_summary(s_ap.plan, side)["not_templated"]["femoral_component"]
    s_ap.undo()
    assert s_ap.plan.placement(ImplantKind.TIBIAL_TRAY, side) is None
    # the AP dimension's automatic points size a component only when sure; a person confirms
    # the others (here by leaving each where it is)
    from orthoplan.templating.knee import SIZING_MIN_CONFIDENCE

    dims = s_lat.plan.measurements[f"femoral_ap_dimension_{side}_mm"].landmarks
    unsure = [n for n in dims if s_lat.plan.landmarks[n].confidence < SIZING_MIN_CONFIDENCE]
    s_ap.template(side, lateral=s_lat.plan)
    if unsure:
        assert s_ap.plan.placement(ImplantKind.FEMORAL_COMPONENT, side) is None
        why = knee_templating_summary(s_ap.plan, side)["not_templated"]["femoral_component"]
        assert unsure[0].value in why and "confirm" in why
        for n in unsure:
            lm = s_lat.plan.landmarks[n]
            s_lat.move_landmark(n, lm.x, lm.y)
        assert all(s_lat.plan.landmarks[n].source.value == "manual" for n in unsure)
        s_ap.undo()
        s_ap.template(side, lateral=s_lat.plan)
    both = s_ap.plan.placement(ImplantKind.FEMORAL_COMPONENT, side)
    assert both is not None
    # with the lateral view the AP dimension takes part in the sizing, and the plan says so
    assert any("AP dimension" in n and "lateral view" in n for n in s_ap.plan.notes), s_ap.plan.notes
    measured_ap = s_lat.plan.measurements[f"femoral_ap_dimension_{side}_mm"].value
    chosen_ap = knee_templating_summary(s_ap.plan, side)["femoral_component"]["ap_dimension_mm"]
    assert abs(chosen_ap - measured_ap) < 5.0, (chosen_ap, measured_ap)

def test_session_open_refuses_bad_view_and_side_with_orthoplan_errors(knee_case):
    from orthoplan.errors import LandmarkError

    lat = knee_case("knee-lateral", seed=2, laterality_tag=False)
    with pytest.raises(PlanError, match="unknown view"):
        PlanningSession.open(lat.dataset, view="knee-oblique")
    with pytest.raises(LandmarkError, match="side must be 'left' or 'right'"):
        PlanningSession.open(lat.dataset, view="knee-lateral", side="up")
    with pytest.raises(LandmarkError, match="does not say which"):
        PlanningSession.open(lat.dataset, view="knee-lateral")
    assert PlanningSession.open(lat.dataset, view="knee-lateral", side="right").plan.view == "knee-lateral"


def test_napari_dock_offers_the_knee_views(knee_case, tmp_path):
    from napari.components import ViewerModel
    from qtpy.QtWidgets import QApplication

    from orthoplan.napari_plugin import PlanningDock, get_reader
    from orthoplan.pipeline import VIEWS

    app = QApplication.instance() or QApplication([])  # kept alive while the widgets exist
    case = knee_case("knee-ap", seed=4)
    path = tmp_path / "knee.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    viewer = ViewerModel()
    for data, meta, kind in get_reader(str(path))(str(path)):
        viewer.add_image(data, **meta)
    dock = PlanningDock(viewer)
    assert [dock.view.itemText(i) for i in range(dock.view.count())] == ["auto", *VIEWS]
    dock.view.setCurrentText("knee-ap")
    dock.plan_button.click()
    assert "error" not in dock.status.text(), dock.status.text()
    assert dock.session.plan.view == "knee-ap"
    names = list(viewer.layers["orthoplan landmarks"].features["name"])
    side = next(n for n in names if n.startswith("femoral_condyle_medial_")).rsplit("_", 1)[1]
    dock.side.setCurrentText(side)
    dock.template_button.click()
    assert "error" not in dock.status.text(), dock.status.text()
    # an AP knee alone: the tibial tray; the femoral size needs a lateral view (said in the plan)
    assert dock.session.plan.placement("tibial_tray", side) is not None
    assert dock.session.plan.placement("femoral_component", side) is None
    assert any("femoral component" in n and "not templated" in n for n in dock.session.plan.notes)
    assert app is not None
