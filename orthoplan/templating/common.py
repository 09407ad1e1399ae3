"""What hip and knee templating share: the catalog, placements, the assumed-scale note, and
the measuring function that templating is given (it never imports the measurements stage).

Examples
--------
>>> from orthoplan.catalog import load_catalog
>>> cat = load_catalog(include_env=False, include_entry_points=False)
>>> find_family(cat, "generic hemispherical cup", "cup").kind
'cup'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from functools import lru_cache

import numpy as np

from ..catalog import Catalog, ImplantFamily, load_catalog
from ..errors import CatalogError
from ..model import Calibration, ImageOrientation, ImplantKind, Landmarks, Measurements, Placement, Plan, Side

__all__ = ["ASSUMED_SCALE_NOTE", "MeasureHip", "default_catalog", "find_family", "px_per_mm", "replace_placements",
           "size_notes"]

#: The note of a plan templated on an assumed scale (plan, report, picture).
ASSUMED_SCALE_NOTE = "TEMPLATING ON AN ASSUMED SCALE: implant sizes and predicted values are estimates"

#: The hip measuring function templating is given: ``(landmarks, calibration, orientation) ->
#: Measurements`` (:func:`orthoplan.measurements.measure_hip`, passed in by
#: :mod:`orthoplan.pipeline`), so that predicted values are measured by the same code as the
#: pre-operative ones without templating importing the measurements stage.
MeasureHip = Callable[[Landmarks, Calibration, ImageOrientation], Measurements]


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The catalog templating uses when none is given (bundled + env + entry points), cached."""
    return load_catalog()


def find_family(catalog: Catalog, placement_or_name: Placement | str, kind: str, vendor: str | None = None) -> ImplantFamily:
    """The catalog family of a placement (or named), which must be of ``kind``; else :class:`CatalogError`."""
    if isinstance(placement_or_name, Placement):  # stored data: the exact family
        fam = catalog.find(placement_or_name.family, vendor=placement_or_name.vendor, kind=kind)
    else:  # a name a person gave: a unique prefix will do (``--cup Pinnacle``)
        fam = catalog.find(placement_or_name, vendor=vendor, kind=kind, prefix=True)
    if fam.kind != kind:
        raise CatalogError(
            f"{fam.vendor} / {fam.family} is a {fam.kind}, not a {kind}; "
            f"{kind} families: {', '.join(f.family for f in catalog.of_kind(kind)) or '(none)'}"
        )
    return fam


def px_per_mm(cal: Calibration) -> np.ndarray:
    """px per mm along x and y."""
    return np.array([1.0 / cal.mm_per_px, 1.0 / cal.mm_per_px_y])


def replace_placements(plan: Plan, new: Sequence[Placement]) -> tuple[Placement, ...]:
    """The plan's placements with ``new`` ones replacing those of the same kind and side, sorted."""
    keys = {p.key for p in new}
    kept = tuple(p for p in plan.placements if p.key not in keys)
    order = {ImplantKind.CUP: 0, ImplantKind.STEM: 1, ImplantKind.HEAD: 2}
    return tuple(sorted(kept + tuple(new), key=lambda p: (p.side.value, order.get(p.kind, len(order)))))


def size_notes(kind: str, side: Side, fam: ImplantFamily, chosen: Any, size_range: tuple[str, str],
                order: Sequence[float], position: float) -> list[str]:
    """Notes on a chosen size: the range the scale's interval allows, and the family's ends.

    ``order`` ranks the family's sizes (diameters, or indices) and ``position`` is the chosen
    one's rank.

    >>> from types import SimpleNamespace as NS
    >>> size_notes("cup", Side.LEFT, NS(family="generic cup"), NS(label="64"), ("62", "64"), [44, 64], 64)
    ["cup left: 64, 62–64 within the scale's interval: more than one size", 'cup left: 64 is the largest generic cup: check the scale and the landmarks']
    """
    notes = []
    if size_range[0] != size_range[1]:
        notes.append(f"{kind} {side.value}: {chosen.label}, {size_range[0]}–{size_range[1]} within the scale's "
                     "interval: more than one size")
    if len(order) > 1 and position in (min(order), max(order)):
        end = "smallest" if position == min(order) else "largest"
        notes.append(f"{kind} {side.value}: {chosen.label} is the {end} {fam.family}: check the scale and the landmarks")
    return notes

