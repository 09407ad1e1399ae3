"""Synthetic standing AP long-leg radiographs whose alignment is known by construction.

Each leg is built in its own *limb frame* in mm (``l`` lateral, ``d`` distal, the femoral
head centre at the origin) from parameters that *are* the clinical angles and lengths of
Paley's system (mLPFA, mLDFA, JLCA, MPTA, LDTA, AMA, femoral and tibial mechanical
lengths), so a deformity has a known origin: femoral (mLDFA), tibial (MPTA) or joint line
(JLCA). The leg is then turned so that its hip-ankle line leans ``limb_lean_deg`` (ankle
medial), both legs stand on one floor (equal ankle heights, so a leg-length difference
tilts the pelvis), and the image is drawn as projected attenuation with the primitives of
:mod:`orthoplan.phantoms.pelvis` (its ``Canvas``), **in strips of rows**: memory stays bounded
for tall images (a 5600 × 2000 image needs the 22 MB of its pixels plus a few MB).

Truth by construction: :attr:`SyntheticLimbCase.measurements` comes from the parameters
(HKA = MPTA − mLDFA − JLCA, varus negative; lengths; LLD) and, for the MAD, from the
constructed points in the limb frame, before any image mapping.

Examples
--------
>>> case = make_long_leg(LimbParams.preset("tibial_varus"), rows=1800, columns=700,
...                      detector_spacing_mm=0.6, noise=0)
>>> case.dataset.Rows, case.measurements["hka_right_deg"], case.verdicts["right"]
(1800, -7.0, ('varus', ('tibial',)))
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..model import ImageOrientation, Landmark, LandmarkName, Landmarks, LandmarkSource, Side
from .pelvis import MU_BONE, MU_CORTEX, MU_SOFT, MU_STEEL, Canvas, dataset_from_pixels

__all__ = ["LegParams", "LimbParams", "SyntheticLimbCase", "make_long_leg", "PRESETS", "leg_points", "knee_widths"]

log = logging.getLogger(__name__)

#: Rows rendered at a time (plus a blur halo): the memory bound of the generator.
STRIP_ROWS = 256
#: Radius of each drawn femoral condyle (a sphere tangent to the condylar tangent point).
CONDYLE_RADIUS_MM = 19.0
#: Level (proximal of the distal condylar tangent points) at which :attr:`SyntheticLimbCase.knee_widths_mm`
#: gives the distal femur's ML width: a 9 mm distal resection.
FEMORAL_WIDTH_LEVEL_MM = 9.0


@dataclass(frozen=True)
class LegParams:
    """One leg's anatomy (mm, degrees), in Paley's terms; the defaults are a normal adult leg."""

    femoral_length_mm: float = 440.0  #: femoral head centre → femoral knee centre
    tibial_length_mm: float = 370.0  #: tibial knee centre → ankle centre
    mlpfa_deg: float = 90.0
    mldfa_deg: float = 87.5
    jlca_deg: float = 0.5  #: positive: converging medially (varus)
    mpta_deg: float = 87.0
    ldta_deg: float = 89.0
    ama_deg: float = 6.0
    head_radius_mm: float = 23.0
    trochanter_distance_mm: float = 55.0  #: head centre → greater trochanter tip
    condyle_half_width_mm: float = 24.0  #: joint-line centre → each condylar tangent point
    plateau_half_width_mm: float = 37.0  #: plateau centre → each plateau margin
    plafond_half_width_mm: float = 15.0

    @property
    def hka_deg(self) -> float:
        """HKA by construction (varus negative): MPTA − mLDFA − JLCA."""
        return self.mpta_deg - self.mldfa_deg - self.jlca_deg


#: Deformities of known origin: (mLDFA, JLCA, MPTA) and the expected malalignment verdict.
PRESETS: dict[str, tuple[tuple[float, float, float], tuple[str, tuple[str, ...]]]] = {
    "neutral": ((88.0, 0.5, 87.0), ("neutral", ())),
    "femoral_varus": ((95.0, 1.0, 87.5), ("varus", ("femoral",))),
    "tibial_varus": ((87.5, 1.0, 81.5), ("varus", ("tibial",))),
    "joint_line_varus": ((88.0, 6.0, 87.0), ("varus", ("joint_line",))),
    "combined_varus": ((92.0, 3.0, 83.0), ("varus", ("femoral", "tibial", "joint_line"))),
    "femoral_valgus": ((81.0, 0.5, 87.5), ("valgus", ())),  # origins filled below
    "tibial_valgus": ((87.5, 0.5, 94.0), ("valgus", ("tibial",))),
    "joint_line_valgus": ((87.5, -4.0, 87.5), ("valgus", ("joint_line",))),
}
PRESETS["femoral_valgus"] = (PRESETS["femoral_valgus"][0], ("valgus", ("femoral",)))


@dataclass(frozen=True)
class LimbParams:
    """Both legs and the pose. ``right``/``left`` are the patient's legs."""

    right: LegParams = field(default_factory=LegParams)
    left: LegParams = field(default_factory=LegParams)
    hip_half_distance_mm: float = 92.0  #: midline → each femoral head centre
    limb_lean_deg: float = 3.0  #: hip-ankle line from the image vertical, ankle medial
    right_kind: str = "neutral"
    left_kind: str = "neutral"

    @classmethod
    def preset(cls, right: str, left: str | None = None, **changes: Any) -> LimbParams:
        """Legs with the deformity ``right`` (and ``left``, default the same) of :data:`PRESETS`.

        >>> LimbParams.preset("femoral_varus", "neutral").right.mldfa_deg
        95.0
        """
        left = left or right

        def leg(kind: str) -> LegParams:
            (mldfa, jlca, mpta), _ = PRESETS[kind]
            return LegParams(mldfa_deg=mldfa, jlca_deg=jlca, mpta_deg=mpta)

        return cls(right=leg(right), left=leg(left), right_kind=right, left_kind=left, **changes)

    @classmethod
    def random(cls, rng: np.random.Generator, right: str, left: str | None = None) -> LimbParams:
        """A preset with varied lengths, proximal/distal angles and pose (the deformity stays)."""
        base = cls.preset(right, left)

        def vary(p: LegParams) -> LegParams:
            return replace(
                p,
                femoral_length_mm=float(rng.uniform(400, 480)),
                tibial_length_mm=float(rng.uniform(330, 400)),
                mlpfa_deg=float(rng.uniform(86, 94)),
                ldta_deg=float(rng.uniform(87, 91)),
                ama_deg=float(rng.uniform(5, 8)),
                mldfa_deg=p.mldfa_deg + float(rng.uniform(-0.4, 0.4)),
                mpta_deg=p.mpta_deg + float(rng.uniform(-0.4, 0.4)),
                head_radius_mm=float(rng.uniform(21, 26)),
            )

        return replace(
            base,
            right=vary(base.right),
            left=vary(base.left),
            hip_half_distance_mm=float(rng.uniform(85, 100)),
            limb_lean_deg=float(rng.uniform(1.5, 4.0)),
        )


@dataclass(frozen=True, eq=False)
class SyntheticLimbCase:
    """A synthetic long-leg radiograph with its truth.

    ``landmarks`` are in image pixels; ``measurements`` at the anatomy (names of
    :func:`orthoplan.measurements.lower_limb_measurement_names`); ``verdicts`` the expected
    malalignment test result per side, ``(alignment, origins)``; ``points_mm`` every
    constructed point in image mm (x, y) per landmark name.
    """

    dataset: Any
    landmarks: Landmarks
    measurements: dict[str, float]
    verdicts: dict[str, tuple[str, tuple[str, ...]]]
    mm_per_px: float
    magnification: float
    detector_spacing_mm: float
    ball: dict[str, float] | None
    params: LimbParams
    orientation: ImageOrientation
    seed: int
    #: The widths that size total-knee components, per side (mm at the anatomy):
    #: ``femoral_ml_{side}_mm`` the bony medial-lateral width of the drawn condyles
    #: :data:`FEMORAL_WIDTH_LEVEL_MM` proximal of their distal tangent points, and
    #: ``tibial_plateau_width_{side}_mm`` the distance between the plateau margins.
    knee_widths_mm: dict[str, float] = field(default_factory=dict)


def knee_widths(p: LegParams, side: Side | str) -> dict[str, float]:
    """The component-sizing widths of one leg by construction (see :attr:`SyntheticLimbCase.knee_widths_mm`).

    >>> knee_widths(LegParams(), "left")["femoral_ml_left_mm"]
    80.3...
    """
    s = Side(side).value
    r, h = CONDYLE_RADIUS_MM, FEMORAL_WIDTH_LEVEL_MM
    chord = math.sqrt(max(r * r - (r - h) ** 2, 0.0))
    return {
        f"femoral_ml_{s}_mm": 2.0 * p.condyle_half_width_mm + 2.0 * chord,
        f"tibial_plateau_width_{s}_mm": 2.0 * p.plateau_half_width_mm,
    }


# --------------------------------------------------------------------------- construction (limb frame)


def _v(phi_deg: float) -> np.ndarray:
    """Unit vector at ``phi_deg`` from distal, positive towards lateral: ``(l, d)``."""
    a = math.radians(phi_deg)
    return np.array([math.sin(a), math.cos(a)])


def _angle(v: np.ndarray) -> float:
    return math.degrees(math.atan2(v[0], v[1]))


def leg_points(p: LegParams, lean_deg: float = 0.0) -> dict[str, np.ndarray]:
    """Every constructed point of one leg in its limb frame ``(lateral, distal)`` mm, head at 0.

    The leg is turned so that the hip-ankle line makes ``lean_deg`` with the distal
    direction, the ankle medial. Keys are landmark anatomy names plus a few drawing points
    (``neck``, ``femoral_joint_center``, ``plateau_center``, ``anatomical_knee``).

    >>> pts = leg_points(LegParams(mldfa_deg=90, jlca_deg=0, mpta_deg=90), lean_deg=0)
    >>> np.round(pts["ankle_center"], 6).tolist()
    [0.0, 819.0]
    """
    phi_f = 0.0
    H = np.zeros(2)
    Kf = H + p.femoral_length_mm * _v(phi_f)
    GT = H + p.trochanter_distance_mm * _v(phi_f + p.mlpfa_deg)
    # distal femoral joint line: lateral direction at mLDFA from the proximal axis
    jf = _v(phi_f + 180.0 - p.mldfa_deg)
    C0 = Kf + 10.0 * _v(phi_f)
    Cm, Cl = C0 - p.condyle_half_width_mm * jf, C0 + p.condyle_half_width_mm * jf
    # plateau line: JLCA from the condylar tangent (positive: its lateral end more distal)
    jt = _v(_angle(jf) - p.jlca_deg)
    P0 = C0 + 5.0 * _v(phi_f)
    Pm, Pl = P0 - p.plateau_half_width_mm * jt, P0 + p.plateau_half_width_mm * jt
    n_prox = _v(_angle(jt) + 90.0)  # normal of the plateau pointing proximal
    Kt = P0 + 6.0 * n_prox
    # tibial mechanical axis: MPTA (medial) from the plateau line
    tau = _angle(jt) - 180.0 + p.mpta_deg
    A = Kt + p.tibial_length_mm * _v(tau)
    ja = _v(tau + 180.0 - p.ldta_deg)
    F0 = A - 3.0 * _v(tau)
    Fm, Fl = F0 - p.plafond_half_width_mm * ja, F0 + p.plafond_half_width_mm * ja
    # femoral anatomical axis: AMA from the mechanical axis, 8 mm medial of the knee centre
    phi_a = phi_f - p.ama_deg
    Q = Kf - 8.0 * _v(phi_f + 90.0)
    SP = Q - 330.0 * _v(phi_a)
    SD = Q - 110.0 * _v(phi_a)
    # the neck axis (130 deg to the shaft) meets the anatomical axis at ``neck``
    u = _v(phi_a + 50.0)
    t, _ = np.linalg.solve(np.column_stack([u, -_v(phi_a)]), Q - H)
    neck = H + t * u
    pts = {
        "femoral_head_center": H,
        "greater_trochanter": GT,
        "femoral_shaft_proximal": SP,
        "femoral_shaft_distal": SD,
        "femoral_knee_center": Kf,
        "femoral_condyle_medial": Cm,
        "femoral_condyle_lateral": Cl,
        "tibial_knee_center": Kt,
        "tibial_plateau_medial": Pm,
        "tibial_plateau_lateral": Pl,
        "ankle_center": A,
        "tibial_plafond_medial": Fm,
        "tibial_plafond_lateral": Fl,
        "neck": neck,
        "femoral_joint_center": C0,
        "plateau_center": P0,
        "anatomical_knee": Q,
    }
    # turn the leg about the head so the hip-ankle line leans lean_deg (ankle medial)
    rho = math.radians(-lean_deg - _angle(A - H))
    rot = np.array([[math.cos(rho), math.sin(rho)], [-math.sin(rho), math.cos(rho)]])
    return {k: rot @ v for k, v in pts.items()}


def _mad_truth(pts: dict[str, np.ndarray]) -> float:
    """MAD in the limb frame (lateral +x): positive when the knee is lateral of the hip-ankle line."""
    H, A, K = pts["femoral_head_center"], pts["ankle_center"], pts["tibial_knee_center"]
    u = (A - H) / np.linalg.norm(A - H)
    n = np.array([u[1], -u[0]])  # the normal with a positive lateral component
    if n[0] < 0:
        n = -n
    return float((K - H) @ n)


def _truth(params: LimbParams, pts: dict[Side, dict[str, np.ndarray]]) -> dict[str, float]:
    out: dict[str, float] = {}
    legs = {}
    for side in (Side.RIGHT, Side.LEFT):
        p = params.right if side is Side.RIGHT else params.left
        s = side.value
        out[f"hka_{s}_deg"] = p.hka_deg
        out[f"mad_{s}_mm"] = _mad_truth(pts[side])
        out[f"mlpfa_{s}_deg"] = p.mlpfa_deg
        out[f"mldfa_{s}_deg"] = p.mldfa_deg
        out[f"mpta_{s}_deg"] = p.mpta_deg
        out[f"ldta_{s}_deg"] = p.ldta_deg
        out[f"jlca_{s}_deg"] = p.jlca_deg
        out[f"ama_{s}_deg"] = p.ama_deg
        out[f"femoral_length_{s}_mm"] = p.femoral_length_mm
        out[f"tibial_length_{s}_mm"] = p.tibial_length_mm
        legs[side] = p.femoral_length_mm + p.tibial_length_mm
    out["lld_long_leg_mm"] = legs[Side.LEFT] - legs[Side.RIGHT]
    return out


# --------------------------------------------------------------------------- drawing in strips


class StripCanvas(Canvas):
    """:class:`orthoplan.phantoms.pelvis.Canvas` in image mm (no tilt, origin at the image corner),
    holding only the rows ``[r0, r1)`` of the current strip."""

    def __init__(self, rows: int, cols: int, mm_per_px: float):  # noqa: D107 - no full arrays
        self.rows, self.cols, self.mpp = rows, cols, mm_per_px
        self.ox = self.oy = 0.0
        self.c, self.s = 1.0, 0.0
        self.half_itd = 0.0
        self.r0, self.r1 = 0, 0
        self.path: dict[str, np.ndarray] = {}
        self._box: tuple[float, float, float, float] | None = None  # (x0, x1, y0, y1) px

    def tube(self, material, p0, p1, r_out, r_in=0.0, end_soft=4.0) -> None:
        """The base tube, evaluated only within the segment's bounding box (a long bone's
        square window would be mostly empty)."""
        r = float(np.max(r_out(np.linspace(0.0, 1e4, 64)))) if callable(r_out) else float(r_out)
        (x0, y0), (x1, y1) = p0, p1
        box = ((min(x0, x1) - r) / self.mpp - 2, (max(x0, x1) + r) / self.mpp + 2,
               (min(y0, y1) - r) / self.mpp - 2, (max(y0, y1) + r) / self.mpp + 2)
        if box[3] < self.r0 or box[2] > self.r1:
            return
        self._box = box
        try:
            super().tube(material, p0, p1, r_out, r_in, end_soft)
        finally:
            self._box = None

    def start(self, r0: int, r1: int) -> None:
        self.r0, self.r1 = r0, r1
        self.path = {k: np.zeros((r1 - r0, self.cols), np.float32) for k in ("soft", "bone", "cortex", "steel")}

    def window(self, X: float, Yd: float, radius_mm: float):
        x, y = self.to_px(X, Yd)
        r = radius_mm / self.mpp + 2
        c0, c1 = max(0, int(x - r)), min(self.cols, int(x + r) + 1)
        r0, r1 = max(self.r0, int(y - r)), min(self.r1, int(y + r) + 1)
        if self._box is not None:
            c0, c1 = max(c0, int(self._box[0])), min(c1, int(self._box[1]) + 1)
            r0, r1 = max(r0, int(self._box[2])), min(r1, int(self._box[3]) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        xs = (np.arange(c0, c1, dtype=np.float32) + 0.5) * self.mpp
        ys = (np.arange(r0, r1, dtype=np.float32) + 0.5) * self.mpp
        Xg, Yg = np.meshgrid(xs, ys)
        return (slice(r0 - self.r0, r1 - self.r0), slice(c0, c1)), Xg, Yg


def taper(r_start: float, r_end: float, length: float):
    return lambda s: r_start + (r_end - r_start) * np.clip(s / max(length, 1e-6), 0.0, 1.0)


def _draw_leg(canvas: StripCanvas, p: LegParams, q: dict[str, np.ndarray]) -> None:
    """Draw one leg; ``q`` are its points in image mm (x, y)."""

    def tube(material, a, b, r_out, r_in=0.0, end_soft=4.0):
        canvas.tube(material, tuple(a), tuple(b), r_out, r_in, end_soft)

    def unit(v):
        return v / np.linalg.norm(v)

    H, Kf, Kt, A = q["femoral_head_center"], q["femoral_knee_center"], q["tibial_knee_center"], q["ankle_center"]
    fem_d, tib_d = unit(Kf - H), unit(A - Kt)
    anat_d = unit(q["femoral_shaft_distal"] - q["femoral_shaft_proximal"])
    # soft tissue: thigh and leg
    tube("soft", H - 40 * fem_d, Kf + 30 * fem_d, taper(75.0, 48.0, float(np.linalg.norm(Kf - H)) + 70), end_soft=20.0)
    tube("soft", Kt - 20 * tib_d, A + 40 * tib_d, taper(50.0, 30.0, float(np.linalg.norm(A - Kt)) + 60), end_soft=20.0)
    # femur: head, neck, greater trochanter, shaft (cortex + canal), metaphysis, condyles
    canvas.sphere("bone", H[0], H[1], p.head_radius_mm)
    tube("bone", H, q["neck"], 0.62 * p.head_radius_mm, end_soft=6.0)
    top = q["neck"] - 25 * anat_d
    tube("bone", top, q["femoral_shaft_proximal"] + 20 * anat_d, 20.0, end_soft=10.0)
    gt = q["greater_trochanter"]
    canvas.ellipsoid("bone", gt[0], gt[1] + 15.0, 11.0, 15.0, 0.0, 20.0)
    tube("cortex", q["femoral_shaft_proximal"] - 10 * anat_d, q["anatomical_knee"] - 60 * anat_d, 14.0, 8.0, end_soft=20.0)
    tube("bone", q["femoral_shaft_proximal"] - 10 * anat_d, q["anatomical_knee"] - 60 * anat_d, 8.0, end_soft=20.0)
    C0 = q["femoral_joint_center"]
    tube("bone", q["anatomical_knee"] - 110 * anat_d, C0 - 15 * fem_d, taper(15.0, 36.0, 100.0), end_soft=12.0)
    jf = unit(q["femoral_condyle_lateral"] - q["femoral_condyle_medial"])
    n_d = np.array([-jf[1], jf[0]])
    if n_d @ fem_d < 0:
        n_d = -n_d
    for name in ("femoral_condyle_medial", "femoral_condyle_lateral"):
        c = q[name] - CONDYLE_RADIUS_MM * n_d
        canvas.sphere("bone", c[0], c[1], CONDYLE_RADIUS_MM)
    # tibia: plateau, metaphysis, shaft, distal flare; talus; fibula
    jt = unit(q["tibial_plateau_lateral"] - q["tibial_plateau_medial"])
    P0 = q["plateau_center"]
    nt = np.array([-jt[1], jt[0]])
    if nt @ tib_d < 0:
        nt = -nt
    pc = P0 + 12.0 * nt
    canvas.ellipsoid("bone", pc[0], pc[1], p.plateau_half_width_mm + 1.0, 12.0, math.degrees(math.atan2(jt[1], jt[0])), 45.0)
    canvas.ellipsoid("bone", Kt[0], Kt[1] + 4.0 * tib_d[1], 8.0, 6.0, 0.0, 10.0)  # tibial spines
    tube("bone", P0 + 8 * tib_d, P0 + 80 * tib_d, taper(p.plateau_half_width_mm - 3.0, 14.0, 72.0), end_soft=10.0)
    tube("cortex", P0 + 60 * tib_d, A - 60 * tib_d, 12.0, 6.5, end_soft=20.0)
    F0 = 0.5 * (q["tibial_plafond_medial"] + q["tibial_plafond_lateral"])
    tube("bone", A - 90 * tib_d, F0 - 1.0 * tib_d, taper(13.0, p.plafond_half_width_mm + 6.0, 89.0), end_soft=6.0)
    t = A + 13.0 * tib_d
    canvas.ellipsoid("bone", t[0], t[1], 19.0, 12.0, 0.0, 30.0)  # talus, dome top near the ankle centre
    lat = np.sign(q["tibial_plateau_lateral"][0] - q["tibial_plateau_medial"][0]) * np.array([1.0, 0.0])
    tube("cortex", P0 + 15 * tib_d + 34 * lat, A + 12 * tib_d + 24 * lat, 7.0, 3.0, end_soft=8.0)


def _draw_strip(canvas: StripCanvas, params: LimbParams, legs: dict[Side, dict[str, np.ndarray]], mid_x: float, ball: tuple[float, float, float] | None) -> None:
    hips = [legs[s]["femoral_head_center"] for s in Side]
    hy = float(np.mean([h[1] for h in hips]))
    # pelvis: soft tissue and a simple bony ring above the heads
    canvas.ellipsoid("soft", mid_x, hy - 20.0, params.hip_half_distance_mm + 80.0, 110.0, 0.0, 220.0)
    canvas.ellipsoid("bone", mid_x, hy - 60.0, params.hip_half_distance_mm + 30.0, 70.0, 0.0, 14.0)
    for h in hips:
        canvas.ellipsoid("bone", h[0], h[1] - 20.0, 36.0, 22.0, 0.0, 12.0)  # acetabular roof
    for side in Side:
        _draw_leg(canvas, params.right if side is Side.RIGHT else params.left, legs[side])
    if ball is not None:
        canvas.sphere("steel", *ball)


# --------------------------------------------------------------------------- the case


def make_long_leg(
    params: LimbParams | None = None,
    *,
    seed: int = 0,
    rows: int = 5600,
    columns: int = 2000,
    detector_spacing_mm: float = 0.2,
    magnification: float = 1.05,
    ball_diameter_mm: float | None = 25.0,
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    bits_stored: int = 16,
    calibration_tags: Literal["imager", "imager+ermf", "imager+distances", "pixel", "none"] = "imager",
    patient_left_x: int = 1,
    noise: float = 1.0,
) -> SyntheticLimbCase:
    """Make a synthetic standing AP long-leg DX with known truth.

    Parameters
    ----------
    params
        Both legs; default: :meth:`LimbParams.random` of a neutral pair from ``seed``.
    rows, columns, detector_spacing_mm, magnification
        Detector size and pitch; anatomical mm/px = spacing / magnification. The default
        (5600 × 2000 at 0.2 mm, 1.05) covers 1067 × 381 mm; tests use a coarser pitch.
    ball_diameter_mm
        A steel calibration sphere at knee height beside the patient's right knee, at the
        limb's magnification (``None``: no ball).
    photometric, bits_stored, calibration_tags
        Pixel encoding and scale tags, as :func:`orthoplan.phantoms.pelvis.make_pelvis`.
    patient_left_x
        +1: the patient's left towards +x (standard AP, ``PatientOrientation`` L\\F);
        -1: mirrored (R\\F).
    noise
        Quantum-noise scale (0: none).

    Raises
    ------
    ValueError
        The image is too small for the legs.
    """
    rng = np.random.default_rng(seed)
    if params is None:
        params = LimbParams.random(rng, "neutral")
    orientation = ImageOrientation(patient_left_x, -1, "PatientOrientation")
    mpp = detector_spacing_mm / magnification
    width, height = columns * mpp, rows * mpp
    mid_x = width / 2
    limb = {s: leg_points(params.right if s is Side.RIGHT else params.left, params.limb_lean_deg) for s in Side}
    floor = height - 50.0  # ankle centres, standing on one floor
    legs: dict[Side, dict[str, np.ndarray]] = {}
    for side, pts in limb.items():
        lx = orientation.lateral_x(side)
        hx = mid_x + lx * params.hip_half_distance_mm
        hy = floor - float(pts["ankle_center"][1])
        legs[side] = {k: np.array([hx + lx * v[0], hy + v[1]]) for k, v in pts.items()}
    top = min(float(l_["femoral_head_center"][1]) for l_ in legs.values()) - 150.0
    xs = np.array([v[0] for l_ in legs.values() for v in l_.values()])
    if top < 0 or xs.min() < 15 or xs.max() > width - 15:
        raise ValueError(
            f"a {rows} x {columns} image at {mpp:.3f} mm/px ({height:.0f} x {width:.0f} mm) is too "
            "small for these legs: enlarge it or coarsen the pixel spacing"
        )
    ball_info: dict[str, float] | None = None
    ball = None
    if ball_diameter_mm:
        r = ball_diameter_mm / 2
        knee_y = float(legs[Side.RIGHT]["femoral_knee_center"][1])
        bx = float(legs[Side.RIGHT]["femoral_knee_center"][0]) + orientation.lateral_x(Side.RIGHT) * 90.0
        bx = float(np.clip(bx, r + 20.0, width - r - 20.0))
        ball = (bx, knee_y, r)
        ball_info = {"x": bx / mpp, "y": knee_y / mpp, "radius_px": r / mpp, "diameter_mm": float(ball_diameter_mm), "magnification": float(magnification)}

    from scipy import ndimage

    maxval = (1 << bits_stored) - 1
    stored = np.empty((rows, columns), np.uint16)
    canvas = StripCanvas(rows, columns, mpp)
    halo = 4
    for r0 in range(0, rows, STRIP_ROWS):
        r1 = min(rows, r0 + STRIP_ROWS)
        a0, a1 = max(0, r0 - halo), min(rows, r1 + halo)
        canvas.start(a0, a1)
        _draw_strip(canvas, params, legs, mid_x, ball)
        total = MU_SOFT * canvas.path["soft"] + MU_BONE * canvas.path["bone"] + MU_CORTEX * canvas.path["cortex"] + MU_STEEL * canvas.path["steel"]
        total = ndimage.gaussian_filter(np.minimum(total, 9.0), sigma=0.8, mode="nearest")[r0 - a0 : r0 - a0 + (r1 - r0)]
        signal = 0.08 + 0.88 * np.power(total / 9.0, 0.8)
        if noise > 0:
            srng = np.random.default_rng([seed, r0])
            signal = signal + srng.normal(0.0, 0.012 * noise, signal.shape).astype(np.float32) * np.sqrt(np.clip(1.1 - signal, 0.1, None))
        block = np.clip(np.round(signal * maxval * 0.98), 0, maxval).astype(np.uint16)
        stored[r0:r1] = (maxval - block) if photometric == "MONOCHROME1" else block
    canvas.path = {}

    ds = dataset_from_pixels(stored, seed, detector_spacing_mm, magnification, mpp, photometric, bits_stored, calibration_tags, maxval)
    del stored
    ds.PatientName = f"SYNTHETIC^LONGLEG{seed}"
    ds.PatientID = f"SYNLL{seed:06d}"
    ds.BodyPartExamined = "LEG"
    ds.PatientOrientation = ["L", "F"] if patient_left_x == 1 else ["R", "F"]
    ds.AnatomicRegionSequence[0].CodeValue = "61685007"
    ds.AnatomicRegionSequence[0].CodeMeaning = "Lower limb"
    if calibration_tags == "pixel":
        ds.PixelSpacingCalibrationDescription = "synthetic: limb plane"

    items = []
    for side, pts in legs.items():
        p = params.right if side is Side.RIGHT else params.left
        for anatomy, xy in pts.items():
            if anatomy in ("neck", "femoral_joint_center", "plateau_center", "anatomical_knee"):
                continue
            radius = p.head_radius_mm / mpp if anatomy == "femoral_head_center" else None
            items.append(Landmark(LandmarkName.of(anatomy, side), xy[0] / mpp, xy[1] / mpp, 1.0, LandmarkSource.MANUAL, radius))
    verdicts = {"right": PRESETS[params.right_kind][1], "left": PRESETS[params.left_kind][1]}
    truth = _truth(params, limb)
    log.debug("synthetic long leg %d x %d at %.4f mm/px", rows, columns, mpp)
    widths = knee_widths(params.right, Side.RIGHT) | knee_widths(params.left, Side.LEFT)
    return SyntheticLimbCase(ds, Landmarks.from_landmarks(items), truth, verdicts, mpp, magnification, detector_spacing_mm,
                             ball_info, params, orientation, seed, widths)
