"""The *Hip planning* dock widget for napari: a Qt face over :class:`orthoplan.notebook.PlanningSession`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..errors import OrthoplanError
from ..geometry import rc_array_from_xy, xy_array_from_rc
from ..model import LandmarkName
from ..pipeline import VIEWS

log = logging.getLogger(__name__)

POINTS_LAYER = "orthoplan landmarks"
SHAPES_LAYER = "orthoplan plan"


def _overlay_shapes(plan: Any) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Polylines and circles of the plan's overlay as napari shapes data (row, col)."""
    from ..geometry import circle_polyline
    from ..overlay import plan_overlay

    data, types, colors = [], [], []
    for layer in plan_overlay(plan):
        color = "#%02x%02x%02x" % tuple(layer.color_rgb)
        for g in layer.graphics:
            pts = np.asarray(g.points, dtype=float)
            if g.kind == "polyline" and len(pts) >= 2:
                data.append(rc_array_from_xy(pts))
                types.append("polygon" if g.closed else "path")
                colors.append(color)
            elif g.kind == "circle":
                data.append(rc_array_from_xy(circle_polyline(pts[0, 0], pts[0, 1], g.radius_px, 96)))
                types.append("polygon")
                colors.append(color)
    return data, types, colors


class PlanningDock(QWidget):
    """Plan the hip on the radiograph layer opened by orthoplan's reader.

    ``napari_viewer`` may be a :class:`napari.Viewer` or a :class:`napari.components.ViewerModel`
    (tests run the widget on the model, with ``QT_QPA_PLATFORM=offscreen``).
    """

    def __init__(self, napari_viewer: Any):
        super().__init__()
        from ..pipeline import default_archive_url

        self.viewer = napari_viewer
        self.session = None
        self._syncing = False
        self.plan_button = QPushButton("Calibrate + detect")
        self.view = QComboBox()
        self.view.addItems(["auto", *VIEWS])  # auto: from the header and the image's shape
        self.side = QComboBox()
        self.side.addItems(["left", "right"])
        self.template_button = QPushButton("Template")
        self.archive = QLineEdit(default_archive_url())
        self.save_button = QPushButton("Save SR + GSPS")
        self.status = QLabel("")
        self.values = QTextEdit()
        self.values.setReadOnly(True)
        row = QHBoxLayout()
        row.addWidget(self.side)
        row.addWidget(self.template_button)
        layout = QVBoxLayout()
        layout.addWidget(QLabel("view"))
        layout.addWidget(self.view)
        for w in (self.plan_button,):
            layout.addWidget(w)
        layout.addLayout(row)
        layout.addWidget(QLabel("archive"))
        layout.addWidget(self.archive)
        layout.addWidget(self.save_button)
        layout.addWidget(self.status)
        layout.addWidget(self.values)
        self.setLayout(layout)
        self.plan_button.clicked.connect(lambda: self._guard(self.plan))
        self.template_button.clicked.connect(lambda: self._guard(self.template))
        self.save_button.clicked.connect(lambda: self._guard(self.save))

    # ------------------------------------------------------------------ actions
    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except OrthoplanError as exc:
            self.status.setText(f"error: {exc}")
            log.warning("orthoplan: %s", exc)

    def _radiograph(self):
        for layer in list(self.viewer.layers.selection) + list(self.viewer.layers):
            rad = getattr(layer, "metadata", {}).get("orthoplan_radiograph")
            if rad is not None:
                return rad
        raise OrthoplanError("open a DICOM radiograph with the orthoplan reader first")

    def plan(self) -> None:
        """Calibrate and detect on the radiograph layer; show the landmarks and measurements."""
        from ..notebook import PlanningSession
        from ..pipeline import calibrate_radiograph, plan_radiograph

        rad = self._radiograph()
        cal = calibrate_radiograph(rad)
        view = None if self.view.currentText() == "auto" else self.view.currentText()
        # a knee view's side: the header's laterality, else the side chosen in the widget
        side = self.side.currentText() if view == "knee-lateral" and not rad.image_laterality else None
        self.session = PlanningSession(rad, plan_radiograph(rad, calibration=cal, view=view, side=side),
                                       archive_url=self.archive.text() or None)
        self.session.on_change(lambda _plan: self.refresh())
        self.refresh()
        self.status.setText(f"scale {cal.label}")

    def template(self) -> None:
        if self.session is None:
            raise OrthoplanError("press 'Calibrate + detect' first")
        self.session.template(self.side.currentText())

    def save(self) -> None:
        if self.session is None:
            raise OrthoplanError("nothing to save: press 'Calibrate + detect' first")
        result = self.session.save(self.archive.text() or None)
        self.status.setText("queued in the outbox (archive unreachable)" if getattr(result, "queued", False)
                            else "saved")

    # ------------------------------------------------------------------ layers
    def refresh(self) -> None:
        """Show the session's plan: points (landmarks), shapes (overlay), values (text)."""
        plan = self.session.plan
        lms = list(plan.landmarks)
        rc = rc_array_from_xy(np.array([lm.xy for lm in lms], dtype=float)) if lms else np.zeros((0, 2))
        features = {"name": [lm.name.value for lm in lms], "confidence": [lm.confidence for lm in lms]}
        self._syncing = True
        try:
            if POINTS_LAYER in self.viewer.layers:
                pts = self.viewer.layers[POINTS_LAYER]
                pts.data = rc
                pts.features = features
            else:
                pts = self.viewer.add_points(rc, name=POINTS_LAYER, features=features, size=12,
                                             face_color="confidence", text={"string": "{name}", "size": 8})
                pts.events.data.connect(self._on_points_changed)
            shapes, types, colors = _overlay_shapes(plan)
            if SHAPES_LAYER in self.viewer.layers:
                self.viewer.layers.remove(SHAPES_LAYER)
            if shapes:
                self.viewer.add_shapes(shapes, shape_type=types, edge_color=colors, face_color="transparent",
                                       edge_width=2, name=SHAPES_LAYER)
        finally:
            self._syncing = False
        lines = [f"scale: {plan.calibration.label}"] + [f"note: {n}" for n in plan.notes]
        for r in self.session.table():
            pred = "" if r["predicted"] is None else f"  → {r['predicted']:.1f} ({r['change']:+.1f})"
            lines.append(f"{r['name']}: {r['preoperative']:.1f}{pred}")
        lines += [f"{name}: absent — {why}" for name, why in plan.measurements.missing]
        self.values.setPlainText("\n".join(lines))

    def _on_points_changed(self, event: Any = None) -> None:
        """A point was dragged: move that landmark in the plan (everything re-measures)."""
        if self._syncing or self.session is None:
            return
        pts = self.viewer.layers[POINTS_LAYER]
        names = list(pts.features["name"])
        xy = xy_array_from_rc(np.asarray(pts.data, dtype=float))
        for name, (x, y) in zip(names, xy):
            lm = self.session.plan.landmarks.get(LandmarkName.parse(name))
            if lm is not None and np.hypot(lm.x - x, lm.y - y) > 1e-3:
                self._guard(self.session.move_landmark, name, float(x), float(y))
                return
