"""The one place that knows the order of the stages.

``load → calibrate → detect landmarks → measure → (template) → report → store``

Each stage is a plain function of :mod:`orthoplan.model` values; this module composes them
and nothing else does. Every step can be re-run alone: after a surgeon moves one
landmark, :func:`update_landmarks` re-measures without touching the image.

Examples
--------
>>> from orthoplan import synthetic
>>> case = synthetic.make_pelvis(seed=1, rows=500, columns=600, detector_spacing_mm=0.75)
>>> rad = load_radiograph(case.dataset)
>>> plan = plan_radiograph(rad, landmarks=case.landmarks)
>>> bool(abs(plan.measurements["lld_teardrop_mm"].value - case.measurements["lld_teardrop_mm"]) < 0.05)
True
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from . import __version__
from .model import (
    Calibration,
    Landmark,
    Landmarks,
    Measurements,
    Plan,
    Radiograph,
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
) -> Calibration:
    """Calibrate by the rules of :func:`orthoplan.calibration.calibrate`."""
    from . import calibration

    return calibration.calibrate(
        radiograph,
        ball_diameter_mm=ball_diameter_mm,
        known_length=known_length,
        assume_magnification=assume_magnification,
    )


def detect_landmarks(radiograph: Radiograph, calibration: Calibration | None, view: str | None = None) -> Landmarks:
    """Automatic landmark detection for ``view`` (default: :func:`infer_view`); see
    :func:`orthoplan.landmarks.detect`.

    Raises
    ------
    LandmarkError
        No automatic detector covers the view.
    """
    from . import landmarks

    view = view or infer_view(radiograph)
    if view not in DETECTABLE_VIEWS:
        from .errors import LandmarkError

        raise LandmarkError(
            f"automatic landmark detection covers the {', '.join(DETECTABLE_VIEWS)} views; for a {view} view "
            "give the landmarks (orthoplan measure/plan --landmarks FILE.json)"
        )
    return landmarks.detect(radiograph, calibration, view=view)


#: The views :func:`measure` knows: ``ap-pelvis`` (hip measurements) and ``long-leg``
#: (standing AP long-leg radiograph: lower-limb alignment).
VIEWS = ("ap-pelvis", "long-leg")


def measure(
    landmarks: Landmarks, calibration: Calibration, radiograph_or_plan: Any, view: str | None = None
) -> Measurements:
    """Every measurement of the view that the landmarks allow, at the anatomy.

    ``view`` defaults to the plan's (``radiograph_or_plan.view``), else ``"ap-pelvis"``:
    ``ap-pelvis`` → :func:`~orthoplan.measurements.measure_hip`, ``long-leg`` →
    :func:`~orthoplan.measurements.measure_lower_limb`; any other view (``ap-hip-left``...)
    is measured as a hip view.
    """
    from .measurements import measure_hip, measure_lower_limb

    view = view or getattr(radiograph_or_plan, "view", None) or "ap-pelvis"
    if view == "long-leg":
        return measure_lower_limb(landmarks, calibration, radiograph_or_plan.orientation)
    return measure_hip(landmarks, calibration, radiograph_or_plan.orientation)  # AP pelvis / hip views


#: The views orthoplan plans on: what is measured (and detected) depends on it.
VIEWS = ("ap-pelvis", "ap-hip", "long-leg")

#: The views with an automatic landmark detector (:func:`orthoplan.landmarks.detect`).
DETECTABLE_VIEWS = ("ap-pelvis", "ap-hip", "long-leg")

#: BodyPartExamined values (DICOM CID 4031 terms, upper case) that mean a lower-limb view.
_LIMB_BODY_PARTS = ("LEG", "LOWER LIMB", "LOWERLIMB", "EXTREMITY", "KNEE", "ANKLE", "TIBIA", "FEMUR")


def infer_view(radiograph: Radiograph) -> str:
    """The view a radiograph most likely shows, from its header and shape.

    ``long-leg`` when BodyPartExamined names the lower limb or the image is more than twice
    as tall as wide (a standing long-leg film); otherwise ``ap-pelvis``. A caller who knows
    better passes ``view=`` explicitly.

    >>> import numpy as np
    >>> from orthoplan.model import ImageReference, Radiograph
    >>> infer_view(Radiograph(np.zeros((70, 25)), np.zeros((70, 25)), ImageReference()))
    'long-leg'
    """
    part = (radiograph.body_part_examined or "").strip().upper()
    rows, cols = radiograph.shape
    if any(p in part for p in _LIMB_BODY_PARTS) or rows > 2 * cols:
        return "long-leg"
    return "ap-pelvis"


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
) -> Plan:
    """Build a plan: calibrate (unless given), detect landmarks (unless given), measure.

    Parameters
    ----------
    radiograph
        From :func:`load_radiograph`.
    calibration
        Use this calibration instead of calibrating.
    landmarks
        Use these landmarks (e.g. from a file); otherwise detect them when ``detect``.
    ball_diameter_mm, known_length, assume_magnification
        Passed to :func:`calibrate_radiograph`. Planning on an uncalibrated image is an
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
        )
    view = view or infer_view(radiograph)
    if view not in VIEWS:
        from .errors import PlanError

        raise PlanError(f"unknown view {view!r}: one of {', '.join(VIEWS)}")
    if landmarks is None:
        landmarks = detect_landmarks(radiograph, calibration, view) if detect else Landmarks()
    measurements = measure(landmarks, calibration, radiograph, view)
    notes = []
    if calibration.assumed:
        notes.append("ASSUMED SCALE: " + calibration.label)
    if radiograph.orientation.assumed:
        notes.append(
            "Patient orientation not in the image header: standard AP assumed "
            "(patient's right on the image's left)."
        )
    return Plan(
        image=radiograph.reference,
        calibration=calibration,
        landmarks=landmarks,
        measurements=measurements,
        orientation=radiograph.orientation,
        view=view,
        author=author,
        software_version=f"orthoplan {__version__}",
        notes=tuple(notes),
    )


def update_landmarks(plan: Plan, *changes: Landmark, remove: Iterable[str] = ()) -> Plan:
    """The plan with landmarks replaced/added (and some removed), re-measured.

    Cheap: only the measurement stage runs again.

    >>> # plan2 = update_landmarks(plan, plan.landmarks["teardrop_left"].moved_to(810, 642))
    """
    lms = plan.landmarks
    for lm in changes:
        lms = lms.with_landmark(lm)
    for name in remove:
        lms = lms.without(name)
    return _repredict(replace(plan, landmarks=lms, measurements=measure(lms, plan.calibration, plan)))


def _repredict(plan: Plan) -> Plan:
    """The plan with its templating prediction brought up to date (nothing to do without placements)."""
    if not plan.placements:
        return plan
    from .templating import predict

    return replace(plan, predictions=predict(plan))


def recalibrate(plan: Plan, calibration: Calibration) -> Plan:
    """The plan re-measured on another calibration (landmarks stay in pixels)."""
    notes = tuple(n for n in plan.notes if not n.startswith("ASSUMED SCALE"))
    if calibration.assumed:
        notes = ("ASSUMED SCALE: " + calibration.label,) + notes
    out = replace(plan, calibration=calibration, measurements=measure(plan.landmarks, calibration, plan), notes=notes)
    if not out.placements:
        return out
    from .templating import rescale_placements

    return rescale_placements(out, plan.calibration)  # implants are fixed in mm: redone at the new scale


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


def store_plan(radiograph: Radiograph, plan: Plan, archive_url: str | None = None, *, previous: Any = None,
               queue_on_failure: bool = True, **archive_options: Any) -> Any:
    """Build the plan's SR and GSPS and store both in an archive (default: :func:`default_archive_url`).

    With ``queue_on_failure`` an unreachable archive leaves both objects in the outbox
    (``orthoplan archive flush`` retries) and the returned result says ``queued``;
    otherwise the :class:`~orthoplan.errors.ArchiveError` is raised. Returns the archive's
    :class:`~orthoplan.archive.StoreResult`.
    """
    from .archive import open_archive
    from .archive.outbox import Outbox, store_or_queue

    sr, gsps = dicom_objects(radiograph, plan, previous=previous)
    archive = open_archive(archive_url or default_archive_url(), **archive_options)
    if queue_on_failure:
        return store_or_queue(archive, [sr, gsps], Outbox.default())
    return archive.store([sr, gsps])


def default_archive_url() -> str:
    """``$ORTHOPLAN_ARCHIVE`` or a folder archive under the user's data directory."""
    from .archive.base import default_archive_url as _default

    return _default()
