"""Metal in the image: calibration balls, gonadal shields and hip prostheses.

Metal is the brightest, flattest material of a (bone-bright) radiograph: steel saturates
the detector. Connected regions of near-saturated pixels are classified by shape on a
working image of about 1 mm per pixel:

* a **prosthesis** holds a disc of femoral-head size (a prosthetic head, 22–60 mm in
  diameter) *and* a long narrow part attached to it (the stem);
* a **ball** is a disc with nothing attached (the calibration marker);
* anything else (shield, text, collimator leaves touching the border) is just masked out
  so that it neither votes for femoral heads nor is taken for bone.

Examples
--------
>>> import numpy as np
>>> img = np.full((120, 120), 0.3, np.float32)
>>> yy, xx = np.mgrid[0:120, 0:120]
>>> img[(xx - 60) ** 2 + (yy - 40) ** 2 < 15 ** 2] = 0.97      # a head of 30 mm
>>> img[40:110, 56:65] = 0.97                                   # and a stem
>>> [m.kind for m in find_metal(img, mm_per_px=1.0)]
['prosthesis']
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..geometry import xy_from_rc

log = logging.getLogger(__name__)

#: Display level (bone-bright, [0, 1]) above which a pixel may be metal.
METAL_LEVEL = 0.90


@dataclass(frozen=True)
class MetalObject:
    """A connected metal region on the working image (coordinates of that image)."""

    kind: str  #: "prosthesis", "ball" or "other"
    x: float  #: centre of the largest inscribed disc (the prosthetic head / the ball)
    y: float
    radius: float  #: radius of that disc, working pixels
    area: float  #: pixels
    touches_border: bool
    stem_direction: tuple[float, float] | None = None  #: unit (x, y) from the head into the stem


def metal_mask(image: np.ndarray, level: float = METAL_LEVEL) -> np.ndarray:
    """Pixels bright enough to be metal (display units, bone bright)."""
    return np.asarray(image) >= level


def find_metal(image: np.ndarray, mm_per_px: float, level: float = METAL_LEVEL) -> list[MetalObject]:
    """Classify the connected metal regions of a working ``image`` (see the module docstring).

    Parameters
    ----------
    image
        Working image, bone bright in [0, 1].
    mm_per_px
        Anatomical mm per pixel of ``image``.
    """
    from scipy import ndimage

    mask = metal_mask(image, level)
    if not mask.any():
        return []
    mask = ndimage.binary_opening(mask, iterations=1)
    labels, n = ndimage.label(mask)
    out: list[MetalObject] = []
    h, w = mask.shape
    min_area = (5.0 / mm_per_px) ** 2
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        comp = labels[sl] == k
        area = float(comp.sum())
        if area < min_area:
            continue
        touches = sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == h or sl[1].stop == w
        pad = np.pad(comp, 1)
        dist = ndimage.distance_transform_edt(pad)[1:-1, 1:-1]
        r_in = float(dist.max())
        rr, cc = np.unravel_index(int(np.argmax(dist)), dist.shape)
        x, y = xy_from_rc(rr + sl[0].start, cc + sl[1].start)
        r_mm = r_in * mm_per_px
        disc_area = math.pi * r_in**2
        kind = "other"
        stem = None
        if not touches and 9.0 <= r_mm <= 32.0:
            if area > 1.6 * disc_area:
                # the part outside the head disc: is it a long narrow stem?
                yy, xx = np.nonzero(comp)
                px = xx + sl[1].start + 0.5 - x
                py = yy + sl[0].start + 0.5 - y
                far = np.hypot(px, py) > 1.3 * r_in
                if far.sum() * mm_per_px**2 > 150.0:
                    v = np.array([px[far].mean(), py[far].mean()])
                    length = float(np.hypot(px[far], py[far]).max()) * mm_per_px
                    if length > 50.0:
                        kind = "prosthesis"
                        stem = tuple((v / np.linalg.norm(v)).tolist())
            elif area < 1.25 * disc_area + 4 * r_in:
                kind = "ball"
        out.append(MetalObject(kind, x, y, r_in, area, touches, stem))
    log.debug("metal objects: %s", [(m.kind, round(m.radius * mm_per_px, 1)) for m in out])
    return out
