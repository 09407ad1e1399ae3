"""A synthetic cohort, generated once per test session: 200 AP pelvis DX with truth beside each.

Each ``case_NNN.dcm`` has ``case_NNN.landmarks.json`` (the phantom's exact landmarks, the
sidecar format ``orthoplan batch`` reads) and ``case_NNN.truth.json`` (truth by
construction). Three broken files sit in the middle of the set: a truncated DICOM, a text
file named ``.dcm`` and an image without any calibration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orthoplan.phantoms import pelvis as phantom

N_CASES = 200
BROKEN = ("case_050_truncated.dcm", "case_100_not_dicom.dcm", "case_150_uncalibrated.dcm")


def _write(case: phantom.SyntheticCase, folder: Path, stem: str, sidecar: bool = True) -> None:
    case.dataset.save_as(folder / f"{stem}.dcm", enforce_file_format=True)
    if sidecar:
        lm = {"landmarks": {l.name.value: [l.x, l.y] for l in case.landmarks}}
        (folder / f"{stem}.landmarks.json").write_text(json.dumps(lm))
    truth = {"measurements": case.measurements, "mm_per_px": case.mm_per_px,
             "sop_instance_uid": str(case.dataset.SOPInstanceUID)}
    (folder / f"{stem}.truth.json").write_text(json.dumps(truth))


@pytest.fixture(scope="session")
def cohort(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cohort")
    sub = folder / "site_b"  # a sub-folder: inputs are searched recursively
    sub.mkdir()
    for seed in range(N_CASES):
        case = phantom.make_pelvis(seed=1000 + seed, rows=600, columns=720, detector_spacing_mm=0.6,
                                     photometric="MONOCHROME1" if seed % 3 == 0 else "MONOCHROME2",
                                     text=seed % 2 == 0)
        _write(case, folder if seed % 4 else sub, f"case_{seed:03d}")
    good = (folder / "case_001.dcm").read_bytes()
    (folder / BROKEN[0]).write_bytes(good[: len(good) // 3])
    (folder / BROKEN[1]).write_text("this is not a radiograph\n")
    bare = phantom.make_pelvis(seed=7, rows=600, columns=720, detector_spacing_mm=0.6,
                                 ball_diameter_mm=None, calibration_tags="none")
    bare.dataset.save_as(folder / BROKEN[2], enforce_file_format=True)
    return folder


@pytest.fixture(scope="session")
def n_cases() -> int:
    return N_CASES


@pytest.fixture(scope="session")
def broken() -> tuple[str, ...]:
    return BROKEN


@pytest.fixture(scope="session")
def truths(cohort) -> dict[str, dict]:
    """Truth by input key (the image path as the table writes it)."""
    out = {}
    for t in sorted(cohort.rglob("*.truth.json")):
        out[str(t.with_name(t.name.replace(".truth.json", ".dcm")))] = json.loads(t.read_text())
    return out
