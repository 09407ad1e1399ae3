"""Automatic landmark detection on AP pelvis / AP hip radiographs, and snapping a click.

Classical image analysis (scipy / scikit-image), driven by sizes in mm that the image
scale turns into pixels:

* :mod:`.metal` – steel (calibration ball, shields, prostheses) is found first and kept
  out of the bone searches; a prosthesis is reported as such;
* :mod:`.femur` – femoral heads as circles, shaft axis, trochanters, neck;
* :mod:`.pelvis` – teardrops, ischial tuberosities, acetabular roof.

:func:`detect` returns :class:`~orthoplan.model.Landmarks`: every landmark found, with a
confidence in [0, 1] (``source="auto"``), and for every landmark not found a reason in
``Landmarks.missing``; the learned detector's points carry their positional uncertainty
(``sigma_px``, :mod:`.uncertainty`). Sides are the patient's, from ``radiograph.orientation``. Two
femoral heads of one size at one height are a pelvis; a single head only with its femur
running towards the feet and the hemipelvis beside it (:func:`pelvis.no_pelvis_reason`),
else nothing is reported ("no pelvis found", e.g. a lateral hip view).
:func:`detect_details` also returns what was learnt on the way (prostheses, per-side
notes). :func:`refine` snaps a rough click to the nearest instance of one landmark.

Examples
--------
>>> from orthoplan.phantoms import pelvis as phantom
>>> from orthoplan.pipeline import load_radiograph
>>> case = phantom.make_pelvis(seed=3, rows=1000, columns=1200, detector_spacing_mm=0.38)
>>> lms = detect(load_radiograph(case.dataset))
>>> head, truth = lms["femoral_head_center_left"], case.landmarks["femoral_head_center_left"]
>>> abs(head.x - truth.x) < 3 and abs(head.y - truth.y) < 3 and head.radius_px is not None
True
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..model import Calibration, Landmark, LandmarkName, Landmarks, LandmarkSource, Radiograph, Side
from . import femur, pelvis
from .context import Context, make_context
from .uncertainty import with_positional_sigma

log = logging.getLogger(__name__)

__all__ = ["detect", "detect_with_notes", "detect_details", "default_method", "METHODS", "detect_long_leg", "detect_knee", "refine", "Detection",
           "with_positional_sigma"]

#: Distance of the distal shaft point below the proximal one (mm), when the image allows.
SHAFT_SPAN_MM = 110.0
#: Shortest acceptable shaft span (mm); the definition asks for at least 5 cm.
SHAFT_SPAN_MIN_MM = 50.0
#: The anatomies this detector looks for (AP pelvis / hip); other views' landmarks are
#: not reported as missing by it.
HIP_ANATOMIES = (
    "teardrop", "ischial_tuberosity", "femoral_head_center", "femoral_neck_center",
    "femoral_shaft_proximal", "femoral_shaft_distal", "lesser_trochanter",
    "greater_trochanter", "acetabular_lateral_edge", "sourcil_medial",
)
#: Landmarks found with less confidence than this are reported missing (with the reason).
MIN_CONFIDENCE = 0.3
#: The proximal shaft point lies this far below the lesser trochanter tip (mm).
SHAFT_BELOW_LT_MM = 15.0


@dataclass(frozen=True)
class Detection:
    """Everything :func:`detect_details` found: landmarks plus findings for people."""

    landmarks: Landmarks
    notes: tuple[str, ...] = ()
    prosthesis_sides: tuple[Side, ...] = ()
    sides_found: tuple[Side, ...] = ()
    scale_source: str = ""
    per_side: dict = field(default_factory=dict)
    #: The learned detector's raw heatmap peaks (:class:`.network.Peak`), and where it found
    #: the patient's head in the stored film (``up``, ``down``, ``left``, ``right``).
    raw: tuple = ()
    superior: str = "up"


def _lm(name: LandmarkName, xy, confidence: float, radius: float | None = None) -> Landmark:
    return Landmark(name, float(xy[0]), float(xy[1]), float(np.clip(confidence, 0.0, 1.0)),
                    LandmarkSource.AUTO, radius)


#: The AP pelvis detectors: ``learned`` (the heatmap network, refined and checked; the
#: default) and ``classical`` (image analysis tuned on phantoms; kept for comparison).
METHODS = ("learned", "classical")


def default_method() -> str:
    """``$ORTHOPLAN_DETECTOR`` if set (``learned`` or ``classical``), else ``learned``."""
    import os

    from ..errors import LandmarkError

    m = os.environ.get("ORTHOPLAN_DETECTOR", "learned").strip().lower()
    if m not in METHODS:
        raise LandmarkError(f"ORTHOPLAN_DETECTOR must be one of {', '.join(METHODS)}, not {m!r}")
    return m


def detect(radiograph: Radiograph, calibration: Calibration | None = None, view: str | None = None,
           side: Side | str | None = None, method: str | None = None, model=None) -> Landmarks:
    """Detect every landmark of the vocabulary that the image shows.

    Parameters
    ----------
    radiograph
        An AP pelvis or AP hip radiograph (:func:`orthoplan.pipeline.load_radiograph`), or
        with ``view="long-leg"`` a standing AP long-leg radiograph
        (:func:`orthoplan.landmarks.limb.detect_long_leg`).
    calibration
        Anatomical scale; without it the DICOM spacing tags (or an assumed field width,
        with lowered confidences) set the expected sizes.
    view
        ``"long-leg"`` for the long-leg detector, ``"knee-ap"``/``"knee-lateral"`` for the knee
        detector (learned: :func:`orthoplan.landmarks.knee_learned.detect_knee_learned`;
        classical: :func:`orthoplan.landmarks.knee.detect_knee`); anything else (default) is an
        AP pelvis/hip.
    side
        The knee a knee view shows (a lateral view needs it); ignored by the other views.
    method
        AP pelvis/hip and knee views: ``"learned"`` (default, see :mod:`.learned` and
        :mod:`.knee_learned`) or ``"classical"``; default :func:`default_method`.
    model
        The learned detector's model (a path or a loaded
        :class:`~orthoplan.landmarks.network.LandmarkModel`); default ``$ORTHOPLAN_MODEL`` or the
        model shipped with orthoplan.

    Returns
    -------
    Landmarks
        Found landmarks (``source="auto"``, confidence in [0, 1]; femoral heads carry
        ``radius_px``) and a reason for each landmark not found.
    """
    return detect_with_notes(radiograph, calibration, view, side, method, model)[0]


def detect_with_notes(radiograph: Radiograph, calibration: Calibration | None = None, view: str | None = None,
                      side: Side | str | None = None, method: str | None = None, model=None
                      ) -> tuple[Landmarks, tuple[str, ...]]:
    """:func:`detect` and what the detector says about the film for a person (a prosthesis, a
    child's pelvis, two heads that are not a pair, the knee's side against the film's anatomy
    ...): the plan carries these notes (:func:`orthoplan.pipeline.plan_radiograph`).

    A film stored turned by a quarter turn (its header's Patient Orientation with the head along
    the rows) is read by the learned AP pelvis/hip detector as stored; every other detector
    reads it turned head up (:func:`.common.head_up`), and its points are mapped back to the
    stored film.
    """
    method = method or default_method()
    if radiograph.orientation.turn_deg and (view in ("long-leg", "knee-ap", "knee-lateral") or method != "learned"):
        from .common import head_up, landmarks_mapped

        upright, turn = head_up(radiograph)
        found, notes = detect_with_notes(upright, calibration, view, side, method, model)
        return landmarks_mapped(found, turn.inverse), notes
    if view == "long-leg":
        return detect_long_leg(radiograph, calibration), ()
    if view in ("knee-ap", "knee-lateral"):
        if method == "learned":
            from .knee_learned import detect_knee_learned

            d = detect_knee_learned(radiograph, view, side, model=model)
            # each point's positional uncertainty, from the detector's error measured on real knee films
            d = replace(d, landmarks=with_positional_sigma(d.landmarks, detector="learned", view=view))
        else:
            d = detect_knee_details(radiograph, calibration, view=view, side=side)
        return d.landmarks, tuple(d.notes)
    d = detect_details(radiograph, calibration, method=method, model=model)
    return d.landmarks, tuple(d.notes)


def _assign_sides(ctx: Context, heads: list[femur.Head]) -> list[tuple[Side, int, femur.Head, femur.Shaft | None]]:
    """(side, lateral sign, head, shaft) for each selected head."""
    out = []
    if len(heads) == 2:
        a, b = sorted(heads, key=lambda h: h.x)
        for h, lat in ((a, -1), (b, +1)):
            shaft = femur.find_shaft(ctx, h, lat)
            if shaft is not None and shaft.offset_mm < 10.0:
                shaft = None
            out.append((ctx.side_of_lateral(lat), lat, h, shaft))
        return out
    if len(heads) == 1:
        h = heads[0]
        best = None
        for lat in (+1, -1):
            shaft = femur.find_shaft(ctx, h, lat)
            if shaft is None:
                continue
            # the shaft must run down on the lateral side of the head (whatever the pose)
            mid = shaft.axis.point(0.5 * (shaft.u_top + shaft.u_bottom), 0.0)
            if (mid[0] - h.x) * lat * ctx.mm < 10.0:
                continue
            if best is None or shaft.score > best[1].score:
                best = (lat, shaft)
        if best is not None:
            out.append((ctx.side_of_lateral(best[0]), best[0], h, best[1]))
    return out


def detect_details(radiograph: Radiograph, calibration: Calibration | None = None,
                   method: str | None = None, model=None, check_view: bool = True) -> Detection:
    """:func:`detect` plus findings: prostheses, sides seen, notes (see :class:`Detection`).

    With ``check_view`` a film that the view classifier confidently takes for a knee film
    (:func:`.views.refusal_reason`; not one whose header says PELVIS or HIP) is not read: every
    landmark is missing with the reason."""
    from ..errors import LandmarkError
    from .views import refusal_reason

    method = method or default_method()
    if method not in METHODS:
        raise LandmarkError(f"detection method must be one of {', '.join(METHODS)}, not {method!r}")
    why = refusal_reason(radiograph, "ap-pelvis") if check_view else None
    if why:  # a knee film: the pelvis detector would take a condyle for a femoral head
        log.info("landmarks: %s", why)
        return Detection(Landmarks.from_landmarks([], {n: why for n in _hip_names()}), (why,))
    if method == "learned":
        from .learned import detect_learned

        d = detect_learned(radiograph, calibration, model=model)
        # each point's positional uncertainty, from the detector's error measured on real films
        d = replace(d, landmarks=with_positional_sigma(d.landmarks, detector="learned"))
        log.info("landmarks (learned): %d found, %d missing", len(d.landmarks), len(d.landmarks.missing))
        return d
    ctx = make_context(radiograph, calibration)
    found: list[Landmark] = []
    missing: dict[LandmarkName, str] = {}
    notes: list[str] = []
    conf_scale = {1.0: 1.0, 1.12: 0.85}.get(ctx.scale_tolerance, 0.6)
    if ctx.scale.assumed:
        notes.append(f"image scale assumed ({ctx.scale.source}): sizes and confidences are less certain")

    cands = femur.head_candidates(ctx) + femur.prosthetic_heads(ctx)
    heads = femur.select_heads(cands, ctx.mm)
    hips = _assign_sides(ctx, heads)
    if len(heads) == 1 and not hips:
        notes.append("one head-like circle but no femoral shaft beside it: side unknown")
    if not hips:
        reason = "no femoral head found: not an AP pelvis/hip radiograph, or the hips are not in the image"
        for name in _hip_names():
            missing[name] = reason
        log.info("landmarks: %s", reason)
        return Detection(Landmarks.from_landmarks([], missing), tuple(notes + [reason]),
                         scale_source=ctx.scale.source)

    if len(hips) == 1:
        why = _no_pelvis_beside(ctx, radiograph, hips[0])
        if why is not None:
            for name in _hip_names():
                missing[name] = why
            log.info("landmarks: %s", why)
            return Detection(Landmarks.from_landmarks([], missing), tuple(notes + [why]),
                             scale_source=ctx.scale.source)
    tilt = 0.0
    if len(hips) == 2:
        (_, _, h1, _), (_, _, h2, _) = sorted(hips, key=lambda t: t[2].x)
        tilt = math.atan2(h2.y - h1.y, h2.x - h1.x)
    sides_found = tuple(s for s, *_ in hips)
    prosthesis_sides = []
    per_side = {}
    for side, lat, head, shaft in hips:
        name = lambda anatomy: LandmarkName.of(anatomy, side)  # noqa: E731
        side_notes = list(head.notes)
        hc = head.quality * conf_scale
        if head.prosthesis:
            prosthesis_sides.append(side)
            notes.append(f"{side.value} hip: prosthesis (metal femoral head and stem); the head centre is "
                         "the prosthetic head's")
            hc = min(hc, 0.9)
        found.append(_lm(name("femoral_head_center"), head.xy, hc, head.r))
        R_mm = head.r * ctx.mm
        # femur
        if shaft is None:
            for a in ("femoral_shaft_proximal", "femoral_shaft_distal", "lesser_trochanter",
                      "greater_trochanter", "femoral_neck_center"):
                missing[name(a)] = "femoral shaft not found below the head"
        else:
            sc = shaft.score * conf_scale * (0.6 if head.prosthesis else 1.0)  # a stem blurs the femur's outline
            lt = femur.find_lesser_trochanter(ctx, head, shaft)
            if lt is None:
                missing[name("lesser_trochanter")] = "no medial outline of the proximal femur found"
                for a in ("femoral_shaft_proximal", "femoral_shaft_distal"):
                    missing[name(a)] = "defined below the lesser trochanter, which was not found"
            else:
                found.append(_lm(name("lesser_trochanter"), lt.xy, lt.confidence * sc))
                u_lt = float(shaft.axis.uv(lt.xy)[0])
                u_p = u_lt + SHAFT_BELOW_LT_MM
                # along the axis the shaft points hang on the trochanter's level
                spc = min(sc, max(lt.confidence, 0.3)) * 0.95
                found.append(_lm(name("femoral_shaft_proximal"), shaft.axis.point(u_p, 0.0), spc))
                span = _shaft_span(ctx, shaft, u_p)
                if span is None:
                    missing[name("femoral_shaft_distal")] = (
                        f"the shaft is seen over less than {SHAFT_SPAN_MIN_MM:.0f} mm below the proximal point")
                else:
                    found.append(_lm(name("femoral_shaft_distal"), shaft.axis.point(u_p + span, 0.0), spc))
            gt = femur.find_greater_trochanter(ctx, head, shaft)
            if gt is None:
                missing[name("greater_trochanter")] = "no lateral outline of the proximal femur found"
            else:
                found.append(_lm(name("greater_trochanter"), gt.xy, gt.confidence * sc))
            if head.prosthesis:
                missing[name("femoral_neck_center")] = "prosthesis: the femoral neck is replaced by the implant"
            else:
                neck = femur.find_neck(ctx, head, shaft)
                if neck is None:
                    missing[name("femoral_neck_center")] = "no femoral neck band found between head and shaft"
                else:
                    found.append(_lm(name("femoral_neck_center"), neck[0].xy, neck[0].confidence * sc))
        # pelvis
        frame = pelvis.HipFrame(head.xy, lat, ctx.mm, tilt, radiograph.orientation.superior_y)
        r_anat = R_mm if not head.prosthesis else 25.0  # a prosthetic head is smaller than the native one
        td = pelvis.find_teardrop(ctx, frame, R_mm, window=((-(r_anat + 22.0), -(r_anat - 8.0)), (-8.0, 42.0)))
        if td is None:
            missing[name("teardrop")] = "no teardrop found medial of the head"
        else:
            found.append(_lm(name("teardrop"), td.xy, td.confidence * conf_scale))
        it = pelvis.find_ischial_tuberosity(ctx, frame)
        if it is None:
            missing[name("ischial_tuberosity")] = "no ischial outline found below the acetabulum"
        else:
            found.append(_lm(name("ischial_tuberosity"), it.xy, it.confidence * conf_scale))
        if head.prosthesis:
            edge = med = None
        else:
            edge, med = pelvis.find_acetabular_roof(ctx, frame, R_mm)
        for a, f in (("acetabular_lateral_edge", edge), ("sourcil_medial", med)):
            if head.prosthesis:
                missing[name(a)] = "prosthesis on this side: the native acetabular roof is not assessed"
            elif f is None:
                missing[name(a)] = "no sourcil (dense acetabular roof line) found above the head"
            else:
                found.append(_lm(name(a), f.xy, f.confidence * conf_scale))
        per_side[side.value] = {"head_quality": head.quality, "shaft_score": shaft.score if shaft else 0.0,
                                "notes": side_notes}
    weak = [lm for lm in found if lm.confidence < MIN_CONFIDENCE]
    for lm in weak:
        missing[lm.name] = low_confidence_reason(lm.confidence, MIN_CONFIDENCE)
    found = [lm for lm in found if lm.confidence >= MIN_CONFIDENCE]
    for side in Side:
        if side not in sides_found:
            why = (f"{side.value} hip not found in the image"
                   + (" (one-hip view)" if len(hips) == 1 else ""))
            for name in _hip_names():
                if name.side is side:
                    missing[name] = why
    lms = Landmarks.from_landmarks(found, missing)
    log.info("landmarks: %d found, %d missing (scale %s)", len(lms), len(lms.missing), ctx.scale.source)
    return Detection(lms, tuple(notes), tuple(prosthesis_sides), sides_found, ctx.scale.source, per_side)


#: A lone femur must run within this angle (degrees) of the feet direction: an AP hip view
#: (the femur hangs down, abducted at most ~60° in a frog-leg position), not a lateral one.
LONE_FEMUR_MAX_DEG = 65.0


def _no_pelvis_beside(ctx: Context, radiograph: Radiograph,
                      hip: tuple[Side, int, femur.Head, femur.Shaft | None]) -> str | None:
    """Why a one-head image is not an AP hip view (``None`` if it is one).

    The femur must run towards the feet (within :data:`LONE_FEMUR_MAX_DEG`) and the
    hemipelvis must be beside the head (:func:`pelvis.no_pelvis_reason`: a teardrop and an
    ischial tuberosity below it). A cross-table lateral hip view shows one head, its femur
    running across the image and no teardrop.
    """
    _, lat, head, shaft = hip
    superior_y = radiograph.orientation.superior_y
    if shaft is not None:
        down = np.array([0.0, -float(superior_y)])
        angle = math.degrees(math.acos(float(np.clip(shaft.axis.direction @ down, -1.0, 1.0))))
        if angle > LONE_FEMUR_MAX_DEG:
            return (f"no pelvis found: the only femur runs {angle:.0f}° from the feet direction, across the image "
                    "(a lateral hip view?)")
    frame = pelvis.HipFrame(head.xy, lat, ctx.mm, 0.0, superior_y)
    return pelvis.no_pelvis_reason(ctx, frame, head.r * ctx.mm, head.prosthesis)


def _hip_names() -> list[LandmarkName]:
    return [n for n in LandmarkName if n.anatomy in HIP_ANATOMIES]


def _shaft_span(ctx: Context, shaft: femur.Shaft, u_p: float) -> float | None:
    """Distance below the proximal point for the distal one: 110 mm, shortened in 5 mm steps
    to stay inside the image and the part of the shaft that was seen (≥ 50 mm)."""
    rows, cols = ctx.display.shape
    margin = 20.0
    span = SHAFT_SPAN_MM
    while span >= SHAFT_SPAN_MIN_MM:
        x, y = shaft.axis.point(u_p + span, 0.0)
        inside = margin <= x <= cols - margin and margin <= y <= rows - margin
        if inside and u_p + span <= shaft.u_bottom + 10.0:
            return span
        span -= 5.0
    return None


from .limb import detect_long_leg  # noqa: E402
from .knee import detect_knee, detect_knee_details  # noqa: E402
from .refine import refine  # noqa: E402
from .common import low_confidence_reason
