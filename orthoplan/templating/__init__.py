"""Templating: implants from the catalogs placed and sized on a plan, hip and knee.

* :mod:`.hip` — cup, stem and head; the predicted leg length and offsets;
* :mod:`.knee` — femoral component, tibial tray and insert;
* :mod:`.editing` — moving, rotating and resizing any placement, and drawing it;
* :mod:`.common` — what they share (catalog access, the assumed-scale note, the measuring
  function hip templating is given).

Templating never imports the measurements stage: the functions that predict the hip
reconstruction take ``measure`` (:data:`~.common.MeasureHip`), and :mod:`orthoplan.pipeline`
gives them :func:`orthoplan.measurements.measure_hip` (``pipeline.template_hip``,
``pipeline.update_placement``, ``pipeline.recalibrate``).

Examples
--------
>>> from orthoplan.templating import choose_cup_size, default_catalog
>>> choose_cup_size(default_catalog().find("generic hemispherical cup"), 53.0).label
'54'
"""

from .common import ASSUMED_SCALE_NOTE, MeasureHip, default_catalog, find_family, px_per_mm, replace_placements, size_notes
from .editing import placement_outline_px, update_placement
from .hip import *  # noqa: F401,F403
from .hip import __all__ as _hip_all
from .knee import *  # noqa: F401,F403
from .knee import __all__ as _knee_all

__all__ = ["ASSUMED_SCALE_NOTE", "MeasureHip", "default_catalog", "find_family", "px_per_mm", "replace_placements", "size_notes",
           "placement_outline_px", "update_placement", *_hip_all, *_knee_all]
