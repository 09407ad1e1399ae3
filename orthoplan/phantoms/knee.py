"""Synthetic AP and lateral knee radiographs whose landmarks are known by construction.

Each knee is built in its own frame in mm from parameters that *are* the clinical values of
the knee views (aLDFA, MPTA, JLCA, condylar and plateau widths on the AP view; posterior
tibial slope, femoral AP dimension, posterior condylar offset on the lateral view), turned by
a pose angle, placed on the detector at a magnification and drawn as projected attenuation
with the primitives of :mod:`orthoplan.phantoms.pelvis` (via the strip canvas of
:mod:`orthoplan.phantoms.limb`, so memory stays bounded), with noise, a steel calibration
ball and either photometric interpretation.

Truth by construction: the landmarks are the constructed points (the shapes are drawn so
that each landmark *is* the geometric feature its definition names: the condyles are discs
tangent to the condylar line, the epicondylar block is an ellipse whose medial-lateral ends
are the epicondyle points, the tibial head has a flat top whose corners are the plateau
margins or rims, every shaft is centred on its axis), and :attr:`SyntheticKneeCase.measurements`
comes from the parameters.

Examples
--------
>>> case = make_knee_ap(KneeAPParams(), side="left", rows=900, columns=700, detector_spacing_mm=0.4, noise=0)
>>> case.measurements["aldfa_left_deg"], case.dataset.ViewPosition, case.dataset.ImageLaterality
(81.0, 'AP', 'L')
>>> lat = make_knee_lateral(KneeLateralParams(), side="right", rows=900, columns=700, detector_spacing_mm=0.4)
>>> round(lat.measurements["femoral_ap_dimension_right_mm"], 6)
60.0
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..model import ImageOrientation, Landmark, LandmarkName, Landmarks, LandmarkSource, Side
from .pelvis import MU_BONE, MU_CORTEX, MU_SOFT, MU_STEEL, dataset_from_pixels
from .limb import STRIP_ROWS, StripCanvas, taper

__all__ = [
    "KneeAPParams",
    "KneeLateralParams",
    "SyntheticKneeCase",
    "make_knee_ap",
    "make_knee_lateral",
    "knee_ap_points",
    "knee_lateral_points",
]

log = logging.getLogger(__name__)

#: Distances along the anatomical axes (mm from the joint line) of the axis landmarks.
FEMORAL_AXIS_MM = (140.0, 80.0)  #: proximal, distal point above the joint line
TIBIAL_AXIS_MM = (50.0, 140.0)  #: proximal, distal point below the plateau


@dataclass(frozen=True)
class KneeAPParams:
    """One knee on an AP view (mm, degrees); the defaults are a normal adult knee."""

    aldfa_deg: float = 81.0
    mpta_deg: float = 87.0
    jlca_deg: float = 0.5  #: positive: the plateau's lateral end more distal (converging medially)
    condyle_half_width_mm: float = 21.0  #: joint-line centre → each condylar tangent point
    condyle_radius_mm: float = 17.0
    epicondyle_half_width_mm: float = 40.0  #: half the femoral condylar ML width
    epicondyle_height_mm: float = 22.0  #: level of the epicondyles above the joint line
    plateau_half_width_mm: float = 37.0
    joint_space_mm: float = 5.0
    femoral_axis_offset_mm: float = -2.0  #: where the femoral axis meets the joint line (+ lateral)
    tibial_axis_offset_mm: float = 1.0  #: where the tibial axis meets the plateau line (+ lateral)
    pose_deg: float = 0.0  #: turn of the whole knee in the image (counter-clockwise on screen +)

    @property
    def fta_deg(self) -> float:
        """Femorotibial anatomical angle by construction (valgus +): (90 − aLDFA) + (MPTA − 90) − JLCA.

        >>> KneeAPParams().fta_deg
        5.5
        """
        return (90.0 - self.aldfa_deg) + (self.mpta_deg - 90.0) - self.jlca_deg

    @classmethod
    def random(cls, rng: np.random.Generator) -> KneeAPParams:
        """Varied anatomy and pose (normal to moderately deformed knees)."""
        ch, r = float(rng.uniform(19.0, 23.0)), float(rng.uniform(15.0, 18.0))
        return cls(
            aldfa_deg=float(rng.uniform(77.0, 86.0)),
            mpta_deg=float(rng.uniform(83.0, 91.0)),
            jlca_deg=float(rng.uniform(-1.5, 3.0)),
            condyle_half_width_mm=ch,
            condyle_radius_mm=r,
            # the epicondyles stand out beyond the condyles (they are the distal femur's widest part)
            epicondyle_half_width_mm=ch + r + float(rng.uniform(3.0, 7.0)),
            plateau_half_width_mm=float(rng.uniform(33.0, 40.0)),
            femoral_axis_offset_mm=float(rng.uniform(-4.0, 3.0)),
            tibial_axis_offset_mm=float(rng.uniform(-3.0, 3.0)),
            pose_deg=float(rng.uniform(-6.0, 6.0)),
        )


@dataclass(frozen=True)
class KneeLateralParams:
    """One knee on a lateral view (mm, degrees); the defaults are a normal adult knee."""

    posterior_tibial_slope_deg: float = 8.0
    shaft_radius_mm: float = 16.0  #: femoral diaphysis, anterior and posterior cortex from the axis
    posterior_condylar_offset_mm: float = 28.0
    condyle_radius_mm: float = 22.0
    plateau_half_depth_mm: float = 25.0  #: plateau centre → each rim
    anterior_cortex_height_mm: float = 55.0  #: level of femoral_anterior_cortex above the joint
    posterior_cortex_height_mm: float = 70.0
    flexion_deg: float = 5.0
    tibial_axis_offset_mm: float = 1.0  #: where the tibial axis meets the plateau line (+ posterior)
    pose_deg: float = 0.0

    @property
    def femoral_ap_dimension_mm(self) -> float:
        """AP dimension by construction: both cortices' distance from the axis plus the PCO."""
        return 2.0 * self.shaft_radius_mm + self.posterior_condylar_offset_mm

    @classmethod
    def random(cls, rng: np.random.Generator) -> KneeLateralParams:
        return cls(
            posterior_tibial_slope_deg=float(rng.uniform(2.0, 14.0)),
            shaft_radius_mm=float(rng.uniform(14.0, 18.0)),
            posterior_condylar_offset_mm=float(rng.uniform(22.0, 32.0)),
            condyle_radius_mm=float(rng.uniform(20.0, 24.0)),
            plateau_half_depth_mm=float(rng.uniform(22.0, 28.0)),
            flexion_deg=float(rng.uniform(0.0, 15.0)),
            tibial_axis_offset_mm=float(rng.uniform(-3.0, 3.0)),
            pose_deg=float(rng.uniform(-6.0, 6.0)),
        )


@dataclass(frozen=True, eq=False)
class SyntheticKneeCase:
    """A synthetic knee radiograph with its truth.

    ``landmarks`` are in image pixels; ``measurements`` at the anatomy (names of
    :func:`orthoplan.measurements.definitions.knee_measurement_names` for ``view``).
    """

    dataset: Any
    view: str
    side: Side
    landmarks: Landmarks
    measurements: dict[str, float]
    mm_per_px: float
    magnification: float
    detector_spacing_mm: float
    ball: dict[str, float] | None
    params: Any
    orientation: ImageOrientation
    seed: int
    #: Image direction (unit, x/y) of the patient's anterior on a lateral view.
    anterior_xy: tuple[float, float] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- construction (knee frame)


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([math.cos(a) * v[0] - math.sin(a) * v[1], math.sin(a) * v[0] + math.cos(a) * v[1]])


def _turn_towards(v: np.ndarray, deg: float, towards: np.ndarray) -> np.ndarray:
    """``v`` turned by ``deg`` in whichever sense brings it closer to ``towards``."""
    a, b = _rot(v, deg), _rot(v, -deg)
    return a if float(a @ towards) >= float(b @ towards) else b


def knee_ap_points(p: KneeAPParams) -> dict[str, np.ndarray]:
    """Every constructed point of an AP knee in its frame ``(lateral, distal)`` mm, origin at the
    midpoint of the condylar tangent points, the condylar line along +lateral (before the pose).

    >>> pts = knee_ap_points(KneeAPParams(aldfa_deg=90, mpta_deg=90, jlca_deg=0, femoral_axis_offset_mm=0))
    >>> np.round(pts["knee_femoral_axis_distal"], 6).tolist()
    [0.0, -80.0]
    """
    jf = np.array([1.0, 0.0])
    prox = np.array([0.0, -1.0])
    up_f = _turn_towards(jf, p.aldfa_deg, prox)
    Q = p.femoral_axis_offset_mm * jf
    C0 = np.zeros(2)
    jt = _rot(jf, p.jlca_deg)  # y is distal: +JLCA turns the lateral end distally
    P0 = C0 + p.joint_space_mm * -prox
    n_t = np.array([-jt[1], jt[0]])  # distal normal of the plateau line
    if n_t @ -prox < 0:
        n_t = -n_t
    down_t = _turn_towards(-jt, p.mpta_deg, n_t)
    T0 = P0 + p.tibial_axis_offset_mm * jt
    E0 = C0 + p.epicondyle_height_mm * prox
    return {
        "femoral_condyle_medial": C0 - p.condyle_half_width_mm * jf,
        "femoral_condyle_lateral": C0 + p.condyle_half_width_mm * jf,
        "femoral_epicondyle_medial": E0 - p.epicondyle_half_width_mm * jf,
        "femoral_epicondyle_lateral": E0 + p.epicondyle_half_width_mm * jf,
        "knee_femoral_axis_proximal": Q + FEMORAL_AXIS_MM[0] * up_f,
        "knee_femoral_axis_distal": Q + FEMORAL_AXIS_MM[1] * up_f,
        "tibial_plateau_medial": P0 - p.plateau_half_width_mm * jt,
        "tibial_plateau_lateral": P0 + p.plateau_half_width_mm * jt,
        "knee_tibial_axis_proximal": T0 + TIBIAL_AXIS_MM[0] * down_t,
        "knee_tibial_axis_distal": T0 + TIBIAL_AXIS_MM[1] * down_t,
        # drawing points
        "_C0": C0, "_Q": Q, "_E0": E0, "_P0": P0, "_T0": T0,
        "_jf": jf, "_up_f": up_f, "_jt": jt, "_n_t": n_t, "_down_t": down_t,
    }


def knee_lateral_points(p: KneeLateralParams) -> dict[str, np.ndarray]:
    """Every constructed point of a lateral knee in its frame ``(anterior, distal)`` mm, origin on
    the femoral axis at the level of the most distal condylar point (before the pose).

    >>> pts = knee_lateral_points(KneeLateralParams())
    >>> np.round(pts["femoral_posterior_condyle"], 6).tolist()
    [-44.0, -22.0]
    """
    rf, pco, rc = p.shaft_radius_mm, p.posterior_condylar_offset_mm, p.condyle_radius_mm

    def au(a: float, u: float) -> np.ndarray:  # (anterior, up) → (anterior, distal)
        return np.array([a, -u])

    Cc = au(-(rf + pco) + rc, rc)
    phi = math.radians(p.flexion_deg)
    down_t = np.array([-math.sin(phi), math.cos(phi)])
    K = Cc + rc * down_t  # the condyle's most distal point along the tibial axis
    P0 = K + 5.0 * down_t
    perp_post = np.array([-math.cos(phi), -math.sin(phi)])
    s = math.radians(p.posterior_tibial_slope_deg)
    u_pl = math.cos(s) * perp_post + math.sin(s) * down_t  # anterior → posterior rim
    n_pl = np.array([-u_pl[1], u_pl[0]])
    if n_pl @ down_t < 0:
        n_pl = -n_pl
    T0 = P0 + p.tibial_axis_offset_mm * u_pl
    return {
        "knee_femoral_axis_proximal": au(0.0, FEMORAL_AXIS_MM[0]),
        "knee_femoral_axis_distal": au(0.0, FEMORAL_AXIS_MM[1]),
        "femoral_anterior_cortex": au(rf, p.anterior_cortex_height_mm),
        "femoral_posterior_cortex": au(-rf, p.posterior_cortex_height_mm),
        "femoral_posterior_condyle": au(-(rf + pco), rc),
        "tibial_plateau_anterior": P0 - p.plateau_half_depth_mm * u_pl,
        "tibial_plateau_posterior": P0 + p.plateau_half_depth_mm * u_pl,
        "knee_tibial_axis_proximal": T0 + TIBIAL_AXIS_MM[0] * down_t,
        "knee_tibial_axis_distal": T0 + TIBIAL_AXIS_MM[1] * down_t,
        "_Cc": Cc, "_P0": P0, "_T0": T0, "_down_t": down_t, "_u_pl": u_pl, "_n_pl": n_pl,
    }


# --------------------------------------------------------------------------- drawing


def _draw_ap(canvas: StripCanvas, p: KneeAPParams, q: dict[str, np.ndarray]) -> None:
    """Draw an AP knee; ``q`` are its points (and ``_`` drawing vectors) in image mm."""

    def tube(material, a, b, r_out, r_in=0.0, end_soft=4.0):
        canvas.tube(material, tuple(a), tuple(b), r_out, r_in, end_soft)

    up, down, jf, jt, n_t = q["_up_f"], q["_down_t"], q["_jf"], q["_jt"], q["_n_t"]
    Q, E0, P0, T0 = q["_Q"], q["_E0"], q["_P0"], q["_T0"]
    # soft tissue of thigh and leg
    tube("soft", Q + 10 * up, Q + 420 * up, 70.0, end_soft=20.0)
    tube("soft", T0 - 15 * down, T0 + 420 * down, 60.0, end_soft=20.0)
    # femur: diaphysis (cortex + canal), metaphysis, epicondylar block, condyles
    tube("cortex", Q + 60 * up, Q + 420 * up, 14.0, 8.0, end_soft=15.0)
    tube("bone", Q + 60 * up, Q + 420 * up, 8.0, end_soft=15.0)
    ep = p.epicondyle_half_width_mm
    # the metaphysis flares towards the epicondylar block but stays inside its width (the
    # epicondyles are the distal femur's medial and lateral extremes by construction)
    tube("bone", Q + 110 * up, Q + 28 * up, taper(15.0, 0.55 * ep, 82.0), end_soft=8.0)
    ang = math.degrees(math.atan2(jf[1], jf[0]))
    canvas.ellipsoid("bone", E0[0], E0[1], ep, 19.0, ang, 40.0)
    r = p.condyle_radius_mm
    n_p = -np.array([-jf[1], jf[0]]) if np.array([-jf[1], jf[0]]) @ n_t > 0 else np.array([-jf[1], jf[0]])
    for name in ("femoral_condyle_medial", "femoral_condyle_lateral"):
        c = q[name] + r * n_p
        canvas.sphere("bone", c[0], c[1], r)
    # tibia: head with a flat top (its corners are the plateau margins), metaphysis, shaft; fibula
    ph = p.plateau_half_width_mm
    tube("bone", P0, P0 + 30 * n_t, ph, end_soft=0.3)
    tube("cortex", P0, P0 + 30 * n_t, ph, ph - 2.5, end_soft=0.3)
    tube("bone", T0 + 22 * down, T0 + 90 * down, taper(ph - 4.0, 14.0, 68.0), end_soft=8.0)
    tube("cortex", T0 + 60 * down, T0 + 420 * down, 13.0, 7.0, end_soft=15.0)
    tube("bone", T0 + 60 * down, T0 + 420 * down, 7.0, end_soft=15.0)
    lat = jt * (1.0 if (q["tibial_plateau_lateral"] - q["tibial_plateau_medial"]) @ jt > 0 else -1.0)
    fib = P0 + 18 * n_t + (ph - 3.0) * lat
    tube("cortex", fib, fib + 400 * down + 6 * lat, 8.0, 3.0, end_soft=6.0)


def _draw_lateral(canvas: StripCanvas, p: KneeLateralParams, q: dict[str, np.ndarray], ant: np.ndarray,
                  up: np.ndarray) -> None:
    """Draw a lateral knee; ``ant``/``up`` are the image directions of anterior and proximal (femur)."""

    def tube(material, a, b, r_out, r_in=0.0, end_soft=4.0):
        canvas.tube(material, tuple(a), tuple(b), r_out, r_in, end_soft)

    O = 0.5 * (q["knee_femoral_axis_proximal"] + q["knee_femoral_axis_distal"]) - 110.0 * up  # axis at the joint

    def at(a: float, u: float) -> np.ndarray:
        return O + a * ant + u * up

    rf, pco, rc = p.shaft_radius_mm, p.posterior_condylar_offset_mm, p.condyle_radius_mm
    down, u_pl, n_pl, P0, T0 = q["_down_t"], q["_u_pl"], q["_n_pl"], q["_P0"], q["_T0"]
    tube("soft", at(-5, 20), at(-5, 420), 75.0, end_soft=20.0)
    tube("soft", T0 - 10 * down, T0 + 420 * down, 60.0, end_soft=20.0)
    # femur
    tube("cortex", at(0, 45), at(0, 420), rf, rf - 6.0, end_soft=6.0)
    tube("bone", at(0, 45), at(0, 420), rf - 6.0, end_soft=6.0)
    post = -(rf + pco) + 4.0
    am, sa = 0.5 * (rf + post), 0.5 * (rf - post) - 1.0
    m = at(am, 35.0)
    ang = math.degrees(math.atan2(ant[1], ant[0]))
    canvas.ellipsoid("bone", m[0], m[1], sa, 28.0, ang, 45.0)
    c = q["_Cc"]
    canvas.sphere("bone", c[0], c[1], rc)
    t = at(rf - 13.0, 20.0)
    canvas.sphere("bone", t[0], t[1], 12.0)  # trochlea, inside the anterior cortex line
    pat = at(rf + 13.0, 25.0)
    canvas.ellipsoid("bone", pat[0], pat[1], 9.0, 20.0, ang, 25.0)  # patella
    # tibia: head with a flat, sloped top (its corners are the rims), tuberosity, metaphysis, shaft
    ph = p.plateau_half_depth_mm
    tube("bone", P0, P0 + 25 * n_pl, ph, end_soft=0.3)
    tube("cortex", P0, P0 + 25 * n_pl, ph, ph - 2.5, end_soft=0.3)
    tb = T0 + 30 * down - (ph - 4.0) * u_pl
    canvas.ellipsoid("bone", tb[0], tb[1], 6.0, 12.0, math.degrees(math.atan2(down[1], down[0])) + 90.0, 20.0)
    tube("bone", T0 + 18 * down, T0 + 85 * down, taper(ph - 3.0, 14.0, 67.0), end_soft=8.0)
    tube("cortex", T0 + 55 * down, T0 + 420 * down, 14.0, 8.0, end_soft=15.0)
    tube("bone", T0 + 55 * down, T0 + 420 * down, 8.0, end_soft=15.0)


# --------------------------------------------------------------------------- rendering


def _render(rows: int, columns: int, mpp: float, draw, seed: int, noise: float, photometric: str,
            bits_stored: int) -> np.ndarray:
    """Stored pixel values of the drawing ``draw(canvas)`` (strips of rows, as synthetic_limb)."""
    from scipy import ndimage

    maxval = (1 << bits_stored) - 1
    stored = np.empty((rows, columns), np.uint16)
    canvas = StripCanvas(rows, columns, mpp)
    halo = 4
    for r0 in range(0, rows, STRIP_ROWS):
        r1 = min(rows, r0 + STRIP_ROWS)
        a0, a1 = max(0, r0 - halo), min(rows, r1 + halo)
        canvas.start(a0, a1)
        draw(canvas)
        total = (MU_SOFT * canvas.path["soft"] + MU_BONE * canvas.path["bone"] + MU_CORTEX * canvas.path["cortex"]
                 + MU_STEEL * canvas.path["steel"])
        total = ndimage.gaussian_filter(np.minimum(total, 9.0), sigma=0.8, mode="nearest")[r0 - a0: r0 - a0 + (r1 - r0)]
        signal = 0.08 + 0.88 * np.power(total / 9.0, 0.8)
        if noise > 0:
            srng = np.random.default_rng([seed, r0, 7])
            signal = signal + srng.normal(0.0, 0.012 * noise, signal.shape).astype(np.float32) * np.sqrt(
                np.clip(1.1 - signal, 0.1, None))
        block = np.clip(np.round(signal * maxval * 0.98), 0, maxval).astype(np.uint16)
        stored[r0:r1] = (maxval - block) if photometric == "MONOCHROME1" else block
    canvas.path = {}
    return stored


def _place(points: dict[str, np.ndarray], to_image) -> dict[str, np.ndarray]:
    out = {}
    for k, v in points.items():
        if k.startswith("_") and k[1:2].islower():  # a direction: turned, not moved
            out[k] = to_image(v) - to_image(np.zeros(2))
        else:
            out[k] = to_image(v)
    return out


def _finish(ds, view: str, side: Side, seed: int, tags: dict[str, Any]) -> None:
    ds.PatientName = f"SYNTHETIC^KNEE{seed}"
    ds.PatientID = f"SYNKN{seed:06d}"
    ds.BodyPartExamined = "KNEE"
    ds.ImageLaterality = "L" if side is Side.LEFT else "R"
    ds.AnatomicRegionSequence[0].CodeValue = "72696002"
    ds.AnatomicRegionSequence[0].CodeMeaning = "Knee"
    for k, v in tags.items():
        setattr(ds, k, v)
    if view == "knee-lateral":
        ds.ViewCodeSequence[0].CodeValue = "399352003"
        ds.ViewCodeSequence[0].CodeMeaning = "lateral-medial"


def _check_inside(q: dict[str, np.ndarray], width: float, height: float, what: str) -> None:
    pts = np.array([v for k, v in q.items() if not k.startswith("_")])
    if pts[:, 0].min() < 8 or pts[:, 1].min() < 8 or pts[:, 0].max() > width - 8 or pts[:, 1].max() > height - 8:
        raise ValueError(
            f"a {height:.0f} x {width:.0f} mm field is too small for this {what}: enlarge the image or "
            "coarsen the pixel spacing"
        )


def _landmarks(q: dict[str, np.ndarray], side: Side, mpp: float) -> Landmarks:
    return Landmarks.from_landmarks(
        Landmark(LandmarkName.of(k, side), v[0] / mpp, v[1] / mpp, 1.0, LandmarkSource.MANUAL)
        for k, v in q.items() if not k.startswith("_")
    )


def _ball(centre: np.ndarray, diameter: float | None, width: float, height: float, mpp: float, magnification: float):
    if not diameter:
        return None, None
    r = diameter / 2
    x = float(np.clip(centre[0], r + 12.0, width - r - 12.0))
    y = float(np.clip(centre[1], r + 12.0, height - r - 12.0))
    info = {"x": x / mpp, "y": y / mpp, "radius_px": r / mpp, "diameter_mm": float(diameter),
            "magnification": float(magnification)}
    return (x, y, r), info


def make_knee_ap(
    params: KneeAPParams | None = None,
    *,
    side: Side | str = "left",
    seed: int = 0,
    rows: int = 1900,
    columns: int = 1400,
    detector_spacing_mm: float = 0.2,
    magnification: float = 1.1,
    ball_diameter_mm: float | None = 25.0,
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    bits_stored: int = 16,
    calibration_tags: Literal["imager", "imager+ermf", "imager+distances", "pixel", "none"] = "imager",
    patient_left_x: int = 1,
    noise: float = 1.0,
) -> SyntheticKneeCase:
    """A synthetic AP knee DX (one knee, ``side``) with known landmarks and measurements.

    Parameters
    ----------
    params
        The knee; default :meth:`KneeAPParams.random` from ``seed``.
    side
        The patient's knee shown (ImageLaterality).
    rows, columns, detector_spacing_mm, magnification
        Detector size and pitch; anatomical mm/px = spacing / magnification. The default
        field is 345 × 255 mm at the knee.
    ball_diameter_mm
        A steel calibration sphere beside the knee at its magnification (``None``: no ball).
    photometric, bits_stored, calibration_tags, patient_left_x, noise
        As :func:`orthoplan.phantoms.limb.make_long_leg`.

    Raises
    ------
    ValueError
        The field is too small for the knee.
    """
    rng = np.random.default_rng(seed)
    side = Side(side)
    if params is None:
        params = KneeAPParams.random(rng)
    orientation = ImageOrientation(patient_left_x, -1, "PatientOrientation")
    mpp = detector_spacing_mm / magnification
    width, height = columns * mpp, rows * mpp
    centre = np.array([width / 2, height * 0.47])
    lx = float(orientation.lateral_x(side))
    pose = params.pose_deg

    def to_image(v: np.ndarray) -> np.ndarray:
        w = np.array([lx * v[0], v[1]])
        return centre + _rot(w, -pose)

    q = _place(knee_ap_points(params), to_image)
    _check_inside(q, width, height, "AP knee")
    ball, ball_info = _ball(q["_C0"] + (params.epicondyle_half_width_mm + 40.0) * q["_jf"] * 1.0
                            + 30.0 * q["_down_t"], ball_diameter_mm, width, height, mpp, magnification)

    def draw(canvas):
        _draw_ap(canvas, params, q)
        if ball is not None:
            canvas.sphere("steel", *ball)

    stored = _render(rows, columns, mpp, draw, seed, noise, photometric, bits_stored)
    maxval = (1 << bits_stored) - 1
    ds = dataset_from_pixels(stored, seed, detector_spacing_mm, magnification, mpp, photometric, bits_stored, calibration_tags, maxval)
    del stored
    _finish(ds, "knee-ap", side, seed, {"ViewPosition": "AP",
                                        "PatientOrientation": ["L", "F"] if patient_left_x == 1 else ["R", "F"]})
    if calibration_tags == "pixel":
        ds.PixelSpacingCalibrationDescription = "synthetic: knee plane"
    s = side.value
    truth = {
        f"aldfa_{s}_deg": params.aldfa_deg,
        f"ampta_{s}_deg": params.mpta_deg,
        f"jlca_{s}_deg": params.jlca_deg,
        f"fta_{s}_deg": params.fta_deg,
        f"femoral_condylar_width_{s}_mm": 2.0 * params.epicondyle_half_width_mm,
        f"tibial_plateau_width_{s}_mm": 2.0 * params.plateau_half_width_mm,
    }
    log.debug("synthetic AP knee %d x %d at %.4f mm/px", rows, columns, mpp)
    return SyntheticKneeCase(ds, "knee-ap", side, _landmarks(q, side, mpp), truth, mpp, magnification,
                             detector_spacing_mm, ball_info, params, orientation, seed)


def make_knee_lateral(
    params: KneeLateralParams | None = None,
    *,
    side: Side | str = "left",
    seed: int = 0,
    rows: int = 1900,
    columns: int = 1400,
    detector_spacing_mm: float = 0.2,
    magnification: float = 1.1,
    ball_diameter_mm: float | None = 25.0,
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    bits_stored: int = 16,
    calibration_tags: Literal["imager", "imager+ermf", "imager+distances", "pixel", "none"] = "imager",
    anterior_x: int = 1,
    laterality_tag: bool = True,
    noise: float = 1.0,
) -> SyntheticKneeCase:
    """A synthetic lateral knee DX (one knee, ``side``) with known landmarks and measurements.

    ``anterior_x`` is +1 when the patient's anterior lies towards increasing x
    (PatientOrientation ``A\\F``), -1 otherwise (``P\\F``). ``laterality_tag=False`` leaves
    ImageLaterality out (the side must then be given to plan the image). Other parameters as
    :func:`make_knee_ap`.
    """
    rng = np.random.default_rng(seed)
    side = Side(side)
    if params is None:
        params = KneeLateralParams.random(rng)
    # a lateral view: the row direction is anterior or posterior; the left/right sign is moot
    orientation = ImageOrientation(1, -1, "assumed-left-from-PatientOrientation")
    mpp = detector_spacing_mm / magnification
    width, height = columns * mpp, rows * mpp
    centre = np.array([width / 2 - 8.0 * anterior_x, height * 0.47])
    pose = params.pose_deg

    def to_image(v: np.ndarray) -> np.ndarray:
        w = np.array([anterior_x * v[0], v[1]])
        return centre + _rot(w, -pose)

    q = _place(knee_lateral_points(params), to_image)
    _check_inside(q, width, height, "lateral knee")
    ant = to_image(np.array([1.0, 0.0])) - to_image(np.zeros(2))
    up = to_image(np.array([0.0, -1.0])) - to_image(np.zeros(2))
    ball, ball_info = _ball(q["_P0"] - 85.0 * q["_u_pl"] + 10.0 * q["_down_t"], ball_diameter_mm, width, height,
                            mpp, magnification)

    def draw(canvas):
        _draw_lateral(canvas, params, q, ant, up)
        if ball is not None:
            canvas.sphere("steel", *ball)

    stored = _render(rows, columns, mpp, draw, seed, noise, photometric, bits_stored)
    maxval = (1 << bits_stored) - 1
    ds = dataset_from_pixels(stored, seed, detector_spacing_mm, magnification, mpp, photometric, bits_stored, calibration_tags, maxval)
    del stored
    _finish(ds, "knee-lateral", side, seed, {"ViewPosition": "LL" if side is Side.LEFT else "RL",
                                             "PatientOrientation": ["A", "F"] if anterior_x == 1 else ["P", "F"]})
    if not laterality_tag:
        del ds.ImageLaterality
    if calibration_tags == "pixel":
        ds.PixelSpacingCalibrationDescription = "synthetic: knee plane"
    s = side.value
    truth = {
        f"posterior_tibial_slope_{s}_deg": params.posterior_tibial_slope_deg,
        f"femoral_ap_dimension_{s}_mm": params.femoral_ap_dimension_mm,
        f"posterior_condylar_offset_{s}_mm": params.posterior_condylar_offset_mm,
    }
    log.debug("synthetic lateral knee %d x %d at %.4f mm/px", rows, columns, mpp)
    return SyntheticKneeCase(ds, "knee-lateral", side, _landmarks(q, side, mpp), truth, mpp, magnification,
                             detector_spacing_mm, ball_info, params, orientation, seed,
                             anterior_xy=(float(ant[0]), float(ant[1])))


def with_params(params: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` for the knee parameter classes (convenience for tests)."""
    return replace(params, **changes)
