"""The implant-family file format: JSON Schema, semantic checks, and the per-size values.

A family file is first validated against the JSON Schema shipped in the package
(``implant_family.schema.json``, draft 2020-12), then checked for what a schema cannot say
(sizes sorted and unique, every size field tied to a named source, a stem's vertical offset
consistent with its horizontal offset and CCD angle, ...). Every problem names the file,
the field (a JSON pointer such as ``/sizes/3/outer_diameter_mm``) and the reason.

Adding a kind (e.g. ``knee_femoral``): add it to the schema's ``kind`` enum with a
``$defs/<kind>_size`` definition and an ``allOf`` if/then branch, write a frozen size
dataclass with a ``from_dict`` class method, and register a :class:`KindSpec` in
:data:`KINDS`.

Examples
--------
>>> doc = {"schema_version": "1.0", "vendor": "Acme", "family": "Cup", "kind": "cup",
...        "fixation": "uncemented", "sources": [{"id": "g", "kind": "generic", "title": "generic: typical"}],
...        "field_sources": {"outer_diameter_mm": "g", "dual_mobility": "g"},
...        "sizes": [{"label": "50", "outer_diameter_mm": 50, "dual_mobility": False},
...                  {"label": "48", "outer_diameter_mm": 48, "dual_mobility": False}]}
>>> [p.pointer for p in validate_family_document(doc, "acme/cup.json")]
['/sizes/1/outer_diameter_mm']
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar, Literal

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "CatalogProblem",
    "Source",
    "CupSize",
    "StemSize",
    "HeadSize",
    "FemoralComponentSize",
    "TibialTraySize",
    "TibialInsertSize",
    "KNEE_KINDS",
    "ImplantSize",
    "KindSpec",
    "KINDS",
    "family_schema",
    "validate_family_document",
    "parse_sizes",
    "slug",
]

#: The schema version written by this release (files of any 1.x are read).
SCHEMA_VERSION = "1.0"

_VERTICAL_OFFSET_TOLERANCE_MM = 1.0


# --------------------------------------------------------------------------- problems, sources


@dataclass(frozen=True)
class CatalogProblem:
    """One thing wrong with a catalog file: where (file, JSON pointer) and why.

    ``severity`` is ``"error"`` (the family is not loaded) or ``"warning"`` (loaded, but
    worth fixing: an unused source, a duplicate family that was ignored...).
    """

    file: str
    pointer: str
    reason: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.pointer or '/'}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "pointer": self.pointer, "reason": self.reason, "severity": self.severity}


@dataclass(frozen=True)
class Source:
    """Where numbers of a family come from (see the schema's ``$defs/source``)."""

    id: str
    kind: str  #: vendor-document | literature | approximate | generic
    title: str
    url: str | None = None
    locator: str | None = None
    note: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Source:
        return cls(d["id"], d["kind"], d["title"], d.get("url"), d.get("locator"), d.get("note"))

    def to_dict(self) -> dict[str, str]:
        out = {"id": self.id, "kind": self.kind, "title": self.title}
        for k in ("url", "locator", "note"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        return out


Outline = tuple[tuple[float, float], ...]


def _outline(raw: Sequence[Sequence[float]] | None) -> Outline | None:
    if raw is None:
        return None
    return tuple((float(x), float(y)) for x, y in raw)


# --------------------------------------------------------------------------- size values


@dataclass(frozen=True)
class CupSize:
    """One size of an acetabular cup (hemispherical shell; dual mobility when flagged).

    The 2D frame (see :func:`orthoplan.catalog.cup_outline_mm`): origin at the centre of
    rotation, rim line along x, dome towards -y.
    """

    kind: ClassVar[str] = "cup"

    label: str
    outer_diameter_mm: float
    dual_mobility: bool = False
    compatible_head_diameters_mm: tuple[float, ...] = ()
    liner_code: str | None = None
    screw_holes: bool | None = None
    insert_outer_diameter_mm: float | None = None
    insert_thickness_mm: float | None = None
    notes: str | None = None
    outline_mm: Outline | None = None

    @property
    def outer_radius_mm(self) -> float:
        return self.outer_diameter_mm / 2.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], outline: Sequence | None = None) -> CupSize:
        return cls(
            label=str(d["label"]),
            outer_diameter_mm=float(d["outer_diameter_mm"]),
            dual_mobility=bool(d["dual_mobility"]),
            compatible_head_diameters_mm=tuple(float(v) for v in d.get("compatible_head_diameters_mm", ())),
            liner_code=d.get("liner_code"),
            screw_holes=d.get("screw_holes"),
            insert_outer_diameter_mm=_opt_float(d.get("insert_outer_diameter_mm")),
            insert_thickness_mm=_opt_float(d.get("insert_thickness_mm")),
            notes=d.get("notes"),
            outline_mm=_outline(outline),
        )


@dataclass(frozen=True)
class StemSize:
    """One size of a femoral stem, in the stem's AP frame.

    Frame (mm): origin at the **taper point** (head centre at neck length 0), ``+y`` distal
    along the shaft axis, ``+x`` medial (from the shaft axis towards the head). The shaft
    axis is the line ``x = -horizontal_offset_mm``. This is a right hip as seen on a standard
    AP image; mirror it for a left hip. All ``*_mm`` depths are measured along the shaft axis
    from the taper point (see ``docs/catalog.md``).

    ``body_widths_mm`` holds ``(distance below the resection level, medial-lateral width)``
    pairs, the first at 0: the canal-filling widths used for auto-sizing.
    """

    kind: ClassVar[str] = "stem"

    label: str
    stem_length_mm: float
    neck_shaft_angle_deg: float
    horizontal_offset_mm: float
    resection_level_mm: float
    body_widths_mm: tuple[tuple[float, float], ...]
    vertical_offset_mm: float = float("nan")  #: derived when not given
    resection_angle_deg: float = float("nan")  #: default 180 - CCD (cut perpendicular to the neck)
    lesser_trochanter_mm: float | None = None
    notes: str | None = None
    outline_mm: Outline | None = None

    def __post_init__(self) -> None:
        if math.isnan(self.vertical_offset_mm):
            object.__setattr__(self, "vertical_offset_mm", derived_vertical_offset_mm(self))
        if math.isnan(self.resection_angle_deg):
            object.__setattr__(self, "resection_angle_deg", 180.0 - self.neck_shaft_angle_deg)

    @property
    def neck_direction(self) -> np.ndarray:
        """Unit vector along the neck axis, from the shaft towards the head (stem frame)."""
        a = math.radians(180.0 - self.neck_shaft_angle_deg)
        return np.array([math.sin(a), -math.cos(a)])

    def head_center_mm(self, neck_length_mm: float = 0.0) -> np.ndarray:
        """Head centre in the stem frame for a head of the given neck length.

        >>> s = StemSize("x", 150, 135, 40, 42, ((0, 30), (100, 12)))
        >>> np.round(s.head_center_mm(4.0), 3).tolist()
        [2.828, -2.828]
        """
        return float(neck_length_mm) * self.neck_direction

    def body_width_at(self, below_resection_mm: float) -> float:
        """Medial-lateral body width at a distance below the resection level (linear between levels)."""
        d = np.array([p[0] for p in self.body_widths_mm])
        w = np.array([p[1] for p in self.body_widths_mm])
        if not (d[0] <= below_resection_mm <= d[-1]):
            raise ValueError(
                f"stem {self.label}: widths are known from {d[0]:g} to {d[-1]:g} mm below the resection level, "
                f"not at {below_resection_mm:g} mm"
            )
        return float(np.interp(below_resection_mm, d, w))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], outline: Sequence | None = None) -> StemSize:
        return cls(
            label=str(d["label"]),
            stem_length_mm=float(d["stem_length_mm"]),
            neck_shaft_angle_deg=float(d["neck_shaft_angle_deg"]),
            horizontal_offset_mm=float(d["horizontal_offset_mm"]),
            resection_level_mm=float(d["resection_level_mm"]),
            body_widths_mm=tuple((float(a), float(b)) for a, b in d["body_widths_mm"]),
            vertical_offset_mm=float(d.get("vertical_offset_mm", float("nan"))),
            resection_angle_deg=float(d.get("resection_angle_deg", float("nan"))),
            lesser_trochanter_mm=_opt_float(d.get("lesser_trochanter_mm")),
            notes=d.get("notes"),
            outline_mm=_outline(outline),
        )


def derived_vertical_offset_mm(stem: StemSize) -> float:
    """Depth of the neck-axis / shaft-axis intersection below the taper point.

    ``horizontal_offset_mm / tan(180° - CCD)``: 40 mm of offset at 135° gives 40 mm.
    """
    return stem.horizontal_offset_mm / math.tan(math.radians(180.0 - stem.neck_shaft_angle_deg))


@dataclass(frozen=True)
class HeadSize:
    """One femoral head diameter with its neck-length options (mm along the neck axis)."""

    kind: ClassVar[str] = "head"

    label: str
    diameter_mm: float
    neck_lengths_mm: tuple[float, ...]
    neck_length_labels: tuple[str, ...] | None = None
    taper: str | None = None
    notes: str | None = None
    outline_mm: Outline | None = None

    def offers(self, neck_length_mm: float) -> bool:
        """True when ``neck_length_mm`` is one of the offered options (within 1e-6 mm)."""
        return any(abs(v - neck_length_mm) < 1e-6 for v in self.neck_lengths_mm)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], outline: Sequence | None = None) -> HeadSize:
        labels = d.get("neck_length_labels")
        return cls(
            label=str(d["label"]),
            diameter_mm=float(d["diameter_mm"]),
            neck_lengths_mm=tuple(float(v) for v in d["neck_lengths_mm"]),
            neck_length_labels=tuple(labels) if labels is not None else None,
            taper=d.get("taper"),
            notes=d.get("notes"),
            outline_mm=_outline(outline),
        )


@dataclass(frozen=True)
class FemoralComponentSize:
    """One size of a total-knee femoral component (mm).

    ``ml_width_mm`` is the AP-view sizing width, ``ap_dimension_mm`` the lateral-view one;
    ``distal_thickness_mm`` / ``posterior_thickness_mm`` are the bone the distal and
    posterior cuts remove (measured resection).
    """

    kind: ClassVar[str] = "femoral_component"

    label: str
    ml_width_mm: float
    ap_dimension_mm: float
    distal_thickness_mm: float
    posterior_thickness_mm: float
    notes: str | None = None
    outline_mm: Outline | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], outline: Sequence | None = None) -> FemoralComponentSize:
        return cls(
            label=str(d["label"]),
            ml_width_mm=float(d["ml_width_mm"]),
            ap_dimension_mm=float(d["ap_dimension_mm"]),
            distal_thickness_mm=float(d["distal_thickness_mm"]),
            posterior_thickness_mm=float(d["posterior_thickness_mm"]),
            notes=d.get("notes"),
            outline_mm=_outline(outline),
        )


@dataclass(frozen=True)
class TibialTraySize:
    """One size of a total-knee tibial tray (baseplate), mm."""

    kind: ClassVar[str] = "tibial_tray"

    label: str
    ml_width_mm: float
    ap_depth_mm: float
    plate_thickness_mm: float = 4.0
    keel_length_mm: float = 40.0
    notes: str | None = None
    outline_mm: Outline | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], outline: Sequence | None = None) -> TibialTraySize:
        return cls(
            label=str(d["label"]),
            ml_width_mm=float(d["ml_width_mm"]),
            ap_depth_mm=float(d["ap_depth_mm"]),
            plate_thickness_mm=float(d.get("plate_thickness_mm", 4.0)),
            keel_length_mm=float(d.get("keel_length_mm", 40.0)),
            notes=d.get("notes"),
            outline_mm=_outline(outline),
        )


@dataclass(frozen=True)
class TibialInsertSize:
    """The bearing inserts for one tray size: the offered thicknesses (mm)."""

    kind: ClassVar[str] = "tibial_insert"

    label: str
    thicknesses_mm: tuple[float, ...]
    ml_width_mm: float | None = None
    notes: str | None = None
    outline_mm: Outline | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], outline: Sequence | None = None) -> TibialInsertSize:
        return cls(
            label=str(d["label"]),
            thicknesses_mm=tuple(float(v) for v in d["thicknesses_mm"]),
            ml_width_mm=_opt_float(d.get("ml_width_mm")),
            notes=d.get("notes"),
            outline_mm=_outline(outline),
        )


ImplantSize = CupSize | StemSize | HeadSize | FemoralComponentSize | TibialTraySize | TibialInsertSize

#: The total-knee kinds (templated on the long-leg / AP knee view by :mod:`orthoplan.templating.knee`).
KNEE_KINDS = ("femoral_component", "tibial_tray", "tibial_insert")


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


# --------------------------------------------------------------------------- kinds


@dataclass(frozen=True)
class KindSpec:
    """What the loader needs to know about one kind of implant."""

    name: str
    size_class: type
    order_field: str  #: sizes must be listed in increasing order of this value
    strict_order: bool  #: strictly increasing (True) or non-decreasing (False)
    order_value: Callable[[Mapping[str, Any]], float]
    check: Callable[[Mapping[str, Any], str], list[tuple[str, str]]]  #: (pointer, reason) pairs


def _check_cup(s: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    out = []
    od = float(s["outer_diameter_mm"])
    heads = [float(v) for v in s.get("compatible_head_diameters_mm", ())]
    for j, h in enumerate(heads):
        if h >= od:
            out.append((f"{p}/compatible_head_diameters_mm/{j}", f"head diameter {h:g} mm is not smaller than the cup ({od:g} mm)"))
    ins = s.get("insert_outer_diameter_mm")
    if s["dual_mobility"]:
        if ins is None:
            out.append((f"{p}/insert_outer_diameter_mm", "a dual-mobility cup needs insert_outer_diameter_mm"))
        else:
            if ins >= od:
                out.append((f"{p}/insert_outer_diameter_mm", f"insert {ins:g} mm is not smaller than the cup ({od:g} mm)"))
            for j, h in enumerate(heads):
                if h >= ins:
                    out.append((f"{p}/compatible_head_diameters_mm/{j}", f"head {h:g} mm does not fit the {ins:g} mm insert"))
    else:
        for k in ("insert_outer_diameter_mm", "insert_thickness_mm"):
            if k in s:
                out.append((f"{p}/{k}", f"{k} is only for dual-mobility cups (dual_mobility is false)"))
    return out


def _check_stem(s: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    out = []
    length = float(s["stem_length_mm"])
    res = float(s["resection_level_mm"])
    h = float(s["horizontal_offset_mm"])
    ccd = float(s["neck_shaft_angle_deg"])
    if res >= length:
        out.append((f"{p}/resection_level_mm", f"resection level {res:g} mm is not above the stem tip ({length:g} mm)"))
    widths = s["body_widths_mm"]
    if widths[0][0] != 0:
        out.append((f"{p}/body_widths_mm/0/0", "the first body width must be at the resection level (distance 0)"))
    for j in range(1, len(widths)):
        if widths[j][0] <= widths[j - 1][0]:
            out.append((f"{p}/body_widths_mm/{j}/0", f"distances below the resection level must increase strictly ({widths[j][0]:g} after {widths[j - 1][0]:g})"))
    if widths[-1][0] > length - res + 1e-9:
        out.append((f"{p}/body_widths_mm/{len(widths) - 1}/0", f"width at {widths[-1][0]:g} mm below the resection level is past the stem tip ({length - res:g} mm below it)"))
    if "vertical_offset_mm" in s:
        want = h / math.tan(math.radians(180.0 - ccd))
        got = float(s["vertical_offset_mm"])
        if abs(got - want) > _VERTICAL_OFFSET_TOLERANCE_MM:
            out.append((
                f"{p}/vertical_offset_mm",
                f"{got:g} mm is inconsistent with horizontal offset {h:g} mm at CCD {ccd:g}° (expected {want:.1f} ± "
                f"{_VERTICAL_OFFSET_TOLERANCE_MM:g} mm: the depth where the neck axis meets the shaft axis; "
                "a depth to the shoulder or the cut belongs in resection_level_mm)",
            ))
    lt = s.get("lesser_trochanter_mm")
    if lt is not None and lt <= res:
        out.append((f"{p}/lesser_trochanter_mm", f"the lesser-trochanter reference ({lt:g} mm) must lie below the resection level ({res:g} mm)"))
    return out


def _check_head(s: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    out = []
    nl = [float(v) for v in s["neck_lengths_mm"]]
    for j in range(1, len(nl)):
        if nl[j] <= nl[j - 1]:
            out.append((f"{p}/neck_lengths_mm/{j}", f"neck lengths must increase strictly ({nl[j]:g} after {nl[j - 1]:g})"))
    labels = s.get("neck_length_labels")
    if labels is not None and len(labels) != len(nl):
        out.append((f"{p}/neck_length_labels", f"{len(labels)} labels for {len(nl)} neck lengths"))
    return out


def _check_femoral_component(s: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    out = []
    ap = float(s["ap_dimension_mm"])
    for k in ("distal_thickness_mm", "posterior_thickness_mm"):
        t = float(s[k])
        if t >= ap / 2.0:
            out.append((f"{p}/{k}", f"{t:g} mm is not less than half the AP dimension ({ap:g} mm)"))
    return out


def _check_tibial_tray(s: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    out = []
    if "plate_thickness_mm" in s and float(s["plate_thickness_mm"]) >= float(s["ap_depth_mm"]) / 2.0:
        out.append((f"{p}/plate_thickness_mm", "the plate is thicker than half the tray's AP depth"))
    return out


def _check_tibial_insert(s: Mapping[str, Any], p: str) -> list[tuple[str, str]]:
    out = []
    t = [float(v) for v in s["thicknesses_mm"]]
    for j in range(1, len(t)):
        if t[j] <= t[j - 1]:
            out.append((f"{p}/thicknesses_mm/{j}", f"thicknesses must increase strictly ({t[j]:g} after {t[j - 1]:g})"))
    return out


KINDS: dict[str, KindSpec] = {
    "cup": KindSpec("cup", CupSize, "outer_diameter_mm", True, lambda s: float(s["outer_diameter_mm"]), _check_cup),
    "stem": KindSpec(
        "stem", StemSize, "body_widths_mm/0/1", False, lambda s: float(s["body_widths_mm"][0][1]), _check_stem
    ),
    "head": KindSpec("head", HeadSize, "diameter_mm", True, lambda s: float(s["diameter_mm"]), _check_head),
    "femoral_component": KindSpec(
        "femoral_component", FemoralComponentSize, "ap_dimension_mm", True,
        lambda s: float(s["ap_dimension_mm"]), _check_femoral_component,
    ),
    "tibial_tray": KindSpec(
        "tibial_tray", TibialTraySize, "ml_width_mm", True, lambda s: float(s["ml_width_mm"]), _check_tibial_tray
    ),
    "tibial_insert": KindSpec(
        "tibial_insert", TibialInsertSize, "thicknesses_mm/0", False,
        lambda s: float(s["thicknesses_mm"][0]), _check_tibial_insert,
    ),
}

#: Size fields that need no source (names, free text, extension fields).
_UNSOURCED_FIELDS = {"label", "notes"}


# --------------------------------------------------------------------------- validation


@lru_cache(maxsize=1)
def family_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a family file, as shipped in the package."""
    text = resources.files(__package__).joinpath("implant_family.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = family_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _escape(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(path: Sequence[Any]) -> str:
    return "".join("/" + _escape(t) for t in path)


def _schema_problems(doc: Any, file: str) -> list[CatalogProblem]:
    out: list[CatalogProblem] = []
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(t) for t in e.absolute_path])
    for err in errors:
        base = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            for name in err.validator_value:
                if name not in err.instance:
                    out.append(CatalogProblem(file, _pointer([*base, name]), "required field is missing"))
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            props = err.schema.get("properties", {})
            patterns = list(err.schema.get("patternProperties", {}))
            for name in err.instance:
                if name not in props and not any(re.search(pat, name) for pat in patterns):
                    out.append(CatalogProblem(file, _pointer([*base, name]), "unknown field (extension fields start with 'x-')"))
        elif base == ["schema_version"] and err.validator == "pattern":
            out.append(CatalogProblem(
                file, "/schema_version",
                f"unsupported schema_version {err.instance!r}: this orthoplan reads 1.x files (upgrade orthoplan for newer ones)",
            ))
        elif err.validator == "enum":
            out.append(CatalogProblem(file, _pointer(base), f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"))
        else:
            out.append(CatalogProblem(file, _pointer(base), err.message))
    # de-duplicate (the same field can fail through two schema paths)
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in out:
        if (p.pointer, p.reason) not in seen:
            seen.add((p.pointer, p.reason))
            unique.append(p)
    return unique


def validate_family_document(doc: Any, file: str) -> list[CatalogProblem]:
    """Every problem of one parsed family document (schema first, then semantics).

    Semantic checks run only on a document that passed the schema: sizes sorted by the
    kind's order field and labels unique; source ids unique; every size field tied to an
    existing source by ``field_sources``; outline labels known; kind-specific checks
    (head smaller than cup, dual-mobility insert, stem vertical offset consistent with the
    horizontal offset and CCD, widths inside the stem, neck lengths increasing).
    """
    problems = _schema_problems(doc, file)
    if problems:
        return problems
    spec = KINDS[doc["kind"]]
    out: list[CatalogProblem] = []

    def add(pointer: str, reason: str, severity: Literal["error", "warning"] = "error") -> None:
        out.append(CatalogProblem(file, pointer, reason, severity))

    # sources
    ids: dict[str, int] = {}
    for i, src in enumerate(doc["sources"]):
        if src["id"] in ids:
            add(f"/sources/{i}/id", f"duplicate source id {src['id']!r} (also /sources/{ids[src['id']]}/id)")
        ids.setdefault(src["id"], i)
    for field, sid in doc["field_sources"].items():
        if sid not in ids:
            add(f"/field_sources/{_escape(field)}", f"unknown source id {sid!r}; sources: {', '.join(ids)}")

    # sizes: labels unique, order, per-kind checks, every field sourced
    labels: dict[str, int] = {}
    used_fields: set[str] = set()
    prev: float | None = None
    for i, size in enumerate(doc["sizes"]):
        p = f"/sizes/{i}"
        lab = size["label"]
        if lab in labels:
            add(f"{p}/label", f"duplicate size label {lab!r} (also /sizes/{labels[lab]}/label)")
        labels.setdefault(lab, i)
        value = spec.order_value(size)
        if prev is not None:
            if value < prev or (spec.strict_order and value == prev):
                what = "duplicate" if value == prev else "unsorted"
                add(
                    f"{p}/{spec.order_field}",
                    f"{what} sizes: list sizes in {'strictly ' if spec.strict_order else ''}increasing "
                    f"{spec.order_field} ({value:g} after {prev:g})",
                )
        prev = value
        for ptr, reason in spec.check(size, p):
            add(ptr, reason)
        used_fields.add("label")  # a source may back the size names themselves
        for field in size:
            if field in _UNSOURCED_FIELDS or field.startswith("x-"):
                continue
            used_fields.add(field)
            if field not in doc["field_sources"]:
                add(f"{p}/{field}", f"no source named for {field!r}: add \"{field}\": \"<source id>\" to field_sources")
    for field in doc["field_sources"]:
        if field not in used_fields:
            add(f"/field_sources/{_escape(field)}", f"no size uses {field!r}", "warning")

    for lab in doc.get("outline_mm", {}):
        if lab not in labels:
            add(f"/outline_mm/{_escape(lab)}", f"outline for unknown size label {lab!r}")
    # de-duplicate field-source complaints (one per field is enough)
    seen: set[str] = set()
    unique = []
    for prob in out:
        key = prob.reason if "no source named for" in prob.reason else prob.pointer + prob.reason
        if key not in seen:
            seen.add(key)
            unique.append(prob)
    return unique


def parse_sizes(doc: Mapping[str, Any]) -> tuple[ImplantSize, ...]:
    """The size values of a validated document, as frozen dataclasses of its kind."""
    spec = KINDS[doc["kind"]]
    outlines = doc.get("outline_mm", {})
    return tuple(spec.size_class.from_dict(s, outlines.get(s["label"])) for s in doc["sizes"])


def slug(text: str) -> str:
    """Lower-case words joined by ``_``: ``"DePuy Synthes"`` → ``"depuy_synthes"``."""
    return re.sub(r"[^0-9a-z]+", "_", text.casefold()).strip("_")
