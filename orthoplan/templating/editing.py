"""Editing and drawing any placement, hip or knee: the functions that dispatch on the implant kind.

Examples
--------
>>> from orthoplan.model import ImplantKind
>>> from orthoplan.catalog.schema import KNEE_KINDS
>>> ImplantKind.TIBIAL_TRAY.value in KNEE_KINDS, ImplantKind.CUP.value in KNEE_KINDS
(True, False)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..catalog import Catalog
from ..catalog.schema import KNEE_KINDS
from ..errors import TemplatingError
from ..model import ImplantKind, Placement, Plan, Side
from .common import MeasureHip, default_catalog, replace_placements
from .hip import edit_hip_placement, hip_outline_px, predict
from .knee import edit_knee_placement, knee_note_prefixes, knee_outline_px

__all__ = ["update_placement", "placement_outline_px"]


def update_placement(
    plan: Plan,
    kind: ImplantKind | str,
    side: Side | str,
    *,
    catalog: Catalog | None = None,
    move_px: tuple[float, float] | None = None,
    to_xy: tuple[float, float] | None = None,
    angle_deg: float | None = None,
    size: str | float | None = None,
    neck_length_mm: float | None = None,
    thickness_mm: float | None = None,
    measure: MeasureHip,
) -> Plan:
    """Edit one placement (move, rotate, resize, neck length, insert thickness) and re-evaluate the prediction.

    * cup: ``move_px``/``to_xy`` move the centre; ``angle_deg`` sets the inclination;
      ``size`` another size of the family;
    * stem: moving or rotating (about the taper point) carries the head along; ``size``
      keeps the shaft-axis point at the resection level (the cut) where it was;
    * head: ``size`` (a diameter label of the head family) and ``neck_length_mm``;
    * knee (``femoral_component``, ``tibial_tray``, ``tibial_insert``): move, rotate about the
      resection-line centre, ``size``, and the insert's ``thickness_mm``; the tray carries
      the insert along (:func:`orthoplan.templating.knee.edit_knee_placement`). A knee has
      no predicted values; :func:`~orthoplan.templating.knee.knee_templating_summary` of the
      returned plan reports the edited components.

    ``measure`` is the hip measuring function (:func:`orthoplan.pipeline.update_placement`
    gives it). The edited placement is marked ``auto=False``. No image work: cheap enough to run on
    every mouse move.

    Raises :class:`~orthoplan.errors.TemplatingError` when the placement does not exist and
    :class:`~orthoplan.errors.CatalogError` for a size the family does not have.

    Examples
    --------
    >>> # plan2 = orthoplan.pipeline.update_placement(plan, "stem", "left", move_px=(0, -10))
    """
    kind, side = ImplantKind(kind), Side(side)
    current = plan.placement(kind, side)
    if current is None:
        have = ", ".join(f"{p.kind.value} {p.side.value}" for p in plan.placements) or "none"
        raise TemplatingError(f"the plan has no {kind.value} on the {side.value} side to edit (placements: {have})")
    catalog = catalog or default_catalog()
    xy = np.array(current.xy, dtype=float)
    if to_xy is not None:
        xy = np.asarray(to_xy, dtype=float).reshape(2)
    if move_px is not None:
        xy = xy + np.asarray(move_px, dtype=float).reshape(2)
    changes: list[Placement] = []
    if kind.value not in KNEE_KINDS and thickness_mm is not None:
        raise TemplatingError(f"only a tibial insert has a thickness, not a {kind.value}")
    if kind.value in KNEE_KINDS:
        if neck_length_mm is not None:
            raise TemplatingError(f"a {kind.value} has no neck length (only a head has one)")
        changes += edit_knee_placement(plan, current, catalog, xy, angle_deg=angle_deg,
                                       size=None if size is None else str(size), thickness_mm=thickness_mm)
    else:
        changes += edit_hip_placement(plan, current, catalog, xy, angle_deg=angle_deg, size=size,
                                      neck_length_mm=neck_length_mm)
    out = replace(plan, placements=replace_placements(plan, changes))
    if size is not None:  # the automatic choice's notes no longer apply once a person chose the size
        prefix: tuple[str, ...] = (f"{kind.value} {side.value}: ",)
        if kind.value in KNEE_KINDS:
            prefix += knee_note_prefixes(kind, side)
        out = replace(out, notes=tuple(t for t in out.notes if not t.startswith(prefix)))
    return replace(out, predictions=predict(out, measure=measure))


def placement_outline_px(plan: Plan, placement: Placement, catalog: Catalog | None = None) -> np.ndarray:
    """The placement's outline in image pixels at the plan's scale (closed polygon, (N, 2)).

    Cups and stems come from the catalog outlines (:mod:`orthoplan.catalog.outlines`) placed
    by :func:`orthoplan.catalog.to_image`; heads are circles of the head's diameter.
    """
    if placement.kind.value in KNEE_KINDS:
        return knee_outline_px(plan, placement, catalog)
    return hip_outline_px(plan, placement, catalog)
