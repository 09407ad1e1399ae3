"""3D meshes of catalog implants (trimesh; the optional ``[mesh]`` extra).

The meshes are parametric stand-ins built from the catalog numbers, for 3D placement and
pictures, not the vendors' CAD models. They share the 2D frames of
:mod:`orthoplan.catalog.outlines` with ``z`` added (anterior, for a right hip):

* :func:`cup_mesh` — a hemispherical shell (metal back + liner as one solid), centre of
  rotation at the origin, dome towards ``-y``; outer radius from the catalog, inner radius
  the bearing (largest compatible head, or the dual-mobility insert). Watertight.
* :func:`head_mesh` — a sphere of the head diameter centred at the origin. Watertight.
* :func:`stem_mesh` — the AP silhouette of :func:`~orthoplan.catalog.stem_outline_mm`
  extruded to a constant antero-posterior thickness (default 45 % of the body width at the
  resection level), centred on ``z = 0``. Watertight; the real stem's AP taper is not modelled.

Examples
--------
>>> from orthoplan.catalog import CupSize
>>> m = cup_mesh(CupSize("54", 54.0, compatible_head_diameters_mm=(36.0,)))
>>> m.is_watertight, [round(float(v), 3) for v in m.extents]
(True, [54.0, 27.0, 54.0])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .outlines import femoral_component_outline_mm, stem_outline_mm, tibial_tray_outline_mm
from .schema import CupSize, FemoralComponentSize, HeadSize, StemSize, TibialTraySize

if TYPE_CHECKING:
    import trimesh

__all__ = ["cup_mesh", "head_mesh", "stem_mesh", "femoral_component_mesh", "tibial_tray_mesh", "triangulate_polygon"]


def _trimesh():
    try:
        import trimesh
    except ImportError as exc:  # pragma: no cover - trimesh is installed in the test environment
        raise ImportError("implant meshes need trimesh: pip install 'orthoplan[mesh]'") from exc
    return trimesh


def cup_mesh(size: CupSize, *, inner_diameter_mm: float | None = None, sections: int = 96) -> trimesh.Trimesh:
    """Watertight hemispherical shell of a cup (dome towards ``-y``, rim in the ``y = 0`` plane).

    ``inner_diameter_mm`` defaults to the dual-mobility insert's outer diameter, else the
    largest compatible head, else the outer diameter minus 12 mm (a 6 mm wall).
    """
    tm = _trimesh()
    r_out = size.outer_diameter_mm / 2.0
    if inner_diameter_mm is None:
        if size.dual_mobility and size.insert_outer_diameter_mm:
            inner_diameter_mm = size.insert_outer_diameter_mm
        elif size.compatible_head_diameters_mm:
            inner_diameter_mm = max(size.compatible_head_diameters_mm)
        else:
            inner_diameter_mm = max(size.outer_diameter_mm - 12.0, 0.5 * size.outer_diameter_mm)
    r_in = float(inner_diameter_mm) / 2.0
    if not 0 < r_in < r_out:
        raise ValueError(f"inner diameter {inner_diameter_mm:g} mm must be between 0 and the outer {size.outer_diameter_mm:g} mm")
    # profile in (radius, height) with the dome up (+z); revolved about z
    t = np.linspace(0.0, math.pi / 2.0, 48)
    outer = np.c_[r_out * np.sin(t), r_out * np.cos(t)]  # pole -> rim
    inner = np.c_[r_in * np.sin(t[::-1]), r_in * np.cos(t[::-1])]  # rim -> pole
    profile = np.vstack([outer, inner])
    profile[np.abs(profile) < 1e-12] = 0.0
    mesh = tm.creation.revolve(profile, sections=_multiple_of_4(sections))
    # dome from +z to -y: rotate +90° about x ( (x, y, z) -> (x, -z, y) )
    mesh.apply_transform(tm.transformations.rotation_matrix(math.pi / 2.0, [1.0, 0.0, 0.0]))
    mesh.merge_vertices()
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def head_mesh(size: HeadSize, *, count: int = 64) -> trimesh.Trimesh:
    """Watertight sphere of the head diameter, centred at the origin."""
    tm = _trimesh()
    n = _multiple_of_4(count)
    return tm.creation.uv_sphere(radius=size.diameter_mm / 2.0, count=[n, n])


def stem_mesh(size: StemSize, *, thickness_mm: float | None = None) -> trimesh.Trimesh:
    """Watertight prism of the stem's AP silhouette, ``thickness_mm`` deep, centred on ``z = 0``."""
    tm = _trimesh()
    outline = stem_outline_mm(size)
    if thickness_mm is None:
        thickness_mm = 0.45 * size.body_widths_mm[0][1]
    if not thickness_mm > 0:
        raise ValueError(f"thickness_mm must be positive, got {thickness_mm!r}")
    poly = _drop_collinear(outline)
    faces = triangulate_polygon(poly)
    mesh = tm.creation.extrude_triangulation(vertices=poly, faces=faces, height=float(thickness_mm))
    mesh.apply_translation([0.0, 0.0, -float(thickness_mm) / 2.0])
    mesh.merge_vertices()
    if mesh.volume < 0:
        mesh.invert()
    return mesh



def _prism(outline: np.ndarray, depth_mm: float):
    tm = _trimesh()
    poly = _drop_collinear(outline)
    mesh = tm.creation.extrude_triangulation(vertices=poly, faces=triangulate_polygon(poly), height=float(depth_mm))
    mesh.apply_translation([0.0, 0.0, -float(depth_mm) / 2.0])
    mesh.merge_vertices()
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def femoral_component_mesh(size: FemoralComponentSize) -> trimesh.Trimesh:
    """Watertight prism of the femoral component's AP silhouette, ``ap_dimension_mm`` deep
    (knee frame, centred on ``z = 0``); a stand-in for pictures, not the vendor's CAD shape."""
    return _prism(femoral_component_outline_mm(size), size.ap_dimension_mm)


def tibial_tray_mesh(size: TibialTraySize) -> trimesh.Trimesh:
    """Watertight prism of the tray's AP silhouette, ``ap_depth_mm`` deep (knee frame)."""
    return _prism(tibial_tray_outline_mm(size), size.ap_depth_mm)

# --------------------------------------------------------------------------- helpers


def _multiple_of_4(n: int) -> int:
    return max(8, int(math.ceil(n / 4.0)) * 4)


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _drop_collinear(poly: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    pts = np.asarray(poly, dtype=float)
    changed = True
    while changed and len(pts) > 3:
        prev, nxt = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
        cross = (pts[:, 0] - prev[:, 0]) * (nxt[:, 1] - pts[:, 1]) - (pts[:, 1] - prev[:, 1]) * (nxt[:, 0] - pts[:, 0])
        same = np.all(np.abs(pts - prev) < tol, axis=1)
        drop = (np.abs(cross) < tol) | same
        changed = bool(drop.any())
        if changed:
            pts = pts[~drop]
    return pts


def triangulate_polygon(poly: np.ndarray) -> np.ndarray:
    """Ear-clipping triangulation of a simple polygon ``(N, 2)``: ``(N - 2, 3)`` vertex indices.

    Triangles follow the polygon's own orientation. O(N²), fine for outlines of a few
    hundred vertices.

    Examples
    --------
    >>> triangulate_polygon(np.array([[0, 0], [2, 0], [2, 1], [1, 0.5], [0, 1]])).shape
    (3, 3)
    """
    pts = np.asarray(poly, dtype=float)
    n = len(pts)
    if n < 3:
        raise ValueError("a polygon needs at least 3 vertices")
    sign = 1.0 if _signed_area(pts) > 0 else -1.0
    idx = list(range(n))
    tris: list[tuple[int, int, int]] = []

    def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return sign * ((a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0]))

    while len(idx) > 3:
        m = len(idx)
        cur = pts[idx]
        prev, nxt = np.roll(cur, 1, axis=0), np.roll(cur, -1, axis=0)
        convex = cross(prev, cur, nxt) > 1e-12
        cand = np.flatnonzero(convex)
        q = cur[~convex]  # only reflex (or flat) vertices can lie inside a convex corner's triangle
        if len(q):
            a, b, c = prev[cand][:, None, :], cur[cand][:, None, :], nxt[cand][:, None, :]
            qq = q[None, :, :]
            inside = (cross(a, b, qq) >= -1e-12) & (cross(b, c, qq) >= -1e-12) & (cross(c, a, qq) >= -1e-12)
            # a triangle's own corners are not "inside" it
            own = np.all(np.isclose(qq, a) | np.isclose(qq, c), axis=2) | np.all(np.isclose(qq, b), axis=2)
            ears = cand[~np.any(inside & ~own, axis=1)]
        else:
            ears = cand
        if len(ears) == 0:
            raise ValueError("polygon could not be triangulated (self-intersecting?)")
        k = int(ears[0])
        tris.append((idx[(k - 1) % m], idx[k], idx[(k + 1) % m]))
        del idx[k]
    tris.append((idx[0], idx[1], idx[2]))
    return np.array(tris, dtype=int)
