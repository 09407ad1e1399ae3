"""3D meshes: sizes from the catalog, watertight solids with the expected volumes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orthoplan.catalog import CupSize, cup_mesh, head_mesh, load_catalog, stem_mesh, stem_outline_mm
from orthoplan.catalog.meshes import triangulate_polygon


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(include_env=False, include_entry_points=False)


def _area(poly):
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def test_cup_mesh_bounding_box_is_the_outer_diameter_and_volume_is_a_shell(catalog):
    for fam in (catalog.find("Trident II Clusterhole HA"), catalog.find("generic hemispherical cup")):
        for size in fam.sizes[::3]:
            m = cup_mesh(size)
            od = size.outer_diameter_mm
            assert m.is_watertight and m.is_volume
            np.testing.assert_allclose(m.extents, [od, od / 2, od], rtol=1e-9)
            assert m.bounds[1][1] == pytest.approx(0.0, abs=1e-9)  # rim in the y = 0 plane, dome to -y
            r_in = max(size.compatible_head_diameters_mm) / 2
            shell = 2 / 3 * math.pi * ((od / 2) ** 3 - r_in**3)
            assert m.volume == pytest.approx(shell, rel=0.01)  # polygonal: a little under the true shell


def test_dual_mobility_cup_mesh_holds_the_insert(catalog):
    size = catalog.find("Trident II Clusterhole HA with MDM liner").size(56)
    m = cup_mesh(size)
    expected = 2 / 3 * math.pi * (28.0**3 - (size.insert_outer_diameter_mm / 2) ** 3)
    assert m.is_watertight and m.volume == pytest.approx(expected, rel=0.01)
    with pytest.raises(ValueError, match="between 0 and the outer"):
        cup_mesh(CupSize("50", 50.0), inner_diameter_mm=52.0)


def test_head_mesh(catalog):
    head = catalog.find("V40 LFIT CoCr heads").size(36)
    m = head_mesh(head)
    assert m.is_watertight
    assert m.volume == pytest.approx(4 / 3 * math.pi * 18.0**3, rel=0.01)
    assert m.extents.max() == pytest.approx(36.0, rel=1e-3)


def test_stem_mesh_is_a_watertight_prism_of_the_outline(catalog):
    for fam in catalog.of_kind("stem"):
        size = fam.sizes[len(fam.sizes) // 2]
        m = stem_mesh(size)
        depth = 0.45 * size.body_widths_mm[0][1]
        assert m.is_watertight and m.is_volume, fam.family
        assert m.volume == pytest.approx(_area(stem_outline_mm(size)) * depth, rel=1e-9)
        assert m.bounds[:, 2] == pytest.approx([-depth / 2, depth / 2])
        o = stem_outline_mm(size)
        np.testing.assert_allclose(m.bounds[:, :2], [o.min(axis=0), o.max(axis=0)], atol=1e-9)
    with pytest.raises(ValueError, match="positive"):
        stem_mesh(size, thickness_mm=0)


def test_triangulation_of_a_concave_polygon():
    poly = np.array([[0, 0], [4, 0], [4, 3], [2, 1], [0, 3]], dtype=float)  # a notch at the top
    tris = triangulate_polygon(poly)
    assert tris.shape == (3, 3)
    area = sum(_area(poly[t]) for t in tris)
    assert area == pytest.approx(_area(poly))
    with pytest.raises(ValueError, match="at least 3"):
        triangulate_polygon(poly[:2])
