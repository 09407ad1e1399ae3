"""Synthetic AP pelvis radiographs whose landmarks and measurements are known by construction.

The ground truth of the project: calibration, measurement and detection tests, the
README's example and the notebooks all use these images. Anatomy is built in a *pelvic
frame* in mm (origin midway between the teardrop tips, ``X`` towards the patient's left,
``Yd`` towards the feet), from parameters that *are* the clinical quantities (femoral
offset, neck-shaft angle, LCEA, Tönnis angle, leg-length difference...). It is then
tilted in the image plane, magnified onto a detector, drawn as projected X-ray
attenuation (line integrals of simple solids), blurred, and written as a DICOM DX with
noise, an optional 25 mm steel calibration ball, burned-in text, collimation, a gonadal
shield or a prosthesis.

Examples
--------
>>> case = make_pelvis(seed=1, rows=500, columns=600, detector_spacing_mm=0.75)
>>> case.dataset.Modality, case.dataset.Rows
('DX', 500)
>>> round(case.mm_per_px, 5)
0.65217
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from ..model import Landmark, LandmarkName, Landmarks, LandmarkSource, Side

#: Linear attenuation per mm (arbitrary but realistic ratios: soft tissue ≪ bone ≪ steel).
MU_SOFT, MU_BONE, MU_CORTEX, MU_STEEL = 0.020, 0.060, 0.10, 6.0
#: Attenuation per mm of chord of a weakly attenuating calibration ball (``ball_material="weak"``):
#: a 25 mm ball adds about as much at its centre as the thick bone of the pelvis.
MU_WEAK_BALL = 0.05
#: Projected attenuation of a flat round bone shadow (``round_shadow_mm``): ~20 mm of bone.
ROUND_SHADOW_ATTENUATION = 1.2


@dataclass(frozen=True)
class HipParams:
    """One side's anatomy in mm/degrees (lateral/superior relative to that side's teardrop tip)."""

    head_radius_mm: float = 24.0
    acetabular_offset_mm: float = 32.0  #: head centre lateral of the teardrop, along the teardrop line
    head_height_mm: float = 18.0  #: head centre above the teardrop line
    femoral_offset_mm: float = 40.0
    neck_shaft_angle_deg: float = 130.0
    shaft_tilt_deg: float = 7.0  #: shaft axis from the pelvic vertical, distal end medial (adduction +)
    lcea_deg: float = 30.0
    tonnis_angle_deg: float = 6.0
    roof_width_mm: float = 20.0  #: medial sourcil end to lateral edge
    lesser_trochanter_depth_mm: float = 55.0  #: LT tip below the teardrop line
    shaft_radius_mm: float = 14.0
    canal_radius_mm: float = 8.0


@dataclass(frozen=True)
class PelvisParams:
    """Whole-pelvis parameters; ``left``/``right`` are the patient's hips.

    ``lld_mm`` is realised by lowering the left lesser trochanter by ``lld_mm`` relative to
    ``right.lesser_trochanter_depth_mm`` (positive = left leg longer).
    """

    right: HipParams = field(default_factory=HipParams)
    left: HipParams = field(default_factory=HipParams)
    lld_mm: float = 0.0
    tilt_deg: float = 0.0  #: in-plane rotation of the whole pelvis (counter-clockwise on screen +)
    inter_teardrop_mm: float = 110.0
    ischial_depth_mm: float = 45.0  #: ischial tuberosities below the teardrop line
    ischial_asymmetry_mm: float = 0.0  #: left ischium lower than right by this much
    ischial_half_width_mm: float = 55.0
    soft_tissue_mm: float = 200.0  #: AP body thickness at the centre

    @classmethod
    def random(cls, rng: np.random.Generator) -> PelvisParams:
        """Varied adult anatomy and pose (tilt ±5°, LLD ±12 mm, dysplastic to deep hips)."""

        def hip() -> HipParams:
            r = float(rng.uniform(21.0, 28.0))
            return HipParams(
                head_radius_mm=r,
                acetabular_offset_mm=float(rng.uniform(26, 38)),
                head_height_mm=float(rng.uniform(14, 24)),
                femoral_offset_mm=float(rng.uniform(32, 48)),
                neck_shaft_angle_deg=float(rng.uniform(118, 142)),
                shaft_tilt_deg=float(rng.uniform(3, 10)),
                lcea_deg=float(rng.uniform(12, 42)),
                tonnis_angle_deg=float(rng.uniform(-4, 16)),
                roof_width_mm=float(rng.uniform(0.7, 0.95) * r),
                lesser_trochanter_depth_mm=float(rng.uniform(45, 65)),
                shaft_radius_mm=float(rng.uniform(12.5, 15.5)),
                canal_radius_mm=float(rng.uniform(6.5, 9.0)),
            )

        return cls(
            right=hip(),
            left=hip(),
            lld_mm=float(rng.uniform(-12, 12)),
            tilt_deg=float(rng.uniform(-5, 5)),
            inter_teardrop_mm=float(rng.uniform(100, 125)),
            ischial_depth_mm=float(rng.uniform(38, 52)),
            ischial_asymmetry_mm=float(rng.uniform(-4, 4)),
            ischial_half_width_mm=float(rng.uniform(50, 62)),
            soft_tissue_mm=float(rng.uniform(170, 260)),
        )


@dataclass(frozen=True, eq=False)
class SyntheticCase:
    """A synthetic radiograph with its truth (landmarks in image pixels, measurements at the anatomy)."""

    dataset: Any
    landmarks: Landmarks
    measurements: dict[str, float]
    mm_per_px: float
    magnification: float
    detector_spacing_mm: float
    ball: dict[str, float] | None
    implant_side: str | None
    params: PelvisParams
    seed: int


# --------------------------------------------------------------------------- anatomy (mm)


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([math.cos(a) * v[0] - math.sin(a) * v[1], math.sin(a) * v[0] + math.cos(a) * v[1]])


@dataclass(frozen=True)
class _Hip:
    """One hip's constructed points in its (lateral, superior) frame, mm."""

    teardrop: np.ndarray
    head: np.ndarray
    neck: np.ndarray
    junction: np.ndarray  #: neck axis meets shaft axis
    shaft_dir: np.ndarray  #: unit, pointing distal
    shaft_proximal: np.ndarray
    shaft_distal: np.ndarray
    lesser_trochanter: np.ndarray
    greater_trochanter: np.ndarray
    lateral_edge: np.ndarray
    sourcil_medial: np.ndarray
    ischium: np.ndarray


def _construct_hip(p: HipParams, lt_depth: float, ischial_depth: float, ischial_half_width: float, half_itd: float) -> _Hip:
    """Build one hip from its clinical parameters. Frame: (lateral, superior), teardrop at origin."""
    T = np.zeros(2)
    H = np.array([p.acetabular_offset_mm, p.head_height_mm])
    a = math.radians(p.shaft_tilt_deg)
    d = np.array([-math.sin(a), -math.cos(a)])  # distal, distal end medial
    n_lat = np.array([-d[1], d[0]])
    if n_lat[0] < 0:
        n_lat = -n_lat
    axis_point = H + p.femoral_offset_mm * n_lat  # the shaft axis passes here
    # neck direction (neck centre → head) makes the neck-shaft angle with d
    u = _rot(d, -p.neck_shaft_angle_deg)
    if u[0] > 0:  # must point medially
        u = _rot(d, p.neck_shaft_angle_deg)
    # junction K: H - t u on the shaft axis
    M = np.column_stack([-u, -d])
    t, _ = np.linalg.solve(M, axis_point - H)
    K = H - t * u
    N = H - min(1.05 * p.head_radius_mm, 0.6 * t) * u
    # lesser trochanter tip: medial of the shaft at depth lt_depth below the teardrop line,
    # 10 mm beyond the shaft's surface (4 mm beyond the wider metaphysis drawn in _draw), so
    # it stands out of the medial outline wherever it lies, as on a radiograph
    w = p.shaft_radius_mm + 10.0
    n_med = -n_lat
    # K + s d + w n_med has superior coordinate -lt_depth
    s_ = (-lt_depth - (K[1] + w * n_med[1])) / d[1]
    LT = K + s_ * d + w * n_med
    SP = K + (s_ + 15.0) * d
    SD = SP + 110.0 * d
    GT = K - 12.0 * d + (p.shaft_radius_mm + 4.0) * n_lat
    # lateral acetabular edge at LCEA from the pelvic vertical, just outside the head
    rho = p.head_radius_mm + 3.0
    L = math.radians(p.lcea_deg)
    E = H + rho * np.array([math.sin(L), math.cos(L)])
    tau = math.radians(p.tonnis_angle_deg)
    SM = E - p.roof_width_mm * np.array([math.cos(tau), math.sin(tau)])
    IS = np.array([ischial_half_width - half_itd, -ischial_depth])
    return _Hip(T, H, N, K, d, SP, SD, LT, GT, E, SM, IS)


def _fit_shaft_in_image(canvas: "Canvas", side: Side, hip: _Hip, margin_px: float = 20.0) -> _Hip:
    """Shorten the distal shaft point (≥ 50 mm from the proximal one) so it lies inside the image."""
    length = float(np.linalg.norm(hip.shaft_distal - hip.shaft_proximal))
    while length > 50.0:
        x, y = canvas.hip_px(side, hip.shaft_proximal + length * hip.shaft_dir)
        if margin_px <= x <= canvas.cols - margin_px and margin_px <= y <= canvas.rows - margin_px:
            break
        length -= 5.0
    return replace(hip, shaft_distal=hip.shaft_proximal + length * hip.shaft_dir)


def _truth_measurements(hips: dict[Side, _Hip], params: PelvisParams, half_itd: float) -> dict[str, float]:
    """Truth by construction, in the pelvic frame where the teardrop line is horizontal."""
    out: dict[str, float] = {}
    depth = {s: -h.lesser_trochanter[1] for s, h in hips.items()}
    out["lld_teardrop_mm"] = depth[Side.LEFT] - depth[Side.RIGHT]
    # bi-ischial line in the pelvic frame (X to the patient's left, superior up)
    def to_pelvic(side: Side, p: np.ndarray) -> np.ndarray:
        sign = 1.0 if side is Side.LEFT else -1.0
        return np.array([sign * (half_itd + p[0]), p[1]])

    iL, iR = to_pelvic(Side.LEFT, hips[Side.LEFT].ischium), to_pelvic(Side.RIGHT, hips[Side.RIGHT].ischium)
    dvec = (iL - iR) / np.linalg.norm(iL - iR)
    down = np.array([dvec[1], -dvec[0]])  # perpendicular pointing inferior (superior is +y here)
    if down[1] > 0:
        down = -down
    dist = {s: float((to_pelvic(s, h.lesser_trochanter) - iR) @ down) for s, h in hips.items()}
    out["lld_ischial_mm"] = dist[Side.LEFT] - dist[Side.RIGHT]
    for side, h in hips.items():
        p = params.left if side is Side.LEFT else params.right
        s = side.value
        out[f"femoral_offset_{s}_mm"] = p.femoral_offset_mm
        out[f"acetabular_offset_{s}_mm"] = p.acetabular_offset_mm
        out[f"global_offset_{s}_mm"] = p.femoral_offset_mm + p.acetabular_offset_mm
        out[f"neck_shaft_angle_{s}_deg"] = p.neck_shaft_angle_deg
        out[f"lcea_{s}_deg"] = p.lcea_deg
        out[f"tonnis_angle_{s}_deg"] = p.tonnis_angle_deg
        out[f"sharp_angle_{s}_deg"] = math.degrees(math.atan2(h.lateral_edge[1], h.lateral_edge[0]))
    return out


# --------------------------------------------------------------------------- drawing


class Canvas:
    """Pixel grid ↔ pelvic-frame mm, and accumulation of projected thickness per material."""

    def __init__(self, rows: int, cols: int, mm_per_px: float, origin_px: tuple[float, float], tilt_deg: float, half_itd: float):
        self.rows, self.cols, self.mpp = rows, cols, mm_per_px
        self.ox, self.oy = origin_px
        self.c, self.s = math.cos(math.radians(tilt_deg)), math.sin(math.radians(tilt_deg))
        self.half_itd = half_itd
        self.path = {k: np.zeros((rows, cols), np.float32) for k in ("soft", "bone", "cortex", "steel")}

    # pelvic frame (X to patient's left, Yd inferior) → image px, standard AP (patient left at +x)
    def to_px(self, X: float, Yd: float) -> tuple[float, float]:
        x = self.ox + (self.c * X - self.s * Yd) / self.mpp
        y = self.oy + (self.s * X + self.c * Yd) / self.mpp
        return float(x), float(y)

    def hip_to_pelvic(self, side: Side, p: np.ndarray) -> tuple[float, float]:
        sign = 1.0 if side is Side.LEFT else -1.0
        return sign * (self.half_itd + float(p[0])), -float(p[1])

    def hip_px(self, side: Side, p: np.ndarray) -> tuple[float, float]:
        return self.to_px(*self.hip_to_pelvic(side, p))

    def window(self, X: float, Yd: float, radius_mm: float):
        """Slices and the (X, Yd) mm grids of the pixels within ``radius_mm`` of a pelvic point."""
        x, y = self.to_px(X, Yd)
        r = radius_mm / self.mpp + 2
        c0, c1 = max(0, int(x - r)), min(self.cols, int(x + r) + 1)
        r0, r1 = max(0, int(y - r)), min(self.rows, int(y + r) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        xs = (np.arange(c0, c1, dtype=np.float32) + 0.5 - self.ox) * self.mpp
        ys = (np.arange(r0, r1, dtype=np.float32) + 0.5 - self.oy) * self.mpp
        gx, gy = np.meshgrid(xs, ys)
        Xg = self.c * gx + self.s * gy
        Yg = -self.s * gx + self.c * gy
        return (slice(r0, r1), slice(c0, c1)), Xg, Yg

    def add(self, material: str, sl, values: np.ndarray) -> None:
        self.path[material][sl] += values.astype(np.float32, copy=False)

    # primitives, in pelvic-frame mm ----------------------------------------
    def sphere(self, material: str, X: float, Yd: float, r: float, scale: float = 1.0) -> None:
        w = self.window(X, Yd, r)
        if w is None:
            return
        sl, Xg, Yg = w
        d2 = (Xg - X) ** 2 + (Yg - Yd) ** 2
        self.add(material, sl, scale * 2.0 * np.sqrt(np.clip(r * r - d2, 0, None)))

    def ellipsoid(self, material: str, X: float, Yd: float, a: float, b: float, angle_deg: float, depth: float) -> None:
        w = self.window(X, Yd, max(a, b))
        if w is None:
            return
        sl, Xg, Yg = w
        ca, sa = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
        u = (ca * (Xg - X) + sa * (Yg - Yd)) / a
        v = (-sa * (Xg - X) + ca * (Yg - Yd)) / b
        self.add(material, sl, depth * np.sqrt(np.clip(1.0 - u * u - v * v, 0, None)))

    def tube(self, material: str, p0: tuple[float, float], p1: tuple[float, float], r_out: float | Callable[[np.ndarray], np.ndarray], r_in: float = 0.0, end_soft: float = 4.0) -> None:
        """A cylinder (optionally hollow) along segment p0→p1 (pelvic mm), seen side-on.

        ``r_out`` may be a function of the distance from ``p0`` (mm) for a waisted tube.
        """
        p0a, p1a = np.array(p0), np.array(p1)
        length = float(np.linalg.norm(p1a - p0a))
        mid = (p0a + p1a) / 2
        r_fn = r_out if callable(r_out) else None
        if r_fn is not None:
            r_out = float(np.max(r_fn(np.linspace(0.0, length, 64))))
        w = self.window(mid[0], mid[1], length / 2 + r_out)
        if w is None:
            return
        sl, Xg, Yg = w
        d = (p1a - p0a) / length
        rel_x, rel_y = Xg - p0a[0], Yg - p0a[1]
        along = rel_x * d[0] + rel_y * d[1]
        across = -rel_x * d[1] + rel_y * d[0]
        if r_fn is not None:  # radius varying along the axis (mm from p0)
            r_at = r_fn(np.clip(along, 0.0, length))
            t = 2.0 * np.sqrt(np.clip(r_at * r_at - across * across, 0, None))
        else:
            t = 2.0 * np.sqrt(np.clip(r_out * r_out - across * across, 0, None))
        if r_in > 0:
            t -= 2.0 * np.sqrt(np.clip(r_in * r_in - across * across, 0, None))
        fade = np.clip(np.minimum(along, length - along) / end_soft, 0, 1)
        self.add(material, sl, t * fade)

    def stroke(self, material: str, points: np.ndarray, width: float, depth: float) -> None:
        """A bony ridge of ``width`` mm along a polyline (pelvic mm)."""
        for a, b in zip(points[:-1], points[1:]):
            self.tube(material, tuple(a), tuple(b), width / 2, 0.0, end_soft=0.01)


def _draw(canvas: Canvas, hips: dict[Side, _Hip], params: PelvisParams, implant_side: Side | None, medullary_canal: str = "cancellous") -> None:
    hi = params.inter_teardrop_mm / 2
    # soft tissue: the body, an ellipse across the pelvis and thighs
    body = canvas.window(0.0, 40.0, 260.0)
    if body is not None:
        sl, Xg, Yg = body
        q = (Xg / 190.0) ** 2 + ((Yg - 40.0) / 260.0) ** 2
        canvas.add("soft", sl, params.soft_tissue_mm * np.sqrt(np.clip(1 - q, 0, None)))
    # pelvis: iliac wings, sacrum, pelvic ring, pubis, ischia
    for sign in (-1.0, 1.0):
        canvas.ellipsoid("bone", sign * (hi + 35), -85, 70, 55, sign * 25, 9.0)  # iliac wing
        canvas.ellipsoid("bone", sign * (hi + 10), -25, 40, 55, sign * 10, 7.0)  # supra-acetabular ilium
        canvas.ellipsoid("bone", sign * 32, 28, 24, 15, sign * -20, 7.0)  # pubic ramus
    canvas.ellipsoid("bone", 0.0, -70, 40, 55, 0, 14.0)  # sacrum
    for side, h in hips.items():
        # pelvic brim (ring)
        ring = np.array([canvas.hip_to_pelvic(side, np.array([-hi * 0.2 + hi * 0.8 * math.cos(t) - hi * 0.6, 20 + 70 * math.sin(t)])) for t in np.linspace(0.2, 1.7, 12)])
        canvas.stroke("cortex", ring, 3.0, 4.0)
        # ischium: bone body with its most inferior point at the landmark
        iX, iY = canvas.hip_to_pelvic(side, h.ischium)
        canvas.ellipsoid("bone", iX, iY - 14.0, 16.0, 14.0, 0, 18.0)
        # obturator ring (superior/medial rami) leaves a dark foramen between pubis and ischium;
        # its top stays 10 mm below the teardrop line and its lowest (outer) edge at least 6 mm
        # above the tuberosity's lowest point, so that point is the lowest bone of the ischium
        ry = min(18.0, (-10.0 - (h.ischium[1] + 8.0)) / 2.0)
        obt = np.array([canvas.hip_to_pelvic(side, np.array([h.ischium[0] - 5 + 22 * math.cos(t), -10.0 - ry + ry * math.sin(t)])) for t in np.linspace(0, 2 * math.pi, 16)])
        canvas.stroke("cortex", obt, 4.0, 4.0)
        # acetabulum: the dense roof (sourcil) arc from the medial end to the lateral edge
        H = h.head
        r_roof = float(np.linalg.norm(h.lateral_edge - H))
        a_lat = math.atan2(h.lateral_edge[1] - H[1], h.lateral_edge[0] - H[0])
        a_med = math.atan2(h.sourcil_medial[1] - H[1], h.sourcil_medial[0] - H[0])
        a_end = a_med if a_med > a_lat else a_med + 2 * math.pi
        arc = np.array([H + r_roof * np.array([math.cos(t), math.sin(t)]) for t in np.linspace(a_lat, a_end, 14)])
        arc = np.vstack([arc, h.sourcil_medial])
        canvas.stroke("cortex", np.array([canvas.hip_to_pelvic(side, p) for p in arc]), 3.0, 10.0)
        canvas.ellipsoid("bone", *canvas.hip_to_pelvic(side, H + np.array([-6.0, 16.0])), 30.0, 16.0, 0, 8.0)
        # teardrop: a U of dense bone whose inferior tip is the landmark
        # (the 2 mm stroke's centre runs 1 mm above the tip, so its inferior border is the tip)
        u_pts = [h.teardrop + np.array([4.0 * math.sin(t), 1.0 + 13.0 * (1 - math.cos(t))]) for t in np.linspace(-1.4, 1.4, 9)]
        tdp = np.array([canvas.hip_to_pelvic(side, p) for p in u_pts])
        canvas.stroke("cortex", tdp, 2.0, 6.0)
        # femur
        prosthesis = implant_side is side
        hX, hY = canvas.hip_to_pelvic(side, H)
        p = params.left if side is Side.LEFT else params.right
        if prosthesis:
            canvas.sphere("steel", hX, hY, p.head_radius_mm * 0.6, 0.35)
        else:
            canvas.sphere("bone", hX, hY, p.head_radius_mm, 0.55)
        N, K = h.neck, h.junction
        # neck: narrowest (0.6 R) at the neck-centre landmark, flaring towards the head and
        # the trochanters
        R_, s_n = p.head_radius_mm, float(np.linalg.norm(H - N))
        neck_r = lambda s: np.minimum(0.72 * R_, 0.6 * R_ + 0.35 * R_ * ((s - s_n) / R_) ** 2)  # noqa: E731
        canvas.tube("bone", canvas.hip_to_pelvic(side, H), canvas.hip_to_pelvic(side, K), neck_r, 0.0, end_soft=6.0)
        top = K - 5.0 * h.shaft_dir  # below the greater trochanter's tip, which stands out above it
        bottom = h.shaft_distal + 60.0 * h.shaft_dir
        canvas.tube("bone", canvas.hip_to_pelvic(side, top), canvas.hip_to_pelvic(side, K + 30 * h.shaft_dir), p.shaft_radius_mm + 6.0, 0.0, end_soft=10.0)
        canvas.tube("cortex", canvas.hip_to_pelvic(side, K), canvas.hip_to_pelvic(side, bottom), p.shaft_radius_mm, p.canal_radius_mm, end_soft=20.0)
        # the medullary canal: cancellous bone all along, or ("marrow") only in the metaphysis,
        # the diaphysis holding marrow (soft-tissue density) so the endosteal cortices stand out
        canal_end = bottom if medullary_canal == "cancellous" else K + 30 * h.shaft_dir
        canvas.tube("bone", canvas.hip_to_pelvic(side, K), canvas.hip_to_pelvic(side, canal_end), p.canal_radius_mm, 0.0, end_soft=20.0 if medullary_canal == "cancellous" else 10.0)
        if prosthesis:
            # the stem: along the neck to the neck-shaft junction, then down the medullary
            # canal (inside the cortices, so the lesser trochanter stays visible beside it)
            canvas.tube("steel", canvas.hip_to_pelvic(side, H), canvas.hip_to_pelvic(side, K), 6.0, 0.0, end_soft=0.01)
            canvas.tube("steel", canvas.hip_to_pelvic(side, K - 6.0 * h.shaft_dir), canvas.hip_to_pelvic(side, K + 110 * h.shaft_dir), 6.0, 0.0, end_soft=8.0)
        # greater trochanter: a lateral bump whose top is the tip
        gX, gY = canvas.hip_to_pelvic(side, h.greater_trochanter)
        canvas.ellipsoid("bone", gX, gY + 16.0, 12.0, 16.0, 0, 22.0)
        # lesser trochanter: a medial bump whose most medial point is the tip
        n_lat = np.array([-h.shaft_dir[1], h.shaft_dir[0]])
        if n_lat[0] < 0:
            n_lat = -n_lat
        lc = h.lesser_trochanter + 6.0 * n_lat
        lX, lY = canvas.hip_to_pelvic(side, lc)
        canvas.ellipsoid("bone", lX, lY, 6.0, 9.0, 0, 14.0)


def _text_block(img: np.ndarray, rng: np.random.Generator, value: float) -> None:
    """Burned-in annotation: a block of bright 'characters' in the top-left corner."""
    rows, cols = img.shape
    h = max(6, rows // 80)
    for line in range(3):
        y0 = rows // 40 + line * 2 * h
        x = cols // 40
        for _ in range(12):
            w = int(h * rng.uniform(0.5, 0.9))
            if x + w >= cols:
                break
            img[y0 : y0 + h, x : x + max(1, w // 3)] = value
            img[y0 : y0 + max(1, h // 4), x : x + w] = value
            x += int(w * 1.4)


def _disc_box(cx: float, cy: float, r: float, rows: int, cols: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """The pixel box around a disc (clipped to the image) and its pixel-centre x (row) and y (column) vectors."""
    box = (slice(max(0, int(cy - r - 2)), max(0, min(rows, int(cy + r + 3)))),
           slice(max(0, int(cx - r - 2)), max(0, min(cols, int(cx + r + 3)))))
    ys = (np.arange(box[0].start, box[0].stop) + 0.5)[:, None]
    xs = (np.arange(box[1].start, box[1].stop) + 0.5)[None, :]
    return box, xs, ys


def _supersampled(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, r: float, kind: str) -> np.ndarray:
    """Per-pixel mean (4 x 4 sub-samples) of a disc's cover (0/1) or of a sphere's relative chord (0-1)."""
    out = np.zeros((ys.shape[0], xs.shape[1]), np.float32)
    for oy in (-0.375, -0.125, 0.125, 0.375):
        for ox in (-0.375, -0.125, 0.125, 0.375):
            dd = (xs + ox - cx) ** 2 + (ys + oy - cy) ** 2
            out += (dd <= r * r) if kind == "cover" else np.sqrt(np.clip(1.0 - dd / (r * r), 0.0, None))
    return out / 16.0


# --------------------------------------------------------------------------- the case


def make_pelvis(
    params: PelvisParams | None = None,
    *,
    seed: int = 0,
    rows: int = 2500,
    columns: int = 3000,
    detector_spacing_mm: float = 0.15,
    magnification: float = 1.15,
    ball_diameter_mm: float | None = 25.0,
    ball_side: Literal["left", "right"] = "right",
    ball_position: Literal["thigh", "bone", "soft"] = "thigh",
    ball_magnification: float | None = None,
    ball_material: Literal["steel", "weak"] = "steel",
    ball_cut: float = 0.0,
    round_shadow_mm: float | None = None,
    round_shadow_offset_mm: tuple[float, float] = (0.0, -45.0),
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    bits_stored: int = 16,
    transfer_syntax: str | None = None,
    calibration_tags: Literal["imager", "imager+ermf", "imager+distances", "pixel", "none"] = "imager",
    noise: float = 1.0,
    text: bool = True,
    collimation: bool = False,
    gonadal_shield: bool = False,
    implant_side: Literal["left", "right"] | None = None,
    medullary_canal: Literal["cancellous", "marrow"] = "cancellous",
) -> SyntheticCase:
    """Make a synthetic AP pelvis DX with known truth.

    Parameters
    ----------
    params
        Anatomy; default: :meth:`PelvisParams.random` from ``seed`` (``PelvisParams()`` is a
        symmetric normal pelvis).
    rows, columns, detector_spacing_mm
        Detector size and pixel pitch (``ImagerPixelSpacing``).
    magnification
        Anatomy (hip plane) → detector. True anatomical mm/px = spacing / magnification.
    ball_diameter_mm, ball_side, ball_position, ball_magnification
        A steel calibration sphere (``None``: no ball) on the patient's ``ball_side``, beside
        the thigh or over the iliac wing (``"bone"``), at the hip's magnification unless
        ``ball_magnification`` models a ball off the hip's plane. ``"soft"`` puts it over the
        soft tissue between the thighs.
    ball_material
        ``"steel"`` (opaque: uniformly bright, sharp rim) or ``"weak"`` (a weakly attenuating
        sphere, e.g. plastic or aluminium: its brightness follows the chord length through a
        sphere, brightest at the centre with a soft rim; :data:`MU_WEAK_BALL` per mm).
    ball_cut
        Fraction (0 to 0.6) of the ball's diameter that lies beyond the film's nearest
        vertical edge (0: the whole ball is on the film).
    round_shadow_mm, round_shadow_offset_mm
        A flat round bone shadow (a disc of uniform bone-like attenuation, diameter in mm at
        the hip's magnification) centred ``round_shadow_offset_mm`` (x, y, detector mm) from
        the ball: the decoy a calibration must not take for the ball. ``None``: none.
    photometric, bits_stored, transfer_syntax
        Pixel encoding (transfer syntax UID; default explicit VR little endian).
    calibration_tags
        Which scale tags the header carries (see module docs of :mod:`orthoplan.calibration`).
    noise, text, collimation, gonadal_shield, implant_side
        Image realism options.
    medullary_canal
        ``"cancellous"`` fills the femoral canal with cancellous bone all along (the
        original phantom); ``"marrow"`` keeps cancellous bone in the metaphysis only, so the
        diaphyseal canal (``canal_radius_mm``) is bounded by bright endosteal cortices, as on
        a real radiograph (stem templating tests use it).
    """
    rng = np.random.default_rng(seed)
    if params is None:
        params = PelvisParams.random(rng)
    mpp = detector_spacing_mm / magnification
    half_itd = params.inter_teardrop_mm / 2
    hips = {
        Side.RIGHT: _construct_hip(params.right, params.right.lesser_trochanter_depth_mm, params.ischial_depth_mm, params.ischial_half_width_mm, half_itd),
        Side.LEFT: _construct_hip(params.left, params.right.lesser_trochanter_depth_mm + params.lld_mm, params.ischial_depth_mm + params.ischial_asymmetry_mm, params.ischial_half_width_mm, half_itd),
    }
    fov_h = rows * mpp
    origin = (columns / 2 + rng.uniform(-0.02, 0.02) * columns, rows / 2 - 0.05 * fov_h / mpp + rng.uniform(-0.02, 0.02) * rows)
    canvas = Canvas(rows, columns, mpp, origin, params.tilt_deg, half_itd)
    hips = {side: _fit_shaft_in_image(canvas, side, h) for side, h in hips.items()}
    implant = Side(implant_side) if implant_side else None
    _draw(canvas, hips, params, implant, medullary_canal)
    if gonadal_shield:
        canvas.ellipsoid("steel", 0.0, 45.0, 35.0, 25.0, 0, 1.5)

    ball: dict[str, float] | None = None
    ball_cover = None
    extra_attenuation: list[tuple[tuple[slice, slice], np.ndarray]] = []  # weak ball, round shadow
    if not 0.0 <= float(ball_cut) <= 0.6:
        raise ValueError(f"ball_cut must be from 0 to 0.6, got {ball_cut!r}")
    if ball_material not in ("steel", "weak"):
        raise ValueError(f"ball_material must be 'steel' or 'weak', got {ball_material!r}")
    if ball_diameter_mm or round_shadow_mm:
        m_ball = ball_magnification or magnification
        sign = 1.0 if ball_side == "left" else -1.0
        if ball_position == "thigh":
            X, Yd = sign * (half_itd + 95.0), 95.0
        elif ball_position == "soft":
            X, Yd = sign * 18.0, 150.0  # between the thighs, below the pubis: soft tissue only
        else:
            X, Yd = sign * (half_itd + 40.0), -75.0  # over the iliac wing
        # the ball's projection is magnified by its own factor about the central ray
        bx, by = canvas.to_px(X, Yd)
        r_px = (ball_diameter_mm or 25.0) / 2 * m_ball / detector_spacing_mm
        margin = r_px + 0.02 * min(rows, columns)  # keep the whole ball inside the image
        bx, by = float(np.clip(bx, margin, columns - margin)), float(np.clip(by, margin, rows - margin))
        if ball_cut > 0:  # push it over the nearest vertical edge of the film
            bx = r_px * (1.0 - 2.0 * ball_cut) if bx < columns / 2 else columns - r_px * (1.0 - 2.0 * ball_cut)
    if ball_diameter_mm:
        box, xs, ys = _disc_box(bx, by, r_px, rows, columns)
        # supersample the edge (4x4): the fraction of each pixel the disc covers. A steel ball
        # saturates wherever it is more than a hair thick, so a pixel's attenuation is the
        # coverage-weighted mix of "saturated" and what lies beside the ball (applied below,
        # once the other materials are summed): the half level is then the true edge.
        if ball_material == "steel":
            ball_cover = (box, _supersampled(xs, ys, bx, by, r_px, "cover"))
        else:  # attenuation ∝ the chord through the sphere (mm), averaged over each pixel
            chord_mm = ball_diameter_mm * _supersampled(xs, ys, bx, by, r_px, "chord")
            extra_attenuation.append((box, MU_WEAK_BALL * chord_mm))
        ball = {"x": float(bx), "y": float(by), "radius_px": float(r_px), "diameter_mm": float(ball_diameter_mm),
                "magnification": float(m_ball)}
        if ball_material != "steel" or ball_cut:
            ball.update(material=ball_material, cut=float(ball_cut))
    if round_shadow_mm:
        sx = bx + round_shadow_offset_mm[0] / detector_spacing_mm
        sy = by + round_shadow_offset_mm[1] / detector_spacing_mm
        s_r = round_shadow_mm / 2 * magnification / detector_spacing_mm
        box, xs, ys = _disc_box(sx, sy, s_r, rows, columns)
        extra_attenuation.append((box, ROUND_SHADOW_ATTENUATION * _supersampled(xs, ys, sx, sy, s_r, "cover")))

    # line integral → processed radiograph (log domain: bright = attenuating)
    total = (
        MU_SOFT * canvas.path["soft"] + MU_BONE * canvas.path["bone"] + MU_CORTEX * canvas.path["cortex"] + MU_STEEL * canvas.path["steel"]
    )
    from scipy import ndimage

    # steel saturates first, then the processed image is blurred (modelling the system MTF in
    # the processed domain keeps edges symmetric: a half-level threshold is the true edge)
    for (rs, cs), att in extra_attenuation:
        region = total[rs, cs]
        region += att[: region.shape[0], : region.shape[1]]
    total = np.minimum(total, 9.0)
    if ball_cover is not None:
        (rs, cs), cover = ball_cover
        region = total[rs, cs]
        cover = cover[: region.shape[0], : region.shape[1]]
        total[rs, cs] = region * (1.0 - cover) + 9.0 * cover
    total = ndimage.gaussian_filter(total, sigma=0.8)
    signal = total / 9.0
    signal = 0.08 + 0.88 * np.power(signal, 0.8)
    if noise > 0:
        signal = signal + rng.normal(0.0, 0.012 * noise, signal.shape).astype(np.float32) * np.sqrt(np.clip(1.1 - signal, 0.1, None))
    if text:
        _text_block(signal, rng, 0.99)
    if collimation:
        m = max(4, rows // 25)
        signal[:m, :] = 0.97
        signal[-m:, :] = 0.97
        signal[:, : m // 2] = 0.97
    maxval = (1 << bits_stored) - 1
    stored = np.clip(np.round(signal * maxval * 0.98), 0, maxval).astype(np.uint16)
    if photometric == "MONOCHROME1":
        stored = (maxval - stored).astype(np.uint16)

    landmarks = _truth_landmarks(canvas, hips, params, implant)
    truth = _truth_measurements(hips, params, half_itd)
    ds = dataset_from_pixels(stored, seed, detector_spacing_mm, magnification, mpp, photometric, bits_stored, calibration_tags, maxval)
    if transfer_syntax is not None and transfer_syntax != ds.file_meta.TransferSyntaxUID:
        ds.compress(transfer_syntax)
    return SyntheticCase(ds, landmarks, truth, mpp, magnification, detector_spacing_mm, ball, implant_side, params, seed)


def _truth_landmarks(canvas: Canvas, hips: dict[Side, _Hip], params: PelvisParams, implant: Side | None) -> Landmarks:
    items = []
    for side, h in hips.items():
        p = params.left if side is Side.LEFT else params.right
        pts = {
            "teardrop": h.teardrop,
            "ischial_tuberosity": h.ischium,
            "femoral_head_center": h.head,
            "femoral_neck_center": h.neck,
            "femoral_shaft_proximal": h.shaft_proximal,
            "femoral_shaft_distal": h.shaft_distal,
            "lesser_trochanter": h.lesser_trochanter,
            "greater_trochanter": h.greater_trochanter,
            "acetabular_lateral_edge": h.lateral_edge,
            "sourcil_medial": h.sourcil_medial,
        }
        for anatomy, pt in pts.items():
            x, y = canvas.hip_px(side, pt)
            radius = p.head_radius_mm / canvas.mpp if anatomy == "femoral_head_center" else None
            items.append(Landmark(LandmarkName.of(anatomy, side), x, y, 1.0, LandmarkSource.MANUAL, radius))
    return Landmarks.from_landmarks(items)


def dataset_from_pixels(stored, seed, spacing, magnification, mpp, photometric, bits, tags, maxval):
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    dx_uid = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
    ent = [f"orthoplan-synthetic-{seed}"]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dx_uid
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=ent + ["sop"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = dx_uid
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=ent + ["study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=ent + ["series"])
    ds.PatientName = f"SYNTHETIC^PELVIS{seed}"
    ds.PatientID = f"SYN{seed:06d}"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Modality = "DX"
    ds.Manufacturer = "orthoplan synthetic"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.BodyPartExamined = "PELVIS"
    ds.ViewPosition = "AP"
    ds.PatientOrientation = ["L", "F"]
    ds.ImageLaterality = "B"
    ds.BurnedInAnnotation = "NO"
    ds.DetectorType = "SCINTILLATOR"
    ds.PositionerType = ""
    ds.AcquisitionContextSequence = []
    region = pydicom.Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = "12921003", "SCT", "Pelvis"
    ds.AnatomicRegionSequence = [region]
    view = pydicom.Dataset()
    view.CodeValue, view.CodingSchemeDesignator, view.CodeMeaning = "399348003", "SCT", "antero-posterior"
    ds.ViewCodeSequence = [view]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1 if photometric == "MONOCHROME2" else -1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = maxval / 2
    ds.WindowWidth = maxval
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    ds.ImagerPixelSpacing = [f"{spacing:.10g}", f"{spacing:.10g}"]
    if tags == "none":
        del ds.ImagerPixelSpacing
    elif tags == "imager+ermf":
        ds.EstimatedRadiographicMagnificationFactor = f"{magnification:.10g}"
    elif tags == "imager+distances":
        ds.DistanceSourceToDetector = 1150.0
        ds.DistanceSourceToPatient = f"{1150.0 / magnification:.10g}"
    elif tags == "pixel":
        ds.PixelSpacing = [f"{mpp:.10g}", f"{mpp:.10g}"]
        ds.PixelSpacingCalibrationType = "GEOMETRY"
        ds.PixelSpacingCalibrationDescription = "synthetic: hip plane"
    ds.PixelData = stored.tobytes()
    return ds


def write_case(case: SyntheticCase, directory: str | Path) -> dict[str, Path]:
    """Write ``image.dcm``, ``landmarks.json`` (CLI format) and ``truth.json`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"image": out / "image.dcm", "landmarks": out / "landmarks.json", "truth": out / "truth.json"}
    case.dataset.save_as(paths["image"], enforce_file_format=True)
    lm = {"landmarks": {l.name.value: ([l.x, l.y, l.radius_px] if l.radius_px else [l.x, l.y]) for l in case.landmarks}}
    paths["landmarks"].write_text(json.dumps(lm, indent=2))
    truth = {
        "measurements": case.measurements,
        "mm_per_px": case.mm_per_px,
        "magnification": case.magnification,
        "detector_spacing_mm": case.detector_spacing_mm,
        "ball": case.ball,
        "implant_side": case.implant_side,
        "seed": case.seed,
        "params": asdict(case.params),
    }
    paths["truth"].write_text(json.dumps(truth, indent=2))
    return paths


def with_params(params: PelvisParams, **changes: Any) -> PelvisParams:
    """``dataclasses.replace`` for :class:`PelvisParams` (convenience for tests and notebooks)."""
    return replace(params, **changes)


# --------------------------------------------------------------------------- lateral hip


@dataclass(frozen=True, eq=False)
class LateralHipCase:
    """A synthetic cross-table lateral hip radiograph (a negative case for the AP detector)."""

    dataset: Any
    mm_per_px: float
    seed: int
    side: str
    head_xy_px: tuple[float, float]  #: centre of the femoral head in the image
    head_radius_px: float


def lateral_hip_radiograph(
    seed: int = 0,
    *,
    rows: int = 1000,
    columns: int = 1200,
    detector_spacing_mm: float = 0.38,
    magnification: float = 1.2,
    side: Literal["left", "right"] = "left",
    photometric: Literal["MONOCHROME1", "MONOCHROME2"] = "MONOCHROME2",
    noise: float = 1.0,
    text: bool = True,
) -> LateralHipCase:
    """Make a synthetic cross-table (horizontal-beam) lateral radiograph of one hip.

    What a lateral hip shows and an AP pelvis does not: one femoral head, round, with the
    neck seen from the side (anteverted by 10–20° towards the top of the image, anterior)
    and the shaft running across the image (within 20° of horizontal, towards the image's
    right) with the greater trochanter superimposed on the neck-shaft junction; around the
    head only the acetabular walls, the ischium projecting posteriorly-inferiorly (down and
    to the left) and the pubis anteriorly (up and to the left); no second hip, no
    symmetric pelvic ring, no teardrops, no obturator foramina. Anatomy, pose and exposure
    vary with ``seed``. The header says BodyPartExamined HIP, ViewPosition LL/RL, no
    Patient Orientation (as on many lateral films), ``ImagerPixelSpacing`` and the
    magnification in ``EstimatedRadiographicMagnificationFactor``.

    Examples
    --------
    >>> case = lateral_hip_radiograph(seed=1, rows=400, columns=480, detector_spacing_mm=0.95)
    >>> case.dataset.ViewPosition, case.dataset.Rows, case.side
    ('LL', 400, 'left')
    """
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    mpp = detector_spacing_mm / magnification
    canvas = Canvas(rows, columns, mpp, (columns / 2, rows / 2), 0.0, 0.0)
    fov_x, fov_y = columns * mpp, rows * mpp
    # image-plane mm about the image centre: X to the right (distal), Yd down (posterior)
    R = float(rng.uniform(21.0, 28.0))
    H = np.array([-0.28 * fov_x + rng.uniform(-10, 10), rng.uniform(-0.08, 0.08) * fov_y])
    phi = math.radians(rng.uniform(-20.0, 20.0))  # the shaft's direction from horizontal
    d = np.array([math.cos(phi), math.sin(phi)])
    post = np.array([-d[1], d[0]])  # perpendicular, towards the image bottom (posterior)
    version = math.radians(rng.uniform(10.0, 20.0))  # the neck rises anteriorly (image up)
    e = np.array([math.cos(phi - version), math.sin(phi - version)])
    K = H + 2.0 * R * e  # neck-shaft junction
    shaft_r, canal_r = float(rng.uniform(12.5, 15.5)), float(rng.uniform(6.5, 9.0))
    far = K + 2.0 * max(fov_x, fov_y) * d
    # soft tissue: the thigh along the femur and the buttock around the hip
    body = canvas.window(0.0, 0.0, 1.2 * max(fov_x, fov_y))
    if body is not None:
        sl, Xg, Yg = body
        across = (Xg - H[0]) * post[0] + (Yg - H[1]) * post[1]
        along = (Xg - H[0]) * d[0] + (Yg - H[1]) * d[1]
        thick = np.clip(1 - (across / 110.0) ** 2, 0, None) * np.where(along > -60, 1.0, np.exp(-((along + 60) / 80) ** 2))
        canvas.add("soft", sl, float(rng.uniform(180, 260)) * np.sqrt(thick))
    # pelvis around the head, seen from the side
    canvas.ellipsoid("bone", H[0] - 70, H[1] - 10, 45, 75, float(rng.uniform(-15, 15)), 8.0)  # ilium (wing edge-on)
    canvas.ellipsoid("bone", H[0] - 25, H[1] + 55, 18, 42, float(rng.uniform(10, 30)), 16.0)  # ischium, posterior-inferior
    canvas.ellipsoid("bone", H[0] - 20, H[1] - 50, 13, 32, float(rng.uniform(-40, -20)), 9.0)  # pubis, anterior
    for a0, a1 in ((100.0, 200.0), (215.0, 300.0)):  # anterior and posterior acetabular walls
        arc = np.array([H + (R + 3.0) * np.array([math.cos(math.radians(t)), math.sin(math.radians(t))])
                        for t in np.linspace(a0, a1, 10)])
        canvas.stroke("cortex", arc, 3.0, 6.0)
    # femur: head, neck, trochanters, shaft
    canvas.sphere("bone", *H, R, 0.55)
    canvas.tube("bone", tuple(H), tuple(K), 0.65 * R, 0.0, end_soft=6.0)
    canvas.ellipsoid("bone", *(K + 4.0 * post - 6.0 * d), 22.0, 15.0, math.degrees(phi), 18.0)  # greater trochanter
    canvas.ellipsoid("bone", *(K + 25.0 * d + (shaft_r + 3.0) * post), 7.0, 9.0, math.degrees(phi), 12.0)  # lesser
    canvas.tube("cortex", tuple(K), tuple(far), shaft_r, canal_r, end_soft=15.0)
    canvas.tube("bone", tuple(K), tuple(far), canal_r, 0.0, end_soft=15.0)
    total = MU_SOFT * canvas.path["soft"] + MU_BONE * canvas.path["bone"] + MU_CORTEX * canvas.path["cortex"]
    total = ndimage.gaussian_filter(np.minimum(total, 9.0), sigma=0.8)
    signal = 0.08 + 0.88 * np.power(total / 9.0, 0.8)
    if noise > 0:
        signal = signal + rng.normal(0.0, 0.012 * noise, signal.shape).astype(np.float32) * np.sqrt(np.clip(1.1 - signal, 0.1, None))
    if text:
        _text_block(signal, rng, 0.99)
    bits = 16
    maxval = (1 << bits) - 1
    stored = np.clip(np.round(signal * maxval * 0.98), 0, maxval).astype(np.uint16)
    if photometric == "MONOCHROME1":
        stored = (maxval - stored).astype(np.uint16)
    ds = dataset_from_pixels(stored, 1_000_000 + seed, detector_spacing_mm, magnification, mpp, photometric, bits, "imager+ermf", maxval)
    ds.PatientName = f"SYNTHETIC^LATERALHIP{seed}"
    ds.BodyPartExamined = "HIP"
    ds.ViewPosition = "LL" if side == "left" else "RL"
    ds.ImageLaterality = "L" if side == "left" else "R"
    ds.PatientOrientation = ""
    region = ds.AnatomicRegionSequence[0]
    region.CodeValue, region.CodeMeaning = "24136001", "Hip joint"
    view = ds.ViewCodeSequence[0]
    view.CodeValue, view.CodeMeaning = "260461007", "lateral"  # SCT: lateral projection
    hx, hy = canvas.to_px(*H)
    return LateralHipCase(ds, mpp, seed, side, (hx, hy), R / mpp)
