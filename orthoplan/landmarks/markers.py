"""The R and L side markers written on a film: :func:`read_side_markers`.

A radiographer marks the patient's side on a film: a lead letter on the cassette, or a letter
written into the image by the acquisition station (a burned-in annotation). The letter names
the patient's side it was placed on, so it decides which knee or hip a film shows where the
header does not, and whether a film is displayed mirrored (the patient's right on the image's
right). An AP knee's fibula or the pelvis's shape cannot tell a mirrored display from a
standard one.

How a marker is read (classical, no learned weights):

1. Candidate glyphs: connected components of the brightest values of the display image
   (:data:`BRIGHT`: a marker is written at full white, or is lead), of a letter's size for the
   film (:data:`GLYPH_HEIGHT`, at least :data:`MIN_GLYPH_PX` tall), shape (:data:`GLYPH_ASPECT`,
   :data:`GLYPH_FILL`) and contrast: clearly brighter than what surrounds it
   (:data:`MIN_CONTRAST`). Bone is rarely that bright, flat and small at once.
2. Alone: a letter with another glyph of about its size beside it on its line is part of a
   word (a caption such as "Knee J.B/V", "PRIME CLINIC"), not a marker.
3. The glyph, resampled to :data:`TEMPLATE_PX` square, is matched against the letters R and L
   drawn in DejaVu Sans Bold (the font matplotlib ships), and their mirror images (a lead
   marker on a film displayed mirrored reads backwards): the intersection over union of the
   two shapes. A glyph is a marker from :data:`MIN_SCORE` on.

The templates come from a font, not from films: on the FracAtlas films (CC BY 4.0) the
markers written by the acquisition station score 0.81 (R) and 0.97 (L), the other white
glyphs on those films (logos, caption letters) at most 0.62. Small films (about 400 px) whose
lead markers are a few pixels of faint grey are not read (below :data:`MIN_GLYPH_PX`): no
marker is reported there, never a guessed one.

Examples
--------
>>> film = np.zeros((400, 300), np.float32)
>>> film[100:300, 80:220] = 0.5                          # a limb
>>> film[20:44, 20:28] = 1.0; film[38:44, 20:38] = 1.0    # an L, 24 px tall, on the dark background
>>> [(m.letter, m.side.value, m.mirrored) for m in read_side_markers(film)]
[('L', 'left', False)]
"""

from __future__ import annotations

import functools
import logging
from typing import Sequence

import numpy as np

from ..errors import LandmarkError
from ..model import Side, SideMarker

__all__ = ["read_side_markers", "marker_side", "BRIGHT", "MIN_SCORE", "MIN_GLYPH_PX", "GLYPH_HEIGHT"]

log = logging.getLogger(__name__)

#: A marker's pixels are at least this bright on the display image (0-1, bone bright).
BRIGHT = 0.9
#: A marker's height as a share of the film's longer side (on the FracAtlas films 2.3 %).
GLYPH_HEIGHT = (0.008, 0.06)
#: Glyphs shorter than this (pixels) are not read: too few pixels to tell R from L.
MIN_GLYPH_PX = 12
#: Width over height of an R or an L in any common font.
GLYPH_ASPECT = (0.3, 1.2)
#: Share of its bounding box that a letter's strokes fill.
GLYPH_FILL = (0.25, 0.8)
#: A marker is at least this much brighter (display units) than the median of the margin of a
#: third of its height around it.
MIN_CONTRAST = 0.35
#: Side of the square in which a glyph and the templates are compared.
TEMPLATE_PX = 32
#: Least intersection over union with a template for a glyph to be read as that letter.
MIN_SCORE = 0.72

_SIDES = {"R": Side.RIGHT, "L": Side.LEFT}


def _normalised(mask: np.ndarray) -> np.ndarray:
    """``mask`` cropped to its extent and resampled to :data:`TEMPLATE_PX` square."""
    from skimage.transform import resize

    ys, xs = np.nonzero(mask)
    m = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    return resize(m, (TEMPLATE_PX, TEMPLATE_PX), order=1, anti_aliasing=True) > 0.5


@functools.lru_cache(maxsize=1)
def _templates() -> dict[tuple[str, bool], np.ndarray]:
    """R and L in DejaVu Sans Bold, and their mirror images: ``{(letter, mirrored): mask}``."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"),
                                 fallback_to_default=True)
    font = ImageFont.truetype(path, 128)
    out = {}
    for letter in _SIDES:
        canvas = Image.new("L", (256, 256), 0)
        ImageDraw.Draw(canvas).text((64, 32), letter, fill=255, font=font)
        mask = _normalised(np.asarray(canvas) > 127)
        out[(letter, False)] = mask
        out[(letter, True)] = mask[:, ::-1]
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum()) / max(int((a | b).sum()), 1)


def read_side_markers(image: np.ndarray, *, min_score: float = MIN_SCORE) -> tuple[SideMarker, ...]:
    """The R and L side markers on a film (see the module docstring), best match first.

    Parameters
    ----------
    image
        The display image (:attr:`~orthoplan.model.Radiograph.display`: 0-1, bone bright).
    min_score
        Least match with a letter's shape (intersection over union, 0-1).

    Returns
    -------
    tuple of SideMarker
        Empty where no marker is read: the film has none, or none that can be read.

    Raises
    ------
    LandmarkError
        ``image`` is not a 2-D array of at least 16 × 16 pixels.
    """
    from scipy import ndimage as ndi

    a = np.asarray(image)
    if a.ndim != 2 or min(a.shape) < 16:
        raise LandmarkError(f"side markers: the image must be a 2-D array of at least 16 x 16 pixels, not {a.shape}")
    h, w = a.shape
    longest = max(h, w)
    labels, _ = ndi.label(a >= BRIGHT)
    boxes = ndi.find_objects(labels)
    lo, hi = max(MIN_GLYPH_PX, GLYPH_HEIGHT[0] * longest), GLYPH_HEIGHT[1] * longest
    # every glyph-sized bright component: a candidate, or a neighbour that makes one part of a word
    sized = [(i, sl) for i, sl in enumerate(boxes, 1) if sl is not None and sl[0].stop - sl[0].start >= 0.5 * lo]
    found = []
    for i, sl in sized:
        gh, gw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        if not (lo <= gh <= hi and GLYPH_ASPECT[0] <= gw / gh <= GLYPH_ASPECT[1]):
            continue
        mask = labels[sl] == i
        if not GLYPH_FILL[0] <= mask.mean() <= GLYPH_FILL[1]:
            continue
        m = max(2, gh // 3)
        y0, y1, x0, x1 = max(sl[0].start - m, 0), min(sl[0].stop + m, h), max(sl[1].start - m, 0), min(sl[1].stop + m, w)
        around = labels[y0:y1, x0:x1] != i
        contrast = float(a[sl][mask].mean()) - float(np.median(a[y0:y1, x0:x1][around])) if around.any() else 0.0
        if not contrast >= MIN_CONTRAST:  # NaN too
            continue
        if _in_a_word(sl, sized, i):
            continue
        glyph = _normalised(mask)
        scores = {k: _iou(glyph, t) for k, t in _templates().items()}
        (letter, mirrored), score = max(scores.items(), key=lambda kv: kv[1])
        if score < min_score:
            continue
        found.append(SideMarker(letter, 0.5 * (sl[1].start + sl[1].stop), 0.5 * (sl[0].start + sl[0].stop),
                                float(gh), mirrored, round(score, 3)))
    found.sort(key=lambda s: -s.score)
    log.debug("side markers: %d read", len(found))
    return tuple(found)


def _in_a_word(sl, sized, i: int) -> bool:
    """Whether another glyph of at least half this one's height lies beside it on its line,
    within one letter height: the glyph is a letter of a word."""
    gh = sl[0].stop - sl[0].start
    for j, other in sized:
        if j == i:
            continue
        oh = other[0].stop - other[0].start
        if not 0.5 * gh <= oh <= 2.0 * gh:
            continue
        overlap = min(sl[0].stop, other[0].stop) - max(sl[0].start, other[0].start)
        gap = max(other[1].start - sl[1].stop, sl[1].start - other[1].stop)
        if overlap >= 0.5 * min(gh, oh) and gap <= gh:
            return True
    return False


def marker_side(markers: Sequence[SideMarker]) -> Side | None:
    """The side that all ``markers`` name, or None where there is none or they disagree.

    >>> marker_side([SideMarker("R", 10, 10, 20, False, 0.8)]).value
    'right'
    >>> marker_side([SideMarker("R", 10, 10, 20, False, 0.8), SideMarker("L", 90, 10, 20, False, 0.9)]) is None
    True
    """
    sides = {m.side for m in markers}
    return sides.pop() if len(sides) == 1 else None

