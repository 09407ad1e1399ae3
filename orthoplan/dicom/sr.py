"""A plan as a DICOM Comprehensive SR (TID 1500 Measurement Report), and back.

:func:`build_sr` writes every value of a :class:`~orthoplan.model.Plan` into a TID 1500
report on the plan's source image (same study, a series of its own); :func:`plan_from_sr`
rebuilds the identical plan from the SR content alone. ``docs/dicom.md`` shows the content
tree and lists every code (:mod:`orthoplan.dicom.codes`).

* one TID 1410 group per landmark: an image-region SCOORD (POINT, or CIRCLE = centre and a
  point on the circle) on the source image, the landmark's confidence and radius (NUM), its
  source (as the group's Measurement Method) and finding site with laterality;
* one TID 1501 group per hip (tracking identifier ``hip left``/``hip right``) and one for
  pelvis-level values (``pelvis``: leg-length discrepancy): NUM items in UCUM ``mm``/``deg``,
  each inferred from the SCOORD points of the landmarks it was computed from (TID 320);
* one TID 1501 group ``calibration``: mm per pixel (Calibration Factor), uncertainty,
  aspect ratio, magnification, and how the scale was obtained (Measurement Method);
* TID 1500 rows 12-14 qualitative evaluations: plan identifier, revision, status, creation
  time, view, orientation, spacing attribute used, assumed scale or not, notes, calibration
  warnings and details, missing landmarks and measurements with their reasons.

Numbers are written as Floating Point Value (FD) beside the 16-character Numeric Value (DS)
and read back from FD, so they round-trip exactly; coordinates are FL, and landmarks are
float32 already in the model.

Examples
--------
>>> from orthoplan.model import Calibration, Landmarks, Measurements, ImageReference, Plan
>>> plan = Plan(ImageReference(), Calibration(0.15, "ball-marker", 2.0), Landmarks(), Measurements(),
...             plan_uid="1.2.3.4", created="2026-01-31T14:05:00+00:00")
>>> sr_uids(plan) == sr_uids(plan), sr_uids(plan)[1] != sr_uids(Plan(**{**vars(plan), "revision": 2}))[1]
(True, True)
"""

from __future__ import annotations

import copy
from dataclasses import replace
import datetime as _dt
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pydicom
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid
from pydicom.config import IGNORE as _IGNORE
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.valuerep import DSfloat

from ..errors import DicomOutputError, OrthoplanError
from ..model import (
    ImageOrientation,
    ImageReference,
    Landmark,
    ImplantKind,
    LandmarkName,
    Landmarks,
    Measurement,
    Measurements,
    Placement,
    Plan,
    PlannedOsteotomy,
    Calibration,
    Side,
    plan_time,
)
from . import codes as C

logger = logging.getLogger(__name__)

#: Attributes whose values identify the patient: scrubbed from every error message.
_IDENTIFYING = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "OtherPatientIDs",
    "OtherPatientNames",
    "AccessionNumber",
    "StudyID",
    "IssuerOfPatientID",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "MedicalRecordLocator",
)
#: Type-2 attributes highdicom copies from the source image; filled empty when absent.
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
          "StudyDate", "StudyTime", "ReferringPhysicianName")
_MANUFACTURER = "orthoplan"
_DEVICE_UID = generate_uid(entropy_srcs=["orthoplan", "device-observer"])
_CHARSET = "ISO_IR 192"  # UTF-8: notes and warnings may hold any character

# --------------------------------------------------------------------------- UIDs


def revision_series_entropy(kind: str, plan: Plan) -> list[str]:
    """Entropy of the series UID of a revision: each revision is a series of its own.

    Revision 1 keeps the series UID of earlier orthoplan versions (one series per plan),
    so re-sending a stored first revision stays idempotent.
    """
    revision = int(plan.revision)
    return [kind, plan.plan_uid] if revision == 1 else [kind, plan.plan_uid, str(revision)]


def series_numbers(revision: int) -> tuple[int, int]:
    """``(sr_series_number, gsps_series_number)`` of a plan revision: 9001/9002 for revision 1,
    9003/9004 for revision 2, ... (9000 + 2r - 1 and 9000 + 2r), so no two revisions share one.

    >>> series_numbers(1), series_numbers(2)
    ((9001, 9002), (9003, 9004))
    """
    r = int(revision)
    return 9000 + 2 * r - 1, 9000 + 2 * r


def sr_uids(plan: Plan) -> tuple[str, str]:
    """``(series_instance_uid, sop_instance_uid)`` of the SR of ``plan``.

    Both are the revision's (each revision is a series of its own, numbered by
    :func:`series_numbers`), so storing the same revision twice is idempotent and every
    revision gets a new series and instance.
    """
    return (
        generate_uid(entropy_srcs=revision_series_entropy("orthoplan-sr-series", plan)),
        generate_uid(entropy_srcs=["orthoplan-sr", plan.plan_uid, str(int(plan.revision))]),
    )


def _tracking_uid(plan: Plan, what: str) -> str:
    """Stable across revisions: a tracking UID names the same finding in every revision."""
    return generate_uid(entropy_srcs=["orthoplan-tracking", plan.plan_uid, what])


# --------------------------------------------------------------------------- helpers


def scrub(text: str, source: pydicom.Dataset | None) -> str:
    """``text`` with the values of the patient-identifying attributes of ``source`` removed."""
    if source is None:
        return text
    for kw in _IDENTIFYING:
        value = source.get(kw)
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
        for v in values:
            s = str(v).strip()
            if len(s) >= 2:
                text = text.replace(s, "<redacted>")
                for part in s.split("^"):
                    if len(part.strip()) >= 3:
                        text = text.replace(part.strip(), "<redacted>")
    return text


def _fail(message: str, source: pydicom.Dataset | None, exc: BaseException | None = None) -> DicomOutputError:
    if exc is not None:
        message = f"{message}: {type(exc).__name__}: {exc}"
    return DicomOutputError(scrub(message, source))


def build_scrubbed(what: str, ev: pydicom.Dataset, build: Callable[[], pydicom.Dataset]) -> pydicom.Dataset:
    """``build()``, with any failure turned into one :class:`DicomOutputError` whose message
    names ``what`` and carries no patient identifier of ``ev`` (:func:`scrub`)."""
    try:
        return build()
    except OrthoplanError as exc:
        raise DicomOutputError(scrub(str(exc), ev)) from None
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        raise _fail(f"could not build {what}", ev, exc) from None


def person_name(author: str) -> str:
    """``author`` as a DICOM PN value: a name without ``^`` becomes a family name (``"Name^"``)."""
    text = str(author).strip()
    if not text or "\\" in text or any(len(g) > 64 for g in text.split("=")):
        raise DicomOutputError(
            "the plan author cannot be written as a DICOM person name (empty, over 64 characters "
            "or containing a backslash); give it as 'Family^Given'"
        )
    return text if "^" in text else text + "^"


def author_from_pn(value: Any) -> str:
    """Inverse of :func:`person_name`."""
    text = str(value)
    if text.count("^") == 1 and text.endswith("^"):
        return text[:-1]
    return text


def created_datetime(created: str) -> _dt.datetime:
    """``plan.created`` (ISO 8601) as a datetime, or :class:`DicomOutputError`."""
    try:
        return _dt.datetime.fromisoformat(str(created))
    except ValueError:
        raise DicomOutputError(
            f"plan.created must be an ISO 8601 date and time (e.g. 2026-01-31T14:05:00+00:00), "
            f"got {created!r}"
        ) from None


def local_datetime(created: str, source: pydicom.Dataset) -> tuple[_dt.datetime, str | None]:
    """Creation time in the timezone of the source image's study when it states one.

    Returns ``(datetime, timezone offset attribute or None)``: DICOM dates and times of one
    object share one Timezone Offset From UTC, so a plan written into a study recorded at
    ``-0400`` is written at ``-0400`` too.
    """
    when = created_datetime(created)
    offset = str(source.get("TimezoneOffsetFromUTC", "") or "").strip()
    if when.tzinfo is not None and len(offset) == 5 and offset[0] in "+-" and offset[1:].isdigit():
        minutes = int(offset[1:3]) * 60 + int(offset[3:5])
        tz = _dt.timezone(_dt.timedelta(minutes=minutes if offset[0] == "+" else -minutes))
        return when.astimezone(tz), offset
    return when, None


def _dicom_dt(when: _dt.datetime) -> tuple[str, str]:
    return when.strftime("%Y%m%d"), when.strftime("%H%M%S")


def evidence_header(source: pydicom.Dataset) -> pydicom.Dataset:
    """The source image header without pixel data, with absent type-2 attributes empty."""
    if not isinstance(source, pydicom.Dataset):
        raise DicomOutputError(f"the source image must be a pydicom Dataset, got {type(source).__name__}")
    missing = [kw for kw in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
                             "Rows", "Columns") if not str(source.get(kw, "") or "").strip()]
    if missing:
        raise DicomOutputError(
            "the source image header lacks " + ", ".join(missing) + ": a plan can only be written "
            "beside a DICOM image (load the image from DICOM, not PNG/TIFF)"
        )
    ds = pydicom.Dataset()
    for elem in source:
        if elem.tag.group == 0x7FE0 or elem.tag in (0x00281201, 0x00281202, 0x00281203):
            continue
        ds.add(elem)
    for kw in _TYPE2:
        if kw not in ds:
            setattr(ds, kw, "")
    return ds


# --------------------------------------------------------------------------- encoding
#
# The SR is encoded with pydicom directly, in the structure highdicom's TID 1500 templates
# produce (highdicom reads it back, see the tests). highdicom's own builder takes ~0.3 s
# for a full hip plan (deep copies and tree searches of the content) and stamps the time of
# the call into the object; this encoder takes a few ms and is deterministic.

_SQ, _CS, _UT, _UI = "SQ", "CS", "UT", "UI"
T_CODE_VALUE, T_SCHEME, T_SCHEME_VERSION, T_MEANING, T_LONG_CODE_VALUE = (
    0x00080100, 0x00080102, 0x00080103, 0x00080104, 0x00080119)
T_RELATIONSHIP, T_VALUE_TYPE, T_CONCEPT_NAME, T_CONCEPT_CODE = 0x0040A010, 0x0040A040, 0x0040A043, 0x0040A168
T_CONTINUITY, T_TEMPLATE_SEQ, T_MAPPING_RESOURCE, T_TEMPLATE_ID = 0x0040A050, 0x0040A504, 0x00080105, 0x0040DB00
T_CONTENT_SEQ, T_TEXT, T_UID, T_PNAME = 0x0040A730, 0x0040A160, 0x0040A124, 0x0040A123
T_MEASURED_VALUE_SEQ, T_UNITS_SEQ, T_NUMERIC, T_FLOAT = 0x0040A300, 0x004008EA, 0x0040A30A, 0x0040A161
T_GRAPHIC_DATA, T_GRAPHIC_TYPE = 0x00700022, 0x00700023
T_REF_SOP_SEQ, T_REF_SOP_CLASS, T_REF_SOP_INSTANCE = 0x00081199, 0x00081150, 0x00081155


def _put(ds: pydicom.Dataset, tag: int, vr: str, value: Any) -> None:
    """Add an element whose value is already in its final Python type (hot path).

    Values here are built by this module (str, float, list of float, Sequence), so pydicom's
    per-element conversion and validation are skipped: they cost most of the build time.
    """
    if vr == _SQ and not isinstance(value, DicomSequence):
        value = DicomSequence(value)
    elem = DataElement(BaseTag(tag), vr, value, already_converted=True, validation_mode=_IGNORE)
    ds._dict[elem.tag] = elem


def _new(*elements: tuple[int, str, Any]) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    for tag, vr, value in elements:
        _put(ds, tag, vr, value)
    return ds


def code_item(code) -> pydicom.Dataset:
    """A Code Sequence item of ``code`` (Long Code Value above 16 characters)."""
    ds = pydicom.Dataset()
    value = str(code.value)
    if len(value) > 16:
        _put(ds, T_LONG_CODE_VALUE, "UC", value)
    else:
        _put(ds, T_CODE_VALUE, "SH", value)
    _put(ds, T_SCHEME, "SH", str(code.scheme_designator))
    if getattr(code, "scheme_version", None):
        _put(ds, T_SCHEME_VERSION, "SH", str(code.scheme_version))
    _put(ds, T_MEANING, "LO", str(code.meaning))
    return ds


def _item(relationship: str | None, value_type: str, name) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    if relationship is not None:
        _put(ds, T_RELATIONSHIP, _CS, relationship)
    _put(ds, T_VALUE_TYPE, _CS, value_type)
    _put(ds, T_CONCEPT_NAME, _SQ, [code_item(name)])
    return ds


def _children_set(ds: pydicom.Dataset, children: list[pydicom.Dataset]) -> pydicom.Dataset:
    if children:
        _put(ds, T_CONTENT_SEQ, _SQ, children)
    return ds


def container(relationship: str | None, name, children: list, template: str | None = None) -> pydicom.Dataset:
    ds = _item(relationship, "CONTAINER", name)
    _put(ds, T_CONTINUITY, _CS, "SEPARATE")  # separate items (name: value), never one running text
    if template is not None:
        _put(ds, T_TEMPLATE_SEQ, _SQ, [_new((T_MAPPING_RESOURCE, _CS, "DCMR"), (T_TEMPLATE_ID, _CS, template))])
    return _children_set(ds, children)


def text(relationship: str, name, value: str) -> pydicom.Dataset:
    ds = _item(relationship, "TEXT", name)
    _put(ds, T_TEXT, _UT, str(value))
    return ds


def code(relationship: str, name, value, children: list | None = None) -> pydicom.Dataset:
    ds = _item(relationship, "CODE", name)
    _put(ds, T_CONCEPT_CODE, _SQ, [code_item(value)])
    return _children_set(ds, children or [])


def uidref(relationship: str, name, value: str) -> pydicom.Dataset:
    ds = _item(relationship, "UIDREF", name)
    _put(ds, T_UID, _UI, value)
    return ds


def num(relationship: str, name, value: float, unit, children: list | None = None) -> pydicom.Dataset:
    """A NUM item: Numeric Value (DS, 16 characters) and, for floats, the exact FD value."""
    mv = pydicom.Dataset()
    _put(mv, T_UNITS_SEQ, _SQ, [code_item(unit)])
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        _put(mv, T_NUMERIC, "DS", str(int(value)))
    else:
        value = float(value)
        if not math.isfinite(value):
            raise DicomOutputError(f"{name.meaning}: a DICOM numeric value must be finite, got {value!r}")
        _put(mv, T_FLOAT, "FD", value)
        _put(mv, T_NUMERIC, "DS", DSfloat(value, auto_format=True))
    ds = _item(relationship, "NUM", name)
    _put(ds, T_MEASURED_VALUE_SEQ, _SQ, [mv])
    return _children_set(ds, children or [])


def image(relationship: str, sop_class: str, sop_instance: str, children: list | None = None) -> pydicom.Dataset:
    ds = _item(relationship, "IMAGE", C.SOURCE)
    _put(ds, T_REF_SOP_SEQ, _SQ, [_new((T_REF_SOP_CLASS, _UI, sop_class), (T_REF_SOP_INSTANCE, _UI, sop_instance))])
    return _children_set(ds, children or [])


def scoord(relationship: str, name, graphic_type: str, points: Sequence[tuple[float, float]],
           ref: tuple[str, str]) -> pydicom.Dataset:
    """A 2D SCOORD item (DICOM image coordinates, FL) selected from the image ``ref``."""
    ds = _item(relationship, "SCOORD", name)
    _put(ds, T_GRAPHIC_DATA, "FL", [float(v) for p in points for v in p])
    _put(ds, T_GRAPHIC_TYPE, _CS, graphic_type)
    return _children_set(ds, [image("SELECTED FROM", *ref)])


def finding_site(site, side: Side | None = None, modifier=None) -> pydicom.Dataset:
    children = []
    if side is not None:
        children.append(code("HAS CONCEPT MOD", C.LATERALITY, C.SIDE_CODES[side]))
    if modifier is not None:
        children.append(code("HAS CONCEPT MOD", C.TOPOGRAPHICAL_MODIFIER, modifier))
    return code("HAS CONCEPT MOD", C.FINDING_SITE, site, children)


def _group(template: str, identifier: str, uid: str, content: list) -> pydicom.Dataset:
    head = [
        text("HAS OBS CONTEXT", C.TRACKING_IDENTIFIER, identifier),
        uidref("HAS OBS CONTEXT", C.TRACKING_UID, uid),
    ]
    return container("CONTAINS", C.MEASUREMENT_GROUP, head + content, template)


# --------------------------------------------------------------------------- the plan's groups


def _landmark_group(plan: Plan, lm: Landmark, ref: tuple[str, str]) -> pydicom.Dataset:
    """TID 1410: one landmark as an image region, with its confidence, radius and source."""
    anatomy, side = lm.name.anatomy, lm.name.side
    content = [
        code("CONTAINS", C.FINDING, C.LANDMARK_CODES[anatomy]),
        code("HAS CONCEPT MOD", C.MEASUREMENT_METHOD, C.LANDMARK_SOURCE_CODES[lm.source]),
        finding_site(C.landmark_site_code(anatomy), side, C.LANDMARK_MODIFIERS.get(anatomy)),
        num("CONTAINS", C.LM_CONFIDENCE, lm.confidence, C.UNIT_ONE),
    ]
    if lm.sigma_px is not None:
        content.append(num("CONTAINS", C.LM_SIGMA, lm.sigma_px, C.UNIT_PIXEL))
    if lm.radius_px is not None:
        content.append(num("CONTAINS", C.RADIUS, lm.radius_px, C.UNIT_PIXEL))
        region = scoord("CONTAINS", C.IMAGE_REGION, "CIRCLE", [(lm.x, lm.y), (lm.x + lm.radius_px, lm.y)], ref)
    else:
        region = scoord("CONTAINS", C.IMAGE_REGION, "POINT", [(lm.x, lm.y)], ref)
    content.append(region)
    name = "landmark " + lm.name.value
    return _group("1410", name, _tracking_uid(plan, name), content)


def _measurement_code(m: Measurement):
    try:
        key, _side = C.measurement_template(m.name)
    except KeyError:
        raise DicomOutputError(
            f"no DICOM code for measurement {m.name!r}: add it to orthoplan.dicom.codes.MEASUREMENT_CODES "
            f"(known: {', '.join(C.MEASUREMENT_CODES)})"
        ) from None
    if m.unit not in C.UNITS:
        raise DicomOutputError(f"measurement {m.name!r} has unit {m.unit!r}; the SR knows {sorted(C.UNITS)}")
    return C.MEASUREMENT_CODES[key]


def _group_key(m: Measurement, view: str | None = None) -> str:
    """``pelvis`` / ``hip SIDE`` for hip values, ``lower limbs`` / ``lower limb SIDE`` for long-leg
    values, ``knee SIDE`` for the values of an AP or lateral knee view."""
    from ..measurements.definitions import KNEE_DEFINITIONS, LOWER_LIMB_DEFINITIONS, split_name

    template = split_name(m.name)[0].name
    if m.side is not None and (template in KNEE_DEFINITIONS or view in ("knee-ap", "knee-lateral")):
        return f"knee {m.side.value}"
    limb = template in LOWER_LIMB_DEFINITIONS
    if m.side is None:
        return "lower limbs" if limb else "pelvis"
    return f"lower limb {m.side.value}" if limb else f"hip {m.side.value}"


def _group_site(key: str) -> pydicom.Dataset:
    """The finding site of a measurement group key (see :func:`_group_key`)."""
    if key in ("pelvis", "lower limbs"):
        return finding_site(C.PELVIS if key == "pelvis" else C.LOWER_LIMB)
    side = Side(key.split()[-1])
    if key.startswith("knee"):
        return finding_site(C.KNEE_JOINT, side)
    return finding_site(C.HIP_JOINT if key.startswith("hip") else C.LOWER_LIMB, side)


def _measurement_group(plan: Plan, key: str, items: list[Measurement], ref: tuple[str, str]) -> pydicom.Dataset:
    """TID 1501: the values of one hip or limb (or the pelvis / both limbs), each inferred from its landmarks (TID 320)."""
    content = [_group_site(key)]
    for m in items:
        coords = []
        for name in m.landmarks:
            lm = plan.landmarks.get(name)
            if lm is None:
                raise DicomOutputError(
                    f"measurement {m.name} refers to landmark {name.value}, which is not in the plan"
                )
            coords.append(scoord("INFERRED FROM", C.SOURCE, "POINT", [(lm.x, lm.y)], ref))
        content.append(num("CONTAINS", _measurement_code(m), m.value, C.UNITS[m.unit], coords))
    return _group("1501", key, _tracking_uid(plan, key), content)



def _calibration_interval(m: Measurement, calibration: Calibration) -> tuple[float, float] | None:
    """The interval of a value from the calibration alone: a length's
    (:meth:`~orthoplan.model.Calibration.length_interval_mm`), none for an angle."""
    return calibration.length_interval_mm(m.value) if m.unit == "mm" else None


def _with_interval(m: Measurement, calibration: Calibration, stored: Mapping[str, tuple[float, float]],
                   scope: str) -> Measurement:
    """A value read back gets its 95 % interval: the one stored for it (``scope name`` in the
    ``MS-INTERVAL`` texts, written where the landmarks' positional uncertainty widened it, see
    :func:`_interval_texts`), else the calibration's rule it was made by. The SR does not carry
    it under the value: PixelMed's TID 300 rows take any NUM child of a measurement as INFERRED
    FROM, so TID 310's "range of measurement uncertainty" items fail validation there."""
    interval = stored.get(f"{scope} {m.name}")
    return replace(m, interval=interval if interval is not None else _calibration_interval(m, calibration))


def _interval_texts(plan: Plan) -> list[tuple[str, str]]:
    """``(scope name, "[low, high]")`` for every value whose interval is not the calibration's
    rule (widened by its landmarks' positional uncertainty): measurements, templating predictions
    and each osteotomy's predictions. Values are written with ``repr`` (read back exactly)."""
    scoped = [("measurement", m) for m in plan.measurements] + [("prediction", m) for m in plan.predictions]
    scoped += [(f"osteotomy-{o.side.value}", m) for o in plan.osteotomies for m in o.predicted]
    out = []
    for scope, m in scoped:
        if m.interval is not None and m.interval != _calibration_interval(m, plan.calibration):
            out.append((f"{scope} {m.name}", f"[{float(m.interval[0])!r}, {float(m.interval[1])!r}]"))
    return out


def _read_intervals(texts: dict) -> dict[str, tuple[float, float]]:
    out = {}
    for text in texts.get(_k(C.MEASUREMENT_INTERVAL), []):
        key, rest = _split(text)
        try:
            lo, hi = (float(v) for v in json.loads(rest))
        except (ValueError, TypeError) as exc:
            raise DicomOutputError(f"malformed interval text for {key[:60]!r}: {exc}") from None
        out[key] = (lo, hi)
    return out


def _calibration_group(plan: Plan) -> pydicom.Dataset:
    """TID 1501: the scale used for every mm value, and how it was obtained."""
    cal = plan.calibration
    if cal.spacing_basis not in C.SPACING_BASIS_CODES:
        raise DicomOutputError(
            f"calibration spacing_basis {cal.spacing_basis!r} is not one of {sorted(C.SPACING_BASIS_CODES)}"
        )
    content = [
        code("CONTAINS", C.FINDING, C.CALIBRATION),
        code("HAS CONCEPT MOD", C.MEASUREMENT_METHOD, C.CALIBRATION_SOURCE_CODES[cal.source]),
        num("CONTAINS", C.CALIBRATION_FACTOR, float(cal.mm_per_px), C.UNIT_MM_PER_PIXEL),
        num("CONTAINS", C.CALIBRATION_UNCERTAINTY, float(cal.uncertainty_pct), C.UNIT_PERCENT),
        num("CONTAINS", C.CAL_ASPECT_RATIO, float(cal.aspect_ratio), C.UNIT_RATIO),
    ]
    if cal.magnification is not None:
        content.append(num("CONTAINS", C.MAGNIFICATION, float(cal.magnification), C.UNIT_RATIO))
    return _group("1501", "calibration", _tracking_uid(plan, "calibration"), content)


_HIP_IMPLANTS = (ImplantKind.CUP, ImplantKind.STEM, ImplantKind.HEAD)


def _implant_key(p: Placement) -> str:
    return f"{p.kind.value} {p.side.value}"


def _implant_group(plan: Plan, p: Placement, ref: tuple[str, str]) -> pydicom.Dataset:
    """TID 1501: one placed implant component: kind, side, position (SCOORD), angle, neck length."""
    content = [
        code("CONTAINS", C.FINDING, C.IMPLANT_KIND_CODES[p.kind]),
        finding_site(C.HIP_JOINT if p.kind in _HIP_IMPLANTS else C.KNEE_JOINT, p.side),
        text("CONTAINS", C.SELECTED_IMPLANT, f"{p.vendor} / {p.family} / size {p.size}"),
        num("CONTAINS", C.IMPLANT_ANGLE, float(p.angle_deg), C.UNITS["deg"]),
    ]
    if p.neck_length_mm is not None:
        content.append(num("CONTAINS", C.IMPLANT_NECK_LENGTH, float(p.neck_length_mm), C.UNITS["mm"]))
    if p.thickness_mm is not None:
        content.append(num("CONTAINS", C.IMPLANT_THICKNESS, float(p.thickness_mm), C.UNITS["mm"]))
    content.append(scoord("CONTAINS", C.IMAGE_REGION, "POINT", [(p.x, p.y)], ref))
    name = "implant " + _implant_key(p)
    return _group("1501", name, _tracking_uid(plan, name), content)


def _prediction_group(plan: Plan, key: str, items: list[Measurement]) -> pydicom.Dataset:
    """TID 1501: the values predicted after templating for the pelvis or one hip."""
    content = [code("CONTAINS", C.FINDING, C.PREDICTED), _group_site(key)]
    content += [num("CONTAINS", _measurement_code(m), m.value, C.UNITS[m.unit]) for m in items]
    name = "predicted " + key
    return _group("1501", name, _tracking_uid(plan, name), content)


def _osteotomy_groups(plan: Plan, o: PlannedOsteotomy, ref: tuple[str, str]) -> list[pydicom.Dataset]:
    """TID 1501: one planned osteotomy (kind, side, wedge, target, hinge, cut, angles, wedge height)
    and one group of its predicted values (``osteotomy SIDE``, ``predicted osteotomy SIDE``)."""
    deg, mm = C.UNITS["deg"], C.UNITS["mm"]
    content = [
        code("CONTAINS", C.FINDING, C.OSTEOTOMY_KIND_CODES[o.kind]),
        finding_site(C.OSTEOTOMY_SITES[o.kind], o.side),
        code("CONTAINS", C.OST_WEDGE, C.OST_WEDGE_CODES[o.wedge]),
        code("CONTAINS", C.OST_DIRECTION, C.OST_DIRECTION_CODES[o.direction]),
        code("CONTAINS", C.OST_AUTO, C.YES if o.auto else C.NO),
        num("CONTAINS", C.OST_TARGET_FRACTION, float(o.target_fraction), C.UNIT_RATIO),
        num("CONTAINS", C.OST_ACHIEVED_FRACTION, float(o.achieved_fraction), C.UNIT_RATIO),
        num("CONTAINS", C.OST_CORRECTION, float(o.correction_deg), deg),
        num("CONTAINS", C.OST_ROTATION, float(o.rotation_deg), deg),
        num("CONTAINS", C.OST_WEDGE_HEIGHT, float(o.wedge_height_mm), mm),
        num("CONTAINS", C.OST_LENGTH, float(o.osteotomy_length_mm), mm),
        scoord("CONTAINS", C.OST_HINGE, "POINT", [o.hinge_px], ref),
        scoord("CONTAINS", C.OST_CUT, "POLYLINE", [o.hinge_px, o.cut_end_px], ref),
        scoord("CONTAINS", C.OST_TARGET, "POINT", [o.target_px], ref),
    ]
    name = f"osteotomy {o.side.value}"
    groups = [_group("1501", name, _tracking_uid(plan, name), content)]
    predicted = [code("CONTAINS", C.FINDING, C.OST_PREDICTED), finding_site(C.LOWER_LIMB, o.side)]
    predicted += [num("CONTAINS", _measurement_code(m), m.value, C.UNITS[m.unit]) for m in o.predicted]
    name = f"predicted osteotomy {o.side.value}"
    groups.append(_group("1501", name, _tracking_uid(plan, name), predicted))
    return groups


def _coordinate_key(lm: Landmark) -> tuple[float, float]:
    return (lm.x, lm.y)


def _ambiguous_measurements(plan: Plan) -> dict[str, tuple[LandmarkName, ...]]:
    """Measurements whose landmarks cannot be told apart by their coordinates alone."""
    count: dict[tuple[float, float], int] = {}
    for lm in plan.landmarks:
        count[_coordinate_key(lm)] = count.get(_coordinate_key(lm), 0) + 1
    out = {}
    for m in plan.measurements:
        if any(count.get(_coordinate_key(plan.landmarks[n]), 0) > 1 for n in m.landmarks if n in plan.landmarks):
            out[m.name] = m.landmarks
    return out


def _qualitative_evaluations(plan: Plan, grouped_order: list[str]) -> pydicom.Dataset:
    """TID 1500 rows 12-14: everything about the plan that is not a measurement."""
    t = lambda name, value: text("CONTAINS", name, value)  # noqa: E731
    c = lambda name, value: code("CONTAINS", name, value)  # noqa: E731
    items = [
        t(C.PLAN_UID, plan.plan_uid),
        t(C.PLAN_REVISION, str(int(plan.revision))),
        c(C.PLAN_STATUS, C.STATUS_CODES[plan.status]),
        t(C.PLAN_CREATED, plan.created),
    ]
    if plan.view:
        items.append(t(C.PLAN_VIEW, plan.view))
    if plan.software_version:
        items.append(t(C.SOFTWARE_VERSION, plan.software_version))
    o = plan.orientation
    items += [
        c(C.ORIENT_PATIENT_LEFT, C.DIRECTION_CODES[o.left_vector()]),
        c(C.ORIENT_PATIENT_SUPERIOR, C.DIRECTION_CODES[o.superior_vector()]),
        t(C.ORIENT_SOURCE, o.source),
    ]
    items += [t(C.PLAN_NOTE, n) for n in plan.notes]
    cal = plan.calibration
    items += [
        c(C.CAL_SPACING_BASIS, C.SPACING_BASIS_CODES[cal.spacing_basis]),
        c(C.CAL_ASSUMED, C.YES if cal.assumed else C.NO),
    ]
    items += [t(C.CAL_WARNING, w) for w in cal.warnings]
    if cal.details:
        items.append(t(C.CAL_DETAILS, json.dumps(dict(cal.details), sort_keys=True, allow_nan=False)))
    items += [t(C.LANDMARK_MISSING, f"{n.value}: {r}") for n, r in plan.landmarks.missing]
    items += [t(C.MEASUREMENT_MISSING, f"{n}: {r}") for n, r in plan.measurements.missing]
    for p in plan.placements:
        choice = {"vendor": p.vendor, "family": p.family, "size": p.size, "auto": p.auto}
        if p.size_range is not None:
            choice["size_range"] = list(p.size_range)
        items.append(t(C.IMPLANT_CHOICE, f"{_implant_key(p)}: " + json.dumps(choice, sort_keys=True)))
    items += [t(C.PREDICTION_MISSING, f"{n}: {r}") for n, r in plan.predictions.missing]
    for o in plan.osteotomies:
        items += [t(C.OST_NOTE, f"{o.side.value}: {n}") for n in o.notes]
        items += [t(C.OST_PREDICTION_MISSING, f"{o.side.value}: {n}: {r}") for n, r in o.predicted.missing]
    for m in plan.measurements:
        items += [t(C.MEASUREMENT_NOTE, f"{m.name}: {n}") for n in m.notes]
    items += [t(C.MEASUREMENT_INTERVAL, f"{key}: {value}") for key, value in _interval_texts(plan)]
    for name, lms in _ambiguous_measurements(plan).items():
        items.append(t(C.MEASUREMENT_LANDMARKS, f"{name}: " + ", ".join(n.value for n in lms)))
    original = [m.name for m in plan.measurements]
    if grouped_order != original:
        items.append(t(C.MEASUREMENT_ORDER, ", ".join(original)))
    return container("CONTAINS", C.QUALITATIVE_EVALUATIONS, items)


@lru_cache(maxsize=None)
def _modality_meaning(modality: str) -> str:
    """Code meaning of a modality in CID 29 (from pydicom's concept dictionary)."""
    from pydicom.sr._concepts_dict import concepts

    for entry in concepts["DCM"].values():
        got = entry.get(modality)
        if got is not None and 29 in got[1]:
            return got[0]
    return modality


def _image_library(ev: pydicom.Dataset) -> pydicom.Dataset:
    """TID 1600 with the TID 1602 descriptors of the source image (modality, FoR, size)."""
    descriptors = []
    modality = str(ev.get("Modality", "") or "").strip()
    if modality:
        descriptors.append(code("HAS ACQ CONTEXT", C.MODALITY, Code(modality, "DCM", _modality_meaning(modality))))
    if str(ev.get("FrameOfReferenceUID", "") or "").strip():
        descriptors.append(uidref("HAS ACQ CONTEXT", C.FRAME_OF_REFERENCE_UID, str(ev.FrameOfReferenceUID)))
    descriptors += [
        num("HAS ACQ CONTEXT", C.PIXEL_DATA_ROWS, int(ev.Rows), C.UNIT_PIXEL),
        num("HAS ACQ CONTEXT", C.PIXEL_DATA_COLUMNS, int(ev.Columns), C.UNIT_PIXEL),
    ]
    entry = image("CONTAINS", str(ev.SOPClassUID), str(ev.SOPInstanceUID), descriptors)
    group = container("CONTAINS", C.IMAGE_LIBRARY_GROUP, [entry])
    return container("CONTAINS", C.IMAGE_LIBRARY, [group])


def _observation_context(plan: Plan) -> list[pydicom.Dataset]:
    """TID 1001: the author (person observer) and orthoplan (device observer)."""
    items = []
    if plan.author:
        items += [
            code("HAS OBS CONTEXT", C.OBSERVER_TYPE, C.PERSON),
            _pname(person_name(plan.author)),
        ]
    items += [
        code("HAS OBS CONTEXT", C.OBSERVER_TYPE, C.DEVICE),
        uidref("HAS OBS CONTEXT", C.DEVICE_OBSERVER_UID, _DEVICE_UID),
        text("HAS OBS CONTEXT", C.DEVICE_OBSERVER_NAME, "orthoplan"),
        text("HAS OBS CONTEXT", C.DEVICE_OBSERVER_MANUFACTURER, _MANUFACTURER),
        text("HAS OBS CONTEXT", C.DEVICE_OBSERVER_MODEL_NAME, "orthoplan"),
    ]
    return items


def _pname(value: str) -> pydicom.Dataset:
    ds = _item("HAS OBS CONTEXT", "PNAME", C.PERSON_OBSERVER_NAME)
    ds.add_new(T_PNAME, "PN", value)
    return ds


def content_tree(plan: Plan, ev: pydicom.Dataset) -> pydicom.Dataset:
    """The root CONTAINER (TID 1500) of ``plan``'s report on the image ``ev``."""
    ref = (str(ev.SOPClassUID), str(ev.SOPInstanceUID))
    groups = [_calibration_group(plan)]
    groups += [_landmark_group(plan, lm, ref) for lm in plan.landmarks]
    by_key: dict[str, list[Measurement]] = {}
    for m in plan.measurements:
        by_key.setdefault(_group_key(m, plan.view), []).append(m)
    groups += [_measurement_group(plan, key, items, ref) for key, items in by_key.items()]
    grouped_order = [m.name for items in by_key.values() for m in items]
    groups += [_implant_group(plan, p, ref) for p in plan.placements]
    predicted: dict[str, list[Measurement]] = {}
    for m in plan.predictions:
        predicted.setdefault(_group_key(m, plan.view), []).append(m)
    groups += [_prediction_group(plan, key, items) for key, items in predicted.items()]
    for o in plan.osteotomies:
        groups += _osteotomy_groups(plan, o, ref)
    content = [code("HAS CONCEPT MOD", C.LANGUAGE, C.ENGLISH_US)]
    content += _observation_context(plan)
    content += [
        code("HAS CONCEPT MOD", C.PROCEDURE_REPORTED, C.PROCEDURE_IMAGING),
        _image_library(ev),
        container("CONTAINS", C.IMAGING_MEASUREMENTS, groups),
        _qualitative_evaluations(plan, grouped_order),
    ]
    return container(None, C.IMAGING_MEASUREMENT_REPORT, content, "1500")


# --------------------------------------------------------------------------- the document

#: Patient, General Study and Patient Study attributes copied from the source image.
_COPIED = (
    "PatientName", "PatientID", "IssuerOfPatientID", "IssuerOfPatientIDQualifiersSequence",
    "PatientBirthDate", "PatientBirthTime", "PatientSex", "OtherPatientIDsSequence",
    "OtherPatientNames", "EthnicGroup", "PatientComments", "PatientSpeciesDescription",
    "PatientSpeciesCodeSequence", "PatientBreedDescription", "PatientBreedCodeSequence",
    "BreedRegistrationSequence", "ResponsiblePerson", "ResponsiblePersonRole",
    "ResponsibleOrganization", "PatientIdentityRemoved", "DeidentificationMethod",
    "DeidentificationMethodCodeSequence", "QualityControlSubject",
    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
    "AccessionNumber", "IssuerOfAccessionNumberSequence", "StudyDescription",
    "PhysiciansOfRecord", "ReferencedStudySequence", "ProcedureCodeSequence",
    "PatientAge", "PatientSize", "PatientWeight",
    "ClinicalTrialSponsorName", "ClinicalTrialProtocolID", "ClinicalTrialProtocolName",
    "ClinicalTrialSiteID", "ClinicalTrialSiteName", "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID", "ClinicalTrialTimePointID", "ClinicalTrialCoordinatingCenterName",
)


def new_instance(sop_class: str, sop_uid: str, ev: pydicom.Dataset, date: str, time: str,
                 tz_offset: str | None) -> pydicom.Dataset:
    """A new dataset with the SOP Common module (UTF-8, creation date and time, time zone) and
    the patient and study of the image ``ev``: how every object orthoplan writes begins."""
    ds = pydicom.Dataset()
    ds.SpecificCharacterSet = _CHARSET
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    if tz_offset is not None:
        ds.TimezoneOffsetFromUTC = tz_offset
    copy_patient_and_study(ev, ds)
    return ds


def copy_patient_and_study(ev: pydicom.Dataset, ds: pydicom.Dataset) -> None:
    """Copy the patient and study attributes of the image ``ev`` into ``ds``."""
    for kw in _COPIED:
        if kw in ev:
            ds[kw] = copy.deepcopy(ev[kw])  # never share elements with the caller's dataset


def file_dataset(ds: pydicom.Dataset) -> pydicom.dataset.FileDataset:
    """``ds`` with file meta information, ready for ``dcmwrite``."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "ORTHOPLAN"
    out = FileDataset("", ds, file_meta=meta, preamble=b"\x00" * 128)
    return out


COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def build_sr(
    plan: Plan,
    source: pydicom.Dataset,
    *,
    previous: pydicom.Dataset | None = None,
    institution_name: str | None = None,
    series_number: int | None = None,
) -> pydicom.Dataset:
    """The Comprehensive SR (TID 1500 Measurement Report) of ``plan`` on its source image.

    Parameters
    ----------
    plan
        The plan. Its ``image.sop_instance_uid`` (when set) must be ``source``'s.
    source
        The source image's header (pixel data is not needed and never copied), e.g.
        ``Radiograph.dataset``. Patient and study attributes are copied from it.
    previous
        The SR of the revision this one replaces, referenced in the Predecessor Documents
        Sequence. It must be an orthoplan SR of the same plan with a lower revision and an
        earlier creation time (make revisions with :func:`orthoplan.pipeline.revise_plan`).
    institution_name
        Institution Name of the SR (and Verifying Organization of a final plan).
    series_number
        Series Number of the revision's SR series (default: :func:`series_numbers`).

    Returns
    -------
    pydicom.dataset.FileDataset
        A Comprehensive SR with file meta information (``dcmwrite``/``save_as`` ready).
        Deterministic: the same plan and source give the same bytes (UIDs from
        :func:`sr_uids`, dates and times from ``plan.created``). Wrap it with
        ``highdicom.sr.ComprehensiveSR.from_dataset`` for highdicom's accessors.

    Raises
    ------
    DicomOutputError
        The source is not a DICOM image header, the plan was made on another image, a
        final plan has no author, a measurement has no code, ... (never with patient data).

    Examples
    --------
    >>> sr = build_sr(plan, radiograph.dataset)            # doctest: +SKIP
    >>> sr.save_as("plan.dcm"); plan_from_sr(dcmread("plan.dcm")) == plan   # doctest: +SKIP
    True
    """
    ev = evidence_header(source)
    return build_scrubbed("the plan's DICOM SR", ev,
                          lambda: _build_sr(plan, ev, previous, institution_name, series_number))


def _build_sr(plan, ev, previous, institution_name, series_number) -> pydicom.Dataset:
    if plan.image.sop_instance_uid and plan.image.sop_instance_uid != ev.SOPInstanceUID:
        raise DicomOutputError(
            "the plan was made on another image than the source given (SOP Instance UIDs differ)"
        )
    if plan.status == "final" and not plan.author:
        raise DicomOutputError("a final plan needs an author (the verifying observer); set plan.author")
    if series_number is None:
        series_number = series_numbers(plan.revision)[0]
    if not 1 <= int(series_number) <= 2**31 - 1:
        raise DicomOutputError(f"series_number must be a positive integer, got {series_number!r}")
    when, tz_offset = local_datetime(plan.created, ev)
    date, time = _dicom_dt(when)
    root = content_tree(plan, ev)
    series_uid, sop_uid = sr_uids(plan)
    final = plan.status == "final"

    ds = new_instance(COMPREHENSIVE_SR, sop_uid, ev, date, time, tz_offset)
    ds.ContentDate, ds.ContentTime = date, time
    ds.Modality = "SR"
    ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, int(series_number)
    ds.SeriesDescription = f"orthoplan plan revision {int(plan.revision)}"
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.InstanceNumber = int(plan.revision)
    ds.Manufacturer, ds.ManufacturerModelName = _MANUFACTURER, "orthoplan"
    ds.SoftwareVersions = plan.software_version or _orthoplan_version()
    if institution_name:
        ds.InstitutionName = institution_name
    ds.CompletionFlag = "COMPLETE" if final else "PARTIAL"
    ds.PreliminaryFlag = "FINAL" if final else "PRELIMINARY"
    ds.VerificationFlag = "VERIFIED" if final else "UNVERIFIED"
    if final:
        organization = institution_name or str(ev.get("InstitutionName", "") or "") or "unknown organization"
        observer = pydicom.Dataset()
        observer.VerifyingObserverName = person_name(plan.author)
        observer.VerifyingObserverIdentificationCodeSequence = []
        observer.VerifyingOrganization = organization
        observer.VerificationDateTime = date + time
        ds.VerifyingObserverSequence = [observer]
    if previous is not None:
        ds.PredecessorDocumentsSequence = [_reference_item(_check_previous(plan, previous, ev))]
    ds.PerformedProcedureCodeSequence = []
    ds.CurrentRequestedProcedureEvidenceSequence = [
        _reference_item(ev)
    ]
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = C.SCHEME
    scheme.CodingSchemeName = C.SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = C.SCHEME_ORGANIZATION
    ds.CodingSchemeIdentificationSequence = [scheme]
    ds.update(root)
    return file_dataset(ds)


def _reference_item(ds: pydicom.Dataset) -> pydicom.Dataset:
    """Hierarchical SOP Instance Reference Macro item (study > series > instance) of ``ds``."""
    inst = _new((T_REF_SOP_CLASS, _UI, str(ds.SOPClassUID)), (T_REF_SOP_INSTANCE, _UI, str(ds.SOPInstanceUID)))
    series = pydicom.Dataset()
    series.ReferencedSOPSequence = [inst]
    series.SeriesInstanceUID = str(ds.SeriesInstanceUID)
    study = pydicom.Dataset()
    study.ReferencedSeriesSequence = [series]
    study.StudyInstanceUID = str(ds.StudyInstanceUID)
    return study


def _orthoplan_version() -> str:
    from .. import __version__

    return __version__


def _check_previous(plan: Plan, previous: pydicom.Dataset, ev: pydicom.Dataset) -> pydicom.Dataset:
    """The predecessor SR, after checking it is an earlier revision of the same plan."""
    if not isinstance(previous, pydicom.Dataset):
        raise DicomOutputError(f"previous must be the pydicom Dataset of the earlier SR, got {type(previous).__name__}")
    texts = _root_texts(previous)
    prev_uid = (texts.get(_k(C.PLAN_UID)) or [None])[0]
    if prev_uid is None:
        raise DicomOutputError("the previous SR given is not an orthoplan plan (no plan identifier)")
    if prev_uid != plan.plan_uid:
        raise DicomOutputError("the previous SR given belongs to another plan (plan identifiers differ)")
    try:
        prev_rev = int((texts.get(_k(C.PLAN_REVISION)) or ["0"])[0])
    except ValueError:
        prev_rev = 0
    if prev_rev >= int(plan.revision):
        raise DicomOutputError(
            f"the previous SR is revision {prev_rev}; the new plan must have a higher revision, "
            f"got {plan.revision}"
        )
    prev_time = plan_time((texts.get(_k(C.PLAN_CREATED)) or [""])[0])
    new_time = plan_time(plan.created)
    if prev_time is not None and new_time is not None and new_time <= prev_time:
        raise DicomOutputError(
            f"revision {plan.revision} is not later than revision {prev_rev} it replaces (same or earlier "
            "creation time, e.g. a copy made with dataclasses.replace): make revisions with "
            "orthoplan.pipeline.revise_plan, which gives each its own time"
        )
    if previous.get("StudyInstanceUID") != ev.StudyInstanceUID:
        raise DicomOutputError("the previous SR is in another study than the source image")
    return previous


# --------------------------------------------------------------------------- read back


def _k(code) -> tuple[str, str]:
    return (code.scheme_designator, code.value)


def _concept(ds: pydicom.Dataset, attr: str = "ConceptNameCodeSequence") -> tuple[str, str] | None:
    seq = ds.get(attr)
    if not seq:
        return None
    item = seq[0]
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue")
    return C.canonical_key((str(item.get("CodingSchemeDesignator", "")), str(value)))  # retired codes read as kept


def _children(ds: pydicom.Dataset) -> Iterable[pydicom.Dataset]:
    return ds.get("ContentSequence", None) or ()


def _find(ds: pydicom.Dataset, code) -> list[pydicom.Dataset]:
    key = _k(code)
    return [c for c in _children(ds) if _concept(c) == key]


def _num_value(item: pydicom.Dataset) -> float:
    mv = item.MeasuredValueSequence[0]
    if "FloatingPointValue" in mv:
        return float(mv.FloatingPointValue)
    return float(mv.NumericValue)


def _root_texts(sr: pydicom.Dataset) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for container in _find(sr, C.QUALITATIVE_EVALUATIONS):
        for item in _children(container):
            key = _concept(item)
            if item.get("ValueType") == "TEXT":
                out.setdefault(key, []).append(str(item.TextValue))
            elif item.get("ValueType") == "CODE":
                out.setdefault(key, []).append(_concept(item, "ConceptCodeSequence"))
    return out


def _reverse(mapping) -> dict[tuple[str, str], Any]:
    return {_k(v): k for k, v in mapping.items()}


def _site(group: pydicom.Dataset) -> tuple[tuple[str, str] | None, Side | None]:
    """(anatomic location, laterality) of a group's first finding site."""
    sites = _find(group, C.FINDING_SITE)
    if not sites:
        return None, None
    side = None
    for lat in _find(sites[0], C.LATERALITY):
        side = _reverse(C.SIDE_CODES).get(_concept(lat, "ConceptCodeSequence"))
    return _concept(sites[0], "ConceptCodeSequence"), side


def _evaluation(group: pydicom.Dataset, code) -> tuple[str, str] | None:
    found = _find(group, code)
    return _concept(found[0], "ConceptCodeSequence") if found else None


def _nums(group: pydicom.Dataset) -> list[pydicom.Dataset]:
    return [c for c in _children(group) if c.get("ValueType") == "NUM"]


def _named_nums(group: pydicom.Dataset) -> dict[tuple[str, str], float]:
    return {_concept(n): _num_value(n) for n in _nums(group)}


def _split(text: str) -> tuple[str, str]:
    name, sep, rest = text.partition(": ")
    if not sep:
        raise DicomOutputError(f"malformed orthoplan text item {text[:60]!r} (expected 'name: text')")
    return name, rest


def _not_a_plan(why: str) -> DicomOutputError:
    return DicomOutputError(
        f"this DICOM object is not an orthoplan plan SR ({why}); orthoplan reads back only the "
        "TID 1500 reports it wrote itself"
    )


def plan_from_sr(sr: pydicom.Dataset) -> Plan:
    """The plan written into ``sr`` by :func:`build_sr`, from the SR content alone.

    Raises :class:`~orthoplan.errors.DicomOutputError` when ``sr`` is not an orthoplan plan
    (another application's SR, an image, a presentation state...).

    Examples
    --------
    >>> plan_from_sr(pydicom.dcmread("plan.dcm")) == plan   # doctest: +SKIP
    True
    """
    if not isinstance(sr, pydicom.Dataset) or "ContentSequence" not in sr or sr.get("ValueType") != "CONTAINER":
        raise _not_a_plan("no SR document content")
    if _concept(sr) != _k(C.IMAGING_MEASUREMENT_REPORT):
        raise _not_a_plan("its title is not 'Imaging Measurement Report'")
    texts = _root_texts(sr)
    if _k(C.PLAN_UID) not in texts:
        raise _not_a_plan("no 99ORTHOPLAN plan identifier")
    try:
        return _plan_from_content(sr, texts)
    except OrthoplanError:
        raise
    except (AttributeError, KeyError, IndexError, ValueError, TypeError) as exc:
        raise _fail("the orthoplan SR is malformed and cannot be read back", sr, exc) from None


def _one(texts, code, default=None):
    got = texts.get(_k(code))
    return got[0] if got else default


def _plan_from_content(sr: pydicom.Dataset, texts: dict) -> Plan:
    measurements_container = _find(sr, C.IMAGING_MEASUREMENTS)
    if not measurements_container:
        raise _not_a_plan("no Imaging Measurements container")
    groups = _find(measurements_container[0], C.MEASUREMENT_GROUP)
    landmark_anatomy = _reverse(C.LANDMARK_CODES)
    sources = _reverse(C.LANDMARK_SOURCE_CODES)
    measurement_keys = _reverse(C.MEASUREMENT_CODES)
    units = _reverse(C.UNITS)

    implant_kinds = _reverse(C.IMPLANT_KIND_CODES)
    osteotomy_kinds = _reverse(C.OSTEOTOMY_KIND_CODES)
    osteotomy_groups: list[tuple[str, pydicom.Dataset]] = []
    osteotomy_predicted: dict[Side, list[Measurement]] = {}
    calibration: Calibration | None = None
    landmarks: list[Landmark] = []
    raw_measurements: list[tuple[Measurement, list[tuple[float, float]]]] = []
    implants: list[tuple[ImplantKind, Side | None, pydicom.Dataset]] = []
    predicted: list[Measurement] = []
    for group in groups:
        finding = _evaluation(group, C.FINDING)
        if finding == _k(C.CALIBRATION):
            calibration = _read_calibration(group, texts)
        elif finding in landmark_anatomy:
            landmarks.append(_read_landmark(group, landmark_anatomy[finding], sources))
        elif finding in implant_kinds:
            implants.append((implant_kinds[finding], _site(group)[1], group))
        elif finding in osteotomy_kinds:
            osteotomy_groups.append((osteotomy_kinds[finding], group))
        elif finding == _k(C.OST_PREDICTED):
            _site_code, side = _site(group)
            osteotomy_predicted[side] = [
                _read_predicted(num, measurement_keys, units, side) for num in _nums(group)
            ]
        elif finding == _k(C.PREDICTED):
            _site_code, side = _site(group)
            for num in _nums(group):
                key = measurement_keys[_concept(num)]
                unit = units[_concept(num.MeasuredValueSequence[0], "MeasurementUnitsCodeSequence")]
                name = key.format(side=side.value) if "{side}" in key else key
                predicted.append(Measurement(name, _num_value(num), unit, (), side))
        else:
            site, side = _site(group)
            if site not in (_k(C.PELVIS), _k(C.HIP_JOINT), _k(C.LOWER_LIMB), _k(C.KNEE_JOINT)):
                logger.warning("skipping a measurement group orthoplan does not know")
                continue
            for num in _nums(group):
                key = measurement_keys.get(_concept(num))
                if key is None:
                    continue
                unit = units[_concept(num.MeasuredValueSequence[0], "MeasurementUnitsCodeSequence")]
                name = key.format(side=side.value) if "{side}" in key else key
                points = []
                for sc in _children(num):
                    if sc.get("ValueType") == "SCOORD":
                        g = [float(v) for v in sc.GraphicData]
                        points.append((g[0], g[1]))
                raw_measurements.append((Measurement(name, _num_value(num), unit, (), side), points))
    if calibration is None:
        raise _not_a_plan("no calibration group")
    stored = _read_intervals(texts)
    predicted = [_with_interval(m, calibration, stored, "prediction") for m in predicted]
    osteotomy_predicted = {k: [_with_interval(m, calibration, stored, f"osteotomy-{getattr(k, 'value', k)}") for m in v]
                           for k, v in osteotomy_predicted.items()}
    raw_measurements = [(_with_interval(m, calibration, stored, "measurement"), pts) for m, pts in raw_measurements]

    by_position: dict[tuple[float, float], list[LandmarkName]] = {}
    for lm in landmarks:
        by_position.setdefault((lm.x, lm.y), []).append(lm.name)
    explicit = {}
    for text in texts.get(_k(C.MEASUREMENT_LANDMARKS), []):
        name, rest = _split(text)
        explicit[name] = tuple(LandmarkName.parse(n) for n in rest.split(", ") if n)
    notes: dict[str, list[str]] = {}
    for text in texts.get(_k(C.MEASUREMENT_NOTE), []):
        name, rest = _split(text)
        notes.setdefault(name, []).append(rest)
    items = []
    for m, points in raw_measurements:
        if m.name in explicit:
            names = explicit[m.name]
        else:
            names = []
            for p in points:
                candidates = by_position.get(p, [])
                if len(candidates) != 1:
                    raise DicomOutputError(
                        f"measurement {m.name}: a referenced point matches {len(candidates)} landmarks"
                    )
                names.append(candidates[0])
        items.append(Measurement(m.name, m.value, m.unit, tuple(names), m.side, tuple(notes.get(m.name, ())), m.interval))
    order = _one(texts, C.MEASUREMENT_ORDER)
    if order:
        rank = {n: i for i, n in enumerate(order.split(", "))}
        items.sort(key=lambda m: rank.get(m.name, len(rank)))
    missing_m = tuple(_split(t) for t in texts.get(_k(C.MEASUREMENT_MISSING), []))
    missing_l = tuple((LandmarkName.parse(n), r) for n, r in (_split(t) for t in texts.get(_k(C.LANDMARK_MISSING), [])))

    directions = _reverse(C.DIRECTION_CODES)
    orientation = ImageOrientation.from_vectors(directions[_one(texts, C.ORIENT_PATIENT_LEFT)],
                                                directions[_one(texts, C.ORIENT_PATIENT_SUPERIOR)],
                                                _one(texts, C.ORIENT_SOURCE, "assumed-standard-ap"))
    status = _reverse(C.STATUS_CODES)[_one(texts, C.PLAN_STATUS)]
    choices = dict(_split(t) for t in texts.get(_k(C.IMPLANT_CHOICE), []))
    placements = tuple(_read_implant(kind, side, group, choices) for kind, side, group in implants)
    missing_p = tuple(_split(t) for t in texts.get(_k(C.PREDICTION_MISSING), []))
    osteotomies = tuple(_read_osteotomy(kind, group, osteotomy_predicted, texts) for kind, group in osteotomy_groups)
    return Plan(
        image=_read_image_reference(sr),
        calibration=calibration,
        landmarks=Landmarks(tuple(landmarks), missing_l),
        measurements=Measurements(tuple(items), missing_m),
        orientation=orientation,
        view=_one(texts, C.PLAN_VIEW, ""),
        plan_uid=_one(texts, C.PLAN_UID),
        revision=int(_one(texts, C.PLAN_REVISION, "1")),
        status=status,
        author=_read_author(sr),
        created=_one(texts, C.PLAN_CREATED, ""),
        software_version=_one(texts, C.SOFTWARE_VERSION, ""),
        notes=tuple(texts.get(_k(C.PLAN_NOTE), [])),
        placements=placements,
        predictions=Measurements(tuple(predicted), missing_p),
        osteotomies=osteotomies,
    )


def _read_predicted(num: pydicom.Dataset, measurement_keys: dict, units: dict, side: Side | None) -> Measurement:
    key = measurement_keys[_concept(num)]
    unit = units[_concept(num.MeasuredValueSequence[0], "MeasurementUnitsCodeSequence")]
    name = key.format(side=side.value) if "{side}" in key else key
    return Measurement(name, _num_value(num), unit, (), side)


def _read_osteotomy(kind: str, group: pydicom.Dataset, predicted: dict, texts: dict) -> PlannedOsteotomy:
    _site_code, side = _site(group)
    if side is None:
        raise DicomOutputError(f"osteotomy group {kind} has no laterality")
    nums = _named_nums(group)
    points = {_concept(sc): [float(v) for v in sc.GraphicData] for sc in _children(group) if sc.get("ValueType") == "SCOORD"}
    hinge, cut, target = points[_k(C.OST_HINGE)], points[_k(C.OST_CUT)], points[_k(C.OST_TARGET)]
    prefix = side.value + ": "
    notes = tuple(t[len(prefix):] for t in texts.get(_k(C.OST_NOTE), []) if t.startswith(prefix))
    missing = tuple(_split(t[len(prefix):]) for t in texts.get(_k(C.OST_PREDICTION_MISSING), []) if t.startswith(prefix))
    return PlannedOsteotomy(
        kind=kind,
        side=side,
        wedge=_reverse(C.OST_WEDGE_CODES)[_evaluation(group, C.OST_WEDGE)],
        target_fraction=nums[_k(C.OST_TARGET_FRACTION)],
        hinge_x=hinge[0],
        hinge_y=hinge[1],
        cut_end_x=cut[2],
        cut_end_y=cut[3],
        target_x=target[0],
        target_y=target[1],
        rotation_deg=nums[_k(C.OST_ROTATION)],
        direction=_reverse(C.OST_DIRECTION_CODES)[_evaluation(group, C.OST_DIRECTION)],
        osteotomy_length_mm=nums[_k(C.OST_LENGTH)],
        wedge_height_mm=nums[_k(C.OST_WEDGE_HEIGHT)],
        achieved_fraction=nums[_k(C.OST_ACHIEVED_FRACTION)],
        predicted=Measurements(tuple(predicted.get(side, ())), missing),
        notes=notes,
        auto=_evaluation(group, C.OST_AUTO) == _k(C.YES),
    )


def _read_implant(kind: ImplantKind, side: Side | None, group: pydicom.Dataset, choices: dict[str, str]) -> Placement:
    if side is None:
        raise DicomOutputError(f"implant group {kind.value} has no laterality")
    key = f"{kind.value} {side.value}"
    if key not in choices:
        raise DicomOutputError(f"implant {key}: no implant choice (vendor, family, size) in the SR")
    choice = json.loads(choices[key])
    g = [float(v) for v in _find(group, C.IMAGE_REGION)[0].GraphicData]
    nums = _named_nums(group)
    return Placement(
        kind=kind,
        side=side,
        vendor=choice["vendor"],
        family=choice["family"],
        size=choice["size"],
        x=g[0],
        y=g[1],
        angle_deg=nums[_k(C.IMPLANT_ANGLE)],
        neck_length_mm=nums.get(_k(C.IMPLANT_NECK_LENGTH)),
        auto=bool(choice.get("auto", True)),
        thickness_mm=nums.get(_k(C.IMPLANT_THICKNESS)),
        size_range=None if choice.get("size_range") is None else tuple(choice["size_range"]),
    )


def _read_landmark(group: pydicom.Dataset, anatomy: str, sources: dict) -> Landmark:
    _site_code, side = _site(group)
    if side is None:
        raise DicomOutputError(f"landmark group {anatomy} has no laterality")
    region = _find(group, C.IMAGE_REGION)[0]
    g = [float(v) for v in region.GraphicData]
    nums = _named_nums(group)
    return Landmark(
        LandmarkName.of(anatomy, side),
        g[0],
        g[1],
        confidence=nums[_k(C.LM_CONFIDENCE)],
        source=sources[_evaluation(group, C.MEASUREMENT_METHOD)],
        radius_px=nums.get(_k(C.RADIUS)),
        sigma_px=nums.get(_k(C.LM_SIGMA)),
    )


def _read_calibration(group: pydicom.Dataset, texts: dict) -> Calibration:
    nums = _named_nums(group)
    details = _one(texts, C.CAL_DETAILS)
    return Calibration(
        mm_per_px=nums[_k(C.CALIBRATION_FACTOR)],
        source=_reverse(C.CALIBRATION_SOURCE_CODES)[_evaluation(group, C.MEASUREMENT_METHOD)],
        uncertainty_pct=nums[_k(C.CALIBRATION_UNCERTAINTY)],
        aspect_ratio=nums[_k(C.CAL_ASPECT_RATIO)],
        magnification=nums.get(_k(C.MAGNIFICATION)),
        spacing_basis=_reverse(C.SPACING_BASIS_CODES)[_one(texts, C.CAL_SPACING_BASIS)],
        assumed=_one(texts, C.CAL_ASSUMED) == _k(C.YES),
        details=json.loads(details) if details else {},
        warnings=tuple(texts.get(_k(C.CAL_WARNING), [])),
    )


def _read_author(sr: pydicom.Dataset) -> str | None:
    for item in _children(sr):
        if _concept(item) == _k(C.PERSON_OBSERVER_NAME) and item.get("ValueType") == "PNAME":
            return author_from_pn(item.PersonName)
    return None


def _read_image_reference(sr: pydicom.Dataset) -> ImageReference:
    libraries = _find(sr, C.IMAGE_LIBRARY)
    images = []
    for lib in libraries:
        for group in _children(lib):
            images += [c for c in _children(group) if c.get("ValueType") == "IMAGE"]
    if not images:
        return ImageReference(study_instance_uid=str(sr.StudyInstanceUID))
    image = images[0]
    ref = image.ReferencedSOPSequence[0]
    sop_uid, sop_class = str(ref.ReferencedSOPInstanceUID), str(ref.ReferencedSOPClassUID)
    desc = {_concept(c): c for c in _children(image)}
    modality = desc.get(_k(C.MODALITY))
    for_uid = desc.get(_k(C.FRAME_OF_REFERENCE_UID))
    rows, cols = desc.get(_k(C.PIXEL_DATA_ROWS)), desc.get(_k(C.PIXEL_DATA_COLUMNS))
    series_uid = None
    for study in sr.get("CurrentRequestedProcedureEvidenceSequence", []):
        for series in study.get("ReferencedSeriesSequence", []):
            for inst in series.get("ReferencedSOPSequence", []):
                if inst.ReferencedSOPInstanceUID == sop_uid:
                    series_uid = str(series.SeriesInstanceUID)
    return ImageReference(
        sop_instance_uid=sop_uid,
        sop_class_uid=sop_class,
        study_instance_uid=str(sr.StudyInstanceUID),
        series_instance_uid=series_uid,
        frame_of_reference_uid=str(for_uid.UID) if for_uid is not None else None,
        modality=_concept(modality, "ConceptCodeSequence")[1] if modality is not None else None,
        rows=int(_num_value(rows)) if rows is not None else 0,
        columns=int(_num_value(cols)) if cols is not None else 0,
    )
