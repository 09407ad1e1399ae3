"""Landmark sets built by construction, with their analytic truth (test helper, no orthoplan maths).

The pelvis is built in an anatomical frame ``(u, v)`` in mm: ``u`` points to the patient's
left, ``v`` superior, the inter-teardrop line is ``v = 0``. Every truth value is a
construction parameter (or, for the Sharp angle, one ``atan2`` in that frame). The frame is
then placed in the image by a rigid motion (tilt, translation), the image orientation
(``patient_left_x``, ``superior_y``) and the pixel spacing (anisotropic allowed): mm
lengths and oriented angles relative to (patient left, superior) are unchanged by this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SIDES = ("right", "left")


def _sigma(side: str) -> float:
    """+1 for the patient's left (lateral is +u), -1 for the right."""
    return 1.0 if side == "left" else -1.0


@dataclass
class HipParams:
    femoral_offset: float = 42.0
    acetabular_offset: float = 38.0
    head_height: float = 15.0  # head centre above the teardrop line
    neck_shaft: float = 130.0
    lcea: float = 30.0
    tonnis: float = 6.0
    shaft_valgus: float = 7.0  # anatomical axis tilt from the pelvic vertical
    lt_depth: float = 60.0  # lesser trochanter below the teardrop line


@dataclass
class Pelvis:
    half_width: float = 60.0  # teardrop tips at u = ±half_width
    ischial_depth: float = 42.0  # bi-ischial line parallel to the teardrop line, this far below
    hips: dict[str, HipParams] = field(
        default_factory=lambda: {
            "right": HipParams(),
            "left": HipParams(
                femoral_offset=45.5, acetabular_offset=41.25, head_height=12.0, neck_shaft=127.0,
                lcea=24.0, tonnis=9.5, shaft_valgus=6.0, lt_depth=67.0,
            ),
        }
    )

    # ------------------------------------------------------------------ points (u, v) mm
    def points(self) -> dict[str, np.ndarray]:
        pts: dict[str, np.ndarray] = {}
        for side in SIDES:
            s, h = _sigma(side), self.hips[side]
            td = np.array([s * self.half_width, 0.0])
            pts[f"teardrop_{side}"] = td
            pts[f"ischial_tuberosity_{side}"] = np.array([s * (self.half_width - 8.0), -self.ischial_depth])
            head = np.array([s * (self.half_width + h.acetabular_offset), h.head_height])
            pts[f"femoral_head_center_{side}"] = head
            # shaft axis: proximal -> distal goes down and medially (knees closer than hips)
            a = math.radians(h.shaft_valgus)
            e = np.array([-s * math.sin(a), -math.cos(a)])
            n_lat = np.array([s * math.cos(a), -math.sin(a)])  # unit normal to e, lateral
            sp = head + h.femoral_offset * n_lat + 60.0 * e
            pts[f"femoral_shaft_proximal_{side}"] = sp
            pts[f"femoral_shaft_distal_{side}"] = sp + 120.0 * e
            # neck: unit vector neck -> head at angle neck_shaft from e, pointing medially
            b = math.radians(h.neck_shaft)
            cands = [
                np.array([math.cos(t) * e[0] - math.sin(t) * e[1], math.sin(t) * e[0] + math.cos(t) * e[1]])
                for t in (b, -b)
            ]
            u_n = next(c for c in cands if c[0] * s < 0)
            pts[f"femoral_neck_center_{side}"] = head - 25.0 * u_n
            # acetabular edge at the LCEA from the vertical (positive lateral), radius 25
            lam = math.radians(h.lcea)
            edge = head + 25.0 * np.array([s * math.sin(lam), math.cos(lam)])
            pts[f"acetabular_lateral_edge_{side}"] = edge
            tau = math.radians(h.tonnis)
            pts[f"sourcil_medial_{side}"] = edge - 20.0 * np.array([s * math.cos(tau), math.sin(tau)])
            pts[f"lesser_trochanter_{side}"] = np.array([s * (self.half_width + 10.0), -h.lt_depth])
        return pts

    def truth(self) -> dict[str, float]:
        t: dict[str, float] = {}
        r, l_ = self.hips["right"], self.hips["left"]
        t["lld_teardrop_mm"] = l_.lt_depth - r.lt_depth
        t["lld_ischial_mm"] = (l_.lt_depth - self.ischial_depth) - (r.lt_depth - self.ischial_depth)
        pts = self.points()
        for side in SIDES:
            h, s = self.hips[side], _sigma(side)
            t[f"femoral_offset_{side}_mm"] = h.femoral_offset
            t[f"acetabular_offset_{side}_mm"] = h.acetabular_offset
            t[f"global_offset_{side}_mm"] = h.femoral_offset + h.acetabular_offset
            t[f"neck_shaft_angle_{side}_deg"] = h.neck_shaft
            t[f"lcea_{side}_deg"] = h.lcea
            t[f"tonnis_angle_{side}_deg"] = h.tonnis
            edge = pts[f"acetabular_lateral_edge_{side}"]
            t[f"sharp_angle_{side}_deg"] = math.degrees(math.atan2(edge[1], s * edge[0] - self.half_width))
        return t


@dataclass(frozen=True)
class Placement:
    """How the anatomical frame lands in the image."""

    tilt_deg: float = 0.0  # rotation of the pelvis, from patient-left towards superior
    center_mm: tuple[float, float] = (150.0, 220.0)  # where the (u, v) origin lands, image mm
    patient_left_x: int = 1
    superior_y: int = -1
    mm_per_px: float = 0.2
    aspect_ratio: float = 1.0
    turn_deg: int = 0  # the film stored turned: +90 clockwise on the screen (head towards +x), -90 anticlockwise

    def to_px(self, uv: np.ndarray) -> tuple[float, float]:
        t = math.radians(self.tilt_deg)
        u = uv[0] * math.cos(t) - uv[1] * math.sin(t)
        v = uv[0] * math.sin(t) + uv[1] * math.cos(t)
        dx, dy = self.patient_left_x * u, self.superior_y * v  # head-up display, from the centre
        if self.turn_deg == 90:  # y grows downwards: a clockwise quarter turn takes up to right
            dx, dy = -dy, dx
        elif self.turn_deg == -90:
            dx, dy = dy, -dx
        x_mm, y_mm = self.center_mm[0] + dx, self.center_mm[1] + dy
        return x_mm / self.mm_per_px, y_mm / (self.mm_per_px * self.aspect_ratio)


def place(pelvis: Pelvis, placement: Placement, only: set[str] | None = None) -> dict[str, tuple[float, float]]:
    """Landmark name -> image (x, y) px (``only``: keep these names)."""
    return {k: placement.to_px(v) for k, v in pelvis.points().items() if only is None or k in only}
