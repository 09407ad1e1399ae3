"""AP pelvis / hip landmarks by the learned detector, refined and checked against anatomy.

1. The heatmap network (:mod:`.network`) finds every landmark on the film reduced to a few
   hundred pixels; each peak's probability mass is turned into a calibrated confidence by the
   model's table (measured on held-out real films).
2. Each femoral head is refined at full resolution: a sub-pixel circle fit
   (:func:`orthoplan.landmarks.heads.fit_head_circle`) started from the network's centre and
   radius (the radius from the network's dome-top point), kept only when it agrees with
   the network (centre within 0.35 radii, radius within 0.75-1.35 of the network's). The
   reported centre blends the fit's and the network's (:data:`HEAD_FIT_WEIGHT`); a metal head
   keeps the fit's.
3. Anatomical consistency (:func:`pair_problem`, :func:`position_problem`): two heads of similar radius, nearly level
   and a plausible distance apart; each landmark where the anatomy puts it relative to its
   side's head (teardrop medial, tuberosity below, trochanters on the femur below and lateral,
   the sourcil above ...). A landmark breaking a rule loses confidence, with the reason; below
   :data:`MIN_CONFIDENCE` it is reported missing with that reason.
4. A metal femoral head (prosthesis) is said in the notes; the native roof is then not read.
5. What the film does not show is not reported: nothing within :data:`EDGE_RADII` of the film's
   edge (a head there takes its hip with it), nor a second "head" far fainter than the first
   that is not its pair (:data:`GHOST_HEAD_RATIO`: a film of one hip).
6. What makes the film unlike a standard AP pelvis is said, with lowered confidences: an
   abducted femur (:func:`femoral_abduction_deg`), a film the network is unsure of as a whole
   (:func:`film_sureness`), a child's pelvis, metal hardware.

Sizes are in head radii, so the checks hold at any scale (FracAtlas films carry none).

Examples
--------
>>> from orthoplan.phantoms import pelvis as phantom
>>> from orthoplan.pipeline import load_radiograph
>>> case = phantom.make_pelvis(seed=3, rows=1000, columns=1200, detector_spacing_mm=0.38)
>>> det = detect_learned(load_radiograph(case.dataset))
>>> head, truth = det.landmarks["femoral_head_center_left"], case.landmarks["femoral_head_center_left"]
>>> bool(abs(head.x - truth.x) < 5 and abs(head.y - truth.y) < 5)
True
"""

from __future__ import annotations

import logging
import math
import os
from typing import Mapping, Sequence

import numpy as np

from ..model import (ABDUCTED_FINDING, HARDWARE_FINDING, IMMATURE_FINDING, UNSURE_FINDING, Calibration, Landmark,
                     LandmarkName, Landmarks, LandmarkSource, Radiograph, Side)
from . import HIP_ANATOMIES, Detection
from .network import LandmarkModel, Peak, load_model, predict
from .common import low_confidence_reason, lowered, shaft_midline

log = logging.getLogger(__name__)

#: Landmarks reported with less confidence than this are reported missing (with the reason).
MIN_CONFIDENCE = 0.3
#: A head whose calibrated confidence is below this is not a head: the side is not reported.
HEAD_MIN_CONFIDENCE = 0.3
#: A rule broken multiplies the landmark's confidence by this (a point on the wrong bone is
#: dropped, with the reason, unless the network was all but certain of it).
PENALTY = 0.25
#: Two heads that are not a pair keep this fraction of their confidence (never confident).
PAIR_PENALTY = 0.5
#: Of two heads that are not a pair (:func:`pair_problem`), one whose network score is below
#: this share of the other's is no head: not reported, and the other keeps its confidence. Held
#: out (3-fold, 7 December 2026), on 13 adults' films of one hip the network's second "head"
#: scored 0.02-0.23 against the real head's 0.51-0.89 (at most 0.31 of it), and halving both
#: (:data:`PAIR_PENALTY`) had cost the real head half its confidence; the two pairs read on
#: both sides that broke the pair rules scored within 0.96 of each other.
GHOST_HEAD_RATIO = 0.4
#: Sizes are judged in head radii: the learned detector needs no scale.
SCALE_SOURCE = "head radii (scale-free)"
#: A film without orientation tags is read turned by 90° when the heads are this much surer so.
ROTATION_MARGIN = 1.5
#: ... and turned by half a turn only where the heads as stored score less than this (the sum of
#: their raw peak scores): the network finds no head on a pelvis upside down. On the readers'
#: 210 usable head-up films (shipped model, which saw them) the 210 films turned by half a turn
#: score at most 0.53 as stored, and 41 of the 44 head-up films whose heads are faint enough to be
#: read turned (films of one hip among them) score 0.7 or more, so they are spared the reading.
HALF_TURN_TRY_BELOW = 0.7
#: Mean adult femoral head radius (mm), only to give the circle fit a working scale.
HEAD_RADIUS_MM = 24.0
#: A native head's centre is this share of the full-resolution circle fit's centre and the rest
#: the network's: their errors are partly independent. On 233 held-out adult heads read twice
#: the blend was nearer the mean of the two readings than the fit alone on 64 % (median 5.0 vs
#: 5.2 % of the head diameter; 0.5-0.75 all did as well). A metal head keeps its fit.
HEAD_FIT_WEIGHT = 0.6
#: On a film the hip maturity model takes for a child's or an adolescent's
#: (:func:`.views.skeletal_immaturity`), every landmark keeps this share of its confidence: the
#: tables are an adult's (held out, children's head centres were within 10 % of the head
#: diameter of the reading on 40 % of hips, adults' on 76 %).
IMMATURE_PENALTY = 0.6
#: The landmarks of the femur below the head: what a plate, a nail or a stem covers (on a film
#: with metal their confidence keeps :data:`.hardware.HARDWARE_PENALTY` of itself).
FEMORAL_ANATOMIES = ("greater_trochanter", "lesser_trochanter", "femoral_neck_center", "femoral_shaft_proximal",
                     "femoral_shaft_distal")

#: Where each landmark lies relative to its side's head centre, in head radii, in the head-up
#: film: ``(lateral min, lateral max, inferior min, inferior max)``; lateral is away from the
#: midline, inferior towards the feet. Generous: they catch a point on the wrong bone, not
#: anatomy at the edge of normal.
RELATIVE_BOX = {
    "teardrop": (-4.5, -0.3, -1.0, 2.8),
    "ischial_tuberosity": (-4.5, 0.8, 1.2, 6.0),
    "lesser_trochanter": (-1.5, 3.0, 1.0, 5.5),
    "greater_trochanter": (0.8, 5.0, -2.0, 2.5),
    "acetabular_lateral_edge": (-0.3, 2.2, -2.2, 0.3),
    "sourcil_medial": (-1.8, 0.9, -2.0, 0.3),
    "femoral_neck_center": (0.2, 3.2, -1.2, 2.2),
    "femoral_shaft_proximal": (0.0, 5.0, 1.3, 7.0),
    "femoral_shaft_distal": (-1.0, 8.0, 3.0, 18.0),
}


def _head_score(peaks: list[Peak]) -> float:
    """How sure the network is of the heads (the sum of their raw scores)."""
    return sum(p.score for p in peaks if p.channel.startswith("femoral_head_center_"))


def detect_learned(radiograph: Radiograph, calibration: Calibration | None = None,
                   model: LandmarkModel | str | os.PathLike | None = None, refine_heads: bool = True,
                   try_rotations: bool = True, check_maturity: bool = True, check_hardware: bool = True) -> Detection:
    """Detect the AP pelvis / hip landmarks with the learned model (see the module docstring).

    Parameters
    ----------
    radiograph
        An AP pelvis or AP hip film (any size, any scale).
    calibration
        Not needed: sizes are judged in head radii. Kept for the detector's common signature.
    model
        A :class:`~orthoplan.landmarks.network.LandmarkModel` or the path of one; default
        ``$ORTHOPLAN_MODEL`` or the model shipped with orthoplan.
    refine_heads
        Fit each head's circle at full resolution (else the network's centre and radius).
    try_rotations
        On a film whose orientation is assumed (no DICOM tags), also try it turned by 90°
        either way (films stored across the frame) and, where no head is found as stored
        (:data:`HALF_TURN_TRY_BELOW`), by half a turn (a film stored upside down: the patient's
        left then at the image's left), and keep the turn whose heads the network is
        :data:`ROTATION_MARGIN` times surer of.
    check_maturity
        Ask the hip maturity model whether the pelvis is a child's or an adolescent's; if so,
        say it in the notes and lower every confidence (:data:`IMMATURE_PENALTY`).
    check_hardware
        Ask the hardware model whether the film carries metal (plate, nail, screws, wires, a
        prosthesis); if so, say it in the notes and lower the confidence of the femoral landmarks
        of the hip nearest it (:data:`.hardware.HARDWARE_PENALTY`).
    """
    m = model if isinstance(model, LandmarkModel) else load_model(model)
    display = np.asarray(radiograph.display, dtype=np.float32)
    plx = radiograph.orientation.patient_left_x
    superior = radiograph.orientation.superior_name
    peaks = predict(display, m, superior, plx)
    read_plx = plx
    # a turn can only win where its heads' scores (each at most 1) could exceed the margin
    most = sum(c.startswith("femoral_head_center_") for c in m.channels)
    if try_rotations and radiograph.orientation.assumed and ROTATION_MARGIN * _head_score(peaks) < most:
        as_stored, stored = superior, _head_score(peaks)
        for sup, sup_plx in (("left", plx), ("right", plx), ("down", -plx)):  # half a turn swaps left and right
            if sup == "down" and (as_stored != "up" or stored >= HALF_TURN_TRY_BELOW):
                continue
            alt = predict(display, m, sup, sup_plx)
            if _head_score(alt) > ROTATION_MARGIN * _head_score(peaks):
                peaks, superior, read_plx = alt, sup, sup_plx
    return assemble(display, peaks, m, superior, read_plx, refine_heads, check_maturity, check_hardware)


def _frame(superior: str, plx: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in stored (x, y) of the head-up film's +x (viewer's right) and of inferior."""
    down = {"up": (0.0, 1.0), "down": (0.0, -1.0), "left": (1.0, 0.0), "right": (-1.0, 0.0)}[superior]
    right = {"up": (1.0, 0.0), "down": (1.0, 0.0), "left": (0.0, -1.0), "right": (0.0, 1.0)}[superior]
    return np.array(right), np.array(down)


def assemble(display: np.ndarray, peaks: list[Peak], model: LandmarkModel, superior: str, plx: int,
             refine_heads: bool = True, check_maturity: bool = True, check_hardware: bool = True) -> Detection:
    """Landmarks from the network's peaks: heads refined, confidences calibrated and checked."""
    by = {p.channel: p for p in peaks}
    right_x, down = _frame(superior, plx)
    notes: list[str] = []
    found: dict[LandmarkName, Landmark] = {}
    missing: dict[LandmarkName, str] = {}
    heads: dict[Side, tuple[np.ndarray, float, float]] = {}
    prosthesis_sides: list[Side] = []
    per_side: dict = {}
    absent: dict[Side, str] = {}  # why a side's hip is not reported, where the film says more than "not found"
    for side in Side:
        hp = by.get(f"femoral_head_center_{side.value}")
        top = by.get(f"femoral_head_top_{side.value}")
        conf = model.confidence("femoral_head_center", hp.score) if hp else 0.0
        if hp is None or conf < HEAD_MIN_CONFIDENCE:
            continue
        c = np.array([hp.x, hp.y])
        r = float(np.hypot(top.x - hp.x, top.y - hp.y)) if top is not None else 0.0
        if not (2.0 <= r <= 0.25 * max(display.shape)):
            absent[side] = f"{side.value} head: no plausible radius from the network"
            notes.append(absent[side] + "; not reported")
            continue
        side_notes = []
        fit = refine_head(display, c, r) if refine_heads else None
        if refine_heads and fit is None:
            side_notes.append("head circle not confirmed at full resolution: the network's centre")
            conf *= 0.85
        metal = is_metal_disc(display, np.array(fit[:2]), fit[2]) if fit else is_metal_disc(display, c, r)
        if fit is not None:  # a metal head is the fit's circle; a native one blends it with the network's
            fitted = np.array(fit[:2])
            c, r = (fitted if metal else HEAD_FIT_WEIGHT * fitted + (1 - HEAD_FIT_WEIGHT) * c), fit[2]
        depth = edge_depth(display.shape, c, r)
        if depth < EDGE_RADII:
            absent[side] = (f"{side.value} head at the film's edge (its centre {depth:.2f} radii inside): the hip is "
                            "cut off or not on the film")
            notes.append(absent[side] + "; not reported")
            continue
        if metal:
            prosthesis_sides.append(side)
        heads[side] = (c, r, conf)
        per_side[side.value] = {"head_score": hp.score, "notes": side_notes}
    if not heads:
        reason = "no femoral head found: not an AP pelvis/hip radiograph, or the hips are not in the image"
        for n in _hip_names():
            missing[n] = absent.get(n.side, reason)
        return Detection(Landmarks.from_landmarks([], missing), tuple(notes) if absent else (reason,),
                         scale_source=SCALE_SOURCE, raw=tuple(peaks), superior=superior)
    # two heads: similar size, nearly level, a pelvis apart; else a far fainter one is no head
    if len(heads) == 2:
        (cr, rr, _), (cl, rl, _) = heads[Side.RIGHT], heads[Side.LEFT]
        why = pair_problem(cr, rr, cl, rl, right_x * plx, down)
        weak, strong = sorted(heads, key=lambda s: per_side[s.value]["head_score"])
        faint = per_side[weak.value]["head_score"] < GHOST_HEAD_RATIO * per_side[strong.value]["head_score"]
        if why and faint:
            absent[weak] = (f"{weak.value} head: not the {strong.value} head's pair ({why}) and far fainter to the "
                            f"network (score {per_side[weak.value]['head_score']:.2f} against "
                            f"{per_side[strong.value]['head_score']:.2f}): no hip (a film of one hip?)")
            notes.append(absent[weak] + "; not reported")
            del heads[weak]
        elif why:
            notes.append(f"femoral heads: {why}")
            heads = {s: (c, r, q * PAIR_PENALTY) for s, (c, r, q) in heads.items()}
    prosthesis_sides = [s for s in prosthesis_sides if s in heads]  # a ghost in a burnt-out corner is none
    for side in prosthesis_sides:
        notes.append(f"{side.value} hip: prosthesis (metal femoral head); the head centre is the prosthetic head's")
    for side in Side:
        if side not in heads:
            missing[LandmarkName.of("femoral_head_center", side)] = absent.get(side, f"{side.value} hip not found in "
                                                                                    "the image")
    if len(heads) == 1:  # one hip: its femur must run towards the feet (not a lateral view)
        (side, (c, r, q)), = heads.items()
        why = lone_hip_problem(by, side, c, r, down)
        if why:
            for n in _hip_names():
                missing[n] = why
            return Detection(Landmarks.from_landmarks([], missing), tuple(notes + [why]), scale_source=SCALE_SOURCE,
                             raw=tuple(peaks), superior=superior)
    for side, (c, r, q) in heads.items():
        name = LandmarkName.of("femoral_head_center", side)
        if q < MIN_CONFIDENCE:
            missing[name] = low_confidence_reason(q, MIN_CONFIDENCE)
            continue
        found[name] = Landmark(name, float(c[0]), float(c[1]), float(np.clip(q, 0, 1)), LandmarkSource.AUTO, float(r))
    for side in Side:
        lat = (-right_x if side is Side.RIGHT else right_x) * plx  # away from the midline
        for anatomy in HIP_ANATOMIES:
            if anatomy == "femoral_head_center":
                continue
            name = LandmarkName.of(anatomy, side)
            p = by.get(name.value)
            if side not in heads:
                missing[name] = absent.get(side, f"{side.value} hip not found in the image")
                continue
            if side in prosthesis_sides and anatomy in ("acetabular_lateral_edge", "sourcil_medial", "femoral_neck_center"):
                missing[name] = "prosthesis on this side: not assessed"
                continue
            if p is None:
                missing[name] = "not predicted by this model"
                continue
            conf = model.confidence(anatomy, p.score)
            c, r, _ = heads[side]
            depth = edge_depth(display.shape, np.array([p.x, p.y]), r)
            if anatomy not in EDGE_ANATOMIES and depth < EDGE_RADII:
                missing[name] = f"at the film's edge ({depth:.2f} head radii inside): cut off or not on the film"
                continue
            why = position_problem(anatomy, np.array([p.x, p.y]), c, r, lat, down)
            if why:
                conf *= PENALTY
            prox = found.get(LandmarkName.of("femoral_shaft_proximal", side))
            if anatomy == "femoral_shaft_distal" and prox is not None:
                if float(np.dot(np.array([p.x - prox.x, p.y - prox.y]), down)) < 1.2 * r:
                    why, conf = "less than 1.2 head radii below the proximal shaft point", conf * PENALTY
            if conf < MIN_CONFIDENCE:
                missing[name] = (f"inconsistent with the anatomy ({why})" if why
                                 else low_confidence_reason(conf, MIN_CONFIDENCE))
                continue
            found[name] = Landmark(name, p.x, p.y, float(np.clip(conf, 0, 1)), LandmarkSource.AUTO)
    found = fitted_shafts(display, found, {side: r for side, (_, r, _) in heads.items()})
    body_down = body_axis(found, right_x * plx, down)
    for side in heads:
        angle = femoral_abduction_deg(found, side, (-right_x if side is Side.RIGHT else right_x) * plx, body_down)
        if angle is not None and angle > ABDUCTED_MIN_DEG:
            notes.append(f"{ABDUCTED_FINDING}: the {side.value} femoral shaft runs {angle:.0f}° lateral of the body's "
                         "long axis (a frog-leg or abducted hip, not the standard AP position): that side's femoral "
                         "offset, neck-shaft angle and leg length are not comparable with a standard film, and its "
                         "femoral landmarks' confidences are lowered")
            found = lowered(found, ABDUCTED_PENALTY, MIN_CONFIDENCE, ABDUCTED_FINDING, missing,
                            [n for n in found if n.anatomy in FEMORAL_ANATOMIES and n.side is side])
    if check_maturity:
        found = _immaturity_checked(display, superior, plx, found, missing, notes)
    sureness = film_sureness(peaks)
    # a child's film is unsure by nature and already lowered (IMMATURE_PENALTY): not twice
    if sureness < UNSURE_FILM_SCORE and found and not any(IMMATURE_FINDING in n for n in notes):
        notes.append(f"{UNSURE_FINDING} (median landmark score {sureness:.2f} < {UNSURE_FILM_SCORE}: not a standard "
                     "AP pelvis/hip, poor contrast or metal?): every confidence is lowered")
        found = lowered(found, UNSURE_FILM_PENALTY, MIN_CONFIDENCE, UNSURE_FINDING, missing)
    if check_hardware:
        found = _hardware_checked(display, found, missing, notes)
    lms = Landmarks.from_landmarks(found.values(), missing)
    return Detection(lms, tuple(notes), tuple(prosthesis_sides), tuple(s for s in Side if s in heads),
                     SCALE_SOURCE, per_side, tuple(peaks), superior)


def maturity_heads(heads: Sequence[Landmark], superior: str, plx: int) -> list[tuple[float, float, float, tuple]]:
    """The femoral head landmarks as :func:`.views.maturity_features` takes them: ``(x, y,
    radius_px, lateral unit vector)``."""
    right_x, _ = _frame(superior, plx)
    return [(lm.x, lm.y, lm.radius_px, tuple((-right_x if lm.name.side is Side.RIGHT else right_x) * plx))
            for lm in heads if lm.radius_px]


def maturity_inputs(radiograph: Radiograph, detection: Detection) -> np.ndarray:
    """The hip maturity model's features of a film from its detection (``check_maturity=False``):
    what ``scripts/train_hip_maturity.py`` learns from."""
    from .views import maturity_features

    heads = [lm for lm in detection.landmarks if lm.name.anatomy == "femoral_head_center"]
    return maturity_features(np.asarray(radiograph.display, np.float32), detection.superior,
                             maturity_heads(heads, detection.superior, radiograph.orientation.patient_left_x))


def _immaturity_checked(display: np.ndarray, superior: str, plx: int, found: dict[LandmarkName, Landmark],
                        missing: dict, notes: list[str]) -> dict[LandmarkName, Landmark]:
    """``found``, with every confidence lowered and a note, where the pelvis looks a child's."""
    from .views import IMMATURE_MIN_PROBABILITY, skeletal_immaturity

    heads = [lm for lm in found.values() if lm.name.anatomy == "femoral_head_center"]
    if not heads:
        return found
    p = skeletal_immaturity(display, superior, maturity_heads(heads, superior, plx))
    if p < IMMATURE_MIN_PROBABILITY:
        return found
    notes.append(f"{IMMATURE_FINDING} (a child's or an adolescent's: open triradiate cartilage or growth "
                 f"plates; probability {p:.2f}): the detector learned from adults' films, so every confidence is "
                 "lowered; adult measurement norms and implant templates do not apply")
    return lowered(found, IMMATURE_PENALTY, MIN_CONFIDENCE, IMMATURE_FINDING, missing)


def _hardware_checked(display: np.ndarray, found: dict[LandmarkName, Landmark], missing: dict,
                      notes: list[str]) -> dict[LandmarkName, Landmark]:
    """``found``, with the femoral landmarks of the hip nearest the metal lowered and a note,
    where the hardware model sees metal on the film (:func:`.hardware.find_hardware`)."""
    from .hardware import HARDWARE_PENALTY, find_hardware

    guess = find_hardware(display)
    if not guess.found:
        return found
    heads = {lm.name.side: lm for lm in found.values() if lm.name.anatomy == "femoral_head_center"}
    near = min(heads.values(), key=lambda h: math.hypot(h.x - guess.x, h.y - guess.y)).name.side if heads else None
    where = f"near the {near.value} hip" if near else "on the film"
    notes.append(f"{HARDWARE_FINDING} {where} (plate, nail, screws, wires or a prosthesis; probability "
                 f"{guess.probability:.2f}): the femoral landmarks there are less reliable, their confidences lowered")
    names = [n for n in found if n.anatomy in FEMORAL_ANATOMIES and (near is None or n.side is near)]
    return lowered(found, HARDWARE_PENALTY, MIN_CONFIDENCE, HARDWARE_FINDING, missing, names)


def pair_problem(c_right: np.ndarray, r_right: float, c_left: np.ndarray, r_left: float,
                 viewer_right_is_left: np.ndarray, down: np.ndarray) -> str | None:
    """Why two heads are not a pair (``None`` if they are): radii within 25 %, height
    difference ≤ 1.6 radii, 4.5–11 radii apart, the patient's left on its own side."""
    r = 0.5 * (r_right + r_left)
    if max(r_right, r_left) / max(min(r_right, r_left), 1e-6) > 1.25:
        return f"radii differ by more than 25 % ({r_right:.0f} and {r_left:.0f} px)"
    d = c_left - c_right
    across = float(np.dot(d, viewer_right_is_left))
    if across <= 0:
        return "the left head is not on the patient's left of the right one"
    if not 4.5 * r <= float(np.hypot(*d)) <= 11.0 * r:
        return f"{float(np.hypot(*d)) / r:.1f} head radii apart (expected 4.5-11)"
    if abs(float(np.dot(d, down))) > 1.6 * r:
        return f"{abs(float(np.dot(d, down))) / r:.1f} head radii apart in height (expected < 1.6)"
    return None


#: A landmark that lies less than this many head radii inside the film is not reported (a head:
#: nor its hip): the network puts what is beyond the film on its edge. On the 293 FracAtlas
#: hip films, the shipped model's heads within 0.25 radii of the edge (8 at confidence
#: 0.59-0.71) and its other points there (acetabular edges, necks, trochanters, proximal shaft
#: points: 28) were all where the readers read no such point; the nearest points they read lie
#: 0.27-0.29 radii inside. Not the distal shaft point: it is read as far down as the film shows.
EDGE_RADII = 0.25
#: The landmarks read at the film's edge by convention (:data:`EDGE_RADII` does not apply).
EDGE_ANATOMIES = ("femoral_shaft_distal",)


def edge_depth(shape: tuple[int, ...], center: np.ndarray, r: float) -> float:
    """How far ``center`` (x, y) lies inside an image of ``shape`` (rows, cols), in units of
    ``r``: 0 on the edge, negative outside.

    >>> edge_depth((100, 200), np.array([10.0, 50.0]), 20.0)
    0.5
    """
    from ..errors import LandmarkError

    if not (math.isfinite(r) and r > 0):
        raise LandmarkError(f"edge depth: the radius must be a positive number of pixels, not {r!r}")
    rows, cols = shape[:2]
    x, y = float(center[0]), float(center[1])
    return min(x, y, cols - 1 - x, rows - 1 - y) / r


#: The femoral shaft's outer width sought for its midline (:func:`fitted_shafts`), in femoral head
#: diameters. On the readers' adult hips (their shaft points, 248 hips) the midline found the shaft
#: 0.62 head diameters wide (median; quartiles 0.56-0.70); 0.5 and 0.7 gave the femoral offsets of
#: 0.6 within 0.2 % of the head diameter (held out, 7 December 2026).
SHAFT_WIDTH_HEADS = 0.6


def fitted_shafts(display: np.ndarray, found: Mapping[LandmarkName, Landmark], radii: Mapping[Side, float]
                  ) -> dict[LandmarkName, Landmark]:
    """``found`` with each side's two femoral shaft points moved onto the shaft's midline at
    their levels (:func:`.common.shaft_midline`, the shaft :data:`SHAFT_WIDTH_HEADS` head
    diameters wide; ``radii``: each side's femoral head radius, px). The readers place them
    midway between the cortices; the shaft axis (femoral offset, neck-shaft angle, the stem's
    canal) is then a line through many midpoints rather than through the network's two points.
    A side whose midline is not clear keeps the network's points; confidences are unchanged.

    >>> from orthoplan.model import LandmarkName
    >>> img = np.zeros((300, 200), np.float32); img[:, 85:115] = 1.0   # a shaft 30 px wide, x 85 to 115
    >>> pts = {n: Landmark(n, x, y, 0.6) for n, x, y in (
    ...     (LandmarkName.of("femoral_shaft_proximal", Side.LEFT), 103.0, 40.0),
    ...     (LandmarkName.of("femoral_shaft_distal", Side.LEFT), 97.0, 260.0))}
    >>> out = fitted_shafts(img, pts, {Side.LEFT: 25.0})
    >>> round(out[LandmarkName.of("femoral_shaft_distal", Side.LEFT)].x)
    100
    """
    from dataclasses import replace

    from ..errors import LandmarkError

    if not isinstance(found, Mapping) or not isinstance(radii, Mapping):
        raise LandmarkError("fitted shafts: the landmarks and the head radii must be mappings")
    out = dict(found)
    for side, r in radii.items():
        prox = found.get(LandmarkName.of("femoral_shaft_proximal", side))
        dist = found.get(LandmarkName.of("femoral_shaft_distal", side))
        if prox is None or dist is None or math.hypot(dist.x - prox.x, dist.y - prox.y) < 1.0:
            continue
        if not (isinstance(r, (int, float)) and math.isfinite(r) and r > 0):
            raise LandmarkError(f"fitted shafts: the {side.value} head radius must be a positive number of pixels")
        fit = shaft_midline(display, (prox.x, prox.y), (dist.x, dist.y), SHAFT_WIDTH_HEADS * 2.0 * r)
        if fit is not None:
            out[prox.name] = replace(prox, x=fit.proximal_xy[0], y=fit.proximal_xy[1])
            out[dist.name] = replace(dist, x=fit.distal_xy[0], y=fit.distal_xy[1])
    return out


#: A femoral shaft running more than this many degrees lateral of the body's long axis is
#: abducted: said in the notes. Readers' shaft points on 276 usable FracAtlas hips: median
#: -0.8°, 99th percentile 21°, the few beyond on films their readers noted as abducted; the
#: shipped model's shaft points on the frog-leg lateral films the readers could not use: 19-36°.
ABDUCTED_MIN_DEG = 20.0
#: The femoral landmarks (:data:`FEMORAL_ANATOMIES`) of an abducted femur keep this share of
#: their confidence. Held out (3-fold), the 4 abducted hips with a reading had their trochanters,
#: neck and proximal shaft point within 10 % of the head diameter of it on 25-50 % (other hips
#: 48-66 %), the distal shaft point on none: the shaft the angle comes from is often wrong.
ABDUCTED_PENALTY = 0.6


def body_axis(found: Mapping[LandmarkName, Landmark], viewer_right_is_left: np.ndarray, down: np.ndarray
              ) -> np.ndarray:
    """The feet direction of the body: perpendicular to the line through the two femoral heads
    where both are found (a pelvis tilted on the table tilts the body), else ``down``."""
    r, l = (found.get(LandmarkName.of("femoral_head_center", s)) for s in (Side.RIGHT, Side.LEFT))
    if r is None or l is None:
        return down
    u = np.array([l.x - r.x, l.y - r.y]) * float(np.sign(np.dot([l.x - r.x, l.y - r.y], viewer_right_is_left)) or 1.0)
    perp = np.array([-u[1], u[0]]) / max(float(np.hypot(*u)), 1e-9)
    return perp if float(np.dot(perp, down)) >= 0 else -perp


def femoral_abduction_deg(found: Mapping[LandmarkName, Landmark], side: Side, lateral: np.ndarray,
                          down: np.ndarray) -> float | None:
    """The angle (degrees) of ``side``'s femoral shaft (proximal to distal shaft point) from the
    feet direction ``down``, positive where its distal end lies ``lateral``; ``None`` without
    both shaft points.

    >>> from orthoplan.model import LandmarkName
    >>> pts = {LandmarkName.of(a, Side.LEFT): Landmark(LandmarkName.of(a, Side.LEFT), x, y, 0.5)
    ...        for a, x, y in (("femoral_shaft_proximal", 100, 100), ("femoral_shaft_distal", 130, 152))}
    >>> round(femoral_abduction_deg(pts, Side.LEFT, np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    30
    """
    a = found.get(LandmarkName.of("femoral_shaft_proximal", side))
    b = found.get(LandmarkName.of("femoral_shaft_distal", side))
    if a is None or b is None:
        return None
    v = np.array([b.x - a.x, b.y - a.y])
    return math.degrees(math.atan2(float(np.dot(v, lateral)), float(np.dot(v, down))))


#: A film whose landmarks the network scores below this (:func:`film_sureness`) is one it is
#: unsure of as a whole: said, and every confidence keeps :data:`UNSURE_FILM_PENALTY` of itself
#: (the tables are flat at low scores, so a single low score costs little). Held out (3-fold,
#: 7 December 2026): 9 of the 23 adults' films the readers could not use (washed-out films of
#: plated or fractured hips) and 5 of the 215 usable adults' films (3 with metal) lie below 0.45.
UNSURE_FILM_SCORE = 0.45
UNSURE_FILM_PENALTY = 0.6


def film_sureness(peaks: Sequence[Peak]) -> float:
    """How sure the network is of a film as a whole: the median raw score of a hip's landmark
    peaks (the head top, which only gives a radius, left out), of the surer hip (a film of one
    hip scores its absent hip low); 1.0 without peaks.

    >>> film_sureness([Peak("teardrop_left", 1, 2, 0.2), Peak("sourcil_medial_left", 3, 4, 0.6),
    ...                Peak("teardrop_right", 5, 6, 0.1), Peak("femoral_head_top_left", 5, 6, 0.0)])
    0.4
    """
    by_side = [[p.score for p in peaks if p.channel.endswith(f"_{side.value}")
                and not p.channel.startswith("femoral_head_top_")] for side in Side]
    return max((float(np.median(s)) for s in by_side if s), default=1.0)


#: A lone femur must run within this angle (degrees) of the feet direction: an AP hip view.
LONE_FEMUR_MAX_DEG = 65.0


def lone_hip_problem(peaks: dict[str, Peak], side: Side, head: np.ndarray, r: float, down: np.ndarray) -> str | None:
    """Why a film with one head is not an AP hip view (``None`` if it is): the femur (head to
    proximal shaft, or the shaft's two points) must run towards the feet, and the network must
    place the shaft below the head at all."""
    prox = peaks.get(f"femoral_shaft_proximal_{side.value}")
    dist = peaks.get(f"femoral_shaft_distal_{side.value}")
    if prox is None:
        return None
    a = np.array([prox.x, prox.y])
    v = np.array([dist.x, dist.y]) - a if dist is not None and np.hypot(dist.x - a[0], dist.y - a[1]) > r else a - head
    if np.hypot(*v) < 0.5 * r:
        return "no pelvis found: no femur below the only head-like circle"
    angle = math.degrees(math.acos(float(np.clip(np.dot(v, down) / np.hypot(*v), -1.0, 1.0))))
    if angle > LONE_FEMUR_MAX_DEG:
        return (f"no pelvis found: the only femur runs {angle:.0f}° from the feet direction, across the image "
                "(a lateral hip view?)")
    return None


def position_problem(anatomy: str, p: np.ndarray, head: np.ndarray, r: float, lateral: np.ndarray,
                     down: np.ndarray) -> str | None:
    """Why ``p`` is not where ``anatomy`` lies relative to its head (``None`` if it is)."""
    box = RELATIVE_BOX.get(anatomy)
    if box is None:
        return None
    lat = float(np.dot(p - head, lateral)) / r
    inf = float(np.dot(p - head, down)) / r
    lo_l, hi_l, lo_i, hi_i = box
    if not (lo_l <= lat <= hi_l and lo_i <= inf <= hi_i):
        return (f"{anatomy.replace('_', ' ')} {lat:+.1f} radii lateral and {inf:+.1f} inferior of the head; "
                f"expected {lo_l:+.1f}..{hi_l:+.1f} and {lo_i:+.1f}..{hi_i:+.1f}")
    return None


def refine_head(display: np.ndarray, center: np.ndarray, r: float) -> tuple[float, float, float] | None:
    """The head circle ``(x, y, r)`` fitted at full resolution near the network's circle, or
    ``None`` when the fit disagrees with it (centre off by > 0.35 r, radius outside 0.75–1.35 r:
    the network's dome point tends to give too small a radius)."""
    from .common import block_mean, crop
    from .femur import circle_quality
    from .heads import fit_head_circle

    f = max(1, int(r // 60))  # about 60 px of radius is enough for a sub-pixel edge
    half = 1.5 * r + 8
    sub, off = crop(display, (float(center[0]), float(center[1])), half)
    if sub.size == 0:
        return None
    small = block_mean(sub, f) if f > 1 else sub
    c = (np.asarray(center, float) - off) / f
    mm = HEAD_RADIUS_MM / r * f
    fit = fit_head_circle(small, (float(c[0]), float(c[1])), r / f, mm, r_range=(0.72 * r / f, 1.38 * r / f),
                          n_angles=180, fine_mm=None)
    if fit is None or circle_quality(fit, mm) < 0.15:
        return None
    cx, cy, rr = fit.cx * f + off[0], fit.cy * f + off[1], fit.r * f
    if math.hypot(cx - center[0], cy - center[1]) > 0.35 * r or not 0.75 <= rr / r <= 1.35:
        return None
    return float(cx), float(cy), float(rr)


#: The share of the head radius whose disc is judged for metal: the inner disc, clear of the
#: edge blur of a small or compressed film (a total hip arthroplasty on a 373 x 454 px FracAtlas
#: film was missed over the whole disc: its rim pulled the mean under 0.97 of the film's top).
#: The whole head must lie on the film: a "head" cut by the film's edge in a burnt-out corner is
#: no prosthesis.
METAL_DISC_SHARE = 0.6


def is_metal_disc(display: np.ndarray, center: np.ndarray, r: float) -> bool:
    """A disc that is almost uniformly at the film's brightest: a metal (prosthetic) head."""
    from .heads import disc_stats

    rows, cols = display.shape
    if not (r <= center[0] <= cols - 1 - r and r <= center[1] <= rows - 1 - r):
        return False

    st = disc_stats(display, float(center[0]), float(center[1]), METAL_DISC_SHARE * r)
    sample = display[:: max(1, display.shape[0] // 256), :: max(1, display.shape[1] // 256)]
    top, mid = (float(v) for v in np.percentile(sample, (99.7, 50.0)))
    return bool(np.isfinite(st["inside"]) and top - mid > 0.2 and st["inside"] >= 0.97 * top
                and st["inside_std"] < 0.03)


def _hip_names() -> list[LandmarkName]:
    return [n for n in LandmarkName if n.anatomy in HIP_ANATOMIES]
