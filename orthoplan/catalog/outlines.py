"""2D outlines of implants in mm, and their placement on an image at its magnification.

Each outline is a closed polygon ``(N, 2)`` (first vertex not repeated) in the implant's
own frame, in mm, with ``y`` pointing down as in image coordinates:

* **cup** — origin at the centre of rotation; the rim line lies on the x axis and the dome
  points to ``-y`` (the opening faces ``+y``): a hemisphere seen side-on.
* **stem** — origin at the **taper point** (head centre at neck length 0); ``+y`` distal
  along the shaft axis, ``+x`` medial; the shaft axis is ``x = -horizontal_offset_mm``;
  the neck makes the catalog's CCD angle with the shaft axis. This is a right hip as it
  appears on a standard AP image (the patient's right on the image's left).
* **head** — a circle in the stem frame, centred ``neck_length_mm`` out along the neck axis.

:func:`to_image` places an outline on an image: rotate by ``rotation_deg`` (clockwise on
the screen, as :func:`orthoplan.geometry.signed_angle_deg` counts in image coordinates),
mirror for the other side, scale by ``magnification / detector spacing`` (equivalently
``1 / anatomical mm_per_px``) and translate the frame's origin to ``center_xy``. A cup at
``rotation_deg = 45`` opens infero-laterally on a right hip; ``mirror=True`` gives the same
cup on a left hip.

Examples
--------
>>> from orthoplan.catalog import CupSize
>>> px = to_image(cup_outline_mm(CupSize("54", 54.0)), center_xy=(500, 400), magnification=1.2,
...               detector_mm_per_px=0.15)
>>> round(float(px[:, 0].max() - px[:, 0].min()), 3)
432.0
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CatalogError
from ..geometry import rotate
from .schema import CupSize, FemoralComponentSize, HeadSize, StemSize, TibialInsertSize, TibialTraySize

if TYPE_CHECKING:
    from ..model import Calibration

__all__ = [
    "cup_outline_mm",
    "stem_outline_mm",
    "stem_landmarks_mm",
    "head_outline_mm",
    "to_image",
    "NECK_WIDTH_MM",
    "femoral_component_outline_mm",
    "tibial_tray_outline_mm",
    "tibial_insert_outline_mm",
]

#: Width of the drawn neck (a 12/14 taper is 12–14 mm across); only the picture uses it.
NECK_WIDTH_MM = 12.0
_SHOULDER_SLOPE = 0.3  # drop of the shoulder line per mm laterally (about 17°)
_NECK_FRACTION = 0.45  # where the neck meets the body, as a fraction of taper → shaft-axis distance


# --------------------------------------------------------------------------- cup, head


def cup_outline_mm(size: CupSize, n: int = 181) -> np.ndarray:
    """AP outline of a hemispherical cup: the dome's semicircle closed by the rim line.

    Origin at the centre of rotation, rim along x from ``-r`` to ``+r``, dome towards ``-y``.
    A vendor outline in the catalog (``outline_mm``) is returned instead when present.

    Examples
    --------
    >>> o = cup_outline_mm(CupSize("50", 50.0))
    >>> float(o[:, 0].min()), float(o[:, 0].max()), float(o[:, 1].min())
    (-25.0, 25.0, -25.0)
    """
    if size.outline_mm is not None:
        return np.array(size.outline_mm, dtype=float)
    r = size.outer_diameter_mm / 2.0
    t = np.linspace(math.pi, 2.0 * math.pi, max(int(n), 3))
    pts = np.c_[r * np.cos(t), r * np.sin(t)]
    pts[0], pts[-1] = (-r, 0.0), (r, 0.0)  # the rim ends exactly on the x axis
    return pts


def head_outline_mm(
    size: HeadSize,
    neck_length_mm: float,
    *,
    neck_shaft_angle_deg: float = 135.0,
    stem: StemSize | None = None,
    n: int = 144,
) -> np.ndarray:
    """Circle of a femoral head in the stem frame, for one of its neck-length options.

    The centre is ``neck_length_mm`` out along the neck axis from the taper point; the neck
    axis makes ``neck_shaft_angle_deg`` (or ``stem``'s CCD when given) with the shaft axis.
    Raises :class:`~orthoplan.errors.CatalogError` when the head does not offer that neck length.

    Examples
    --------
    >>> h = HeadSize("32", 32.0, (-4.0, 0.0, 4.0))
    >>> c = head_outline_mm(h, 0.0)
    >>> round(float(c[:, 0].max() - c[:, 0].min()), 6)
    32.0
    """
    if not size.offers(neck_length_mm):
        options = ", ".join(f"{v:+g}" for v in size.neck_lengths_mm)
        raise CatalogError(f"neck length {neck_length_mm:+g} mm is not offered for head {size.label}; options: {options} mm")
    ccd = stem.neck_shaft_angle_deg if stem is not None else float(neck_shaft_angle_deg)
    a = math.radians(180.0 - ccd)
    cx, cy = neck_length_mm * math.sin(a), -neck_length_mm * math.cos(a)
    r = size.diameter_mm / 2.0
    t = np.linspace(0.0, 2.0 * math.pi, max(int(n), 8), endpoint=False)
    return np.c_[cx + r * np.cos(t), cy + r * np.sin(t)]


# --------------------------------------------------------------------------- stem


def _stem_parts(size: StemSize) -> dict[str, np.ndarray | float]:
    """The construction points of the parametric stem silhouette (stem frame, mm)."""
    h = size.horizontal_offset_mm
    res = size.resection_level_mm
    length = size.stem_length_mm
    a = math.radians(180.0 - size.neck_shaft_angle_deg)
    u = np.array([-math.sin(a), math.cos(a)])  # along the neck, from the head towards the shaft
    n_inf = np.array([math.cos(a), math.sin(a)])  # perpendicular, towards the calcar (medial-distal)
    half = NECK_WIDTH_MM / 2.0
    v = size.vertical_offset_mm
    tx = math.hypot(h, v)  # taper point → neck/shaft-axis intersection
    s_body = _NECK_FRACTION * tx
    corner_inf, corner_sup = half * n_inf, -half * n_inf
    p_inf = s_body * u + half * n_inf
    p_sup = s_body * u - half * n_inf

    d = np.array([w[0] for w in size.body_widths_mm])
    w = np.array([w[1] for w in size.body_widths_mm])
    w0 = float(w[0])
    x_med0, x_lat0 = -h + w0 / 2.0, -h - w0 / 2.0
    medial_res = np.array([x_med0, res])

    # where the neck's inferior edge reaches the body's medial line: the calcar curve's control point
    control = None
    if abs(u[0]) > 1e-9 and p_inf[0] > x_med0:
        t = (x_med0 - p_inf[0]) / u[0]
        c = p_inf + t * u
        if c[1] < res:
            control = c

    # tip: widths continue linearly past the last level, then a half-ellipse closes the tip
    if len(d) >= 2 and d[-1] > d[-2]:
        slope = (w[-1] - w[-2]) / (d[-1] - d[-2])
    else:
        slope = 0.0
    below_tip = length - res
    w_tip = float(np.clip(w[-1] + slope * max(below_tip - d[-1], 0.0), 0.5 * w[-1], w[-1]))
    y_edge_end = max(res + d[-1], length - w_tip / 2.0)
    if y_edge_end > res + d[-1]:
        w_tip = float(np.clip(w[-1] + slope * (y_edge_end - res - d[-1]), 0.5 * w[-1], w[-1]))
        y_edge_end = max(res + d[-1], length - w_tip / 2.0)
    tip_depth = length - y_edge_end

    # lateral shoulder: from the neck's superior edge, sloping down laterally, never below the cut
    y_shoulder = min(float(p_sup[1] + _SHOULDER_SLOPE * max(p_sup[0] - x_lat0, 0.0)), res)
    return {
        "u": u, "n_inf": n_inf, "corner_inf": corner_inf, "corner_sup": corner_sup, "p_inf": p_inf, "p_sup": p_sup,
        "control": control, "medial_res": medial_res, "x_lat0": x_lat0, "y_shoulder": y_shoulder,
        "d": d, "w": w, "w_tip": w_tip, "y_edge_end": y_edge_end, "tip_depth": tip_depth,
    }


def _edge_depths(size: StemSize, parts: dict) -> np.ndarray:
    res = size.resection_level_mm
    levels = res + parts["d"]
    grid = np.arange(res, parts["y_edge_end"], 2.0)
    ys = np.unique(np.round(np.concatenate([grid, levels, [parts["y_edge_end"]]]), 9))
    return ys[(ys >= res) & (ys <= parts["y_edge_end"] + 1e-9)]


def _width_at_depth(size: StemSize, parts: dict, y: np.ndarray) -> np.ndarray:
    res = size.resection_level_mm
    d = list(parts["d"])
    w = list(parts["w"])
    end = parts["y_edge_end"] - res
    if end > d[-1] + 1e-9:
        d.append(end)
        w.append(parts["w_tip"])
    return np.interp(y - res, d, w)


def stem_outline_mm(size: StemSize) -> np.ndarray:
    """AP silhouette of a stem: a closed polygon in the stem frame (mm).

    Origin at the taper point; shaft axis ``x = -horizontal_offset_mm``, ``+y`` distal,
    ``+x`` medial. Vertices 0 and 1 are the two corners of the neck's end face, which
    passes through the taper point perpendicular to the neck axis; vertices 0→… run down
    the neck's inferior edge (parallel to the neck axis, at the catalog CCD angle), the
    calcar curve to the medial end of the resection, the medial edge, the tip, the lateral
    edge, the shoulder and back up the neck's superior edge. Below the resection level
    the body is drawn symmetric about the shaft axis with exactly the catalog's
    ``body_widths_mm``. A vendor outline (``outline_mm``) is returned instead when present.

    Examples
    --------
    >>> s = StemSize("12", 170, 135, 40, 42, ((0, 30), (20, 22), (50, 16), (100, 12)))
    >>> o = stem_outline_mm(s)
    >>> np.round((o[0] + o[1]) / 2, 9).tolist()   # the taper point
    [0.0, 0.0]
    """
    if size.outline_mm is not None:
        return np.array(size.outline_mm, dtype=float)
    parts = _stem_parts(size)
    h = size.horizontal_offset_mm
    pts: list[np.ndarray] = [parts["corner_sup"], parts["corner_inf"], parts["p_inf"]]
    # calcar: quadratic Bézier from the neck's inferior edge to the medial end of the cut
    if parts["control"] is not None:
        t = np.linspace(0.0, 1.0, 25)[1:-1, None]
        p0, c, p2 = parts["p_inf"], parts["control"], parts["medial_res"]
        pts.extend(((1 - t) ** 2) * p0 + 2 * (1 - t) * t * c + (t**2) * p2)
    ys = _edge_depths(size, parts)
    widths = _width_at_depth(size, parts, ys)
    pts.extend(np.c_[-h + widths / 2.0, ys])
    # tip: half-ellipse from the medial to the lateral edge through the lowest point
    if parts["tip_depth"] > 1e-9:
        phi = np.linspace(0.0, math.pi, 25)[1:-1]
        pts.extend(np.c_[-h + (parts["w_tip"] / 2.0) * np.cos(phi), parts["y_edge_end"] + parts["tip_depth"] * np.sin(phi)])
    pts.extend(np.c_[-h - widths[::-1] / 2.0, ys[::-1]])
    if parts["y_shoulder"] < ys[0] - 1e-9:
        pts.append(np.array([parts["x_lat0"], parts["y_shoulder"]]))
    pts.append(parts["p_sup"])
    out = np.vstack(pts).astype(float)
    keep = np.r_[True, np.any(np.abs(np.diff(out, axis=0)) > 1e-9, axis=1)]
    return out[keep]


def stem_landmarks_mm(size: StemSize) -> dict[str, np.ndarray]:
    """Named reference points of a stem in its frame (mm), for templating and drawing.

    ``taper_point`` (0, 0); ``neck_direction`` (unit vector towards the head);
    ``neck_shaft_intersection`` (on the shaft axis at the vertical offset); ``shaft_axis_top``
    and ``stem_tip`` (on the shaft axis); ``resection_medial`` and ``resection_lateral``
    (ends of the resection line); ``lesser_trochanter`` (on the shaft axis, when the catalog
    gives it).

    Examples
    --------
    >>> s = StemSize("12", 170, 135, 40, 42, ((0, 30), (100, 12)))
    >>> stem_landmarks_mm(s)["neck_shaft_intersection"].round(6).tolist()
    [-40.0, 40.0]
    """
    parts = _stem_parts(size)
    h = size.horizontal_offset_mm
    w0 = float(parts["w"][0])
    beta = math.radians(size.resection_angle_deg)
    med = parts["medial_res"]
    direction = np.array([-math.sin(beta), -math.cos(beta)])  # up and lateral along the cut
    t = _ray_exit(med, direction, stem_outline_mm(size)) if size.outline_mm is None else None
    lateral = med + (t if t is not None else w0 / math.sin(beta)) * direction
    out = {
        "taper_point": np.zeros(2),
        "neck_direction": size.neck_direction,
        "neck_shaft_intersection": np.array([-h, size.vertical_offset_mm]),
        "shaft_axis_top": np.array([-h, min(parts["y_shoulder"], size.vertical_offset_mm)]),
        "stem_tip": np.array([-h, size.stem_length_mm]),
        "resection_medial": med.copy(),
        "resection_lateral": lateral,
    }
    if size.lesser_trochanter_mm is not None:
        out["lesser_trochanter"] = np.array([-h, size.lesser_trochanter_mm])
    return out


def _ray_exit(origin: np.ndarray, direction: np.ndarray, poly: np.ndarray) -> float | None:
    """Distance along a ray from a point on a polygon's boundary to where it leaves the polygon."""
    a = poly
    b = np.roll(poly, -1, axis=0)
    e = b - a
    denom = direction[0] * e[:, 1] - direction[1] * e[:, 0]
    ok = np.abs(denom) > 1e-12
    w = a - origin
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (w[:, 0] * e[:, 1] - w[:, 1] * e[:, 0]) / denom
        s = (w[:, 0] * direction[1] - w[:, 1] * direction[0]) / denom
    hit = ok & (t > 1e-6) & (s >= -1e-9) & (s <= 1 + 1e-9)
    return float(t[hit].min()) if hit.any() else None



# --------------------------------------------------------------------------- knee (AP view)

#: Share of the femoral component's ML width taken by the intercondylar notch (drawing only).
_NOTCH_FRACTION = 0.24


def femoral_component_outline_mm(size: FemoralComponentSize, n: int = 25) -> np.ndarray:
    """AP silhouette of a femoral component in its frame (mm).

    **Knee frame**: origin at the centre of the **resection line** (here the distal femoral
    cut), ``+x`` along the cut towards medial, ``+y`` distal along the component axis
    (perpendicular to the cut); a right knee as a standard AP image shows it (``mirror=True``
    for a left knee). The two condyles reach ``y = distal_thickness_mm`` (the articular
    surface) below the cut, the notch spans the middle 24 % of the width, and the
    side walls (the chamfer and posterior-condyle region seen end-on) rise to
    ``ap_dimension_mm / 2 - distal_thickness_mm`` above the cut (drawing only). The x extent is
    exactly ``±ml_width_mm / 2``. A vendor outline in ``outline_mm`` replaces it.

    Examples
    --------
    >>> o = femoral_component_outline_mm(FemoralComponentSize("5", 70.0, 65.0, 9.0, 9.0))
    >>> float(o[:, 0].max() - o[:, 0].min()), float(o[:, 1].max())
    (70.0, 9.0)
    """
    if size.outline_mm is not None:
        return np.array(size.outline_mm, dtype=float)
    w = size.ml_width_mm / 2.0
    t = size.distal_thickness_mm
    top = max(size.ap_dimension_mm / 2.0 - t, 2.0 * t)
    notch = _NOTCH_FRACTION * w
    pts = [(-w, -0.8 * top), (-0.85 * w, -top), (0.85 * w, -top), (w, -0.8 * top), (w, 0.0)]
    phi = np.linspace(0.0, math.pi, max(int(n) | 1, 5))  # odd: the condyles' lowest points are vertices
    cx, rx = (w + notch) / 2.0, (w - notch) / 2.0
    pts += list(zip(cx + rx * np.cos(phi), t * np.sin(phi)))  # medial condyle: w -> notch
    pts += [(notch, -0.25 * top), (-notch, -0.25 * top)]
    pts += list(zip(-cx + rx * np.cos(phi), t * np.sin(phi)))  # lateral condyle: -notch -> -w
    out = np.array(pts, dtype=float)
    keep = np.r_[True, np.any(np.abs(np.diff(out, axis=0)) > 1e-9, axis=1)]
    out = out[keep]
    if np.allclose(out[0], out[-1]):
        out = out[:-1]
    return out


def tibial_tray_outline_mm(size: TibialTraySize) -> np.ndarray:
    """AP silhouette of a tibial tray in the knee frame (mm): origin at the centre of the
    tibial resection line, ``+y`` distal along the tray's axis (perpendicular to the cut).

    The plate spans ``±ml_width_mm / 2`` from the cut down to ``plate_thickness_mm``; the
    keel (24 % of the width at the plate, 60 % of that at the tip) runs ``keel_length_mm``
    further down.

    Examples
    --------
    >>> o = tibial_tray_outline_mm(TibialTraySize("4", 72.0, 48.0, 4.0, 40.0))
    >>> float(o[:, 0].max() - o[:, 0].min()), float(o[:, 1].min()), float(o[:, 1].max())
    (72.0, 0.0, 44.0)
    """
    if size.outline_mm is not None:
        return np.array(size.outline_mm, dtype=float)
    w = size.ml_width_mm / 2.0
    p = size.plate_thickness_mm
    k = 0.12 * size.ml_width_mm
    bottom = p + size.keel_length_mm
    return np.array([
        (-w, 0.0), (w, 0.0), (w, p), (k, p), (0.6 * k, bottom), (-0.6 * k, bottom), (-k, p), (-w, p),
    ], dtype=float)


def tibial_insert_outline_mm(size: TibialInsertSize, thickness_mm: float, *, ml_width_mm: float | None = None,
                             plate_thickness_mm: float = 4.0) -> np.ndarray:
    """AP silhouette of an insert on its tray (knee frame): from the cut (``y = 0``) up to
    ``thickness_mm − plate_thickness_mm`` above it (the labelled thickness is the tray + insert
    construct), ``ml_width_mm`` wide (default the insert's, else 70 mm).

    Raises :class:`~orthoplan.errors.CatalogError` for a thickness the size does not offer.
    """
    if not any(abs(v - thickness_mm) < 1e-6 for v in size.thicknesses_mm):
        options = ", ".join(f"{v:g}" for v in size.thicknesses_mm)
        raise CatalogError(f"insert thickness {thickness_mm:g} mm is not offered for size {size.label}; options: {options} mm")
    w = (ml_width_mm or size.ml_width_mm or 70.0) / 2.0
    h = max(float(thickness_mm) - plate_thickness_mm, 1.0)
    return np.array([(-w, 0.0), (-w, -h), (-0.5 * w, -0.8 * h), (0.5 * w, -0.8 * h), (w, -h), (w, 0.0)], dtype=float)

# --------------------------------------------------------------------------- placement


def to_image(
    outline_mm: np.ndarray,
    *,
    center_xy: tuple[float, float] | np.ndarray,
    rotation_deg: float = 0.0,
    magnification: float | None = None,
    detector_mm_per_px: float | None = None,
    mm_per_px: float | None = None,
    calibration: Calibration | None = None,
    mirror: bool = False,
) -> np.ndarray:
    """Place an outline (mm, implant frame) on an image: pixel ``(x, y)`` coordinates.

    Give the scale one way: ``detector_mm_per_px`` with the image's ``magnification``
    (px = mm × magnification / detector spacing), or the anatomical ``mm_per_px`` (px = mm /
    mm_per_px), or a :class:`~orthoplan.model.Calibration` (anatomical, with its aspect
    ratio). The outline is rotated by ``rotation_deg`` about its origin (clockwise on the
    screen), mirrored left-right when ``mirror`` (the other hip), scaled, and its origin
    moved to ``center_xy``.

    Examples
    --------
    >>> to_image(np.array([[10.0, 0.0]]), center_xy=(100, 50), mm_per_px=0.5).tolist()
    [[120.0, 50.0]]
    >>> to_image(np.array([[10.0, 0.0]]), center_xy=(100, 50), mm_per_px=0.5, rotation_deg=90).round(9).tolist()
    [[100.0, 70.0]]
    """
    given = [detector_mm_per_px is not None, mm_per_px is not None, calibration is not None]
    if sum(given) != 1:
        raise ValueError("give exactly one of detector_mm_per_px (with magnification), mm_per_px or calibration")
    if detector_mm_per_px is not None:
        if magnification is None:
            raise ValueError("detector_mm_per_px needs the image's magnification (e.g. 1.2)")
        _positive("magnification", magnification)
        _positive("detector_mm_per_px", detector_mm_per_px)
        sx = sy = float(magnification) / float(detector_mm_per_px)
    else:
        if magnification is not None:
            raise ValueError("magnification goes with detector_mm_per_px; an anatomical scale already includes it")
        if mm_per_px is not None:
            _positive("mm_per_px", mm_per_px)
            sx = sy = 1.0 / float(mm_per_px)
        else:
            sx, sy = 1.0 / calibration.mm_per_px, 1.0 / calibration.mm_per_px_y
    pts = np.asarray(outline_mm, dtype=float).reshape(-1, 2)
    pts = rotate(pts, float(rotation_deg))
    if mirror:
        pts = pts * np.array([-1.0, 1.0])
    c = np.asarray(center_xy, dtype=float).reshape(2)
    return pts * np.array([sx, sy]) + c


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
