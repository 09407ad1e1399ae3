"""The napari plugin (extra ``[napari]``): open a radiograph, detect, move points, save the plan.

A thin face over :class:`orthoplan.notebook.PlanningSession` (the same GUI-free model the
Jupyter widget uses), declared to napari by the npe2 manifest ``napari.yaml``:

* reader ``*.dcm`` → an image layer (bone bright, the radiograph in its metadata);
* dock widget *Hip planning*: calibrate and detect landmarks → a points layer
  (``orthoplan landmarks``, one point per landmark, its name and confidence as features);
  dragging a point re-measures; *Template* places cup, stem and head (a shapes layer with
  the outlines and construction lines at the image's magnification); *Save* writes the
  SR and GSPS to the archive.

Coordinates: napari layers are ``(row, col)`` with pixel centres on integers; orthoplan is
``(x, y)`` with the DICOM origin. The conversion is :mod:`orthoplan.geometry`'s.
"""

from __future__ import annotations

from .reader import get_reader
from .widget import PlanningDock

__all__ = ["PlanningDock", "get_reader"]
