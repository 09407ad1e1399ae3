"""The R and L side markers written on a film: :func:`read_side_markers`.

A radiographer marks the patient's side on a film: a lead letter on the cassette, or a letter
written into the image by the acquisition station (a burned-in annotation). The letter names
the patient's side it was placed on, so it decides which knee or hip a film shows where the
header does not, and whether a film is displayed mirrored (the patient's right on the image's
right). An AP knee's fibula or the pelvis's shape cannot tell a mirrored display from a
standard one.

How a marker is read (classical, no learned weights):

1. Candidate glyphs: connected components of the bright values of the display image, cut at
   each of :data:`BRIGHT_LEVELS` (a marker is written at full white, or is lead), of a letter's
   size for the film (:data:`GLYPH_HEIGHT`, at least :data:`MIN_GLYPH_PX` tall), shape
   (:data:`GLYPH_ASPECT`, :data:`GLYPH_FILL`) and contrast: clearly brighter than what surrounds
   it (:data:`MIN_CONTRAST`). Bone is rarely that bright, flat and small at once.
2. Alone: a letter with another glyph of about its size beside it on its line is part of a
   word (a caption such as "Knee J.B/V", "PRIME CLINIC"), not a marker.
3. The glyph, resampled to :data:`TEMPLATE_PX` square, is matched against the letters R and L
   drawn in DejaVu Sans Bold (the font matplotlib ships), and their mirror images (a lead
   marker on a film displayed mirrored reads backwards): the intersection over union of the
   two shapes (from :data:`MIN_SCORE`), or of their centre lines where the strokes are thinner
   or thicker than the font's (from :data:`MIN_STROKE_SCORE`, clearly better than the next letter).
4. Not at the film's edge: a glyph whose margin reaches the border is the corner of a
   collimated field or a cast, not a marker.

The templates come from a font, not from films: on the FracAtlas films (CC BY 4.0) the
markers written by the acquisition station score 0.81 (R) and 0.97 (L), the other white
glyphs on those films (logos, caption letters) at most 0.62. The one full-resolution lead
marker available (the real lower-leg CR: a mirrored R, its Image Laterality R) is read by its
centre lines. Small films (about 400 px) whose lead markers are a few pixels of faint grey are
not read (below :data:`MIN_GLYPH_PX`): no marker is reported there, never a guessed one.

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
import warnings
from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import LandmarkError
from ..geometry import block_mean
from ..model import Side, SideMarker
from .common import LastCall

__all__ = ["read_side_markers", "marker_side", "BRIGHT_LEVELS", "MIN_SCORE", "MIN_GLYPH_PX", "GLYPH_HEIGHT"]

log = logging.getLogger(__name__)

#: The display levels (0-1, bone bright) at which the image is cut into bright components, from
#: the brightest: a marker written by the acquisition station is full white; a lead marker is
#: the most opaque thing on the film, but the display's window may leave it below white (the
#: real lower-leg CR's mirrored R: 0.82, beside a collimated edge at 1.0).
BRIGHT_LEVELS = (0.9, 0.75, 0.6)
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
#: A film whose longer side is at least twice this is read reduced by an integer factor to
#: about this size (:func:`~orthoplan.geometry.block_mean`): a quarter of the work on a 2304 x 2880 film.
READ_LONG_SIDE_PX = 1200
#: Side of the square in which a glyph and the templates are compared.
TEMPLATE_PX = 32
#: Least intersection over union with a template for a glyph to be read as that letter.
MIN_SCORE = 0.72
#: Or, for a letter whose strokes are thinner or thicker than the font's (lead markers), the
#: least intersection over union of the two shapes' centre lines, each widened by
#: :data:`STROKE_PX` (of :data:`TEMPLATE_PX`), with a lead of :data:`MIN_STROKE_LEAD` over the
#: next letter. On the real films: the lead mirrored R of the lower-leg CR 0.50 (next 0.36); no
#: other glyph of the 1231 FracAtlas films above 0.42.
MIN_STROKE_SCORE = 0.48
MIN_STROKE_LEAD = 0.1
STROKE_PX = 2

#: The letters read.
LETTERS = ("R", "L")


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
    for letter in LETTERS:
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
    a = np.asarray(image)
    if a.ndim != 2 or min(a.shape) < 16:
        raise LandmarkError(f"side markers: the image must be a 2-D array of at least 16 x 16 pixels, not {a.shape}")
    if a.dtype.kind not in "fiub":
        raise LandmarkError(f"side markers: the image must hold numbers, not {a.dtype}")
    with warnings.catch_warnings():  # an image of NaN only has no marker (and no range)
        warnings.simplefilter("ignore", RuntimeWarning)
        top, bottom = float(np.nanmax(a)), float(np.nanmin(a))
    if top > 1.0 + 1e-6 or bottom < -1e-6:
        raise LandmarkError("side markers: the image must be the display image, values 0-1 with bone bright "
                            "(Radiograph.display), not the stored pixel values")
    remembered = _last_read.get(image) if min_score == MIN_SCORE else None
    if remembered is not None:
        return remembered
    step = max(1, max(a.shape) // READ_LONG_SIDE_PX)
    if step > 1:  # a large film is read at a lower resolution: its letters stay dozens of pixels tall
        a = block_mean(a, step)
    longest = max(a.shape) * step
    lo, hi = max(MIN_GLYPH_PX, GLYPH_HEIGHT[0] * longest / step), GLYPH_HEIGHT[1] * longest / step
    found: list[SideMarker] = []
    for level in BRIGHT_LEVELS:
        for m in _glyphs(a, level, lo, hi, min_score):
            m = replace(m, x=m.x * step, y=m.y * step, height_px=m.height_px * step)
            if not any(abs(m.x - f.x) < f.height_px and abs(m.y - f.y) < f.height_px for f in found):
                found.append(m)  # a glyph already read at a brighter cut is not read twice
    found.sort(key=lambda s: -s.score)
    log.debug("side markers: %d read", len(found))
    if min_score == MIN_SCORE:
        _last_read.put(image, tuple(found))
    return tuple(found)


#: The markers of the last read-only film read: a plan asks more than once about the same film
#: (the knee's side, the plan's check, its note).
_last_read = LastCall()


def _glyphs(a: np.ndarray, level: float, lo: float, hi: float, min_score: float) -> list[SideMarker]:
    """The markers among the components of ``a >= level`` (steps 1-3 of the module docstring)."""
    from scipy import ndimage as ndi

    h, w = a.shape
    labels, _ = ndi.label(a >= level)
    boxes = ndi.find_objects(labels)
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
        y0, y1, x0, x1 = sl[0].start - m, sl[0].stop + m, sl[1].start - m, sl[1].stop + m
        if y0 < 0 or x0 < 0 or y1 > h or x1 > w:  # at the film's edge: a field's or a cast's corner
            continue
        around = labels[y0:y1, x0:x1] != i
        contrast = float(a[sl][mask].mean()) - float(np.median(a[y0:y1, x0:x1][around])) if around.any() else 0.0
        if not contrast >= MIN_CONTRAST:  # NaN too
            continue
        if _in_a_word(sl, sized, i):
            continue
        read = _letter(_normalised(mask), min_score)
        if read is None:
            continue
        (letter, mirrored), score = read
        found.append(SideMarker(letter, 0.5 * (sl[1].start + sl[1].stop), 0.5 * (sl[0].start + sl[0].stop),
                                float(gh), mirrored, round(score, 3)))
    return found


def _letter(glyph: np.ndarray, min_score: float) -> tuple[tuple[str, bool], float] | None:
    """``((letter, mirrored), score)`` of a normalised glyph, or None where it is no R or L
    (step 3 of the module docstring)."""
    scores = {k: _iou(glyph, t) for k, t in _templates().items()}
    best = max(scores, key=scores.get)
    if scores[best] >= min_score:
        return best, round(scores[best], 3)
    lines = _centre_lines(glyph)
    strokes = {k: _iou(lines, t) for k, t in _template_lines().items()}
    ranked = sorted(strokes, key=strokes.get, reverse=True)
    if strokes[ranked[0]] >= MIN_STROKE_SCORE and strokes[ranked[0]] - strokes[ranked[1]] >= MIN_STROKE_LEAD:
        return ranked[0], round(strokes[ranked[0]], 3)
    return None


def _centre_lines(mask: np.ndarray) -> np.ndarray:
    """A shape's centre lines (skeleton) widened by :data:`STROKE_PX`: its strokes at one width."""
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    return ndi.binary_dilation(skeletonize(mask), iterations=STROKE_PX)


@functools.lru_cache(maxsize=1)
def _template_lines() -> dict[tuple[str, bool], np.ndarray]:
    return {k: _centre_lines(t) for k, t in _templates().items()}


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

