"""The plan as DICOM: a TID 1500 Comprehensive SR (the data) and a GSPS (the picture).

>>> from orthoplan.dicom import build_sr, plan_from_sr, build_gsps   # doctest: +SKIP
>>> sr = build_sr(plan, radiograph.dataset)                          # doctest: +SKIP
>>> plan_from_sr(sr) == plan                                          # doctest: +SKIP
True

See ``docs/dicom.md`` for the content tree and the ``99ORTHOPLAN`` codes.
"""

from __future__ import annotations

from .pr import build_gsps, gsps_uids
from .sr import build_sr, plan_from_sr, sr_uids
from .validate import run_dciodvfy, run_dcmpschk, run_dsr2html, run_dsrdump, run_pixelmed_sr_validator

__all__ = [
    "build_sr",
    "plan_from_sr",
    "sr_uids",
    "build_gsps",
    "gsps_uids",
    "run_dciodvfy",
    "run_dsrdump",
    "run_dsr2html",
    "run_dcmpschk",
    "run_pixelmed_sr_validator",
]
