"""The napari reader: a DICOM radiograph as an image layer that carries the loaded Radiograph."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import OrthoplanError

log = logging.getLogger(__name__)


def read_radiograph(path: str | list[str]) -> list[tuple[Any, dict[str, Any], str]]:
    """``[(display, metadata, "image")]`` for napari; the Radiograph rides in the metadata."""
    from ..pipeline import load_radiograph

    p = path[0] if isinstance(path, list) else path
    rad = load_radiograph(p)
    meta = {"name": "radiograph", "colormap": "gray", "contrast_limits": (0.0, 1.0),
            "metadata": {"orthoplan_radiograph": rad, "source": str(p)}}
    return [(rad.display, meta, "image")]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list] | None:
    """The reader for a DICOM radiograph, or None (napari then tries another plugin)."""
    p = path[0] if isinstance(path, list) else path
    if not isinstance(p, str) or not p.lower().endswith((".dcm", ".dicom")):
        return None

    def reader(path_: str | list[str]) -> list:
        try:
            return read_radiograph(path_)
        except OrthoplanError as exc:  # napari shows the message; no traceback for bad input
            log.error("orthoplan cannot open this file: %s", exc)
            raise
    return reader
