"""Small synthetic plans for the archive tests (one patient and study per seed)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pydicom

from orthoplan.phantoms import pelvis as phantom
from orthoplan.dicom import build_gsps, build_sr
from orthoplan.model import Plan
from orthoplan.overlay import plan_overlay
from orthoplan.pipeline import load_radiograph, plan_radiograph, revise_plan


@dataclass(frozen=True)
class PlanCase:
    """A synthetic radiograph with its plan (revision 1), SR and GSPS."""

    image: pydicom.Dataset
    plan: Plan
    sr: pydicom.Dataset
    gsps: pydicom.Dataset
    header: pydicom.Dataset

    @property
    def study_uid(self) -> str:
        return str(self.image.StudyInstanceUID)

    def objects(self) -> list[pydicom.Dataset]:
        return [self.image, self.sr, self.gsps]

    def revision(self, **changes) -> tuple[Plan, pydicom.Dataset, pydicom.Dataset]:
        """Revision 2 (final, :func:`~orthoplan.pipeline.revise_plan`): (plan, SR referencing this case's SR, GSPS)."""
        content = replace(self.plan, author="Surgeon^Ann", notes=self.plan.notes + ("revision 2",), **changes)
        plan = revise_plan(self.plan, content, status="final")
        sr = build_sr(plan, self.header, previous=self.sr)
        return plan, sr, build_gsps(plan, self.header, plan_overlay(plan))


_CASES: dict[int, PlanCase] = {}


def plan_case(seed: int) -> PlanCase:
    """A small (600 x 700) synthetic AP pelvis planned on its true landmarks; one per seed.

    Each seed is its own patient and study, so tests sharing the session's Orthanc do
    not see each other's objects.
    """
    if seed not in _CASES:
        case = phantom.make_pelvis(seed=seed, rows=600, columns=700, detector_spacing_mm=0.6)
        rad = load_radiograph(case.dataset)
        plan = plan_radiograph(rad, landmarks=case.landmarks)
        _CASES[seed] = PlanCase(case.dataset, plan, build_sr(plan, rad.dataset),
                                build_gsps(plan, rad.dataset, plan_overlay(plan)), rad.dataset)
    return _CASES[seed]


def body_bytes(ds: pydicom.Dataset) -> bytes:
    """The dataset's encoding without file meta (Explicit VR Little Endian): equal bytes, same object."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, False
    write_dataset(buf, ds)
    return buf.getvalue()
