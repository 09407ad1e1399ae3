"""The synthetic long-leg cases of the lower-limb tests (importable helper)."""

from __future__ import annotations

#: (right leg, left leg, photometric, patient_left_x, seed): every deformity on both sides,
#: both photometric interpretations, both image orientations.
CASES = [
    ("neutral", "femoral_varus", "MONOCHROME2", 1, 0),
    ("femoral_varus", "tibial_valgus", "MONOCHROME1", 1, 1),
    ("tibial_varus", "joint_line_valgus", "MONOCHROME2", -1, 2),
    ("joint_line_varus", "femoral_valgus", "MONOCHROME1", -1, 3),
    ("combined_varus", "neutral", "MONOCHROME2", 1, 4),
    ("femoral_valgus", "tibial_varus", "MONOCHROME1", 1, 5),
    ("tibial_valgus", "joint_line_varus", "MONOCHROME2", -1, 6),
    ("joint_line_valgus", "combined_varus", "MONOCHROME1", -1, 7),
]

#: A small image (0.57 mm/px) holding both legs from pelvis to feet.
SMALL = dict(rows=1950, columns=720, detector_spacing_mm=0.6)


def case_id(c) -> str:
    return f"{c[0]}+{c[1]}-{c[2][-1]}-{'std' if c[3] == 1 else 'flip'}"
