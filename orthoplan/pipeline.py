"""The one place that knows the order of the stages.

``load → calibrate → detect landmarks → measure → (template) → report → store``

Each stage is a plain function of :mod:`orthoplan.model` values; this module composes them
and nothing else does. Every step can be re-run alone: after a surgeon moves one
landmark, :func:`update_landmarks` re-measures without touching the image.

Examples
--------
>>> from orthoplan.phantoms import pelvis as phantom
>>> case = phantom.make_pelvis(seed=1, rows=500, columns=600, detector_spacing_mm=0.75)
>>> rad = load_radiograph(case.dataset)
>>> plan = plan_radiograph(rad, landmarks=case.landmarks)
>>> bool(abs(plan.measurements["lld_teardrop_mm"].value - case.measurements["lld_teardrop_mm"]) < 0.05)
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, NamedTuple

from . import __version__
from .model import (
    Calibration,
    ImageOrientation,
    Landmark,
    Landmarks,
    MARKER_CONFLICT_FINDING,
    MIRRORED_FINDING,
    Measurements,
    Plan,
    OTHER_VIEW_FINDING,
    TURNED_FINDING,
    Radiograph,
    SideMarker,
)

log = logging.getLogger(__name__)


def load_radiograph(source: Any, *, spacing_mm: float | None = None) -> Radiograph:
    """Load a radiograph from a path, bytes or a pydicom Dataset (see :func:`orthoplan.image.load`)."""
    from . import image

    return image.load(source, spacing_mm=spacing_mm)


def calibrate_radiograph(
    radiograph: Radiograph,
    *,
    ball_diameter_mm: float | None = 25.0,
    known_length: tuple[tuple[float, float], tuple[float, float], float] | None = None,
    assume_magnification: float | None = None,
    ball_at: tuple[float, float] | None = None,
) -> Calibration:
    """Calibrate by the rules of :func:`orthoplan.calibration.calibrate` (``ball_at``: a point
    inside the ball to use where several candidates score alike)."""
    from . import calibration

    return calibration.calibrate(
        radiograph,
        ball_diameter_mm=ball_diameter_mm,
        known_length=known_length,
        assume_magnification=assume_magnification,
        ball_at=ball_at,
    )


def detect_landmarks(radiograph: Radiograph, calibration: Calibration | None, view: str | None = None,
                     *, side: str | None = None, model=None) -> Landmarks:
    """Automatic landmark detection for ``view`` (default: :func:`infer_view`); see
    :func:`orthoplan.landmarks.detect`. ``side`` is the knee a knee view shows (default:
    :func:`knee_side` from the DICOM laterality; a lateral knee view needs one). ``model``
    is the learned detector's model file (default: for the AP pelvis ``$ORTHOPLAN_MODEL``, for
    knee views ``$ORTHOPLAN_KNEE_MODEL`` (``$ORTHOPLAN_KNEE_AP_MODEL`` first for AP knee films), or
    the shipped one).

    Raises
    ------
    LandmarkError
        No automatic detector covers the view.
    """
    return detect_landmarks_with_notes(radiograph, calibration, view, side=side, model=model)[0]


def detect_landmarks_with_notes(radiograph: Radiograph, calibration: Calibration | None, view: str | None = None,
                                *, side: str | None = None, model=None) -> tuple[Landmarks, tuple[str, ...]]:
    """:func:`detect_landmarks` and what the detector says about the film (a prosthesis, a
    child's pelvis, the knee's side against its anatomy ...: :func:`orthoplan.landmarks.detect_with_notes`)."""
    from . import landmarks

    view = view or infer_view(radiograph)
    if view not in DETECTABLE_VIEWS:
        from .errors import LandmarkError

        raise LandmarkError(
            f"automatic landmark detection covers the {', '.join(DETECTABLE_VIEWS)} views; for a {view} view "
            "give the landmarks (orthoplan measure/plan --landmarks FILE.json)"
        )
    if view in KNEE_VIEWS:
        side = knee_side(radiograph, view, side)
    return landmarks.detect_with_notes(radiograph, calibration, view=view, side=side, model=model)


class OrientedDetection(NamedTuple):
    """:func:`detect_oriented`'s answer: the landmarks, what the detector says about the film,
    the orientation the landmarks are named in, what the plan says of that orientation, and the
    view detected."""

    landmarks: Landmarks
    notes: tuple[str, ...]
    orientation: ImageOrientation
    orientation_notes: tuple[str, ...] = ()
    view: str = ""


def detect_oriented(radiograph: Radiograph, calibration: Calibration | None, view: str | None = None,
                    *, side: str | None = None, model=None) -> OrientedDetection:
    """:func:`detect_landmarks_with_notes`, and the orientation its landmarks are named in: the
    header's (or the assumed standard AP display), turned where AP pelvis or knee landmarks show a
    film stored turned (:func:`_landmark_orientation`), mirrored where the R or
    L marker read on the film shows it displayed mirrored (the film is then detected again so).
    :func:`plan_radiograph` and ``orthoplan detect`` use it."""
    view = view or infer_view(radiograph)
    landmarks, said = detect_landmarks_with_notes(radiograph, calibration, view, side=side, model=model)
    orientation = _landmark_orientation(landmarks, radiograph.orientation, view)
    marked: list[str] = []
    if view in MARKER_VIEWS:  # a side marker on the film decides the display
        orientation, landmarks, said, marked = _side_marker_checked(radiograph, calibration, view, side, landmarks,
                                                                    said, orientation, model)
    return OrientedDetection(landmarks, tuple(said), orientation, tuple(marked), view)


def with_positional_sigma(landmarks: Landmarks, view: str = "ap-pelvis") -> Landmarks:
    """The landmarks with a person's points given a reader's positional uncertainty where none is
    set yet (:func:`orthoplan.landmarks.uncertainty.with_positional_sigma`, ``view``'s table);
    the learned detector's points already carry the detector's."""
    from .landmarks.uncertainty import with_positional_sigma as fill

    return fill(landmarks, view=view)


def measure(
    landmarks: Landmarks, calibration: Calibration, radiograph_or_plan: Any, view: str | None = None
) -> Measurements:
    """Every measurement of the view that the landmarks allow, at the anatomy.

    ``view`` defaults to the plan's (``radiograph_or_plan.view``), else ``"ap-pelvis"``:
    ``long-leg`` → :func:`~orthoplan.measurements.measure_lower_limb`, ``knee-ap`` /
    ``knee-lateral`` → :func:`~orthoplan.measurements.measure_knee`; the AP pelvis and hip
    views (and any other) → :func:`~orthoplan.measurements.measure_hip`.
    """
    from .measurements import measure_hip, measure_lower_limb

    view = view or getattr(radiograph_or_plan, "view", None) or "ap-pelvis"
    if view in KNEE_VIEWS:  # AP / lateral knee radiograph (orthoplan.measurements.knee)
        from .measurements import measure_knee

        return measure_knee(landmarks, calibration, radiograph_or_plan.orientation, view=view)
    if view == "long-leg":
        return measure_lower_limb(landmarks, calibration, radiograph_or_plan.orientation)
    return measure_hip(landmarks, calibration, radiograph_or_plan.orientation)  # AP pelvis / hip views


#: The views orthoplan plans on: what is measured (and detected) depends on it.
VIEWS = ("ap-pelvis", "ap-hip", "long-leg", "knee-ap", "knee-lateral")

#: The views with an automatic landmark detector (:func:`orthoplan.landmarks.detect`).
DETECTABLE_VIEWS = ("ap-pelvis", "ap-hip", "long-leg", "knee-ap", "knee-lateral")

#: The AP and lateral knee views (one knee each; see :func:`knee_side`).
KNEE_VIEWS = ("knee-ap", "knee-lateral")
#: ViewPosition values (DICOM CID 4010 terms) of a knee view.
_KNEE_AP_POSITIONS = ("AP", "PA")
_KNEE_LATERAL_POSITIONS = ("LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LATERAL-MEDIAL", "MEDIAL-LATERAL")


def knee_side(radiograph: Radiograph, view: str, side: str | None = None) -> str | None:
    """The knee (``"left"``/``"right"``) a knee view shows: ``side`` if given, else the
    ImageLaterality (or series Laterality) tag, else, on a lateral view, the R or L marker read
    on the film (:func:`side_markers`, all naming one side); never guessed.

    Returns ``None`` for an AP knee view without a side or a tag (the AP detector then looks for
    both knees, and :func:`plan_radiograph` checks their sides against the markers). Raises
    :class:`~orthoplan.errors.LandmarkError` when a lateral view has no side, no tag and no
    marker, or when ``side`` contradicts the tags.
    """
    from .errors import LandmarkError

    from_tag = _laterality_tag(radiograph)
    if side is not None:
        side = str(side).strip().lower()
        if side not in ("left", "right"):
            raise LandmarkError(f"side must be 'left' or 'right', got {side!r}")
        if from_tag is not None and from_tag != side:
            raise LandmarkError(
                f"the image's laterality tag says {from_tag} but side={side!r} was given: check the image or the side"
            )
        return side
    if from_tag is None and view == "knee-lateral":
        from .landmarks.markers import marker_side

        marked = marker_side(side_markers(radiograph))
        if marked is not None:
            return marked.value
        raise LandmarkError(
            "a lateral knee view shows one knee and the image does not say which (no ImageLaterality or "
            "Laterality L/R, no R or L marker read on the film): give the side (side='left'|'right', "
            "orthoplan --side left|right)"
        )
    return from_tag


def _laterality_tag(radiograph: Radiograph) -> str | None:
    """``"left"``/``"right"`` from the ImageLaterality (or series Laterality) tag, else None."""
    tag = (radiograph.image_laterality or "").strip().upper()
    if not tag and radiograph.dataset is not None:
        tag = str(radiograph.dataset.get("Laterality", "") or "").strip().upper()
    return {"L": "left", "R": "right"}.get(tag)


def side_markers(radiograph: Radiograph) -> tuple[SideMarker, ...]:
    """The R and L side markers read on the film
    (:func:`orthoplan.landmarks.markers.read_side_markers`)."""
    from .landmarks.markers import read_side_markers

    return read_side_markers(radiograph.display)


#: BodyPartExamined values (DICOM CID 4031 terms, upper case) that mean a lower-limb view.
_LIMB_BODY_PARTS = ("LEG", "LOWER LIMB", "LOWERLIMB", "EXTREMITY", "KNEE", "ANKLE", "TIBIA", "FEMUR")


def infer_view(radiograph: Radiograph) -> str:
    """The view a radiograph most likely shows, from its header, its shape and, where the header
    does not name the body part, its picture.

    ``knee-ap`` / ``knee-lateral`` when BodyPartExamined is KNEE and ViewPosition is AP/PA
    or a lateral one (LL, RL, LAT, LATERAL) on an image no more than twice as tall as wide,
    and without a ViewPosition the more probable knee view of the view classifier;
    ``long-leg`` when BodyPartExamined names the lower limb or the image is more than twice
    as tall as wide (a standing long-leg film); ``ap-pelvis`` when it names the pelvis or the
    hip. Otherwise (a JPEG, a DICOM image without BodyPartExamined or with another one) the view
    classifier decides where it is sure of the film, of its mirror image or of the film turned by
    half a turn (:func:`orthoplan.landmarks.views.view_either_way`: a
    knee film goes to the knee views), else ``ap-pelvis``. A caller who knows better passes
    ``view=`` explicitly.

    >>> import numpy as np
    >>> from orthoplan.model import ImageReference, Radiograph
    >>> infer_view(Radiograph(np.zeros((70, 25)), np.zeros((70, 25)), ImageReference()))
    'long-leg'
    """
    from .landmarks.views import OWN_BODY_PARTS, classify_view, confident_view, view_either_way

    part = (radiograph.body_part_examined or "").strip().upper()
    rows, cols = radiograph.shape
    position = (radiograph.view_position or "").strip().upper()
    if part == "KNEE" and rows <= 2 * cols:  # a knee film (a long-leg film stays long-leg)
        if position in _KNEE_AP_POSITIONS:
            return "knee-ap"
        if position in _KNEE_LATERAL_POSITIONS:
            return "knee-lateral"
        # the header says a knee but not which view (ViewPosition is often empty): the picture
        # decides between the knee views (the more probable; two views side by side go to
        # knee-ap, whose detector refuses them with the reason)
        return confident_view(classify_view(radiograph.display), min_probability=0.0)
    if any(p in part for p in _LIMB_BODY_PARTS) or rows > 2 * cols:
        return "long-leg"
    if part in OWN_BODY_PARTS["ap-pelvis"]:
        return "ap-pelvis"

    seen = view_either_way(radiograph.display)  # a film displayed mirrored shows the same view
    if seen is not None and seen != "ap-pelvis":
        log.info("view: the view classifier takes the film for %s", seen)
    return seen or "ap-pelvis"


#: Below the certainty with which :func:`infer_view` follows the view classifier, a film it
#: reads as an AP pelvis is said to be doubtful where the classifier's most probable view is
#: another one with at least this probability (:func:`view_doubt`).
VIEW_DOUBT_MIN_PROBABILITY = 0.5


def view_doubt(radiograph: Radiograph, view: str) -> str | None:
    """What the plan says where :func:`infer_view` read a film as an AP pelvis/hip by default (no
    body part in the header, the view classifier not sure enough) though the classifier's most
    probable view is another (at least :data:`VIEW_DOUBT_MIN_PROBABILITY`); else None.

    On the FracAtlas knee films, 29 of 939 were read as AP pelves so: knee films taken for a
    knee at 0.95-0.99 and children's long films, where the pelvis detector then reported a
    "skeletally immature pelvis" on an adult's knee (IMG0000473) and said nothing else. (27 since
    the mirror image of an unsure film is read too, :func:`~orthoplan.landmarks.views.view_either_way`,
    which takes IMG0000473 for the knee it is.)
    """
    from .landmarks.views import OTHER_FILM_MIN_PROBABILITY, OWN_BODY_PARTS, classify_view

    if view != "ap-pelvis" or (radiograph.body_part_examined or "").strip().upper() in OWN_BODY_PARTS["ap-pelvis"]:
        return None
    p = classify_view(radiograph.display).probabilities
    top = max(p, key=p.get)
    if top == "ap-pelvis" or p[top] < VIEW_DOUBT_MIN_PROBABILITY:
        return None
    words = {"knee-ap": "an AP knee", "knee-lateral": "a lateral knee", "long-leg": "a long-leg",
             "two-view": "a two-view (AP and lateral side by side)"}.get(top, f"a {top}")
    return (f"View not in the image header: read as an AP pelvis/hip, but {OTHER_VIEW_FINDING} {words} film "
            f"(probability {p[top]:.3f}, below the {OTHER_FILM_MIN_PROBABILITY:.2f} it needs to decide): if it is "
            f"one, plan it as that view (--view {'knee-ap' if top == 'two-view' else top}).")


def plan_radiograph(
    radiograph: Radiograph,
    *,
    calibration: Calibration | None = None,
    landmarks: Landmarks | None = None,
    ball_diameter_mm: float | None = 25.0,
    known_length: tuple[tuple[float, float], tuple[float, float], float] | None = None,
    assume_magnification: float | None = None,
    detect: bool = True,
    author: str | None = None,
    view: str | None = None,
    side: str | None = None,
    ball_at: tuple[float, float] | None = None,
) -> Plan:
    """Build a plan: calibrate (unless given), detect landmarks (unless given), measure.

    ``side`` is the knee of a knee view (``knee-ap``/``knee-lateral``; default from the
    image's laterality tag, see :func:`knee_side`): a lateral knee view without one is an error.

    Parameters
    ----------
    radiograph
        From :func:`load_radiograph`.
    calibration
        Use this calibration instead of calibrating.
    landmarks
        Use these landmarks (e.g. from a file); otherwise detect them when ``detect``.
    ball_diameter_mm, known_length, assume_magnification, ball_at
        Passed to :func:`calibrate_radiograph` (``ball_at``: ``(x, y)`` in stored pixels inside
        the calibration ball to use). Planning on an uncalibrated image is an
        error unless ``assume_magnification`` is given, and the plan then says so.

    Raises
    ------
    CalibrationError
        No usable calibration and no assumed magnification.
    """
    if calibration is None:
        calibration = calibrate_radiograph(
            radiograph,
            ball_diameter_mm=ball_diameter_mm,
            known_length=known_length,
            assume_magnification=assume_magnification,
            ball_at=ball_at,
        )
    notes = []
    if view is None:  # the view by default: the plan says where the picture suggests another
        view = infer_view(radiograph)
        doubt = view_doubt(radiograph, view)
        notes.extend([doubt] if doubt else [])
    if view not in VIEWS:
        from .errors import PlanError

        raise PlanError(f"unknown view {view!r}: one of {', '.join(VIEWS)}")
    orientation = radiograph.orientation
    if landmarks is None:
        if detect:  # what the detector says about the film goes into the plan
            found = detect_oriented(radiograph, calibration, view, side=side)
            landmarks, orientation = found.landmarks, found.orientation
            notes.extend(found.orientation_notes)
            notes.extend(f"Landmark detection: {n}" for n in found.notes)
        else:
            landmarks = Landmarks()
        if detect and view in KNEE_VIEWS and not _laterality_tag(radiograph) and side is None:
            found = sorted({lm.name.side.value for lm in landmarks})
            if found and not orientation.source.endswith("side-marker"):  # never silently: where the side came from
                how = (f"the {', '.join(m.describe() for m in side_markers(radiograph))} read on the film"
                       if view == "knee-lateral" else
                       "the film's anatomy (the fibula lies laterally; two knees by their place on the film)")
                notes.append(f"Knee side not in the image header: {' and '.join(found)} knee by {how}; check it.")
        if detect and view == "knee-lateral" and (side is not None or _laterality_tag(radiograph)):
            notes.extend(_lateral_marker_conflict(radiograph, knee_side(radiograph, view, side)))
    else:
        if view == "knee-lateral":
            _check_lateral_knee_sides(radiograph, landmarks, side)
        orientation = _landmark_orientation(landmarks, orientation, view)
        if view in MARKER_VIEWS:  # a person's landmarks on a film displayed mirrored, with a marker that says so
            orientation, said = _given_landmarks_mirrored(radiograph, landmarks, orientation)
            notes.extend(said)
    landmarks = with_positional_sigma(landmarks, view)
    measurements = measure(landmarks, calibration, replace(radiograph, orientation=orientation), view)
    if calibration.assumed:
        notes.append(calibration.label)  # "ASSUMED SCALE — ..." (the label says it once)
    if orientation.assumed:
        notes.append(orientation_note(orientation))
    return Plan(
        image=radiograph.reference,
        calibration=calibration,
        landmarks=landmarks,
        measurements=measurements,
        orientation=orientation,
        view=view,
        author=author,
        software_version=f"orthoplan {__version__}",
        notes=tuple(notes),
    )


#: The views whose plans check the sides against the R and L markers read on the film
#: (:func:`_side_marker_checked`).
MARKER_VIEWS = ("ap-pelvis", "ap-hip", "knee-ap")


def _landmark_orientation(landmarks: Landmarks, orientation: ImageOrientation, view: str) -> ImageOrientation:
    """``orientation``, turned where the AP pelvis or knee landmarks show a film stored turned
    (:func:`orthoplan.frames.orientation_from_landmarks`,
    :func:`orthoplan.frames.knee_orientation_from_landmarks`)."""
    from .frames import knee_orientation_from_landmarks, orientation_from_landmarks

    points = {lm.name: lm.xy for lm in landmarks}
    if view in ("ap-pelvis", "ap-hip"):
        return orientation_from_landmarks(points, orientation)
    if view in KNEE_VIEWS:
        return knee_orientation_from_landmarks(points, orientation)
    return orientation


def _side_marker_checked(radiograph: Radiograph, calibration: Calibration | None, view: str, side: str | None,
                         landmarks: Landmarks, said: tuple[str, ...], orientation: ImageOrientation, model=None
                         ) -> tuple[ImageOrientation, Landmarks, tuple[str, ...], list[str]]:
    """The orientation, landmarks and detector notes of a film once the R and L markers read on it
    (:func:`side_markers`) have been compared with the sides the detector gave
    (:func:`orthoplan.frames.side_markers_agree`), and what the plan says of it.

    Where the markers agree, the sides stand, now known from the marker. Where they disagree and
    the orientation was assumed (no header), the film is displayed mirrored: it is detected again
    with the patient's left on the other side, and the plan says so. A header's orientation, or a
    knee's side given or tagged, is kept against a marker, with a note to check the film."""
    from .frames import mirrored, side_markers_agree

    markers = side_markers(radiograph)
    if not markers:
        return orientation, landmarks, said, []
    seen = ", ".join(m.describe() for m in markers)
    given = view == "knee-ap" and knee_side(radiograph, view, side) is not None
    agree = side_markers_agree(markers, {lm.name: lm.xy for lm in landmarks}, orientation,
                               one_limb=_one_limb(view, landmarks))
    if agree is None:
        return orientation, landmarks, said, [f"Side marker: {seen} read on the film; it does not tell which side "
                                              f"is which here ({_why_no_vote(view, landmarks, markers)})."]
    if agree:
        if orientation.source == "assumed-standard-ap":
            orientation = replace(orientation, source="assumed-from-side-marker")
        return orientation, landmarks, said, [f"Side marker: {seen} read on the film agrees with the sides as measured."]
    if given or not orientation.assumed:
        whose = "the knee's side as given" if given else "the image header's orientation"
        return orientation, landmarks, said, [
            f"Side marker: {seen} read on the film, but {MARKER_CONFLICT_FINDING} with {whose}, which is kept: "
            "check the film's side."]
    turned = orientation.source == "assumed-turned-from-landmarks"
    flipped = mirrored(orientation, orientation.source if turned else "assumed-from-side-marker")
    again, said_again = detect_landmarks_with_notes(replace(radiograph, orientation=flipped), calibration, view,
                                                    side=side, model=model)
    if side_markers_agree(markers, {lm.name: lm.xy for lm in again}, flipped,
                          one_limb=_one_limb(view, again)) is not True:
        return orientation, landmarks, said, [  # detected either way, the sides are not the marker's: no guess
            f"Side marker: {seen} read on the film, but {MARKER_CONFLICT_FINDING} with the sides detected, whether "
            "the film is displayed standard or mirrored; measured as displayed standard: check the film's side."]
    return flipped, again, said_again, [
        f"Side marker: {seen} read on the film: the film is {MIRRORED_FINDING} (the patient's right on the image's "
        "right as stored); the landmarks were detected again and named so. Check the marker."]


def _lateral_marker_conflict(radiograph: Radiograph, side: str) -> list[str]:
    """What the plan says where a lateral knee's side, given or tagged, is not the one the side
    markers on the film name (the side is kept; a person checks the film)."""
    from .landmarks.markers import marker_side

    markers = side_markers(radiograph)
    marked = marker_side(markers)
    if marked is None or marked.value == side:
        return []
    seen = ", ".join(m.describe() for m in markers)
    return [f"Side marker: {seen} read on the film, but {MARKER_CONFLICT_FINDING} with the {side} knee as given "
            "(or tagged), which is kept: check the film's side."]


def _why_no_vote(view: str, landmarks: Landmarks, markers) -> str:
    """Why the side markers said nothing of the sides (:func:`_side_marker_checked`)."""
    sides = sorted({lm.name.side.value for lm in landmarks})
    if not sides:
        return "no landmark found"
    if len(sides) == 1 and not _one_limb(view, landmarks):
        return (f"only the {sides[0]} side found on a film of both sides, where the marker may lie beside the "
                "other; plan a film of one hip as --view ap-hip")
    if len(sides) == 1:
        return (f"it does not lie beside the {sides[0]} limb found, or too few of that limb's landmarks were "
                "found to tell")
    if len({m.side for m in markers}) > 1:
        return "markers of both letters, not each on its own side"
    return "the marker lies near the midline between the two sides"


def _one_limb(view: str, landmarks: Landmarks) -> bool:
    """Whether a film shows one limb, which a side marker names: a single hip, or one knee found."""
    return view == "ap-hip" or (view == "knee-ap" and len({lm.name.side for lm in landmarks}) == 1)


def _given_landmarks_mirrored(radiograph: Radiograph, landmarks: Landmarks, orientation: ImageOrientation
                              ) -> tuple[ImageOrientation, list[str]]:
    """The orientation of a film whose landmarks were given (by a person, a file): where it was
    assumed head up, the landmarks name both sides the other way round (their right on the image's
    right), and the side markers on the film agree with them so, the film is displayed mirrored;
    else ``orientation``."""
    from .frames import mirrored, side_markers_agree

    if orientation.source != "assumed-standard-ap" or not landmarks:
        return orientation, []
    pts = {lm.name: lm.xy for lm in landmarks}
    flipped = mirrored(orientation, "assumed-from-side-marker")
    markers = side_markers(radiograph)
    if not markers or side_markers_agree(markers, pts, flipped) is not True:
        return orientation, []
    seen = ", ".join(m.describe() for m in markers)
    return flipped, [f"Side marker: {seen} read on the film: the film is {MIRRORED_FINDING} (the patient's right on "
                     "the image's right as stored), as the landmarks given name the sides; measured so."]


def orientation_note(orientation: ImageOrientation) -> str:
    """What the plan says about an orientation that the image header did not give.

    >>> orientation_note(ImageOrientation.turned("right"))[:80]
    'Patient orientation not in the image header: the landmarks show the film stored '
    """
    edge = {(1, 0): "right", (-1, 0): "left", (0, 1): "bottom", (0, -1): "top"}
    left, head = edge[orientation.left_vector()], edge[orientation.superior_vector()]
    if orientation.source == "assumed-turned-from-landmarks":
        how = "by a quarter turn" if orientation.turn_deg else "upside down"
        return (f"Patient orientation not in the image header: the landmarks show the {TURNED_FINDING} {how} "
                f"(the patient's head at the image's {head}, the patient's left at its {left}); "
                "measured so.")
    if orientation.source == "assumed-from-side-marker":
        return (f"Patient orientation not in the image header: the side marker read on the film puts the patient's "
                f"left at the image's {left}, the head at its {head}; measured so.")
    if orientation.source == "assumed-standard-ap":
        return ("Patient orientation not in the image header: standard AP assumed (patient's right on the "
                "image's left).")
    return (f"Patient orientation not fully in the image header ({orientation.source}): the patient's left assumed "
            f"at the image's {left}, the head at its {head}.")


def _check_lateral_knee_sides(radiograph: Radiograph, landmarks: Landmarks, side: str | None) -> None:
    """A lateral knee view's landmarks name one knee, the one the tags (or ``side``) say."""
    from .errors import LandmarkError
    from .measurements.knee import KNEE_LATERAL_ANATOMY

    sides = {lm.name.side.value for lm in landmarks if lm.name.anatomy in KNEE_LATERAL_ANATOMY}
    if len(sides) > 1:
        raise LandmarkError("a lateral knee view shows one knee, but the landmarks name both the left and the right knee")
    tag = (radiograph.image_laterality or "").strip().upper()
    expected = side or {"L": "left", "R": "right"}.get(tag)
    if expected is not None and sides and sides != {str(expected).lower()}:
        raise LandmarkError(
            f"the landmarks are of the {sides.pop()} knee but the image (or side=) says {expected}: check the side"
        )


def update_landmarks(plan: Plan, *changes: Landmark, remove: Iterable[str] = ()) -> Plan:
    """The plan with landmarks replaced/added (and some removed), re-measured.

    Cheap: only the measurement stage runs again. A moved point (``Landmark.moved_to``) gets a
    reader's positional uncertainty (:func:`with_positional_sigma`).

    >>> # plan2 = update_landmarks(plan, plan.landmarks["teardrop_left"].moved_to(810, 642))
    """
    lms = plan.landmarks
    for lm in changes:
        lms = lms.with_landmark(lm)
    for name in remove:
        lms = lms.without(name)
    lms = with_positional_sigma(lms, plan.view)
    return _repredict(replace(plan, landmarks=lms, measurements=measure(lms, plan.calibration, plan)))


def _repredict(plan: Plan) -> Plan:
    """The plan with its templating prediction and osteotomies brought up to date (nothing to do without them)."""
    if plan.osteotomies:
        from .osteotomy import replan

        plan = replan(plan)
    if not plan.placements:
        return plan
    from .measurements import measure_hip
    from .templating import predict

    return replace(plan, predictions=predict(plan, measure=measure_hip))


def recalibrate(plan: Plan, calibration: Calibration) -> Plan:
    """The plan re-measured on another calibration (landmarks stay in pixels)."""
    notes = tuple(n for n in plan.notes if not n.startswith("ASSUMED SCALE"))
    if calibration.assumed:
        notes = (calibration.label,) + notes  # "ASSUMED SCALE — ..."
    out = replace(plan, calibration=calibration, measurements=measure(plan.landmarks, calibration, plan), notes=notes)
    if out.osteotomies:  # planned in mm: planned again at the new scale
        from .osteotomy import replan

        out = replan(out)
    if not out.placements:
        return out
    from .measurements import measure_hip
    from .templating import rescale_placements

    # implants are fixed in mm: redone at the new scale
    return rescale_placements(out, plan.calibration, measure=measure_hip)


def template_hip(plan: Plan, radiograph: Radiograph | None, catalog: Any = None, side: str = "left", **options: Any) -> Plan:
    """Template a total hip on ``side`` (:func:`orthoplan.templating.template_hip`, which this
    gives the hip measuring function that predicts the reconstruction).

    ``options`` are those of :func:`orthoplan.templating.template_hip` (families, sizes,
    inclination, cup centre, resection level); ``catalog`` ``None`` is the default catalog.

    >>> # planned = template_hip(plan, radiograph, None, "left", cup_family="generic hemispherical cup")
    """
    from .measurements import measure_hip
    from .templating import template_hip as _template_hip

    return _template_hip(plan, radiograph, catalog, side, measure=measure_hip, **options)


def update_placement(plan: Plan, kind: str, side: str, **edit: Any) -> Plan:
    """Move, rotate or resize one placement, hip or knee, and predict again
    (:func:`orthoplan.templating.update_placement`, given the hip measuring function).

    >>> # plan2 = update_placement(plan, "stem", "left", move_px=(0, -10))
    """
    from .measurements import measure_hip
    from .templating import update_placement as _update_placement

    return _update_placement(plan, kind, side, measure=measure_hip, **edit)


def revise_plan(previous: Plan, revised: Plan | None = None, *, created: str | None = None,
                status: str = "draft") -> Plan:
    """Revision ``previous.revision + 1`` of ``previous``, with the content of ``revised``.

    The one way to make a revision: it keeps the plan identifier, counts the revision up and
    stamps the revision's own creation time (now, and always later than ``previous.created``:
    one second after it when the clock says otherwise), from which the SR and GSPS take their
    Content, Instance Creation and Verification dates and times. A plan copied with
    ``dataclasses.replace(plan, revision=2)`` keeps the old time, and
    :func:`~orthoplan.dicom.build_sr` refuses it as the successor of ``previous``.

    Parameters
    ----------
    previous
        The revision being replaced (e.g. :func:`orthoplan.archive.latest_revision`).
    revised
        The new content (landmarks, measurements, implants...), e.g.
        ``update_landmarks(previous, moved)``; default ``previous`` itself. Its identity
        (``plan_uid``, ``revision``, ``created``, ``status``) is replaced.
    created
        The revision's time (ISO 8601) instead of now; it must be later than ``previous.created``.
    status
        ``"draft"`` (default: a changed plan is not verified yet) or ``"final"`` (needs an author).

    Raises
    ------
    PlanError
        ``revised`` is on another image, or ``created`` is not a time later than ``previous.created``.

    Examples
    --------
    >>> from orthoplan.model import Calibration, ImageReference, Landmarks, Measurements, Plan
    >>> rev1 = Plan(ImageReference(), Calibration(0.15, "ball-marker", 2.0), Landmarks(), Measurements(),
    ...             created="2026-01-31T14:05:00+00:00")
    >>> rev2 = revise_plan(rev1)
    >>> (rev2.plan_uid == rev1.plan_uid, rev2.revision, rev2.created > rev1.created)
    (True, 2, True)
    """
    import datetime as _dt

    from .errors import PlanError
    from .model import plan_time

    content = previous if revised is None else revised
    before, after = previous.image.sop_instance_uid, content.image.sop_instance_uid
    if before and after and before != after:
        raise PlanError("a revision must be on the image of the plan it revises (SOP Instance UIDs differ)")
    last = plan_time(previous.created)
    if created is None:
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        if last is not None and now <= last:  # clock behind, or two revisions in one second
            now = last.replace(microsecond=0) + _dt.timedelta(seconds=1)
        created = now.isoformat()
    else:
        when = plan_time(created)
        if when is None:
            raise PlanError(f"a revision's time must be ISO 8601 (e.g. 2026-01-31T14:05:00+00:00), got {created!r}")
        if last is not None and when <= last:
            raise PlanError(f"revision {previous.revision + 1} must be made after revision {previous.revision} "
                            f"({previous.created}), got {created}")
    return replace(content, plan_uid=previous.plan_uid, revision=int(previous.revision) + 1, created=created,
                   status=status)


def dicom_objects(radiograph: Radiograph, plan: Plan, *, previous: Any = None) -> tuple[Any, Any]:
    """The plan as DICOM: ``(sr, gsps)`` — TID 1500 Comprehensive SR and the GSPS overlay.

    ``previous`` is the SR of the revision this plan replaces (the new SR references it).

    Raises
    ------
    DicomOutputError
        The image is not DICOM (PNG/TIFF input has no study to put the plan in) or the
        plan cannot be encoded.
    """
    from .dicom import build_gsps, build_sr
    from .errors import DicomOutputError
    from .overlay import plan_overlay

    if radiograph.dataset is None:
        raise DicomOutputError("DICOM output needs a DICOM source image (PNG/TIFF input has no study to add the plan to)")
    sr = build_sr(plan, radiograph.dataset, previous=previous)
    gsps = build_gsps(plan, radiograph.dataset, plan_overlay(plan))
    return sr, gsps


def check_storable(plan: Plan, *, allow_implausible: bool = False) -> None:
    """Refuse to store a plan whose values are implausible (outside their definitions'
    plausible ranges: misplaced landmarks or a wrong scale) unless ``allow_implausible``, and then
    only as a draft (its SR says PARTIAL / UNVERIFIED).

    Raises
    ------
    PlanError
        Naming the implausible values and what to do.
    """
    from .errors import PlanError
    from .measurements.definitions import implausible_values

    bad = implausible_values(plan.measurements, plan.predictions)
    if not bad:
        return
    listed = "; ".join(bad[:4]) + (f"; and {len(bad) - 4} more" if len(bad) > 4 else "")
    if not allow_implausible:
        raise PlanError(f"not stored: implausible values ({listed}): check the landmarks and the scale, or store "
                        "it as a draft (allow_implausible=True; orthoplan plan --draft)")
    if plan.status != "draft":
        raise PlanError(f"a plan with implausible values ({listed}) can only be stored as a draft, not final")


def plan_document(plan: Plan, radiograph: Radiograph) -> bytes:
    """The plan as a printable A4 PDF (bytes): picture, measurements with their intervals and
    normal ranges, implants, calibration and its warnings, author, status, plan ID and revision.

    See :mod:`orthoplan.plan_document`; in a notebook::

        from pathlib import Path
        Path("plan.pdf").write_bytes(pipeline.plan_document(plan, rad))

    Store it in the image's study as a DICOM Encapsulated PDF with
    :func:`orthoplan.dicom.encapsulated_pdf.build_encapsulated_pdf` (``orthoplan plan --store-pdf``).
    """
    from .plan_document import plan_document as _document

    return _document(plan, radiograph)


def store_plan(radiograph: Radiograph, plan: Plan, archive_url: str | None = None, *, previous: Any = None,
               queue_on_failure: bool = True, allow_implausible: bool = False, **archive_options: Any) -> Any:
    """Build the plan's SR and GSPS and store both in an archive (default: :func:`default_archive_url`).

    With ``queue_on_failure`` an unreachable archive leaves both objects in the outbox
    (``orthoplan archive flush`` retries) and the returned result says ``queued``;
    otherwise the :class:`~orthoplan.errors.ArchiveError` is raised. Returns the archive's
    :class:`~orthoplan.archive.StoreResult`.

    ``previous`` is the SR of the revision this one replaces; for a revision > 1 without it,
    the previous revision's SR is looked up in the archive (its UID follows from the plan,
    :func:`~orthoplan.dicom.sr.sr_uids`) and referenced when found.

    A plan with implausible values is refused (:func:`check_storable`) unless
    ``allow_implausible`` and the plan is a draft.
    """
    from .archive import open_archive
    from .archive.outbox import Outbox, store_or_queue

    check_storable(plan, allow_implausible=allow_implausible)
    archive = open_archive(archive_url or default_archive_url(), **archive_options)
    if previous is None and int(plan.revision) > 1:
        previous = _stored_predecessor(archive, plan)
    sr, gsps = dicom_objects(radiograph, plan, previous=previous)
    if queue_on_failure:
        return store_or_queue(archive, [sr, gsps], Outbox.default())
    return archive.store([sr, gsps])


def _stored_predecessor(archive: Any, plan: Plan) -> Any:
    """The SR of revision ``plan.revision - 1`` of the plan in ``archive``, or ``None``."""
    from .dicom.sr import sr_uids
    from .errors import ArchiveError

    uid = sr_uids(replace(plan, revision=int(plan.revision) - 1))[1]
    try:
        return archive.retrieve(uid)
    except ArchiveError as exc:  # not there (or the archive is away: storing then queues)
        log.info("revision %d of the plan is not in %s (%s): stored without a predecessor reference",
                 int(plan.revision) - 1, archive.name, exc)
        return None


def default_archive_url() -> str:
    """``$ORTHOPLAN_ARCHIVE`` or a folder archive under the user's data directory."""
    from .archive.base import default_archive_url as _default

    return _default()
