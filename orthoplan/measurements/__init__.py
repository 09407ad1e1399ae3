"""Measurements: pure geometry on landmarks, each with its definition, range and source.

>>> from orthoplan.measurements import DEFINITIONS, measure_hip
>>> DEFINITIONS["lld_teardrop_mm"].unit
'mm'
"""

from .definitions import (
    DEFINITIONS,
    LOWER_LIMB_DEFINITIONS,
    lower_limb_measurement_names,
    MeasurementDefinition,
    definition_for,
    landmarks_markdown,
    measurement_names,
    measurements_markdown,
    split_name,
)
from .hip import (
    MIN_SEPARATION_MM,
    PelvicReference,
    acetabular_offset_mm,
    center_edge_angle_deg,
    construction,
    femoral_offset_mm,
    leg_length_discrepancy_mm,
    measure_hip,
    neck_shaft_angle_deg,
    pelvic_reference,
    sharp_angle_deg,
    tonnis_angle_deg,
)
from .knee import knee_construction, measure_knee
from .lower_limb import (
    MalalignmentVerdict,
    lower_limb_construction,
    malalignment_from_measurements,
    malalignment_test,
    measure_lower_limb,
)

__all__ = [
    "knee_construction",
    "measure_knee",
    "LOWER_LIMB_DEFINITIONS",
    "lower_limb_measurement_names",
    "MalalignmentVerdict",
    "lower_limb_construction",
    "malalignment_from_measurements",
    "malalignment_test",
    "measure_lower_limb",
    "DEFINITIONS",
    "MeasurementDefinition",
    "definition_for",
    "landmarks_markdown",
    "measurement_names",
    "measurements_markdown",
    "split_name",
    "MIN_SEPARATION_MM",
    "PelvicReference",
    "acetabular_offset_mm",
    "center_edge_angle_deg",
    "construction",
    "femoral_offset_mm",
    "leg_length_discrepancy_mm",
    "measure_hip",
    "neck_shaft_angle_deg",
    "pelvic_reference",
    "sharp_angle_deg",
    "tonnis_angle_deg",
]
