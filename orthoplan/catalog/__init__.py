"""Open implant catalogs: families of cups, stems and heads as validated JSON data.

Commercial templating tools keep their implant libraries closed; orthoplan's catalogs are
open data anyone can read, validate and extend. One folder per vendor, one JSON file per
family, validated against the JSON Schema shipped in this package; every number names its
source (the vendor's published table, the literature, an honest approximation, or generic
typical dimensions). See ``docs/catalog.md``.

From a family's sizes this package derives 2D outlines in mm (:func:`cup_outline_mm`,
:func:`stem_outline_mm`, :func:`head_outline_mm`), places them on an image at its
magnification (:func:`to_image`) and builds 3D meshes (:func:`cup_mesh`, :func:`stem_mesh`,
:func:`head_mesh`; trimesh, the ``[mesh]`` extra).

Examples
--------
>>> from orthoplan.catalog import load_catalog, cup_outline_mm, to_image
>>> cat = load_catalog(include_env=False, include_entry_points=False)
>>> cup = cat.find("Trident II Clusterhole HA").size(54)
>>> px = to_image(cup_outline_mm(cup), center_xy=(800, 600), magnification=1.2, detector_mm_per_px=0.15)
>>> round(float(px[:, 0].max() - px[:, 0].min()), 3)
432.0
"""

from __future__ import annotations

from .loader import (
    ENTRY_POINT_GROUP,
    ENV_VAR,
    Catalog,
    ImplantFamily,
    bundled_catalog_dirs,
    catalog_listing,
    load_catalog,
    load_family_file,
    validate_catalog_folder,
)
from .meshes import cup_mesh, femoral_component_mesh, head_mesh, stem_mesh, tibial_tray_mesh
from .outlines import (
    cup_outline_mm,
    femoral_component_outline_mm,
    head_outline_mm,
    stem_landmarks_mm,
    stem_outline_mm,
    tibial_insert_outline_mm,
    tibial_tray_outline_mm,
    to_image,
)
from .schema import (
    KINDS,
    KNEE_KINDS,
    SCHEMA_VERSION,
    CatalogProblem,
    CupSize,
    FemoralComponentSize,
    HeadSize,
    TibialInsertSize,
    TibialTraySize,
    ImplantSize,
    Source,
    StemSize,
    family_schema,
    validate_family_document,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "KINDS",
    "KNEE_KINDS",
    "SCHEMA_VERSION",
    "FemoralComponentSize",
    "TibialInsertSize",
    "TibialTraySize",
    "femoral_component_mesh",
    "femoral_component_outline_mm",
    "tibial_insert_outline_mm",
    "tibial_tray_mesh",
    "tibial_tray_outline_mm",
    "Catalog",
    "CatalogProblem",
    "CupSize",
    "HeadSize",
    "ImplantFamily",
    "ImplantSize",
    "Source",
    "StemSize",
    "bundled_catalog_dirs",
    "catalog_listing",
    "cup_mesh",
    "cup_outline_mm",
    "family_schema",
    "head_mesh",
    "head_outline_mm",
    "load_catalog",
    "load_family_file",
    "stem_landmarks_mm",
    "stem_mesh",
    "stem_outline_mm",
    "to_image",
    "validate_catalog_folder",
    "validate_family_document",
]
