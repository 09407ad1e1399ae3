"""orthoplan: open orthopaedic surgical planning and digital templating on radiographs.

The stages are plain functions over the immutable values of :mod:`orthoplan.model`::

    from orthoplan import image, calibration, pipeline
    rad = image.load("hip.dcm")
    plan = pipeline.plan_radiograph(rad, landmarks=...)

See the README and ``docs/`` for the full tour.
"""

from __future__ import annotations

from .errors import (
    ArchiveError,
    CalibrationError,
    CatalogError,
    CorruptImageError,
    LandmarkError,
    MeasurementError,
    OrthoplanError,
    PlanError,
    UnsupportedImageError,
)

__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "CalibrationError",
    "CatalogError",
    "CorruptImageError",
    "LandmarkError",
    "MeasurementError",
    "OrthoplanError",
    "PlanError",
    "UnsupportedImageError",
    "__version__",
]
