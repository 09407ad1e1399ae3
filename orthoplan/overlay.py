"""What a plan looks like on the image, independent of how it is drawn.

:func:`plan_overlay` turns a :class:`~orthoplan.model.Plan` into layers of plain
graphics (points, polylines, circles, text) in image pixel coordinates. The PNG renderer
(:mod:`orthoplan.render`) and the DICOM presentation state (:mod:`orthoplan.dicom.pr`)
both draw these same layers, so a PACS viewer and the picture show the same plan.

Examples
--------
>>> g = Graphic("circle", ((10.0, 10.0),), radius_px=5.0, label="head")
>>> g.kind
'circle'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .model import ImageOrientation, ImplantKind, LandmarkName, Measurement, Plan, Side, findings_in

#: The picture's words for the findings of a plan's notes (:data:`orthoplan.model.FINDING_CODES`),
#: one line each for those present, top left, in this order.
FINDING_LABELS = (
    ("immature", "SKELETALLY IMMATURE PELVIS? adult norms and templates do not apply"),
    ("metal", "METAL HARDWARE? landmarks near it are less reliable"),
    ("abducted", "FEMUR ABDUCTED? offsets, neck-shaft angle and leg length not standard"),
    ("unsure-film", "UNUSUAL FILM? the detector is unsure of it: check every landmark"),
    ("other-view", "NOT THIS VIEW? the view classifier takes the film for another"),
    ("mirrored", "DISPLAYED MIRRORED: the side marker puts the patient's right on the image's right"),
    ("marker-conflict", "SIDE MARKER DISAGREES with the header or the side given: check the film's side"),
    ("upside-down", "UPSIDE DOWN? the knee reads as surely so: femur and tibia may be swapped"),
)

GraphicKind = Literal["point", "polyline", "circle", "text"]


@dataclass(frozen=True)
class Graphic:
    """One drawable thing in image pixel coordinates (DICOM origin).

    ``point``: one point; ``polyline``: two or more points (``closed`` joins the ends);
    ``circle``: centre point and ``radius_px``; ``text``: anchor point and ``label``.
    ``label`` is shown beside points/lines too when given.
    """

    kind: GraphicKind
    points: tuple[tuple[float, float], ...]
    label: str | None = None
    radius_px: float | None = None
    closed: bool = False
    confidence: float | None = None  #: for landmarks: shown so people know what to check

    def __post_init__(self) -> None:
        need = {"point": 1, "polyline": 2, "circle": 1, "text": 1}[self.kind]
        if len(self.points) < need:
            raise ValueError(f"a {self.kind} graphic needs at least {need} point(s)")
        if self.kind == "circle" and not (self.radius_px and self.radius_px > 0):
            raise ValueError("a circle graphic needs a positive radius_px")
        if self.kind == "text" and not self.label:
            raise ValueError("a text graphic needs a label")


@dataclass(frozen=True)
class OverlayLayer:
    """A named group of graphics drawn in one colour (one GSPS graphic layer)."""

    name: str  #: e.g. "LANDMARKS", "HIP_LEFT", "REFERENCE", "CALIBRATION"
    description: str
    color_rgb: tuple[int, int, int]
    graphics: tuple[Graphic, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- plan → layers


#: Colours per layer (RGB 0-255); GSPS converts them to CIELab.
LAYER_COLORS: dict[str, tuple[int, int, int]] = {
    "CALIBRATION": (255, 255, 255),
    "LANDMARKS": (0, 255, 255),
    "PELVIS": (255, 220, 0),
    "HIP_RIGHT": (255, 110, 80),
    "HIP_LEFT": (90, 200, 255),
    "LIMBS": (255, 220, 0),
    "LIMB_RIGHT": (255, 110, 80),
    "LIMB_LEFT": (90, 200, 255),
    "KNEE_RIGHT": (255, 110, 80),
    "KNEE_LEFT": (90, 200, 255),
    "ORIENTATION": (255, 255, 255),
    "CUP": (120, 255, 120),
    "STEM": (255, 170, 255),
    "HEAD": (255, 255, 140),
    "TKA_FEMUR": (120, 255, 120),
    "TKA_TIBIA": (255, 170, 255),
    "TKA_INSERT": (255, 255, 140),
    "PREDICTION": (255, 255, 255),
    "OSTEOTOMY": (255, 60, 200),
}

_SHORT = {
    "teardrop": "TD",
    "ischial_tuberosity": "IT",
    "femoral_head_center": "FH",
    "femoral_neck_center": "FN",
    "femoral_shaft_proximal": "SP",
    "femoral_shaft_distal": "SD",
    "lesser_trochanter": "LT",
    "greater_trochanter": "GT",
    "acetabular_lateral_edge": "LE",
    "sourcil_medial": "SM",
    "femoral_knee_center": "FK",
    "tibial_knee_center": "TK",
    "femoral_condyle_medial": "CM",
    "femoral_condyle_lateral": "CL",
    "tibial_plateau_medial": "PM",
    "tibial_plateau_lateral": "PL",
    "ankle_center": "AC",
    "tibial_plafond_medial": "DM",
    "tibial_plafond_lateral": "DL",
    "femoral_epicondyle_medial": "EM",
    "femoral_epicondyle_lateral": "EL",
    "knee_femoral_axis_proximal": "FA1",
    "knee_femoral_axis_distal": "FA2",
    "knee_tibial_axis_proximal": "TA1",
    "knee_tibial_axis_distal": "TA2",
    "femoral_anterior_cortex": "ACx",  # not "AC": that is the ankle centre
    "femoral_posterior_cortex": "PCx",
    "femoral_posterior_condyle": "PC",
    "tibial_plateau_anterior": "PA",
    "tibial_plateau_posterior": "PP",
}


#: The short code each landmark is drawn with (anatomy → code); :func:`landmark_legend` explains them.
LANDMARK_CODES: dict[str, str] = _SHORT


def landmark_legend(plan: Plan) -> tuple[tuple[str, str], ...]:
    """The codes the plan's landmarks are drawn with, and what each means, in drawing order.

    >>> LANDMARK_CODES["teardrop"], LANDMARK_CODES["acetabular_lateral_edge"]
    ('TD', 'LE')
    >>> # landmark_legend(plan) → (("TD", "teardrop"), ("FH", "femoral head center"), ...)
    """
    seen: dict[str, str] = {}
    for l_ in plan.landmarks:
        anatomy = l_.name.anatomy
        seen.setdefault(_SHORT.get(anatomy, anatomy), anatomy.replace("_", " "))
    return tuple(seen.items())


def _fmt(value: float, unit_: str) -> str:
    return f"{value:+.1f} mm" if unit_ == "mm" else f"{value:.1f}°"


def _label_for(m: Measurement) -> str:
    """``"Femoral offset 41.3 mm (95 % 38.0-44.6)"``, with ``IMPLAUSIBLE`` when the value is."""
    name, value, unit_ = m.name, m.value, m.unit
    text = name.replace("_left", "").replace("_right", "")
    text = text.replace("_mm", "").replace("_deg", "").replace("_", " ")
    titles = {
        "lld teardrop": "LLD (teardrop)",
        "lld ischial": "LLD (ischial)",
        "femoral offset": "Femoral offset",
        "acetabular offset": "Acetabular offset",
        "global offset": "Global offset",
        "neck shaft angle": "Neck-shaft angle",
        "lcea": "LCEA",
        "tonnis angle": "Tönnis angle",
        "sharp angle": "Sharp angle",
        "aldfa": "aLDFA",
        "ampta": "MPTA",
        "jlca": "JLCA",
        "fta": "FTA (valgus +)",
        "posterior tibial slope": "Posterior tibial slope",
        "femoral ap dimension": "Femoral AP",
        "posterior condylar offset": "PCO",
        "femoral condylar width": "Femoral ML width",
        "tibial plateau width": "Plateau ML width",
    }
    label = f"{titles.get(text, text)} {_fmt(value, unit_)}"
    if name.startswith("lld_") and abs(value) >= 0.05:
        label += " (L longer)" if value > 0 else " (R longer)"
    if m.interval is not None:
        label += f" (95 % {m.interval[0]:.1f} to {m.interval[1]:.1f})"
    if any(n.startswith("implausible") for n in m.notes):
        label += " IMPLAUSIBLE: check the landmarks"
    return label


def side_text_origin(orientation: ImageOrientation, side: Side, right: float, top: float) -> tuple[float, float]:
    """Where (fractions of the image's width and height) a side's text block starts: on the
    image's half where that side lies. Head up or down: ``top`` down, at ``right`` or 0.03 across;
    a film stored turned (left and right along y): 0.03 across, at ``top`` or 0.5 + ``top`` / 2.

    >>> side_text_origin(ImageOrientation(), Side.LEFT, 0.72, 0.10)
    (0.72, 0.1)
    >>> side_text_origin(ImageOrientation.turned("right"), Side.LEFT, 0.72, 0.10)
    (0.03, 0.55)
    """
    lx, ly = orientation.lateral_vector(side)
    if lx:
        return (right if lx > 0 else 0.03), top
    return 0.03, (0.5 + 0.5 * top if ly > 0 else top)


def plan_overlay(plan: Plan) -> tuple[OverlayLayer, ...]:
    """The layers that show ``plan`` on its image: landmarks, reference lines, values.

    Coordinates are image pixels. Lines are the constructions of each measurement
    (see ``docs/measurements.md``); text labels carry the values and the calibration.
    """
    lm = plan.landmarks
    rows, cols = plan.image.rows or 1000, plan.image.columns or 1000
    layers: list[OverlayLayer] = []

    def pt(anatomy: str, side: Side | str):
        got = lm.get(LandmarkName.of(anatomy, side))
        return None if got is None else np.array(got.xy)

    # calibration: the scale and how it was obtained, always on the picture
    cal = plan.calibration
    cal_graphics = [Graphic("text", ((cols * 0.01, rows * 0.91),), label="Scale " + cal.label)]
    for w in cal.warnings[:2]:
        cal_graphics.append(
            Graphic("text", ((cols * 0.01, rows * (0.91 - 0.03 * len(cal_graphics))),), label=w)
        )
    d = cal.details
    if all(k in d for k in ("x", "y", "radius_px")):
        cal_graphics.append(
            Graphic("circle", ((float(d["x"]), float(d["y"])),), radius_px=float(d["radius_px"]), label="ball")
        )
    layers.append(OverlayLayer("CALIBRATION", "Calibration", LAYER_COLORS["CALIBRATION"], tuple(cal_graphics)))

    # patient sides, from the orientation (never the screen)
    lx, ly = plan.orientation.left_vector()
    side_text = [  # at the image's edge towards the patient's left, and opposite
        Graphic("text", ((cols * (0.49 + 0.47 * s * lx), rows * (0.5 + 0.46 * s * ly)),), label=label)
        for s, label in ((1, "L"), (-1, "R"))
    ]
    if plan.orientation.assumed:
        how = ("standard AP" if plan.orientation.superior_name == "up"
               else "film turned: head at the image's "
               + {"down": "bottom"}.get(plan.orientation.superior_name, plan.orientation.superior_name))
        if plan.orientation.source == "assumed-from-side-marker":
            how = "from the side marker on the film" + ("" if lx > 0 or plan.orientation.turn_deg else ", displayed mirrored")
        side_text.append(Graphic("text", ((cols * 0.01, rows * 0.97),), label=f"Orientation assumed ({how})"))
    # what the detector says about the film, said on the picture too (not only in the plan)
    findings = findings_in(plan.notes)
    said = [label for code, label in FINDING_LABELS if code in findings]
    for k, label in enumerate(said):  # the findings present, one line each from the top
        side_text.append(Graphic("text", ((cols * 0.01, rows * (0.06 + 0.04 * k)),), label=label))
    layers.append(OverlayLayer("ORIENTATION", "Patient sides", LAYER_COLORS["ORIENTATION"], tuple(side_text)))

    # measurement constructions (the same lines the values were computed from), per layer
    from .errors import MeasurementError
    from .measurements import LOWER_LIMB_DEFINITIONS, construction, lower_limb_construction, split_name

    from .measurements import knee_construction
    from .measurements.definitions import KNEE_DEFINITIONS

    knee_view = plan.view in ("knee-ap", "knee-lateral")

    def layer_of(m) -> str:
        if m.side is not None and (knee_view or split_name(m.name)[0].name in KNEE_DEFINITIONS):
            return f"KNEE_{m.side.value.upper()}"
        limb = split_name(m.name)[0].name in LOWER_LIMB_DEFINITIONS
        if m.side is None:
            return "LIMBS" if limb else "PELVIS"
        return f"{'LIMB' if limb else 'HIP'}_{m.side.value.upper()}"

    by_layer: dict[str, list[Graphic]] = {k: [] for k in ("PELVIS", "HIP_RIGHT", "HIP_LEFT", "LIMBS", "LIMB_RIGHT", "LIMB_LEFT",
                                                          "KNEE_RIGHT", "KNEE_LEFT")}
    seen: set[tuple] = set()
    for m in plan.measurements:
        layer = layer_of(m)
        draw = (knee_construction if layer.startswith("KNEE") else
                lower_limb_construction if layer.startswith("LIMB") else construction)
        try:
            lines = draw(m.name, lm, plan.calibration, plan.orientation)
        except MeasurementError:
            continue
        for poly in lines.values():
            key = (layer, tuple(np.round(poly, 1).ravel()))
            if key not in seen and len(poly) >= 2:
                seen.add(key)
                by_layer[layer].append(Graphic("polyline", tuple((float(x), float(y)) for x, y in poly)))
    for side in Side:
        head = lm.get(LandmarkName.of("femoral_head_center", side))
        if head is not None and head.radius_px:
            by_layer[f"HIP_{side.value.upper()}"].insert(0, Graphic("circle", (head.xy,), radius_px=head.radius_px))
    # values as text: pelvis-level at the top centre, each hip on its own side of the picture
    pelvis_values = [m for m in plan.measurements if m.side is None]
    for i, m in enumerate(pelvis_values):
        by_layer[layer_of(m)].append(Graphic("text", ((cols * 0.4, rows * (0.04 + 0.03 * i)),), label=_label_for(m)))
    for side in Side:
        values = [m for m in plan.measurements if m.side is side]
        fx, fy = side_text_origin(plan.orientation, side, 0.72, 0.10)
        for i, m in enumerate(values):
            by_layer[layer_of(m)].append(
                Graphic("text", ((cols * fx, rows * (fy + 0.03 * i)),), label=f"{side.value[0].upper()}: " + _label_for(m))
            )
    descriptions = {"PELVIS": "Pelvic reference lines and leg length", "HIP_RIGHT": "Right hip", "HIP_LEFT": "Left hip",
                    "LIMBS": "Leg lengths", "LIMB_RIGHT": "Right lower limb alignment",
                    "LIMB_LEFT": "Left lower limb alignment", "KNEE_RIGHT": "Right knee axes and lines",
                    "KNEE_LEFT": "Left knee axes and lines"}
    for name, graphics in by_layer.items():
        if graphics:
            layers.append(OverlayLayer(name, descriptions[name], LAYER_COLORS[name], tuple(graphics)))

    layers.extend(implant_layers(plan))
    layers.extend(osteotomy_layers(plan))

    # landmarks with their confidence, so people know what to check
    points = []
    for l_ in lm:
        label = _SHORT.get(l_.name.anatomy, l_.name.anatomy)
        if l_.source.value == "auto":
            label += f" {l_.confidence:.2f}"
        points.append(Graphic("point", (l_.xy,), label=label, confidence=l_.confidence))
    layers.append(OverlayLayer("LANDMARKS", "Landmarks (confidence for automatic ones)", LAYER_COLORS["LANDMARKS"], tuple(points)))
    return tuple(layers)


def osteotomy_layers(plan: Plan) -> list[OverlayLayer]:
    """One layer per planned osteotomy (``OSTEOTOMY_RIGHT``, ``OSTEOTOMY_LEFT``): the corrected limb.

    The hinge, the cut, the wedge, the planned weight-bearing line (femoral head centre →
    corrected ankle centre), the corrected tibial axis and joint lines
    (:func:`orthoplan.osteotomy.osteotomy_graphics_px`), and a text with the correction and
    the predicted HKA, MAD, MPTA and JLCA.
    """
    if not plan.osteotomies:
        return []
    from .osteotomy import osteotomy_graphics_px, osteotomy_label

    rows, cols = plan.image.rows or 1000, plan.image.columns or 1000
    labels = {"hinge": "hinge", "cut": "cut", "weight_bearing_line": "planned WBL"}
    layers = []
    for i, o in enumerate(plan.osteotomies):
        graphics = []
        for name, pts in osteotomy_graphics_px(plan, o).items():
            points = tuple((float(x), float(y)) for x, y in pts)
            kind = "point" if len(points) == 1 else "polyline"
            graphics.append(Graphic(kind, points, label=labels.get(name), closed=name == "wedge"))
        fx, fy = side_text_origin(plan.orientation, o.side, 0.55, 0.56)
        for j, line in enumerate(osteotomy_label(o)):
            text = f"{o.side.value[0].upper()}: {line}" if j == 0 else "   " + line
            graphics.append(Graphic("text", ((cols * fx, rows * (fy + 0.06 * i + 0.025 * j)),), label=text))
        layers.append(OverlayLayer(f"OSTEOTOMY_{o.side.value.upper()}", f"{o.kind.upper()} {o.side.value}: corrected limb",
                                   LAYER_COLORS["OSTEOTOMY"], tuple(graphics)))
    return layers


#: Layer names of the knee components (GSPS layer names have at most 16 characters).
_LAYER_KIND = {"femoral_component": "TKA_FEMUR", "tibial_tray": "TKA_TIBIA", "tibial_insert": "TKA_INSERT"}


def implant_layers(plan: Plan) -> list[OverlayLayer]:
    """One layer per placed implant (``CUP_LEFT``, ``STEM_LEFT``, ``HEAD_LEFT``; knee:
    ``TKA_FEMUR_LEFT``, ``TKA_TIBIA_LEFT`` with the resection line, ``TKA_INSERT_LEFT`` …) with its
    outline at the image's magnification and its size, plus ``PREDICTION`` with the
    predicted values and their change from pre-op.

    A family that is not in the installed catalogs is drawn as a labelled point.
    """
    if not plan.placements:
        return []
    import logging

    from .errors import CatalogError
    from .templating import placement_outline_px, prediction_changes

    log = logging.getLogger(__name__)
    rows, cols = plan.image.rows or 1000, plan.image.columns or 1000
    layers: list[OverlayLayer] = []
    for p in plan.placements:
        kind = _LAYER_KIND.get(p.kind.value, p.kind.value.upper())
        label = f"{p.family} {p.size}"
        if p.neck_length_mm is not None:
            label += f" neck {p.neck_length_mm:+g} mm"
        if p.thickness_mm is not None:
            label += f" {p.thickness_mm:g} mm"
        if plan.calibration.assumed:
            label += " (assumed scale)"
        if any(n.startswith(f"{p.kind.value} {p.side.value}: NOT SIZED") for n in plan.notes):
            label += " (NOT SIZED: choose the size)"
        if p.spans_sizes:
            label += f" (sizes {p.size_range[0]}-{p.size_range[1]} within the scale's interval)"
        forced = [n for n in plan.notes if n.startswith("FORCED:") and f" {p.side.value}" in n
                  and (p.kind.value in n or (p.kind is ImplantKind.STEM and "neck cut" in n))]
        if forced:
            label += " FORCED: " + "; ".join(n[len("FORCED: "):] for n in forced)
        try:
            outline = placement_outline_px(plan, p)
            graphics = (
                Graphic("polyline", tuple((float(x), float(y)) for x, y in outline), closed=True),
                Graphic("point", (p.xy,), label=label),
            )
            if p.kind.value in ("femoral_component", "tibial_tray"):  # the resection line (knee)
                from .templating.knee import resection_line_px

                cut = resection_line_px(plan, p)
                graphics += (Graphic("polyline", tuple((float(x), float(y)) for x, y in cut), label="cut"),)
        except CatalogError as exc:
            log.warning("cannot draw %s %s: %s", p.kind.value, p.side.value, exc)
            graphics = (Graphic("point", (p.xy,), label=label + " (not in the catalog)"),)
        layers.append(
            OverlayLayer(f"{kind}_{p.side.value.upper()}", f"{p.kind.value.capitalize()} {p.side.value}: {p.vendor} {label}",
                         LAYER_COLORS[kind], graphics)
        )
    changes = prediction_changes(plan)
    texts = []
    for i, m in enumerate(plan.predictions):
        text = "Predicted " + _label_for(m)
        if m.name in changes:
            text += f" (change {changes[m.name]:+.1f} mm)"
        if m.side is not None:
            text = f"{m.side.value[0].upper()}: " + text
        texts.append(Graphic("text", ((cols * 0.35, rows * (0.80 - 0.03 * i)),), label=text))
    if texts:
        layers.append(OverlayLayer("PREDICTION", "Predicted values after templating", LAYER_COLORS["PREDICTION"], tuple(texts)))
    return layers
