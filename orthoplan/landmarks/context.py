"""What every detector needs to know about one image: scale, working image, metal, sides.

Built once per :func:`orthoplan.landmarks.detect` call by :func:`make_context`; the
detectors are pure functions of it.

Examples
--------
>>> import numpy as np
>>> from orthoplan.model import ImageReference, Radiograph
>>> z = np.zeros((200, 300), np.float32)
>>> ctx = make_context(Radiograph(z, z, ImageReference()))
>>> ctx.work.image.shape[1] <= 300, ctx.scale.assumed
(True, True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..model import Calibration, Radiograph, Side
from .common import Scale, WorkImage, scale_of
from .metal import MetalObject, find_metal

log = logging.getLogger(__name__)

#: Working resolution of the searches (mm at the anatomy per working pixel).
WORK_MM = 1.0


@dataclass(frozen=True, eq=False)
class Context:
    """One image prepared for detection (full-resolution display, working image, metal)."""

    radiograph: Radiograph
    display: np.ndarray  #: full resolution, bone bright, [0, 1], float32
    scale: Scale
    work: WorkImage
    metal: tuple[MetalObject, ...]
    metal_mask: np.ndarray  #: working image: pixels of metal (dilated), to be ignored
    fine: WorkImage | None = None  #: ~0.2 mm per pixel, for sub-pixel circle fits
    mid: WorkImage | None = None  #: ~0.5 mm per pixel, for quick circle fits

    @property
    def mm(self) -> float:
        """Anatomical mm per full-resolution pixel."""
        return self.scale.mm_per_px

    @property
    def scale_tolerance(self) -> float:
        """Factor by which sizes in mm may be off: 1 (measured), 1.12 (assumed magnification),
        1.35 (no spacing at all)."""
        if not self.scale.assumed:
            return 1.0
        return 1.35 if self.scale.source.startswith("assumed-field") else 1.12

    def px(self, mm: float) -> float:
        """Full-resolution pixels spanning ``mm``."""
        return mm / self.scale.mm_per_px

    def lateral_x(self, side: Side) -> int:
        """Sign of x pointing laterally on the patient's ``side``."""
        return self.radiograph.orientation.lateral_x(side)

    def side_of_lateral(self, lateral_x: int) -> Side:
        """The patient side whose lateral direction is ``lateral_x``."""
        return Side.LEFT if lateral_x == self.radiograph.orientation.patient_left_x else Side.RIGHT

    @property
    def prostheses(self) -> tuple[MetalObject, ...]:
        return tuple(m for m in self.metal if m.kind == "prosthesis")


def flat_border(image: np.ndarray, tol: float = 0.01) -> np.ndarray:
    """Saturated areas touching the image border (collimation, unexposed margins).

    >>> a = np.full((6, 6), 0.5); a[:, :2] = 1.0
    >>> flat_border(a)[:, :3].sum(axis=0).tolist()
    [6, 6, 0]
    """
    from scipy import ndimage

    sat = image >= float(image.max()) - tol
    lab, n = ndimage.label(sat)
    if n == 0:
        return sat
    edge = np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    return np.isin(lab, edge[edge > 0])


def make_context(radiograph: Radiograph, calibration: Calibration | None = None) -> Context:
    """Scale, working image (~1 mm/px) and metal map of ``radiograph``."""
    from scipy import ndimage

    display = np.asarray(radiograph.display, dtype=np.float32)
    scale = scale_of(radiograph, calibration)
    # one pyramid: ~0.2 mm (sub-pixel fits), ~0.5 mm (quick fits), ~1 mm (searches)
    fine = WorkImage.from_display(display, scale.mm_per_px, 0.2)
    mid = _coarser(fine, 0.5)
    work = _coarser(fine, WORK_MM)
    metal = tuple(find_metal(work.image, work.mm_per_px))
    from .metal import metal_mask

    mask = metal_mask(work.image) | flat_border(work.image)
    mask = ndimage.binary_dilation(mask, iterations=3)
    return Context(radiograph, display, scale, work, metal, mask, fine, mid)


def _coarser(w: WorkImage, target_mm: float) -> WorkImage:
    """A further block-mean reduction of ``w`` to about ``target_mm``, mapping to full resolution."""
    nxt = WorkImage.from_display(w.image, w.mm_per_px, target_mm)
    return WorkImage(nxt.image, nxt.factor * w.factor, nxt.mm_per_px)
