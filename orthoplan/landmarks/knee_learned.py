"""AP and lateral knee landmarks by the learned detector, checked against anatomy.

The AP pelvis network's design (:mod:`.network`, :mod:`.training`), one network for both knee
views (``models/knee``):

1. The heatmap network finds every landmark of the view on the film reduced to a few hundred
   pixels. AP channels are per knee (the patient's side as seen on a standard display, so a
   film of both knees gives both); lateral channels have no side (``lateral:<anatomy>``).
2. Each peak's probability mass becomes a calibrated confidence by the model's table, fitted
   on held-out real films (per view and anatomy; ``scripts/train_knee.py``).
3. The knee's side (AP): a side given (``side=``, from the image's laterality or a person)
   decides; else the network's, checked against the learned fibula model
   (:func:`.views.fibula_side`): the fibula lies laterally, so when the model is sure and the
   network's lateral points lie on the other side, the knee is renamed (medial and lateral
   swap with the side) and the notes say so. A lateral view needs ``side``.
4. Anatomical consistency (:func:`ap_problems`, :func:`lateral_problems`): condyles above the
   plateau, the joint line between femur and tibia, lateral points lateral of medial ones,
   epicondyles at the widest part of the distal femur, axis points along the shaft and in
   order, each axis along the limb (:data:`MAX_AXIS_TILT_DEG`) with its joint-line pair on
   either side of it (:func:`axis_problems`). A landmark breaking a rule loses confidence
   (x :data:`PENALTY`), with the reason; below ``minimum`` it is reported missing with that
   reason. A film of both knees is read one half at a time, cut at the gap between the knees
   (:func:`film_halves`). Before the checks, each AP axis's two points are moved onto the
   shaft's midline between its cortices, found on the film at full resolution
   (:func:`fitted_axes`).
5. A film of two projections side by side (:func:`.views.classify_view`) is not read, nor one that the
   view classifier confidently takes for an AP pelvis/hip film.
6. A film without orientation tags: an AP film is also read upside down; where the network
   reads it at least as surely so (:data:`UPSIDE_DOWN_SHARE`) and the upright model
   (:func:`.views.knee_head_down`) takes it for stored head down, it is read head down, else
   flagged (:func:`_upside_down_checked`). A lateral film that the lateral turn model
   (:func:`.views.lateral_knee_head`) takes for turned by a quarter turn is read so, where the
   network is surer of the knee turned (:func:`_quarter_turn_read`). A film whose knee the
   network is unsure of is also read turned by a quarter turn either way (``try_rotations``).

Sizes are judged in the knee's own size (the plateau or epicondylar width, the femoral AP
width), so the checks hold at any scale.

Examples
--------
>>> from orthoplan.phantoms.knee import make_knee_ap
>>> from orthoplan.pipeline import load_radiograph
>>> case = make_knee_ap(seed=2, side="right", rows=950, columns=700, detector_spacing_mm=0.4)
>>> det = detect_knee_learned(load_radiograph(case.dataset), "knee-ap")
>>> det.side.value
'right'
>>> a, t = det.landmarks["tibial_plateau_medial_right"], case.landmarks["tibial_plateau_medial_right"]
>>> bool(math.hypot(a.x - t.x, a.y - t.y) * case.mm_per_px < 6)
True
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..model import (HARDWARE_FINDING, KNEE_AP_ANATOMY, KNEE_LATERAL_ANATOMY, UPSIDE_DOWN_FINDING, ImageOrientation,
                     Landmark, LandmarkName, Landmarks, LandmarkSource, Radiograph, Side)
from .common import (head_up, landmarks_mapped, low_confidence_reason, lowered, point_xy, shaft_midline,
                     side_from_lateral)
from .knee import KneeDetection, refused_film, checked_view_and_side
from .network import LATERAL_PREFIX, MODEL_DIR, MODEL_ENV, LandmarkModel, Peak, default_model_path, load_model, predict
from .views import (HEAD_DOWN_MIN_PROBABILITY, QUARTER_TURN_MIN_PROBABILITY, fibula_side, knee_head_down,
                    lateral_knee_head)

log = logging.getLogger(__name__)

__all__ = ["detect_knee_learned", "ap_problems", "lateral_problems", "fitted_axes", "knee_width", "knee_model_path",
           "KNEE_MODEL", "KNEE_AP_MODEL"]

#: The shipped models' names: ``models/knee`` (320-px input) reads lateral films, ``models/knee-ap``
#: (the same channels at 448 px: the joint line's finer detail) reads AP films. Both are models
#: of the ``knee`` family (their description's ``view``) and read either view.
KNEE_MODEL = "knee"
KNEE_AP_MODEL = "knee-ap"
#: A site's own model for AP knee films (else ``$ORTHOPLAN_KNEE_MODEL`` serves both views).
KNEE_AP_MODEL_ENV = "ORTHOPLAN_KNEE_AP_MODEL"
#: Landmarks reported with less confidence than this are reported missing (with the reason).
MIN_CONFIDENCE = 0.3
#: A knee (AP) is reported when the median confidence of its joint-line points reaches this.
KNEE_MIN_CONFIDENCE = 0.3
#: A rule broken multiplies the landmark's confidence by this.
PENALTY = 0.25
#: The AP vocabulary the network gives per knee (the knee centres too).
AP_ANATOMIES = KNEE_AP_ANATOMY + ("femoral_knee_center", "tibial_knee_center")
#: The AP channels read from the axis model (:func:`_with_axis`).
AXIS_CHANNEL_PREFIXES = ("knee_femoral_axis_", "knee_tibial_axis_")
JOINT_LINE = ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral")


def _superior(radiograph: Radiograph) -> str:
    return "up" if radiograph.orientation.superior_y == -1 else "down"


def _down(superior: str) -> np.ndarray:
    """The unit vector towards the feet (a knee film is read head up or head down)."""
    return np.array((0.0, 1.0) if superior == "up" else (0.0, -1.0))


def _swap_ml(anatomy: str) -> str:
    if anatomy.endswith("_medial"):
        return anatomy[: -len("medial")] + "lateral"
    if anatomy.endswith("_lateral"):
        return anatomy[: -len("lateral")] + "medial"
    return anatomy


def knee_model_path(view: str) -> Path:
    """The model that reads ``view`` by default: for AP films ``$ORTHOPLAN_KNEE_AP_MODEL``, else
    ``$ORTHOPLAN_KNEE_MODEL`` (a site's own knee model serves both views), else the shipped
    ``knee-ap``; for lateral films ``$ORTHOPLAN_KNEE_MODEL``, else the shipped ``knee``.

    >>> knee_model_path("knee-lateral").name if "ORTHOPLAN_KNEE_MODEL" not in os.environ else "knee.onnx"
    'knee.onnx'
    """
    if view == "knee-ap":
        for env in (KNEE_AP_MODEL_ENV, MODEL_ENV[KNEE_MODEL]):
            if os.environ.get(env):
                return Path(os.environ[env])
        return MODEL_DIR / f"{KNEE_AP_MODEL}.onnx"
    return default_model_path(KNEE_MODEL)


def detect_knee_learned(radiograph: Radiograph, view: str = "knee-ap", side: Side | str | None = None,
                        model: LandmarkModel | str | os.PathLike | None = None, fibula_check: bool = True,
                        minimum: float = MIN_CONFIDENCE, fibula_model=None,
                        axis_model: LandmarkModel | str | os.PathLike | None = None,
                        check_hardware: bool = True, try_rotations: bool = True) -> KneeDetection:
    """Detect the AP or lateral knee landmarks with the learned model (see the module docstring).

    Parameters
    ----------
    radiograph
        An AP (``view="knee-ap"``) or lateral (``"knee-lateral"``) knee film, any size and scale.
    side
        The knee shown (a lateral view needs it). On an AP film it names the one knee shown;
        without it the network and the fibula decide, and a film of both knees gives both.
    model
        A :class:`~orthoplan.landmarks.network.LandmarkModel` or the path of one; default
        :func:`knee_model_path` (the shipped ``models/knee-ap`` for AP films, ``models/knee``
        for lateral films).
    fibula_check, fibula_model
        Check the network's lateral side against the learned fibula model (AP, one knee):
        ``fibula_model`` (a :class:`~orthoplan.landmarks.views.ViewModel`), default the shipped one.
    minimum
        Landmarks less sure than this are reported missing, with the reason.
    axis_model
        On AP films, the model whose axis points are used (the rest from ``model``); default,
        when ``model`` is not given, the lateral films' model (:func:`knee_model_path`) where it
        is another file than the AP films' one. The AP model's tables were fitted on these
        points' scores.
    check_hardware
        Ask the hardware model whether the film carries metal (a plate, a nail, wires, a knee
        prosthesis); if so, say it in the notes and lower the confidence of the landmarks of the
        knee nearest it (:data:`.hardware.HARDWARE_PENALTY`).
    try_rotations
        On a film whose orientation is assumed (no DICOM orientation tags) and whose knee the
        network is not sure of as stored (:data:`TURN_TRY_BELOW`), also read it turned by a
        quarter turn either way (a film stored across the frame) and keep the turn whose knee the
        network is :data:`ROTATION_MARGIN` times surer of; the points are mapped back to the
        stored film and a note says so. An AP film that reads at least as surely upside down is
        read head down where the upright model agrees (:func:`_head_down_read`); a lateral film
        that the lateral turn model takes for turned a quarter turn is read so where the network
        is surer of the knee so (:func:`_quarter_turn_read`). A film refused (two views, not a
        knee) is not turned.

    Returns
    -------
    KneeDetection
        ``info["scores"]`` holds each reported landmark's raw peak score; ``info["superior"]``
        where the head lies in the stored film as read (``"up"``, ``"down"``, ``"left"``,
        ``"right"``).
    """
    kw = dict(model=model, fibula_check=fibula_check, minimum=minimum, fibula_model=fibula_model,
              axis_model=axis_model, check_hardware=check_hardware)
    det = _detect_knee_learned(radiograph, view, side, **kw)
    o = radiograph.orientation
    if not try_rotations or not o.assumed or o.turn_deg or o.superior_y != -1 or det.info.get("refused"):
        return det
    if "upside_down" in det.info:
        return _head_down_read(radiograph, det, view, side, kw)
    if view == "knee-lateral":
        turned = _quarter_turn_read(radiograph, det, side, kw)
        if turned is not None:
            return turned
    if knee_strength(det) >= TURN_TRY_BELOW:
        return det
    tries = []
    for superior in ("left", "right"):
        upright, turn = head_up(replace(radiograph, orientation=ImageOrientation.turned(
            superior, o.patient_left_x, "assumed-turned-from-landmarks")))
        tries.append((_detect_knee_learned(upright, view, side, **kw), superior, turn))
    tries = [t for t in tries if "upside_down" not in t[0].info] or tries
    best, superior, turn = max(tries, key=lambda t: knee_strength(t[0]))
    best_strength = knee_strength(best)
    if best_strength <= ROTATION_MARGIN * max(knee_strength(det), 1.0) or best_strength < TURN_MIN_STRENGTH[view]:
        return det
    note = (f"the film is read turned by a quarter turn (the head at the image's {superior}; no orientation in its "
            f"header): the network is {best_strength / max(knee_strength(det), 1e-6):.0f} times surer of the knee so")
    return replace(best, landmarks=landmarks_mapped(best.landmarks, turn.inverse), notes=best.notes + (note,),
                   info={**best.info, "superior": superior})


#: A film read as stored with less than this (:func:`knee_strength`) is read turned too. On the
#: readers' usable head-up films (shipped models, which saw them) 2 of 176 AP and 5 of 134 lateral
#: films read as stored fall below it (median 9.2 and 5.5).
TURN_TRY_BELOW = 3.0
#: A turn is kept where the network is this many times surer of the knee so (:func:`knee_strength`,
#: against at least 1) and at least :data:`TURN_MIN_STRENGTH` sure. Measured on the readers' usable
#: head-up films (shipped models, which saw them; the thresholds chosen on these films;
#: ``python scripts/knee_orientation_check.py`` prints these figures):
#:
#: * read turned by a quarter turn, an AP knee was never found (strength 0), a lateral one up to
#:   3.7; at 2.0 one head-up lateral film (IMG0003183, 0.76 as stored) would have been turned, at
#:   2.5 none;
#: * read upside down (turned by half a turn), AP knees are found nearly as surely as head up
#:   (170 of 176 films, strength up to 13.3; lateral up to 2.1): a film stored turned either way is
#:   tried both ways, and on two films whose knee is faint head up (IMG0000126, IMG0000219: 1.2
#:   and 1.3) the upside-down reading won (4.6 and 2.7). The AP minimum keeps them out;
#: * the same films stored turned either way (read as stored, then tried) are turned back on 173
#:   and 173 of 176 AP films and 46 and 94 of 134 lateral films, none upside down; the real
#:   lateral film stored turned (IMG0001421) is read 4.4 times surer turned. Lateral films now
#:   meet the lateral turn model first (:func:`_quarter_turn_read`): 129 and 129 of 134.
ROTATION_MARGIN = 2.5
TURN_MIN_STRENGTH = {"knee-ap": 6.0, "knee-lateral": 1.0}


def _quarter_turn_read(radiograph: Radiograph, det: KneeDetection, side, kw: dict) -> KneeDetection | None:
    """A lateral film without orientation tags that the lateral turn model
    (:func:`.views.lateral_knee_head`) takes for stored turned by a quarter turn (probability
    ≥ :data:`.views.QUARTER_TURN_MIN_PROBABILITY`), read turned so: kept where the network is
    surer of the knee turned than as stored, and at least :data:`TURN_MIN_STRENGTH` sure; else
    None (the film goes on as stored). On the readers' usable lateral films (the model's
    held-out probabilities; ``python scripts/knee_orientation_check.py``) it turned no head-up
    film, and turned back 129 and 129 of 134 films stored turned either way (46 and 94 by the
    network's trial alone)."""
    p = lateral_knee_head(np.asarray(radiograph.display, dtype=np.float32))
    superior = max(("left", "right"), key=lambda s: p[f"head-{s}"])
    if p[f"head-{superior}"] < QUARTER_TURN_MIN_PROBABILITY:
        return None
    o = radiograph.orientation
    upright, turn = head_up(replace(radiograph, orientation=ImageOrientation.turned(
        superior, o.patient_left_x, "assumed-turned-from-landmarks")))
    best = _detect_knee_learned(upright, "knee-lateral", side, **kw)
    strength, stored = knee_strength(best), knee_strength(det)
    if "upside_down" in best.info or strength <= stored or strength < TURN_MIN_STRENGTH["knee-lateral"]:
        return None
    note = (f"the film is read turned by a quarter turn (the head at the image's {superior}; no orientation in its "
            f"header): the lateral turn model gives that {p[f'head-{superior}']:.2f}, and the network is surer of "
            f"the knee so ({strength:.1f} against {stored:.1f} as stored)")
    return replace(best, landmarks=landmarks_mapped(best.landmarks, turn.inverse), notes=best.notes + (note,),
                   info={**best.info, "superior": superior})


def _head_down_read(radiograph: Radiograph, det: KneeDetection, view: str, side, kw: dict) -> KneeDetection:
    """An AP knee film without orientation tags that reads at least as surely upside down
    (``det``, flagged by :func:`_upside_down_checked`), read head down where the upright model
    is sure of it too (:func:`.views.knee_head_down` ≥ :data:`.views.HEAD_DOWN_MIN_PROBABILITY`);
    else ``det`` with the model's probability said. Read head down, the film is taken for turned
    by half a turn (the patient's left where a head-up film has the right); the plan's
    orientation then follows the landmarks."""
    p_down = knee_head_down(np.asarray(radiograph.display, dtype=np.float32))
    if p_down < HEAD_DOWN_MIN_PROBABILITY:
        return replace(det, notes=det.notes + (
            f"the upright model does not take the film for stored head down (probability {p_down:.2f}, below "
            f"{HEAD_DOWN_MIN_PROBABILITY:g}): read as stored",))
    o = radiograph.orientation
    down = replace(radiograph, orientation=ImageOrientation(-o.patient_left_x, 1, "assumed-turned-from-landmarks"))
    turned = _detect_knee_learned(down, view, side, **kw)
    if "upside_down" in turned.info or turned.info.get("refused") or not len(turned.landmarks):
        return replace(det, notes=det.notes + (
            f"the upright model takes the film for stored head down (probability {p_down:.2f}), but read so the "
            "knee is no surer: read as stored",))
    note = (f"the film is read upside down (the head at the image's bottom; no orientation in its header): the knee "
            f"network reads it {det.info['upside_down']:.2f} times as surely so, and the upright model gives "
            f"{p_down:.2f}")
    return replace(turned, notes=turned.notes + (note,), info={**turned.info, "head_down": p_down})


def knee_strength(det: KneeDetection) -> float:
    """How sure the network is of a detection's knee(s): the sum of its reported landmarks' raw
    peak scores (each at most 1)."""
    return float(sum(v for v in det.info.get("scores", {}).values() if v))


def _detect_knee_learned(radiograph: Radiograph, view: str, side: Side | str | None, *, model, fibula_check: bool,
                         minimum: float, fibula_model, axis_model, check_hardware: bool) -> KneeDetection:
    """:func:`detect_knee_learned` of the film as stored (head up or head down)."""
    side = checked_view_and_side(view, side)
    anatomies = AP_ANATOMIES if view == "knee-ap" else KNEE_LATERAL_ANATOMY
    sides = (side,) if side is not None else (Side.RIGHT, Side.LEFT)
    refused = refused_film(radiograph, view)
    if refused:
        missing = {LandmarkName.of(a, s): refused[0] for a in anatomies for s in sides}
        return KneeDetection(Landmarks.from_landmarks([], missing), side, (refused[1],), {"scores": {}, "refused": True})
    m = model if isinstance(model, LandmarkModel) else load_model(
        model if model is not None else knee_model_path(view), view=KNEE_MODEL)
    if view == "knee-ap" and axis_model is None and model is None:
        lateral = knee_model_path("knee-lateral")
        axis_model = lateral if lateral != knee_model_path("knee-ap") else None
    axis = axis_model if isinstance(axis_model, LandmarkModel) or axis_model is None else load_model(
        axis_model, view=KNEE_MODEL)
    display = np.asarray(radiograph.display, dtype=np.float32)
    superior = _superior(radiograph)
    peaks = predict(display, m, superior, radiograph.orientation.patient_left_x)
    if view == "knee-ap":
        det = _assemble_ap(radiograph, display, peaks, m, superior, side, fibula_model if fibula_check else False,
                           minimum, axis)
    else:
        det = _assemble_lateral(peaks, m, superior, side, minimum)
    det = replace(det, info={**det.info, "superior": superior})
    if view == "knee-ap" and radiograph.orientation.assumed:
        det = _upside_down_checked(det, display, m, peaks, superior, radiograph.orientation.patient_left_x, minimum)
    return _hardware_checked(det, display, minimum) if check_hardware else det


#: An AP knee film without orientation tags is taken for possibly stored head down where the
#: network's peaks on it read upside down (turned top to bottom) sum to at least this share of
#: theirs as stored. On the readers' 176 usable head-up AP films (shipped model, which saw them)
#: the share is 0.69 (median) and at most 0.98; the same films upside down are at least 1.02.
UPSIDE_DOWN_SHARE = 1.0
#: The confidence an AP knee that reads as surely upside down keeps (times its own).
UPSIDE_DOWN_PENALTY = 0.5


def _upside_down_checked(det: KneeDetection, display: np.ndarray, model: LandmarkModel, peaks: list[Peak],
                         superior: str, plx: int, minimum: float) -> KneeDetection:
    """``det``, its confidences lowered and a note added, where the AP knee film reads at least
    as surely upside down (:data:`UPSIDE_DOWN_SHARE`): an AP knee is found nearly as surely
    upside down, the femur then taken for the tibia, so a film stored head down without tags
    would give confident points on the wrong bones."""
    found = {lm.name: lm for lm in det.landmarks}
    if not found:
        return det
    other = predict(display, model, "down" if superior == "up" else "up", plx)
    share = sum(p.score for p in other) / max(sum(p.score for p in peaks), 1e-6)
    if share < UPSIDE_DOWN_SHARE:
        return det
    missing = dict(det.landmarks.missing)
    kept = lowered(found, UPSIDE_DOWN_PENALTY, minimum, UPSIDE_DOWN_FINDING, missing)
    note = (f"{UPSIDE_DOWN_FINDING} ({share:.2f} times as surely; no orientation in the image header): the film may "
            "be stored head down, the femur taken for the tibia; check it, or give its Patient Orientation; "
            "confidences lowered")
    return replace(det, landmarks=Landmarks.from_landmarks(kept.values(), missing), notes=det.notes + (note,),
                   info={**det.info, "upside_down": share})


def _hardware_checked(det: KneeDetection, display: np.ndarray, minimum: float) -> KneeDetection:
    """``det``, with the landmarks of the knee nearest the metal lowered and a note, where the
    hardware model sees metal on the film (:func:`.hardware.find_hardware`)."""
    from .hardware import HARDWARE_PENALTY, find_hardware

    found = {lm.name: lm for lm in det.landmarks}
    if not found:
        return det
    guess = find_hardware(display)
    if not guess.found:
        return det
    sides = {lm.name.side for lm in found.values()}
    near = min(sides, key=lambda s: min(math.hypot(lm.x - guess.x, lm.y - guess.y)
                                        for lm in found.values() if lm.name.side is s))
    where = f"near the {near.value} knee" if len(sides) > 1 else "at the knee"
    missing = dict(det.landmarks.missing)
    kept = lowered(found, HARDWARE_PENALTY, minimum, HARDWARE_FINDING, missing,
                   [n for n in found if n.side is near])
    note = (f"{HARDWARE_FINDING} {where} (plate, nail, screws, wires or a prosthesis; probability "
            f"{guess.probability:.2f}): the landmarks there are less reliable, their confidences lowered")
    return replace(det, landmarks=Landmarks.from_landmarks(kept.values(), missing), notes=det.notes + (note,))


def _with_axis(peaks: list[Peak], display: np.ndarray, model: LandmarkModel, axis: LandmarkModel | None,
               superior: str, plx: int) -> list[Peak]:
    """The AP film's peaks (``peaks``: ``model``'s on ``display``) with the axis points from
    ``axis`` (the lateral films' 320-px network, which places them along the shaft as the readers
    do). The axis points decide nothing about where the knees are, so this second network runs
    only on the reading that is kept."""
    if axis is None or axis is model:
        return peaks
    by = {p.channel: p for p in predict(display, axis, superior, plx)}
    return [by[p.channel] if p.channel.startswith(AXIS_CHANNEL_PREFIXES) else p for p in peaks]


def _confident(found: dict[str, tuple[np.ndarray, float, float]], problems: dict[str, str], minimum: float,
               side: Side, scores: dict, out: list[Landmark], missing: dict[LandmarkName, str]) -> None:
    """Penalise the points that break a rule; report the rest (or say why not)."""
    for anatomy, (xy, conf, raw) in found.items():
        name = LandmarkName.of(anatomy, side)
        why = problems.get(anatomy)
        if why:
            conf *= PENALTY
        if conf < minimum:
            missing[name] = f"inconsistent with the anatomy ({why})" if why else low_confidence_reason(conf, minimum)
            continue
        out.append(Landmark(name, float(xy[0]), float(xy[1]), float(np.clip(conf, 0.0, 1.0)), LandmarkSource.AUTO))
        scores[name.value] = raw


def _knees(peaks: list[Peak], model: LandmarkModel, offset=(0.0, 0.0)):
    """Each side's points ``{anatomy: (xy, confidence, raw score)}`` from the network's peaks
    (shifted by ``offset``), the knees whose joint line is sure enough, and each side's median
    confidence and raw score of its joint-line points. Two knees less than a knee apart are one
    knee named twice: the weaker is dropped."""
    by = {p.channel: p for p in peaks}
    knees: dict[Side, dict[str, tuple[np.ndarray, float, float]]] = {}
    strength: dict[Side, float] = {}
    raw: dict[Side, float] = {}
    for s in Side:
        pts = {}
        for a in AP_ANATOMIES:
            p = by.get(f"{a}_{s.value}")
            if p is not None:
                pts[a] = (np.array([p.x, p.y]) + offset, model.confidence(a, p.score), p.score)
        joint = [pts[a][1] for a in JOINT_LINE if a in pts]
        strength[s] = float(np.median(joint)) if joint else 0.0
        raw[s] = float(np.median([pts[a][2] for a in JOINT_LINE if a in pts])) if joint else 0.0
        if strength[s] >= KNEE_MIN_CONFIDENCE and len(joint) == len(JOINT_LINE):
            knees[s] = pts
    if len(knees) == 2:
        a, b = knees[Side.RIGHT], knees[Side.LEFT]
        apart = _dist(_mid(a, JOINT_LINE), _mid(b, JOINT_LINE))
        width = max(_dist(a["tibial_plateau_medial"][0], a["tibial_plateau_lateral"][0]),
                    _dist(b["tibial_plateau_medial"][0], b["tibial_plateau_lateral"][0]))
        if apart < 1.2 * width:
            weaker = min(knees, key=lambda k: (strength[k], raw[k]))
            del knees[weaker]
    return knees, strength, raw


#: A knee found in one half of a film (:func:`_two_knees`) needs at least this median raw
#: score of its joint-line points.
HALF_MIN_SCORE = 0.5


def _two_knees(radiograph: Radiograph, display: np.ndarray, model: LandmarkModel, superior: str,
               axis: LandmarkModel | None = None):
    """Both knees of a film that shows two, read one half of the film at a time (the network
    reads one knee per side channel, and two knees side by side confuse its channels), named
    by where they lie (each knee's lateral side faces away from the other knee); None when the
    halves do not each show one clear knee, a knee apart."""
    down = _down(superior)
    plx = radiograph.orientation.patient_left_x
    found, halves = [], []
    for lo, hi in film_halves(display):
        peaks = predict(display[:, lo:hi], model, superior, plx)
        knees, _, raw = _knees(peaks, model, np.array([lo, 0.0]))
        if not knees:
            return None
        seen = max(knees, key=lambda k: raw[k])
        pts = knees[seen]
        if raw[seen] < HALF_MIN_SCORE or ap_problems({a: v[0] for a, v in pts.items() if a in JOINT_LINE},
                                                     _lateral_dir(pts, down), down):
            return None
        found.append((seen, pts))
        halves.append((lo, hi, peaks))
    (_, a), (_, b) = found
    ca, cb = _mid(a, JOINT_LINE), _mid(b, JOINT_LINE)
    width = max(_dist(a["tibial_plateau_medial"][0], a["tibial_plateau_lateral"][0]),
                _dist(b["tibial_plateau_medial"][0], b["tibial_plateau_lateral"][0]))
    cut = 0.5 * (halves[0][1] + halves[1][0])  # where the film was cut: a knee on either side
    if _dist(ca, cb) < 1.5 * width or not (ca[0] < cut < cb[0]):
        return None
    out = {}
    # the knee in the film's first half has its lateral side towards decreasing x, the other's
    # towards increasing x
    for (seen, _), (lo, hi, peaks), lateral_x in zip(found, halves, (-1, 1)):
        pts = _knees(_with_axis(peaks, display[:, lo:hi], model, axis, superior, plx), model,
                     np.array([lo, 0.0]))[0][seen]
        name = side_from_lateral(radiograph, lateral_x)
        out[name] = pts if name is seen else {_swap_ml(k): v for k, v in pts.items()}
    return out


#: Where a film of both knees is cut in two (:func:`film_halves`): the darkest column (the gap
#: between the knees) of the middle part of the film's width, each half reaching this share of
#: the width past it.
HALF_SEARCH = (0.3, 0.7)
HALF_OVERLAP = 0.03


def film_halves(display: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """The column ranges ``(lo, hi)`` of the two halves of a film of both knees: cut at the gap
    between the knees (the darkest column, smoothed over 2 % of the width, between
    :data:`HALF_SEARCH` of it), each half reaching :data:`HALF_OVERLAP` of the width past it.

    Until 7 December 2026 the halves were the film's first and last 60 %: where the knees stand
    close, a half then held one knee and the near side of the other, and the network joined the
    two (IMG0001325: a condyle and a plateau margin on the other knee).

    >>> film = np.zeros((50, 100)); film[:, 10:40] = 1.0; film[:, 62:90] = 1.0   # two bright knees
    >>> film_halves(film)
    ((0, 54), (48, 100))
    """
    from ..errors import LandmarkError

    if np.ndim(display) != 2 or min(np.shape(display)) < 8:
        raise LandmarkError(f"film halves: the image must be a 2-D array of at least 8 x 8 pixels, not {np.shape(display)}")
    w = display.shape[1]
    cols = np.asarray(display, np.float64).mean(axis=0)
    k = max(1, int(round(0.02 * w)))
    smooth = np.convolve(cols, np.ones(k) / k, mode="same")
    lo, hi = int(HALF_SEARCH[0] * w), int(HALF_SEARCH[1] * w)
    band = smooth[lo:hi]
    darkest = np.flatnonzero(band <= band.min() + 1e-9)
    gap = lo + int(round(float(np.median(darkest))))
    m = int(round(HALF_OVERLAP * w))
    return (0, min(w, gap + m)), (max(0, gap - m), w)


def _assemble_ap(radiograph: Radiograph, display: np.ndarray, peaks: list[Peak], model: LandmarkModel,
                 superior: str, side: Side | None, fibula, minimum: float,
                 axis: LandmarkModel | None = None) -> KneeDetection:
    """The AP knees from the network's peaks. ``fibula``: the fibula model to orient a lone
    knee (None: the shipped one; False: the network's own orientation)."""
    down = _down(superior)
    notes: list[str] = []
    both = _two_knees(radiograph, display, model, superior, axis)
    if both is not None:
        knees = both
    else:
        knees, _, _ = _knees(_with_axis(peaks, display, model, axis, superior, radiograph.orientation.patient_left_x),
                             model)
    if len(knees) == 1 and both is None:
        (seen, pts), = knees.items()
        lateral_x = 1 if float(_lateral_dir(pts, down)[0]) > 0 else -1  # +1: towards increasing x
        if fibula is not False:  # the fibula lies laterally: it orients medial and lateral when it is clear
            fib, p = fibula_side(_head_up(display, superior), fibula)
            if fib is not None and lateral_x != fib:
                pts, lateral_x = {_swap_ml(k): v for k, v in pts.items()}, fib
                notes.append(f"medial and lateral follow the fibula (probability {p:.2f}), not the network")
        anatomical = side_from_lateral(radiograph, lateral_x)
        name = side or anatomical
        if side is not None and side is not anatomical:
            notes.append(f"the {side.value} knee as given; the film shows a {anatomical.value} knee as displayed "
                         "(a mirrored display, or a wrong side marker): medial and lateral follow the anatomy")
        knees = {name: pts}
    elif side is not None and side in knees:  # two knees, one asked for
        knees = {side: knees[side]}
    found: list[Landmark] = []
    missing: dict[LandmarkName, str] = {}
    scores: dict[str, float] = {}
    wanted = (side,) if side is not None else tuple(Side)
    for s in wanted:
        if s not in knees:
            shown = [k.value for k in knees]
            why = f"{s.value} knee not found in the image" + (f" (it shows the {shown[0]} knee)" if shown else "")
            for a in AP_ANATOMIES:
                missing[LandmarkName.of(a, s)] = why
            continue
        pts = knees[s] = fitted_axes(knees[s], display)
        problems = ap_problems({a: v[0] for a, v in pts.items()}, _lateral_dir(pts, down), down)
        _confident(pts, problems, minimum, s, scores, found, missing)
    reported = tuple(s for s in Side if s in knees)
    if not found:
        notes.append("no knee found: not an AP knee radiograph, or the knee is not in the image")
    log.info("knee-ap (learned): %d found, %d missing", len(found), len(missing))
    return KneeDetection(Landmarks.from_landmarks(found, missing), reported[0] if len(reported) == 1 else side,
                         tuple(notes), {"scores": scores, "knees": [s.value for s in reported]})


def _assemble_lateral(peaks: list[Peak], model: LandmarkModel, superior: str, side: Side, minimum: float
                      ) -> KneeDetection:
    by = {p.channel: p for p in peaks}
    pts = {}
    for a in KNEE_LATERAL_ANATOMY:
        p = by.get(LATERAL_PREFIX + a)
        if p is not None:
            pts[a] = (np.array([p.x, p.y]), model.confidence(LATERAL_PREFIX + a, p.score), p.score)
    found: list[Landmark] = []
    missing: dict[LandmarkName, str] = {}
    scores: dict[str, float] = {}
    problems = lateral_problems({a: v[0] for a, v in pts.items()})
    _confident(pts, problems, minimum, side, scores, found, missing)
    notes = [] if found else ["no knee found: not a lateral knee radiograph, or the knee is not in the image"]
    log.info("knee-lateral (learned): %d found, %d missing", len(found), len(missing))
    return KneeDetection(Landmarks.from_landmarks(found, missing), side, tuple(notes), {"scores": scores})


# --------------------------------------------------------------------------- geometry

#: Each shaft's width in the knee's epicondylar width (:func:`knee_width`) on an AP film: where
#: :func:`fitted_axes` looks for its cortices. On the readers' AP films the angles hardly change
#: between 0.3 and 0.5 (``docs/accuracy.md``, "Axis points on the shaft's midline").
SHAFT_WIDTH_SHARE = {"femoral": 0.42, "tibial": 0.38}


def knee_width(p: dict[str, np.ndarray]) -> float | None:
    """An AP knee's own size in pixels: its epicondylar width, else its plateau's; ``None``
    where neither pair of points is there.

    >>> knee_width({"femoral_epicondyle_medial": np.array([0., 0.]), "femoral_epicondyle_lateral": np.array([80., 0.])})
    80.0
    """
    from ..errors import LandmarkError

    if not isinstance(p, Mapping):
        raise LandmarkError(f"knee width: the points must be a mapping of anatomy to (x, y), not {type(p).__name__}")
    for a, b in (("femoral_epicondyle_medial", "femoral_epicondyle_lateral"),
                 ("tibial_plateau_medial", "tibial_plateau_lateral")):
        if a in p and b in p:
            d = _dist(point_xy(p[a], a), point_xy(p[b], b))
            if d > 0:
                return d
    return None


def fitted_axes(pts: dict, display: np.ndarray) -> dict:
    """``pts`` (``{anatomy: (xy, confidence, score)}`` of one AP knee) with each anatomical axis's
    two points moved onto the shaft's midline at their levels (:func:`.common.shaft_midline`):
    readers place them midway between the cortices, and a line through many such midpoints
    turns less than one through the network's two points. An axis whose midline is not clear
    keeps the network's points. Not used on lateral films: there it changed the posterior tibial
    slope's agreement with the readers by nothing measurable (``docs/accuracy.md``).

    >>> img = np.zeros((300, 200), np.float32); img[:, 85:115] = 1.0; img[:, 130:170] = 1.0  # a shaft, bone beside it
    >>> pts = {"knee_femoral_axis_proximal": (np.array([103., 20.]), 0.9, 1.0),
    ...        "knee_femoral_axis_distal": (np.array([97., 180.]), 0.9, 1.0),
    ...        "femoral_epicondyle_medial": (np.array([60., 250.]), 0.9, 1.0),
    ...        "femoral_epicondyle_lateral": (np.array([140., 250.]), 0.9, 1.0)}
    >>> [round(float(v)) for v in fitted_axes(pts, img)["knee_femoral_axis_distal"][0]]
    [100, 180]
    """
    from ..errors import LandmarkError

    if not isinstance(pts, Mapping) or not all(isinstance(v, tuple) and len(v) == 3 for v in pts.values()):
        raise LandmarkError("fitted axes: the points must be a mapping of anatomy to (xy, confidence, score)")
    width = knee_width({a: v[0] for a, v in pts.items()})
    if width is None:
        return pts
    out = dict(pts)
    for bone, share in SHAFT_WIDTH_SHARE.items():
        prox, dist = f"knee_{bone}_axis_proximal", f"knee_{bone}_axis_distal"
        if prox not in pts or dist not in pts or _dist(pts[prox][0], pts[dist][0]) < 1.0:
            continue
        fit = shaft_midline(display, pts[prox][0], pts[dist][0], share * width)
        if fit is not None:
            out[prox] = (np.array(fit.proximal_xy), *pts[prox][1:])
            out[dist] = (np.array(fit.distal_xy), *pts[dist][1:])
    return out


def _dist(a, b) -> float:
    return float(np.hypot(*(np.asarray(a, float) - np.asarray(b, float))))


def _mid(pts: dict, anatomies) -> np.ndarray:
    return np.mean([pts[a][0] for a in anatomies if a in pts], axis=0)


def _head_up(display: np.ndarray, superior: str) -> np.ndarray:
    from .network import canonical_transform

    return display if superior == "up" else canonical_transform(display.shape, superior).array(display)


def _lateral_dir(pts: dict, down: np.ndarray) -> np.ndarray:
    """The unit vector (image x, y) towards the knee's lateral side: across the limb, towards
    the lateral joint-line points."""
    across = np.array([-down[1], down[0]])
    d = _mid(pts, ("femoral_condyle_lateral", "tibial_plateau_lateral")) - \
        _mid(pts, ("femoral_condyle_medial", "tibial_plateau_medial"))
    return across if float(d @ across) >= 0 else -across


def ap_problems(p: dict[str, np.ndarray], lateral: np.ndarray, down: np.ndarray) -> dict[str, str]:
    """Why each point of one AP knee breaks the anatomy (``{anatomy: reason}``; none: {}).

    ``p`` maps anatomies to image points, ``lateral`` and ``down`` are unit vectors towards the
    knee's lateral side and the feet. Sizes are in the knee's width ``u`` (the plateau's, else
    the epicondyles'); the rules catch a point on the wrong bone or the wrong side, not anatomy
    at the edge of normal.

    >>> pts = {"femoral_condyle_medial": np.array([60., 100.]), "femoral_condyle_lateral": np.array([20., 100.]),
    ...        "tibial_plateau_medial": np.array([65., 104.]), "tibial_plateau_lateral": np.array([15., 104.])}
    >>> ap_problems(pts, np.array([-1., 0.]), np.array([0., 1.]))
    {}
    >>> pts["tibial_plateau_lateral"] = np.array([15., 60.])     # above the condyle
    >>> sorted(ap_problems(pts, np.array([-1., 0.]), np.array([0., 1.])))
    ['femoral_condyle_lateral', 'tibial_plateau_lateral']
    """
    out: dict[str, str] = {}

    def flag(names, why):
        for n in names:
            if n in p:
                out.setdefault(n, why)

    widths = [_dist(p[f"{a}_medial"], p[f"{a}_lateral"]) for a in ("tibial_plateau", "femoral_epicondyle")
              if f"{a}_medial" in p and f"{a}_lateral" in p]
    if widths:
        _sized_problems(p, lateral, down, max(widths), flag)
    axis_problems(p, down, flag, set(out))
    return out


def _sized_problems(p: dict[str, np.ndarray], lateral: np.ndarray, down: np.ndarray, u: float, flag) -> None:
    """The rules of :func:`ap_problems` judged in the knee's width ``u``."""

    def dn(a, b):  # how far b lies below a, in knee widths
        return float((p[b] - p[a]) @ down) / u

    for s in ("medial", "lateral"):
        c, t = f"femoral_condyle_{s}", f"tibial_plateau_{s}"
        if c in p and t in p and not (-0.06 <= dn(c, t) <= 0.3):
            flag((c, t), f"the {s} condyle is not just above the {s} plateau")
        e = f"femoral_epicondyle_{s}"
        if e in p and c in p and not (0.0 < dn(e, c) < 0.6):
            flag((e,), f"the {s} epicondyle is not above its condyle")
        outward = lateral if s == "lateral" else -lateral
        if e in p and c in p and float((p[e] - p[c]) @ outward) / u < -0.03:
            flag((e,), "the epicondyles are not at the widest part of the distal femur")
    for a in ("femoral_condyle", "tibial_plateau", "femoral_epicondyle"):
        med, lat = p.get(f"{a}_medial"), p.get(f"{a}_lateral")
        if med is not None and lat is not None and float((lat - med) @ lateral) / u < 0.25:
            flag((f"{a}_medial", f"{a}_lateral"), "the lateral point is not lateral of the medial one")
    if all(k in p for k in ("femoral_epicondyle_medial", "femoral_epicondyle_lateral", "femoral_condyle_medial",
                            "femoral_condyle_lateral")):
        if _dist(p["femoral_epicondyle_medial"], p["femoral_epicondyle_lateral"]) < 0.9 * _dist(
                p["femoral_condyle_medial"], p["femoral_condyle_lateral"]):
            flag(("femoral_epicondyle_medial", "femoral_epicondyle_lateral"),
                 "the epicondyles are not at the widest part of the distal femur")
    joint = [p[a] for a in JOINT_LINE if a in p]
    if not joint:
        return
    j = np.mean(joint, axis=0)
    fem = [a for a in ("knee_femoral_axis_distal", "knee_femoral_axis_proximal") if a in p]
    tib = [a for a in ("knee_tibial_axis_proximal", "knee_tibial_axis_distal") if a in p]
    for a in fem:
        if float((j - p[a]) @ down) / u < 0.25:
            flag((a,), "a femoral axis point not above the joint line")
    for a in tib:
        if float((p[a] - j) @ down) / u < 0.25:
            flag((a,), "a tibial axis point not below the joint line")
    for a in fem + tib:
        off = abs(float((p[a] - j) @ lateral)) / u
        reach = abs(float((p[a] - j) @ down)) / u
        if off > 0.45 + 0.2 * reach:
            flag((a,), "an axis point outside the shaft")
    if len(fem) == 2 and dn("knee_femoral_axis_proximal", "knee_femoral_axis_distal") < 0.1:
        flag(fem, "the femoral axis points are in the wrong order")
    if len(tib) == 2 and dn("knee_tibial_axis_proximal", "knee_tibial_axis_distal") < 0.1:
        flag(tib, "the tibial axis points are in the wrong order")
    if "femoral_knee_center" in p and "tibial_knee_center" in p and dn("femoral_knee_center", "tibial_knee_center") < -0.08:
        flag(("femoral_knee_center", "tibial_knee_center"), "the femoral knee centre is below the tibial one")
    for a, lo, hi in (("femoral_knee_center", -0.35, 0.1), ("tibial_knee_center", -0.1, 0.35)):
        if a in p and not (lo <= float((p[a] - j) @ down) / u <= hi and abs(float((p[a] - j) @ lateral)) / u < 0.3):
            flag((a,), "a knee centre away from the joint")


#: An anatomical axis of an AP knee film (its proximal to its distal point) more than this far
#: from the limb's long axis (the film's, head up) is on no one bone. The readers' femoral axes
#: lie within 16° of it and their tibial axes within 10° (200 and 208 knees of
#: ``datasets/fracatlas-knee``); the shipped network joined the two femora of a film of both knees
#: by an axis 75° from it (IMG0001325).
MAX_AXIS_TILT_DEG = 30.0
#: ``(bone, proximal, distal, medial, lateral, margin)``: each axis and the joint-line points
#: that lie on either side of it, each at least ``margin`` of their distance apart from it. On
#: every knee the readers read, each condyle lies on its side of the femoral axis, at least 0.14
#: of the condyles' distance from it (the axis runs nearer one condyle in a varus or valgus
#: knee), and each plateau margin on its side of the tibial axis, at least 0.33 from it.
AXIS_STRADDLES = (("femoral", "knee_femoral_axis_proximal", "knee_femoral_axis_distal", "femoral_condyle_medial",
                   "femoral_condyle_lateral", 0.05),
                  ("tibial", "knee_tibial_axis_proximal", "knee_tibial_axis_distal", "tibial_plateau_medial",
                   "tibial_plateau_lateral", 0.2))


def axis_problems(p: dict[str, np.ndarray], down: np.ndarray, flag, flagged=frozenset()) -> None:
    """Flag (``flag(names, reason)``) an AP knee's axis that does not run along the limb, and an
    axis and joint-line pair that do not straddle each other: a point on the other knee or bone.
    An axis with a point already ``flagged`` (by another rule) is not held against the joint line.

    >>> p = {"knee_femoral_axis_proximal": np.array([50., 0.]), "knee_femoral_axis_distal": np.array([52., 60.]),
    ...      "femoral_condyle_medial": np.array([70., 100.]), "femoral_condyle_lateral": np.array([30., 100.])}
    >>> out = {}
    >>> axis_problems(p, np.array([0., 1.]), lambda names, why: out.update(dict.fromkeys(names, why)))
    >>> out
    {}
    >>> p["femoral_condyle_lateral"] = np.array([250., 100.])  # on the other knee
    >>> axis_problems(p, np.array([0., 1.]), lambda names, why: out.update(dict.fromkeys(names, why)))
    >>> sorted(out)[:2], out["femoral_condyle_medial"][:41]
    (['femoral_condyle_lateral', 'femoral_condyle_medial'], 'the femoral condyles do not lie on either')
    """
    for bone, prox, dist, med, lat, margin in AXIS_STRADDLES:
        a, b = p.get(prox), p.get(dist)
        if a is None or b is None or _dist(a, b) == 0.0 or prox in flagged or dist in flagged:
            continue
        d = (b - a) / _dist(a, b)
        tilt = math.degrees(math.acos(float(np.clip(d @ down, -1.0, 1.0))))
        if tilt > MAX_AXIS_TILT_DEG:
            flag((prox, dist), f"the {bone} axis runs {tilt:.0f}° from the limb's long axis (at most "
                               f"{MAX_AXIS_TILT_DEG:.0f}°)")
            continue
        m, l_ = p.get(med), p.get(lat)
        if m is None or l_ is None:
            continue
        sides = [float(d[0] * (q - a)[1] - d[1] * (q - a)[0]) for q in (m, l_)]
        if sides[0] * sides[1] >= 0 or min(map(abs, sides)) < margin * _dist(m, l_):
            what = "condyles" if bone == "femoral" else "plateau margins"
            flag((med, lat, prox, dist), f"the {bone} {what} do not lie on either side of the {bone} axis (a point on "
                                         "the other knee or bone)")


def lateral_problems(p: dict[str, np.ndarray]) -> dict[str, str]:
    """Why each point of a lateral knee breaks the anatomy (``{anatomy: reason}``).

    Directions come from the points themselves (a flexed knee has no fixed "down"): the
    femoral axis (proximal → distal point), the tibial axis and the plateau (anterior →
    posterior rim). Which side of the femoral axis is posterior is voted by the anterior cortex,
    the posterior condyle, the posterior cortex and the plateau rims' order across the tibia
    (posterior is the same turn from each bone's distal direction); a point on the wrong side is
    flagged (an anterior cortex found on the posterior cortex: the commonest miss on real
    films), and where the vote is tied, both the anterior cortex and the posterior condyle are.
    Each axis's point further from the knee must be so by :data:`AXIS_ORDER_MARGIN` widths.
    Sizes are in the femoral AP width ``u`` (anterior cortex → posterior condyle).

    >>> pts = {"knee_femoral_axis_proximal": np.array([0., 0.]), "knee_femoral_axis_distal": np.array([0., 60.]),
    ...        "femoral_anterior_cortex": np.array([-20., 70.]), "femoral_posterior_condyle": np.array([30., 110.]),
    ...        "tibial_plateau_anterior": np.array([-15., 125.]), "tibial_plateau_posterior": np.array([30., 125.]),
    ...        "knee_tibial_axis_proximal": np.array([0., 160.]), "knee_tibial_axis_distal": np.array([0., 220.])}
    >>> lateral_problems(pts)
    {}
    >>> pts["femoral_posterior_condyle"] = np.array([-40., 110.])     # on the anterior side
    >>> sorted(lateral_problems(pts))
    ['femoral_posterior_condyle']
    >>> pts["femoral_posterior_condyle"] = np.array([30., 110.])
    >>> pts["femoral_anterior_cortex"] = np.array([12., 70.])         # on the posterior cortex
    >>> sorted(lateral_problems(pts))
    ['femoral_anterior_cortex']
    """
    out: dict[str, str] = {}

    def flag(names, why):
        for n in names:
            if n in p:
                out.setdefault(n, why)

    fp, fd = p.get("knee_femoral_axis_proximal"), p.get("knee_femoral_axis_distal")
    ac, pc = p.get("femoral_anterior_cortex"), p.get("femoral_posterior_condyle")
    if fp is None or fd is None or ac is None or pc is None:
        return out
    u = _dist(ac, pc)
    if u <= 0:
        return out
    d = (fd - fp) / max(_dist(fd, fp), 1e-9)
    n0 = np.array([-d[1], d[0]])
    pcx = p.get("femoral_posterior_cortex")
    ta, tp = p.get("tibial_plateau_anterior"), p.get("tibial_plateau_posterior")
    # each point's vote for the posterior side (+1: along n0)
    votes = {"femoral_anterior_cortex": -np.sign(float((ac - fd) @ n0)),
             "femoral_posterior_condyle": np.sign(float((pc - fd) @ n0))}
    if pcx is not None:
        votes["femoral_posterior_cortex"] = np.sign(float((pcx - fp) @ n0))
    ya, yb = p.get("knee_tibial_axis_proximal"), p.get("knee_tibial_axis_distal")
    if ta is not None and tp is not None and ya is not None and yb is not None and _dist(ya, yb) > 0:
        # the rims' order says which turn from a bone's distal direction is posterior: the same
        # turn on the tibia as on the femur, whatever the flexion
        t = (yb - ya) / _dist(ya, yb)
        votes["tibial_plateau_posterior"] = np.sign(float((tp - ta) @ np.array([-t[1], t[0]])))
    posterior = np.sign(sum(votes.values()))
    if posterior == 0:
        flag(("femoral_anterior_cortex", "femoral_posterior_condyle"),
             "the anterior cortex and the posterior condyle are on the same side of the femoral axis")
        posterior = votes["femoral_posterior_condyle"] or 1.0
    wrong = {a for a, v in votes.items() if v != posterior}
    n = -posterior * n0  # towards anterior
    if "femoral_anterior_cortex" in wrong:
        flag(("femoral_anterior_cortex",), "the anterior cortex is on the posterior side of the femoral axis")
        _lateral_tibia_problems(p, out, fd, n, None, d)
    else:
        if _dist(fd, fp) < 0.3 * u:
            flag(("knee_femoral_axis_proximal", "knee_femoral_axis_distal"), "the femoral axis points are too close")
        if "femoral_posterior_condyle" in wrong:
            flag(("femoral_posterior_condyle",), "the posterior condyle is not posterior of the femoral axis")
        if float((pc - fd) @ d) < 0:
            flag(("femoral_posterior_condyle",), "the posterior condyle is not distal of the femoral axis points")
        if "femoral_posterior_cortex" in wrong:
            flag(("femoral_posterior_cortex",), "the posterior cortex is not posterior of the femoral axis")
        _lateral_tibia_problems(p, out, fd, n, u, d)
    _lateral_axis_order(p, u, flag)
    return out


#: On a lateral film each axis's point further from the knee is at least this many femoral AP
#: widths further from it than the other (the knee: the posterior condyle and the plateau rims'
#: mean). The readers': at least 0.33 (femur, 182 knees) and 0.55 (tibia, 183 knees). The
#: network read the femur of a knee flexed 70° backwards (IMG0000139: its proximal femoral axis
#: point at the condyles, 122 % of the width from the reading, at 0.82).
AXIS_ORDER_MARGIN = 0.1


def _lateral_axis_order(p: dict[str, np.ndarray], u: float, flag) -> None:
    """Flag a lateral film's axis whose points are in the wrong order: the proximal femoral (the
    distal tibial) point not the further from the knee by :data:`AXIS_ORDER_MARGIN` widths."""
    knee = [p[a] for a in ("femoral_posterior_condyle", "tibial_plateau_anterior", "tibial_plateau_posterior") if a in p]
    if not knee:
        return
    j = np.mean(knee, axis=0)
    for bone, far, near in (("femoral", "knee_femoral_axis_proximal", "knee_femoral_axis_distal"),
                            ("tibial", "knee_tibial_axis_distal", "knee_tibial_axis_proximal")):
        if far in p and near in p and (_dist(p[far], j) - _dist(p[near], j)) / u < AXIS_ORDER_MARGIN:
            flag((far, near), f"the {bone} axis points are in the wrong order (the {far.rsplit('_', 1)[1]} one "
                              "is not the further from the knee)")


#: A lateral film's plateau depth (anterior to posterior rim) in femoral AP widths: the readers'
#: 0.28-0.80 on 117 knees.
PLATEAU_DEPTH = (0.2, 1.5)
#: The plateau's rims run from anterior to posterior across the tibia: (posterior - anterior rim)
#: along the tibia's anterior direction is below minus this share of their distance (the readers':
#: at most -0.80 on 126 knees; the plateau lies nearly across the tibial axis). Until 7 December
#: 2026 the rims were judged against the *femur's* anterior direction, which a knee flexed past
#: 90° turns over: the readers' own rims broke that rule on 51 of those 126 knees, and the
#: detector's rims were dropped on about as many films (found on 54 %).
PLATEAU_ACROSS_TIBIA = 0.5
#: A lateral film's tibial axis point lies beyond the plateau seen from the femur: the cosine of
#: the angle between (point - plateau centre) and (plateau centre - distal femoral axis point) is
#: above this (the readers' 234 points: at least 0.02, knees flexed up to 127°), and within
#: :data:`TIBIA_REACH` femoral AP widths of the plateau (the readers': at most 3.0). The shipped
#: network put one in the soft tissue above a knee flexed 70° (IMG0000139, at 0.79).
TIBIA_BEYOND_COS = -0.3
TIBIA_REACH = 4.5


def _lateral_tibia_problems(p: dict[str, np.ndarray], out: dict[str, str], fd: np.ndarray, n: np.ndarray,
                            u: float | None, femoral_dir: np.ndarray) -> dict[str, str]:
    """The plateau rims' and tibial axis points' part of :func:`lateral_problems` (``n``
    towards anterior at the femur, whose axis runs along ``femoral_dir``; the checks in the
    femoral AP width ``u`` skipped without one)."""

    def flag(names, why):
        for name in names:
            if name in p:
                out.setdefault(name, why)

    pc = p["femoral_posterior_condyle"]
    ta, tp = p.get("tibial_plateau_anterior"), p.get("tibial_plateau_posterior")
    if ta is not None and tp is not None:
        if u is not None and not (PLATEAU_DEPTH[0] <= _dist(ta, tp) / u <= PLATEAU_DEPTH[1]):
            flag(("tibial_plateau_anterior", "tibial_plateau_posterior"), "the plateau's depth is implausible")
        mid = 0.5 * (ta + tp)
        if u is not None and _dist(mid, pc) > 1.2 * u:
            flag(("tibial_plateau_anterior", "tibial_plateau_posterior"), "the plateau is away from the condyles")
        for a, b in (("knee_tibial_axis_proximal", None), ("knee_tibial_axis_distal", "knee_tibial_axis_proximal")):
            q = p.get(a)
            if q is None:
                continue
            if _dist(q, fd) < _dist(mid, fd):
                flag((a,), "a tibial axis point not beyond the plateau")
            elif float((q - mid) @ (mid - fd)) < TIBIA_BEYOND_COS * _dist(q, mid) * _dist(mid, fd):
                flag((a,), "a tibial axis point on the femur's side of the plateau")
            if u is not None and _dist(q, mid) > TIBIA_REACH * u:
                flag((a,), "a tibial axis point far from the knee")
            if b is not None and b in p and _dist(q, mid) < _dist(p[b], mid):
                flag((a,), "the tibial axis points are in the wrong order")
        tibia = ("knee_tibial_axis_proximal", "knee_tibial_axis_distal")
        if all(a in p and a not in out for a in tibia) and _dist(p[tibia[0]], p[tibia[1]]) > 0:
            # anterior on the tibia is the same turn from its distal direction as on the femur
            # (``n`` from the femoral axis ``fd - fp``), whatever the knee's flexion
            t = (p[tibia[1]] - p[tibia[0]]) / _dist(p[tibia[0]], p[tibia[1]])
            sense = np.sign(float(n @ np.array([-femoral_dir[1], femoral_dir[0]]))) or 1.0
            n_tibia = sense * np.array([-t[1], t[0]])
            if float((tp - ta) @ n_tibia) > -PLATEAU_ACROSS_TIBIA * _dist(ta, tp):
                flag(("tibial_plateau_anterior", "tibial_plateau_posterior"),
                     "the plateau rims do not run from anterior to posterior across the tibia")
    return out


_ = math  # math is used by the doctest
