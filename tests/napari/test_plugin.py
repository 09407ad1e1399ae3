"""The napari plugin, headless: Qt offscreen and napari's ViewerModel (layers without an OpenGL canvas).

The reader opens a DICOM file, the dock widget detects landmarks, dragging a point changes a
measurement, templating adds outlines, and saving writes an SR that dciodvfy/dsrdump accept.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pydicom
import pytest

from orthoplan.phantoms import pelvis as phantom
from orthoplan.dicom import validate


@pytest.fixture(scope="module")
def qapp():
    from qtpy.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


@pytest.fixture(scope="module")
def dicom_file(tmp_path_factory):
    case = phantom.make_pelvis(seed=31, rows=1000, columns=1200, detector_spacing_mm=0.36)
    path = tmp_path_factory.mktemp("napari") / "pelvis.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    return path, case


def test_manifest_is_valid_and_declares_reader_and_widget():
    import npe2

    pm = npe2.PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("orthoplan")
    assert [r.command for r in manifest.contributions.readers] == ["orthoplan.get_reader"]
    assert [w.command for w in manifest.contributions.widgets] == ["orthoplan.planning_widget"]


def test_reader_returns_an_image_layer_with_the_radiograph(dicom_file):
    from orthoplan.napari_plugin import get_reader

    path, _case = dicom_file
    assert get_reader("notes.txt") is None
    (data, meta, kind), = get_reader(str(path))(str(path))
    assert kind == "image" and data.shape == (1000, 1200)
    assert meta["metadata"]["orthoplan_radiograph"].reference.sop_instance_uid


def test_dock_detects_drag_changes_measurement_and_saves_valid_sr(qapp, dicom_file, tmp_path):
    from napari.components import ViewerModel

    from orthoplan.napari_plugin import PlanningDock, get_reader

    path, case = dicom_file
    viewer = ViewerModel()
    for data, meta, kind in get_reader(str(path))(str(path)):
        viewer.add_image(data, **meta)
    dock = PlanningDock(viewer)
    dock.archive.setText(f"folder://{tmp_path / 'archive'}")
    dock.plan_button.click()
    assert "error" not in dock.status.text(), dock.status.text()
    pts = viewer.layers["orthoplan landmarks"]
    names = list(pts.features["name"])
    assert "femoral_head_center_left" in names and len(names) >= 10
    # the detected head centre is where the truth is (napari rows/cols are pixel centres)
    k = names.index("femoral_head_center_left")
    truth = case.landmarks["femoral_head_center_left"]
    r, c = pts.data[k]
    assert np.hypot(c + 0.5 - truth.x, r + 0.5 - truth.y) * case.mm_per_px < 3.0

    lld0 = dock.session.plan.measurements["lld_teardrop_mm"].value
    k = names.index("lesser_trochanter_left")
    data = np.array(pts.data)
    data[k, 0] += 20  # 20 rows down: the left leg gets longer
    pts.data = data
    lld1 = dock.session.plan.measurements["lld_teardrop_mm"].value
    assert lld1 > lld0 + 10 * case.mm_per_px
    assert f"lld_teardrop_mm: {lld1:.1f}" in dock.values.toPlainText()

    dock.template_button.click()
    assert dock.session.plan.placement("cup", "left") is not None, dock.status.text()
    assert "orthoplan plan" in viewer.layers

    dock.save_button.click()
    assert dock.status.text() == "saved"
    srs = [f for f in (tmp_path / "archive").rglob("*.dcm") if pydicom.dcmread(f, stop_before_pixels=True).Modality == "SR"]
    assert len(srs) == 1
    assert validate.run_dciodvfy(srs[0]) == []
    # what the detector says about the film is listed with the values
    from dataclasses import replace

    dock.session._set(replace(dock.session.plan, notes=("Landmark detection: femur abducted",)))
    dock.refresh()
    assert "note: Landmark detection: femur abducted" in dock.values.toPlainText()
    assert "Measurement Report" in validate.run_dsrdump(srs[0])


def test_dock_without_a_radiograph_says_what_to_do(qapp):
    from napari.components import ViewerModel

    from orthoplan.napari_plugin import PlanningDock

    dock = PlanningDock(ViewerModel())
    dock.plan_button.click()
    assert "open a DICOM radiograph" in dock.status.text()
