"""A plan's overlay as a Grayscale Softcopy Presentation State (GSPS) on its source image.

Many PACS viewers draw GSPS graphics but not SR coordinates, so every plan is also written
as a GSPS: one graphic layer per :class:`~orthoplan.overlay.OverlayLayer` (its colour as the
layer's recommended CIELab display colour), points, polylines and circles as graphic
objects, labels and texts as text objects.

Coordinates: GSPS graphic and text coordinates in PIXEL units use the image-relative
origin of PS3.3 C.10.5 (Graphic Annotation Module): ``0.0\\0.0`` is the top left corner of
the top left pixel and ``1.0\\1.0`` its bottom right corner, so the centre of the top left
pixel is ``0.5\\0.5`` -- the same convention as SR SCOORDs and as orthoplan's ``(x, y)``.
Values go in unchanged; only parts outside the image (``0..Columns``, ``0..Rows``) are
clipped away, since GSPS forbids them.

Display: a film that the plan found stored turned, head down or displayed mirrored (its
:class:`~orthoplan.model.ImageOrientation`) is shown head up with the patient's right on the
viewer's left: the Spatial Transformation Module (PS3.3 C.10.6: Image Rotation clockwise, then
Image Horizontal Flip; :func:`display_transform`). Graphics in PIXEL units turn with the image;
texts are anchored to points, which turn with it, and stay upright.

Examples
--------
>>> from orthoplan.dicom.pr import clip_polyline
>>> clip_polyline([(-10.0, 5.0), (10.0, 5.0)], 20, 20)
[[(0.0, 5.0), (10.0, 5.0)]]
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from ..errors import DicomOutputError
from ..model import ImageOrientation, Plan
from .sr import build_scrubbed, evidence_header, local_datetime, person_name, revision_series_entropy, series_numbers

logger = logging.getLogger(__name__)

_MANUFACTURER = "orthoplan"
#: Series of paired body parts: a GSPS on them needs Laterality (General Series, type 2C).
_PAIRED = {"HIP", "KNEE", "LEG", "FEMUR", "TIBIA", "FIBULA", "ANKLE", "FOOT", "THIGH", "SHOULDER",
           "ELBOW", "ARM", "HAND", "WRIST", "CLAVICLE", "HUMERUS", "RADIUS", "ULNA", "SCAPULA",
           "BREAST", "EXTREMITY", "LOWER LIMB", "UPPER LIMB", "LOWERLIMB", "UPPERLIMB"}
#: Paired body part -> the unpaired Body Part Examined term of a film showing both sides.
_BOTH_SIDES = {"HIP": "PELVIS"}
#: Most characters of a GSPS text (Unformatted Text Value, VR ST).
_TEXT_MAX = 1024


def gsps_uids(plan: Plan) -> tuple[str, str]:
    """``(series_instance_uid, sop_instance_uid)`` of the GSPS of ``plan`` (as :func:`~orthoplan.dicom.sr.sr_uids`)."""
    return (
        generate_uid(entropy_srcs=revision_series_entropy("orthoplan-gsps-series", plan)),
        generate_uid(entropy_srcs=["orthoplan-gsps", plan.plan_uid, str(int(plan.revision))]),
    )


# --------------------------------------------------------------------------- geometry


def _clip_segment(p, q, w: float, h: float):
    """Liang-Barsky clip of segment ``p``-``q`` to ``[0, w] x [0, h]``; None if outside."""
    x0, y0 = p
    dx, dy = q[0] - x0, q[1] - y0
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, x0), (dx, w - x0), (-dy, y0), (dy, h - y0)):
        if pk == 0:
            if qk < 0:
                return None
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    clamp = lambda v, hi: min(max(v, 0.0), hi)  # noqa: E731  (rounding at the border)
    return (
        (clamp(x0 + t0 * dx, w), clamp(y0 + t0 * dy, h)),
        (clamp(x0 + t1 * dx, w), clamp(y0 + t1 * dy, h)),
    )


def clip_polyline(points: Sequence[tuple[float, float]], width: float, height: float) -> list[list[tuple[float, float]]]:
    """The parts of a polyline inside ``[0, width] x [0, height]`` (each with >= 2 points)."""
    parts: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    pts = [(float(x), float(y)) for x, y in points]
    for p, q in zip(pts[:-1], pts[1:]):
        seg = _clip_segment(p, q, width, height)
        if seg is None:
            if len(current) >= 2:
                parts.append(current)
            current = []
            continue
        a, b = seg
        if current and current[-1] == a:
            current.append(b)
        else:
            if len(current) >= 2:
                parts.append(current)
            current = [a, b]
        if b != q:  # left the image: close this part
            if len(current) >= 2:
                parts.append(current)
            current = []
    if len(current) >= 2:
        parts.append(current)
    return [part for part in parts if part[0] != part[-1] or len(part) > 2]


def _inside(x: float, y: float, width: float, height: float) -> bool:
    return 0.0 <= x <= width and 0.0 <= y <= height


def _circle_point(cx: float, cy: float, r: float, width: float, height: float):
    """A point of the circle inside the image (GSPS CIRCLE = centre, point on the circle)."""
    for dx, dy in ((r, 0.0), (-r, 0.0), (0.0, r), (0.0, -r)):
        if _inside(cx + dx, cy + dy, width, height):
            return (cx + dx, cy + dy)
    return None


_TYPOGRAPHY = str.maketrans({
    "\u2014": "-", "\u2013": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
    "\u201d": '"', "\u2026": "...", "\u2264": "<=", "\u2265": ">=", "\u2192": "->", "\u00a0": " ",
})


def latin1_text(text: str) -> str:
    """``text`` in ISO 8859-1 (what DCMTK's presentation-state checker and many viewers read).

    Dashes, quotes and ellipses become their ASCII forms; other characters outside Latin-1
    lose their accents (NFKD) or become ``?``.
    """
    import unicodedata

    out = str(text).translate(_TYPOGRAPHY)
    try:
        out.encode("latin-1")
        return out
    except UnicodeEncodeError:
        pass
    chars = []
    for ch in out:
        try:
            ch.encode("latin-1")
            chars.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            chars.append(base or "?")
    return "".join(chars)


def _charset(ev: pydicom.Dataset, extra: Sequence[str]) -> str:
    """ISO_IR 100 when every copied string fits Latin-1, else UTF-8 (ISO_IR 192)."""
    values = [str(e.value) for e in ev if e.VR in ("PN", "LO", "SH", "ST", "LT", "UT", "UC") and e.value is not None]
    try:
        for v in [*values, *extra]:
            v.encode("latin-1")
    except UnicodeEncodeError:
        return "ISO_IR 192"
    return "ISO_IR 100"


def cut_text(text: str, limit: int = _TEXT_MAX) -> str:
    """``text`` unchanged if it has at most ``limit`` characters, else cut at a word boundary with ``...``.

    >>> cut_text("calibration ball not found on this film", 24)
    'calibration ball not...'
    """
    text = str(text)
    if len(text) <= limit:
        return text
    head = text[: max(limit - 3, 1)]
    if not text[len(head)].isspace():  # a word runs on past the cut: drop its beginning
        space = head.rfind(" ")
        head = head[:space] if space > 0 else head
    return head.rstrip(" ,;:-") + "..."


def grey_value(r: int, g: int, b: int) -> int:
    """Recommended grey display value (P-value, 0-65535) of an sRGB colour: its CIELab lightness.

    >>> grey_value(255, 255, 255), grey_value(0, 0, 0)
    (65535, 0)
    """
    import highdicom as hd

    return int(hd.color.CIELabColor.from_rgb(r, g, b).value[0])


def layer_name(name: str, taken: set[str]) -> str:
    """``name`` as a Graphic Layer value (CS: upper case, ``A-Z 0-9 _ space``, 16 characters), unique."""
    base = re.sub(r"[^A-Z0-9_ ]", "_", str(name).upper())[:16] or "LAYER"
    out, i = base, 2
    while out in taken:
        suffix = f"_{i}"
        out, i = base[: 16 - len(suffix)] + suffix, i + 1
    taken.add(out)
    return out


# --------------------------------------------------------------------------- build


def display_transform(orientation: ImageOrientation) -> tuple[int, bool]:
    """Image Rotation (degrees clockwise) and Image Horizontal Flip (after the rotation) that show
    a film in ``orientation`` head up with the patient's right on the viewer's left (PS3.3
    C.10.6).

    >>> display_transform(ImageOrientation())
    (0, False)
    >>> display_transform(ImageOrientation(patient_left_x=-1))   # displayed mirrored
    (0, True)
    >>> display_transform(ImageOrientation.turned("right"))      # head at the image's right
    (270, False)
    """
    for rotation in (0, 90, 180, 270):
        for flip in (False, True):
            if (_shown(orientation.left_vector(), rotation, flip) == (1, 0)
                    and _shown(orientation.superior_vector(), rotation, flip) == (0, -1)):
                return rotation, flip
    raise DicomOutputError(f"no display turns {orientation} head up")  # pragma: no cover - unit axes always do


def _shown(v: tuple[int, int], rotation: int, flip: bool) -> tuple[int, int]:
    """Image direction ``v`` as shown after Image Rotation (clockwise) and then Image Horizontal Flip."""
    x, y = v
    for _ in range(rotation // 90):  # clockwise on the screen (y down): up -> right
        x, y = -y, x
    return (-x, y) if flip else (x, y)


def _displayed_corners(columns: int, rows: int, rotation: int, flip: bool) -> tuple[list[int], list[int]]:
    """The image pixels (column, row; 1-based) shown at the top left and the bottom right of the
    whole image after the spatial transformation: the Displayed Area's corners (PS3.3 C.10.4)."""
    axes = ((1, 0), (-1, 0), (0, 1), (0, -1))
    right = next(a for a in axes if _shown(a, rotation, flip) == (1, 0))
    down = next(a for a in axes if _shown(a, rotation, flip) == (0, 1))
    corners = [(c, r) for c in (1, columns) for r in (1, rows)]
    along = [c * (right[0] + down[0]) + r * (right[1] + down[1]) for c, r in corners]
    return list(corners[int(np.argmin(along))]), list(corners[int(np.argmax(along))])


def build_gsps(plan: Plan, source: pydicom.Dataset, layers: Sequence, *,
               series_number: int | None = None) -> pydicom.Dataset:
    """The Grayscale Softcopy Presentation State showing ``layers`` on the plan's source image.

    Parameters
    ----------
    plan
        The plan (UIDs, author, creation time and revision come from it).
    source
        The source image's header (no pixel data needed), e.g. ``Radiograph.dataset``.
    layers
        :class:`~orthoplan.overlay.OverlayLayer` values, e.g. ``plan_overlay(plan)``; drawn
        in the order given (the first at the bottom).
    series_number
        Series Number of the revision's presentation-state series (default:
        :func:`~orthoplan.dicom.sr.series_numbers`).

    Returns
    -------
    highdicom.pr.GrayscaleSoftcopyPresentationState
        Deterministic (UIDs from :func:`gsps_uids`, dates and times from ``plan.created``).
        The source image's window (if any) is the presentation's VOI, the presentation LUT
        is INVERSE for a MONOCHROME1 image; Body Part Examined and Laterality are copied
        from the image.

    Examples
    --------
    >>> from orthoplan.overlay import plan_overlay
    >>> pr = build_gsps(plan, radiograph.dataset, plan_overlay(plan))   # doctest: +SKIP
    """
    ev = evidence_header(source)
    return build_scrubbed("the plan's presentation state", ev, lambda: _build(plan, ev, layers, series_number))


def _build(plan: Plan, ev: pydicom.Dataset, layers: Sequence, series_number: int):
    import highdicom as hd

    if plan.image.sop_instance_uid and plan.image.sop_instance_uid != ev.SOPInstanceUID:
        raise DicomOutputError(
            "the plan was made on another image than the source given (SOP Instance UIDs differ)"
        )
    width, height = float(ev.Columns), float(ev.Rows)
    units = hd.pr.AnnotationUnitsValues.PIXEL
    image = _image_header(ev)
    taken: set[str] = set()
    graphic_layers, annotations = [], []
    for order, layer in enumerate(layers, start=1):
        gobjects, tobjects = [], []
        for g in layer.graphics:
            gobjects += _graphic_objects(hd, g, width, height, units)
            label = g.label
            if label:
                x, y = (float(v) for v in g.points[0])
                if g.kind == "circle" and g.radius_px:
                    y = y - float(g.radius_px)  # label at the top of the circle
                x, y = min(max(x, 0.0), width), min(max(y, 0.0), height)
                tobjects.append(
                    hd.pr.TextObject(
                        text_value=cut_text(latin1_text(label), _TEXT_MAX),
                        units=units,
                        anchor_point=(x, y),
                        anchor_point_visible=False,
                        text_justification=hd.pr.TextJustificationValues.LEFT,
                    )
                )
        if not gobjects and not tobjects:
            continue
        r, g_, b = (int(c) for c in layer.color_rgb)
        gl = hd.pr.GraphicLayer(
            layer_name=layer_name(layer.name, taken),
            order=order,
            description=latin1_text(layer.description)[:64] or None,
            display_color=hd.color.CIELabColor.from_rgb(r, g_, b),
        )
        gl.GraphicLayerRecommendedDisplayGrayscaleValue = grey_value(r, g_, b)  # for grey-only displays
        graphic_layers.append(gl)
        annotations.append(
            hd.pr.GraphicAnnotation(
                referenced_images=[image],
                graphic_layer=gl,
                graphic_objects=gobjects or None,
                text_objects=tobjects or None,
            )
        )
    if not annotations:
        raise DicomOutputError("nothing to draw: every overlay layer is empty or outside the image")
    series_uid, sop_uid = gsps_uids(plan)
    if series_number is None:
        series_number = series_numbers(plan.revision)[1]
    when, tz_offset = local_datetime(plan.created, ev)
    date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    kwargs = {}
    if str(ev.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        # P-values are MONOCHROME2-like: an inverted image is shown as intended only with
        # an INVERSE presentation LUT (PS3.3 C.11.6); highdicom defaults to IDENTITY.
        kwargs["presentation_lut_transformation"] = hd.PresentationLUTTransformation(
            presentation_lut_shape=hd.PresentationLUTShapeValues.INVERSE
        )
    if plan.author:
        kwargs["content_creator_name"] = person_name(plan.author)
    pr = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[image],
        series_instance_uid=series_uid,
        series_number=int(series_number),
        sop_instance_uid=sop_uid,
        instance_number=int(plan.revision),
        manufacturer=_MANUFACTURER,
        manufacturer_model_name="orthoplan",
        software_versions=plan.software_version or _version(),
        device_serial_number="orthoplan",
        content_label="ORTHOPLAN",
        content_description=f"orthoplan plan revision {int(plan.revision)} ({plan.status})"[:64],
        graphic_annotations=annotations,
        graphic_layers=graphic_layers,
        institution_name=str(ev.get("InstitutionName", "") or "") or None,
        series_description=f"orthoplan plan overlay revision {int(plan.revision)}",
        specific_character_set=_charset(image, [str(plan.author or "")]),
        **kwargs,
    )
    pr.InstanceCreationDate, pr.InstanceCreationTime = date, time
    pr.PresentationCreationDate, pr.PresentationCreationTime = date, time
    if tz_offset is not None:
        pr.TimezoneOffsetFromUTC = tz_offset
    for item in pr.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date + time
    _set_body_part_and_laterality(pr, ev, plan)
    rotation, flip = display_transform(plan.orientation)
    if rotation or flip:  # Spatial Transformation Module: only where the film is not shown standard
        pr.ImageRotation = rotation
        pr.ImageHorizontalFlip = "Y" if flip else "N"
        for area in pr.DisplayedAreaSelectionSequence:  # its corners as shown, after the transformation
            area.DisplayedAreaTopLeftHandCorner, area.DisplayedAreaBottomRightHandCorner = _displayed_corners(
                int(ev.Columns), int(ev.Rows), rotation, flip)
    return pr


def _bilateral(plan: Plan, ev: pydicom.Dataset) -> bool:
    """Whether the plan's film shows both sides: Image Laterality B, an AP pelvis, or landmarks of both sides."""
    if str(ev.get("ImageLaterality", "") or "").strip().upper() == "B" or plan.view == "ap-pelvis":
        return True
    return len({lm.name.side for lm in plan.landmarks}) > 1


def _set_body_part_and_laterality(pr: pydicom.Dataset, ev: pydicom.Dataset, plan: Plan) -> None:
    """Body Part Examined and Laterality (General Series, type 2C for a paired part) from the image.

    Laterality is the image's (Laterality, else Image Laterality L/R). A film of both hips has
    none: its body part is written as PELVIS (unpaired) and Laterality is left out, as
    dciodvfy asks ("absent, not empty"). Other paired parts without a side keep an empty
    Laterality (unknown), since no unpaired Body Part term covers both sides.
    """
    body = str(ev.get("BodyPartExamined", "") or "").strip()
    lat = str(ev.get("Laterality", "") or "").strip().upper()
    if lat not in ("L", "R"):
        image_lat = str(ev.get("ImageLaterality", "") or "").strip().upper()
        lat = image_lat if image_lat in ("L", "R") else ""
    if not lat and body.upper() in _BOTH_SIDES and _bilateral(plan, ev):
        body = _BOTH_SIDES[body.upper()]
    if body:
        pr.BodyPartExamined = body
    if lat:
        pr.Laterality = lat
    elif body.upper() in _PAIRED:
        pr.Laterality = ""  # type 2: present, empty = unknown


def _version() -> str:
    from .. import __version__

    return __version__


def _image_header(ev: pydicom.Dataset) -> pydicom.Dataset:
    """The image attributes highdicom's GSPS reads (never pixel data)."""
    ds = pydicom.Dataset()
    for kw in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Rows", "Columns",
               "SamplesPerPixel", "PhotometricInterpretation", "BitsAllocated", "BitsStored", "HighBit",
               "PixelRepresentation", "RescaleSlope", "RescaleIntercept", "RescaleType", "WindowCenter",
               "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction", "VOILUTSequence",
               "ModalityLUTSequence", "NumberOfFrames", "FrameOfReferenceUID", "Modality",
               "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
               "ReferringPhysicianName", "StudyID", "AccessionNumber", "SpecificCharacterSet",
               "PatientOrientation"):
        if kw in ev:
            ds[kw] = ev[kw]
    return ds


def _graphic_objects(hd, g, width: float, height: float, units) -> list:
    """GSPS graphic objects of one overlay graphic, clipped to the image."""
    gt = hd.pr.GraphicTypeValues
    pts = [(float(x), float(y)) for x, y in g.points]
    if g.kind == "point":
        x, y = pts[0]
        if not _inside(x, y, width, height):
            logger.debug("point outside the image left out of the GSPS")
            return []
        return [hd.pr.GraphicObject(gt.POINT, np.array([[x, y]]), units)]
    if g.kind == "polyline":
        if g.closed and pts[0] != pts[-1]:
            pts = pts + [pts[0]]
        return [
            hd.pr.GraphicObject(gt.POLYLINE, np.array(part), units)
            for part in clip_polyline(pts, width, height)
        ]
    if g.kind == "circle":
        cx, cy = pts[0]
        r = float(g.radius_px)
        on = _circle_point(cx, cy, r, width, height) if _inside(cx, cy, width, height) else None
        if on is None or not (math.isfinite(r) and r > 0):
            logger.debug("circle with its centre or whole rim outside the image left out of the GSPS")
            return []
        return [hd.pr.GraphicObject(gt.CIRCLE, np.array([[cx, cy], on]), units)]
    return []  # "text": drawn by its label


__all__ = ["build_gsps", "gsps_uids", "clip_polyline", "cut_text", "grey_value", "layer_name", "latin1_text"]
