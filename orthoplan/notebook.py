"""Interactive hip templating in Jupyter (extra ``[notebook]``): a thin face over the library.

Two layers:

* :class:`PlanningSession` — the widget's Python model, with no GUI import: it holds the
  radiograph and the current :class:`~orthoplan.model.Plan`, and every edit is one library
  call (:func:`orthoplan.pipeline.update_landmarks`, :func:`orthoplan.landmarks.refine`,
  :func:`orthoplan.templating.template_hip` / :func:`~orthoplan.templating.update_placement`,
  :func:`orthoplan.pipeline.store_plan`). Tests, scripts and other viewers drive it directly.
* :class:`PlanningWidget` — ipywidgets + matplotlib (best with ``%matplotlib widget``, i.e.
  ipympl): the radiograph with landmarks and implant outlines; drag a landmark or an
  implant with the mouse, choose families and sizes from drop-downs, read the measurements
  and the predicted values update live, and save the plan to the archive with a button.

Examples
--------
>>> from orthoplan.phantoms import pelvis as phantom
>>> from orthoplan.notebook import PlanningSession
>>> case = phantom.make_pelvis(seed=3, rows=900, columns=1100, detector_spacing_mm=0.4)
>>> s = PlanningSession.open(case.dataset, landmarks=case.landmarks)
>>> before = s.plan.measurements["lld_teardrop_mm"].value
>>> lt = s.plan.landmarks["lesser_trochanter_left"]
>>> s.move_landmark("lesser_trochanter_left", lt.x, lt.y + 10)
>>> s.plan.measurements["lld_teardrop_mm"].value > before  # left leg now longer
True
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OrthoplanError
from .model import ImplantKind, LandmarkName, Plan, Radiograph, Side

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """What lies under the mouse: a landmark (``name``) or a placement (``kind``, ``side``)."""

    what: str  #: "landmark" or "placement"
    name: str | None = None
    kind: str | None = None
    side: str | None = None
    distance_px: float = 0.0


class PlanningSession:
    """The current plan on one radiograph, edited by library calls; listeners hear every change.

    Parameters
    ----------
    radiograph, plan
        From :func:`orthoplan.pipeline.load_radiograph` and
        :func:`~orthoplan.pipeline.plan_radiograph`.
    catalog
        Implant catalog (default: the bundled one, plus ``ORTHOPLAN_CATALOG_PATH`` and
        installed catalog packages).
    archive_url
        Where :meth:`save` stores the SR and GSPS (default ``$ORTHOPLAN_ARCHIVE`` or the
        local folder archive).
    """

    def __init__(self, radiograph: Radiograph, plan: Plan, *, catalog: Any = None, archive_url: str | None = None):
        self.radiograph = radiograph
        self._plan = plan
        self._saved: Plan | None = None  #: the revision last stored by :meth:`save`
        self._undo: list[Plan] = []
        self._catalog = catalog
        self.archive_url = archive_url
        self._listeners: list[Callable[[Plan], None]] = []
        self.last_error: str | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def open(cls, source: Any, *, landmarks: Any = None, spacing_mm: float | None = None,
             archive_url: str | None = None, view: str | None = None, side: Side | str | None = None,
             **calibration: Any) -> PlanningSession:
        """Load, calibrate and plan ``source`` (a path, bytes or a pydicom Dataset).

        ``landmarks`` (a :class:`~orthoplan.model.Landmarks`) skips detection; ``view`` (one
        of :data:`orthoplan.pipeline.VIEWS`) defaults to the one the header and shape suggest, else the
        picture (:func:`orthoplan.pipeline.infer_view`); ``side`` names the knee of a knee view whose
        header does not. Other keyword arguments go to
        :func:`orthoplan.pipeline.calibrate_radiograph` (``ball_diameter_mm``,
        ``known_length``, ``assume_magnification``).
        """
        from .pipeline import calibrate_radiograph, load_radiograph, plan_radiograph

        rad = load_radiograph(source, spacing_mm=spacing_mm)
        cal = calibrate_radiograph(rad, **calibration)
        plan = plan_radiograph(rad, calibration=cal, landmarks=landmarks, view=view,
                               side=None if side is None else str(side))  # validated there
        return cls(rad, plan, archive_url=archive_url)

    @property
    def catalog(self):
        if self._catalog is None:
            from .catalog import load_catalog

            self._catalog = load_catalog()
        return self._catalog

    @property
    def plan(self) -> Plan:
        return self._plan

    def on_change(self, callback: Callable[[Plan], None]) -> None:
        """Call ``callback(plan)`` after every change."""
        self._listeners.append(callback)

    def _set(self, plan: Plan) -> Plan:
        self._undo.append(self._plan)
        del self._undo[:-50]
        self._plan = plan
        self.last_error = None
        for cb in list(self._listeners):
            cb(plan)
        return plan

    def undo(self) -> Plan:
        """Back to the plan before the last change (no-op when there is none)."""
        if self._undo:
            self._plan = self._undo.pop()
            for cb in list(self._listeners):
                cb(self._plan)
        return self._plan

    # ------------------------------------------------------------------ landmarks
    def move_landmark(self, name: str | LandmarkName, x: float, y: float) -> None:
        """Put a landmark at ``(x, y)`` (image pixels, DICOM origin), placed by a person."""
        from .model import Landmark
        from .pipeline import update_landmarks

        lname = LandmarkName.parse(name)
        old = self._plan.landmarks.get(lname)
        lm = old.moved_to(x, y) if old is not None else Landmark(lname, x, y)
        self._set(update_landmarks(self._plan, lm))

    def refine_landmark(self, name: str | LandmarkName, x: float, y: float) -> None:
        """Snap a rough click near ``(x, y)`` to the landmark (:func:`orthoplan.landmarks.refine`)."""
        from .landmarks import refine
        from .pipeline import update_landmarks

        lm = refine(self.radiograph, LandmarkName.parse(name), (x, y), self._plan.calibration)
        self._set(update_landmarks(self._plan, lm))

    def remove_landmark(self, name: str | LandmarkName) -> None:
        from .pipeline import update_landmarks

        self._set(update_landmarks(self._plan, remove=[LandmarkName.parse(name).value]))

    # ------------------------------------------------------------------ templating
    def template(self, side: Side | str, *, cup_family: str | None = None, stem_family: str | None = None,
                 **options: Any) -> None:
        """Template ``side``: a total hip (:func:`orthoplan.templating.template_hip`) on a
        pelvis/hip view, a total knee (:func:`orthoplan.templating.knee.template_knee`;
        ``options`` such as ``femoral_family``, ``lateral=`` a lateral-view plan) on a
        long-leg or AP knee view."""
        if self._plan.view == "knee-lateral":
            from .errors import PlanError

            raise PlanError("a knee is templated on its AP (or long-leg) view: open that one and pass "
                            "this session's plan as lateral=session.plan")
        if self._plan.view in ("long-leg", "knee-ap"):
            from .templating.knee import template_knee

            self._set(template_knee(self._plan, self.catalog, side, **options))
            return
        from .pipeline import template_hip

        kw = dict(options)
        if cup_family:
            kw["cup_family"] = cup_family
        if stem_family:
            kw["stem_family"] = stem_family
        self._set(template_hip(self._plan, self.radiograph, self.catalog, side, **kw))

    def edit_placement(self, kind: ImplantKind | str, side: Side | str, **edit: Any) -> None:
        """Move (``to_xy``/``move_px``), rotate (``angle_deg``), resize (``size``) or change
        the neck length (``neck_length_mm``) or insert thickness (``thickness_mm``) of one placement
        (:func:`orthoplan.pipeline.update_placement`; hip and knee)."""
        from .pipeline import update_placement

        self._set(update_placement(self._plan, kind, side, catalog=self.catalog, **edit))

    # ------------------------------------------------------------------ osteotomy
    def plan_osteotomy(self, kind: str, side: Side | str, **options: Any) -> None:
        """Plan an HTO (``"hto"``) or DFO (``"dfo"``) on ``side`` of a long-leg plan
        (:func:`orthoplan.osteotomy.plan_osteotomy`: ``wedge``, ``target_fraction``, ``hinge_px``...);
        it replaces the side's earlier osteotomy, and :meth:`undo` takes it back."""
        from .osteotomy import plan_osteotomy

        self._set(plan_osteotomy(self._plan, kind, side, **options))

    def family_names(self, kind: str) -> list[str]:
        """The names of the catalog's families of one kind (``cup``, ``stem``, ``head``)."""
        return sorted({f.family for f in self.catalog.of_kind(kind)})

    def sizes(self, kind: str, side: Side | str) -> list[str]:
        """The size labels of the family of the placed ``kind`` on ``side`` (empty when none is placed)."""
        p = self._plan.placement(kind, Side(side))
        if p is None:
            return []
        return list(self.catalog.find(p.family, p.vendor).labels)

    # ------------------------------------------------------------------ reading
    def table(self) -> list[dict[str, Any]]:
        """Rows ``{name, unit, preoperative, predicted, change}`` of every measured value."""
        rows = []
        pred = self._plan.predictions
        for m in self._plan.measurements:
            p = pred.get(m.name)
            rows.append({"name": m.name, "unit": m.unit, "preoperative": m.value,
                         "predicted": p.value if p else None, "change": (p.value - m.value) if p else None})
        return rows

    def nearest(self, x: float, y: float, max_distance_px: float) -> Hit | None:
        """The landmark or placement closest to ``(x, y)`` within ``max_distance_px``."""
        best: Hit | None = None
        for lm in self._plan.landmarks:
            d = float(np.hypot(lm.x - x, lm.y - y))
            if d <= max_distance_px and (best is None or d < best.distance_px):
                best = Hit("landmark", name=lm.name.value, distance_px=d)
        for p in self._plan.placements:
            d = float(np.hypot(p.x - x, p.y - y))
            if d <= max_distance_px and (best is None or d < best.distance_px):
                best = Hit("placement", kind=p.kind.value, side=p.side.value, distance_px=d)
        return best

    def drag(self, hit: Hit, x: float, y: float) -> None:
        """Move what ``hit`` names to ``(x, y)``."""
        if hit.what == "landmark":
            self.move_landmark(hit.name, x, y)
        else:
            self.edit_placement(hit.kind, hit.side, to_xy=(x, y))

    # ------------------------------------------------------------------ saving
    def save(self, archive_url: str | None = None) -> Any:
        """Store the plan's SR and GSPS (:func:`orthoplan.pipeline.store_plan`); returns the StoreResult.

        Saving again after an edit stores the next revision of the same plan
        (:func:`orthoplan.pipeline.revise_plan`: its own times and series, the earlier SR as
        its predecessor); saving an unchanged plan again stores the same revision (idempotent).
        """
        from .pipeline import revise_plan, store_plan

        if self._saved is not None and self._plan != self._saved:
            self._plan = revise_plan(self._saved, self._plan)
        result = store_plan(self.radiograph, self._plan, archive_url or self.archive_url)
        self._saved = self._plan
        return result


class PlanningWidget:
    """The radiograph with the plan drawn on it, draggable; drop-downs for implants; a save button.

    Needs ``ipywidgets`` and matplotlib (``pip install 'orthoplan[notebook]'``); dragging
    needs an interactive backend (``%matplotlib widget``). Show it with
    ``display(widget.box)`` or by leaving ``widget`` as a cell's last value.
    """

    PICK_RADIUS_SCREEN = 0.02  #: pick radius as a fraction of the image width

    def __init__(self, session: PlanningSession, *, side: Side | str = "left", figsize: tuple[float, float] = (8, 6.5)):
        try:
            import ipywidgets as W
        except ImportError:
            raise OrthoplanError("the notebook widget needs ipywidgets: pip install 'orthoplan[notebook]'") from None
        import matplotlib

        self.session = session
        self.side = Side(side)
        self._drag: Hit | None = None
        self._syncing = False
        if "ipympl" in matplotlib.get_backend() or "widget" in matplotlib.get_backend():
            import matplotlib.pyplot as plt

            with plt.ioff():  # an interactive canvas widget (ipympl)
                self.fig, self.ax = plt.subplots(figsize=figsize)
        else:  # a static backend: a figure outside pyplot, shown as an image in an Output widget
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=figsize)
            FigureCanvasAgg(self.fig)
            self.ax = self.fig.add_subplot()
        from .render import downsample

        rows, cols = session.radiograph.shape
        small, _f = downsample(session.radiograph.display, 1600)
        # pixel-corner extent: the axes' data coordinates are DICOM image coordinates
        self.ax.imshow(small, cmap="gray", vmin=0, vmax=1, extent=(0, cols, rows, 0))
        self.ax.set_axis_off()
        self._artists: list[Any] = []

        self.side_choice = W.ToggleButtons(options=["right", "left"], value=self.side.value, description="side")
        self.cup_family = W.Dropdown(options=session.family_names("cup"), description="cup")
        self.stem_family = W.Dropdown(options=session.family_names("stem"), description="stem")
        for dd, default in ((self.cup_family, "generic hemispherical cup"),
                            (self.stem_family, "generic uncemented straight stem")):
            if default in dd.options:  # the generic families are always there
                dd.value = default
        self.template_button = W.Button(description="template", icon="magic")
        self.cup_size = W.Dropdown(options=[], description="cup size")
        self.stem_size = W.Dropdown(options=[], description="stem size")
        self.neck_length = W.Dropdown(options=[], description="neck (mm)")
        self.save_button = W.Button(description="save to archive", icon="save", button_style="primary")
        self.status = W.HTML()
        self.values = W.HTML()

        self.template_button.on_click(lambda _b: self._guard(self._on_template))
        self.save_button.on_click(lambda _b: self._guard(self._on_save))
        self.cup_size.observe(lambda ch: self._guard(self._on_size, "cup", ch), names="value")
        self.stem_size.observe(lambda ch: self._guard(self._on_size, "stem", ch), names="value")
        self.neck_length.observe(lambda ch: self._guard(self._on_neck, ch), names="value")
        self.side_choice.observe(lambda ch: self._on_side(ch["new"]), names="value")
        canvas = self.fig.canvas
        canvas.mpl_connect("button_press_event", self.on_press)
        canvas.mpl_connect("motion_notify_event", self.on_motion)
        canvas.mpl_connect("button_release_event", self.on_release)
        session.on_change(lambda _plan: self.refresh())

        figure_view = canvas if isinstance(canvas, W.DOMWidget) else W.Output()
        if not isinstance(canvas, W.DOMWidget):  # a static backend: show the figure as an image
            self._static = figure_view
        else:
            self._static = None
        controls = W.VBox([self.side_choice, W.HBox([self.cup_family, self.stem_family, self.template_button]),
                           W.HBox([self.cup_size, self.stem_size, self.neck_length]),
                           W.HBox([self.save_button, self.status]), self.values])
        self.box = W.VBox([figure_view, controls])
        self.refresh()

    def _ipython_display_(self) -> None:  # pragma: no cover - notebook only
        from IPython.display import display

        display(self.box)

    # ------------------------------------------------------------------ events
    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except OrthoplanError as exc:
            self.session.last_error = str(exc)
            self.status.value = f"<span style='color:#b00'>{exc}</span>"

    def _pick_radius(self) -> float:
        return self.PICK_RADIUS_SCREEN * self.session.radiograph.shape[1]

    def on_press(self, event: Any) -> None:
        if event.inaxes is not self.ax or event.xdata is None:
            return
        self._drag = self.session.nearest(event.xdata, event.ydata, self._pick_radius())

    def on_motion(self, event: Any) -> None:  # only the marker follows the mouse; the plan changes on release
        if self._drag is None or event.xdata is None:
            return
        if self._artists:
            self.ax.set_title(f"moving {self._drag.name or self._drag.kind} to ({event.xdata:.0f}, {event.ydata:.0f})",
                              fontsize=8)

    def on_release(self, event: Any) -> None:
        hit, self._drag = self._drag, None
        if hit is None or event.xdata is None:
            return
        self._guard(self.session.drag, hit, float(event.xdata), float(event.ydata))

    def _on_template(self) -> None:
        self.session.template(self.side, cup_family=self.cup_family.value, stem_family=self.stem_family.value)

    def _on_size(self, kind: str, change: dict) -> None:
        if self._syncing:
            return
        p = self.session.plan.placement(kind, self.side)
        if p is not None and change["new"] and change["new"] != p.size:
            self.session.edit_placement(kind, self.side, size=change["new"])

    def _on_neck(self, change: dict) -> None:
        if self._syncing:
            return
        p = self.session.plan.placement("head", self.side)
        if p is not None and change["new"] is not None and change["new"] != p.neck_length_mm:
            self.session.edit_placement("head", self.side, neck_length_mm=float(change["new"]))

    def _on_side(self, side: str) -> None:
        self.side = Side(side)
        self.refresh()

    def _on_save(self) -> None:
        result = self.session.save()
        queued = getattr(result, "queued", False)
        self.status.value = ("saved to the outbox (archive unreachable; run 'orthoplan archive flush')" if queued
                             else f"saved to {getattr(result, 'archive', 'the archive')}")

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Redraw the overlay and the tables from the session's current plan."""
        from .overlay import plan_overlay
        from .render import draw_layers

        for a in self._artists:
            a.remove()
        self._artists = draw_layers(self.ax, plan_overlay(self.session.plan), fontsize=7)
        if self.session.plan.calibration.assumed:
            self.ax.set_title("ASSUMED SCALE — measurements are estimates", color="red")
        self._sync_dropdowns()
        self.values.value = self._values_html()
        self.fig.canvas.draw_idle()
        if self._static is not None:  # a static backend: show the figure as a PNG
            import io

            from IPython.display import Image, display

            buf = io.BytesIO()
            self.fig.savefig(buf, format="png", dpi=self.fig.dpi)
            self._static.clear_output(wait=True)
            with self._static:
                display(Image(data=buf.getvalue(), format="png"))

    def _sync_dropdowns(self) -> None:
        """Show the plan's sizes in the drop-downs without the change handlers editing the plan."""
        plan, side = self.session.plan, self.side
        self._syncing = True
        try:
            for kind, dd in (("cup", self.cup_size), ("stem", self.stem_size)):
                p = plan.placement(kind, side)
                dd.options = self.session.sizes(kind, side)
                dd.value = p.size if p is not None else None
            head = plan.placement("head", side)
            self.neck_length.options = self._neck_options(head)
            self.neck_length.value = head.neck_length_mm if head is not None else None
        finally:
            self._syncing = False

    def _neck_options(self, head: Any) -> list[float]:
        if head is None:
            return []
        size = self.session.catalog.find(head.family, head.vendor).size(head.size)
        return [float(v) for v in getattr(size, "neck_lengths_mm", ())] or [head.neck_length_mm]

    def _values_html(self) -> str:
        def fmt(v: float | None, spec: str) -> str:
            return "" if v is None else format(v, spec)

        cal = self.session.plan.calibration
        rows = "".join(
            f"<tr><td>{r['name']}</td><td>{fmt(r['preoperative'], '.1f')}</td>"
            f"<td>{fmt(r['predicted'], '.1f')}</td><td>{fmt(r['change'], '+.1f')}</td></tr>"
            for r in self.session.table()
        )
        warn = " <b style='color:#b35900'>ASSUMED SCALE</b>" if cal.assumed else ""
        # what the detector and the pipeline say about the film (a child's pelvis, metal, ...)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.session.plan.notes)
        return (f"<div>Scale: {cal.label}{warn}</div>" + (f"<ul>{notes}</ul>" if notes else "")
                + f"<table><tr><th>measurement</th><th>pre-op</th><th>predicted</th><th>change</th></tr>{rows}</table>")


# ---------------------------------------------------------------------------- choosing the film

#: Modalities of archive objects that are not films (plans, presentation states, key objects...).
NOT_FILM_MODALITIES = frozenset({"SR", "PR", "KO", "DOC", "REG", "SEG", "RWV", "PLAN", "AU", "ECG"})

#: At most this many films of an archive search are listed (the newest).
MAX_ARCHIVE_FILMS = 500

#: The note a notebook shows when it was given no film.
PHANTOM_NOTE = "no film given: using the synthetic phantom (an AP pelvis with a 25 mm ball; not a patient)"


@dataclass(frozen=True)
class Film:
    """One radiograph the notebook can open: a file, an archive instance or the synthetic phantom.

    Attributes
    ----------
    label
        What the picker shows: a file name, or the study date, modality, series and image
        numbers of an archive instance (never a patient identifier).
    source
        A path or a pydicom Dataset that :func:`orthoplan.pipeline.load_radiograph` reads;
        ``None`` for an archive instance (retrieved when loaded).
    archive_url, sop_instance_uid, study_instance_uid
        Where an archive instance is (``source`` is then ``None``).
    phantom
        The :class:`~orthoplan.phantoms.pelvis.PelvisCase` (truth known) when this film is the
        synthetic phantom, else ``None``.

    Examples
    --------
    >>> Film("hip.dcm", source="/films/hip.dcm").is_phantom
    False
    """

    label: str
    source: Any = None
    archive_url: str | None = None
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    phantom: Any = None

    @property
    def is_phantom(self) -> bool:
        """``True`` for the synthetic phantom (whose true landmarks and scale are known)."""
        return self.phantom is not None

    def load(self, *, spacing_mm: float | None = None) -> Radiograph:
        """The film as a :class:`~orthoplan.model.Radiograph` (an archive instance is retrieved first)."""
        from .pipeline import load_radiograph

        if self.source is None and self.sop_instance_uid:
            from .archive import open_archive

            return load_radiograph(open_archive(self.archive_url).retrieve(self.sop_instance_uid),
                                   spacing_mm=spacing_mm)
        return load_radiograph(self.source, spacing_mm=spacing_mm)


def phantom_film(*, seed: int = 7, rows: int = 1500, columns: int = 1800, detector_spacing_mm: float = 0.25) -> Film:
    """The bundled example: a synthetic AP pelvis with a 25 mm calibration ball (truth known).

    Examples
    --------
    >>> phantom_film(rows=600, columns=720, detector_spacing_mm=0.6).is_phantom
    True
    """
    from .phantoms import pelvis as phantom

    case = phantom.make_pelvis(seed=seed, rows=rows, columns=columns, detector_spacing_mm=detector_spacing_mm)
    return Film("synthetic phantom (AP pelvis, 25 mm ball)", source=case.dataset, phantom=case)


def _is_archive_url(text: str) -> bool:
    return "://" in text


def _folder_films(folder: Any) -> tuple[Film, ...]:
    from pathlib import Path

    from .batch import expand_inputs

    root = Path(folder)
    films = tuple(Film(str(Path(p).relative_to(root)), source=str(p)) for p in expand_inputs([root]))
    if not films:
        from .errors import InputNotFoundError

        raise InputNotFoundError(f"no DICOM, PNG, TIFF or JPEG film in the folder {root}")
    return films


def _archive_label(row: dict[str, Any], with_study: bool) -> str:
    def num(key: str) -> str:
        v = row.get(key)
        return "?" if v in (None, "") else str(v)

    date = str(row.get("StudyDate") or "no date")
    date = f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date
    text = f"{date} {row.get('Modality') or '?'} series {num('SeriesNumber')} image {num('InstanceNumber')}"
    if with_study:
        text += f" (study …{str(row.get('StudyInstanceUID') or '')[-10:]})"
    return text


def archive_films(archive_url: str, study_instance_uid: str | None = None, *, max_films: int = MAX_ARCHIVE_FILMS,
                  **query: Any) -> tuple[Film, ...]:
    """The films (image instances: no SR, GSPS or key objects) of one study, or of every study
    an archive search finds (``query``: :data:`orthoplan.archive.base.QUERY_KEYS`, e.g.
    ``Modality="DX"``, ``StudyDate="20260101-"``), oldest study first; at most ``max_films``
    (the newest are kept: narrow the search to see others).

    Examples
    --------
    >>> films = archive_films("folder://plans", "1.2.826.0.1.3680043.10.511.1")   # doctest: +SKIP
    >>> [f.label for f in films]                                                  # doctest: +SKIP
    ['2026-01-05 DX series 1 image 1']
    """
    from .archive import open_archive
    from .archive.base import check_uid
    from .errors import ArchiveError

    archive = open_archive(archive_url)
    if study_instance_uid is not None:
        query["StudyInstanceUID"] = check_uid(study_instance_uid, "Study Instance UID")
    rows = [r for r in archive.search("instance", **query)
            if r.get("SOPInstanceUID") and str(r.get("Modality") or "").upper() not in NOT_FILM_MODALITIES]

    def order(r: dict[str, Any]) -> tuple:
        def n(key: str) -> int:
            try:
                return int(r.get(key))
            except (TypeError, ValueError):
                return 0

        return (str(r.get("StudyDate") or ""), str(r.get("StudyInstanceUID") or ""), n("SeriesNumber"),
                n("InstanceNumber"), str(r["SOPInstanceUID"]))

    rows.sort(key=order)
    if len(rows) > max_films:
        log.info("%d films found; the newest %d are listed (narrow the search to see others)", len(rows), max_films)
        rows = rows[-max_films:]
    if not rows:
        where = f"study {query['StudyInstanceUID']}" if study_instance_uid is not None else "the search"
        raise ArchiveError(f"archive {archive.name}: no film (image instance) in {where}")
    several_studies = len({r.get("StudyInstanceUID") for r in rows}) > 1
    return tuple(Film(_archive_label(r, several_studies), archive_url=archive_url,
                      sop_instance_uid=str(r["SOPInstanceUID"]),
                      study_instance_uid=str(r.get("StudyInstanceUID") or "") or None) for r in rows)


def list_films(source: Any = None, *, archive_url: str | None = None, **query: Any) -> tuple[tuple[Film, ...], str]:
    """The films ``source`` names, and a one-line note saying where they come from.

    ``source`` is ``None`` (the synthetic phantom), a file (DICOM, PNG, TIFF, JPEG), a folder
    (its films, recursively), ``"study:<StudyInstanceUID>"`` (the films of that study in
    ``archive_url``, default ``$ORTHOPLAN_ARCHIVE`` or the local folder archive), an archive
    URL (the films an archive search with ``query`` finds) or a pydicom Dataset.

    Examples
    --------
    >>> films, note = list_films(None)
    >>> note.startswith("no film given"), films[0].is_phantom
    (True, True)
    """
    import os
    from pathlib import Path

    if source is None or (isinstance(source, str) and not source.strip()):
        return (phantom_film(),), PHANTOM_NOTE
    if not isinstance(source, (str, os.PathLike)):  # a Dataset a viewer already holds
        return (Film("the given dataset", source=source),), "the film given"
    text = os.fspath(source).strip()
    if text.lower().startswith("study:"):
        from .pipeline import default_archive_url

        url = archive_url or default_archive_url()
        films = archive_films(url, text.split(":", 1)[1].strip(), **query)
        from .archive.base import redact_url

        return films, f"{len(films)} film(s) of the study in {redact_url(url)}"
    if _is_archive_url(text) and not text.lower().startswith("file://"):
        films = archive_films(text, **query)
        from .archive.base import redact_url

        return films, f"{len(films)} film(s) found in {redact_url(text)}"
    path = Path(text.removeprefix("file://")).expanduser()
    if path.is_dir():
        films = _folder_films(path)
        return films, f"{len(films)} film(s) in the folder {path}"
    if not path.is_file():
        from .errors import InputNotFoundError

        raise InputNotFoundError(f"no such film: {path} (give a file, a folder, 'study:<StudyInstanceUID>' "
                                 "or an archive URL; None uses the synthetic phantom)")
    return (Film(path.name, source=str(path)),), f"the film {path}"


class FilmChoice:
    """The films of one source and the one chosen; in Jupyter a drop-down to choose another.

    Made by :func:`choose_film`. :attr:`film` is the chosen :class:`Film` and :meth:`load`
    reads it; leaving the choice as a cell's last value shows the note and, when there are
    several films, a drop-down (ipywidgets) that changes :attr:`film`.
    """

    def __init__(self, films: tuple[Film, ...], note: str, index: int = 0):
        if not films:
            raise OrthoplanError("no film to choose from")
        self.films = tuple(films)
        self.note = note
        self.index = int(index)
        self._dropdown: Any = None

    @property
    def film(self) -> Film:
        """The chosen film."""
        return self.films[self.index]

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.films]

    def select(self, pick: int | str) -> Film:
        """Choose by position or by label (an exact label, else one that contains ``pick``)."""
        self.index = _pick_index(self.films, pick)
        if self._dropdown is not None and self._dropdown.value != self.index:
            self._dropdown.value = self.index
        return self.film

    def load(self, *, spacing_mm: float | None = None) -> Radiograph:
        """The chosen film as a :class:`~orthoplan.model.Radiograph`."""
        return self.film.load(spacing_mm=spacing_mm)

    def widget(self, *, with_note: bool = True) -> Any:
        """An ipywidgets box: the note, and a drop-down of the films when there are several."""
        import html

        import ipywidgets as W

        parts: list[Any] = [W.HTML(f"<b>{html.escape(self.note)}</b>")] if with_note else []
        if len(self.films) > 1:
            if self._dropdown is None:
                self._dropdown = W.Dropdown(options=[(f.label, i) for i, f in enumerate(self.films)],
                                            value=self.index, description="film",
                                            layout=W.Layout(width="min(100%, 48em)"))
                self._dropdown.observe(lambda ch: setattr(self, "index", int(ch["new"])), names="value")
            parts.append(self._dropdown)
            parts.append(W.HTML("choose the film, then run the next cells"))
        return W.VBox(parts)

    def __repr__(self) -> str:
        lines = [self.note]
        if len(self.films) > 1:
            lines += [f"{'*' if i == self.index else ' '} {i:3d}  {f.label}" for i, f in enumerate(self.films)]
        else:
            lines.append(f"film: {self.film.label}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        import html

        if len(self.films) > 1:
            return f"**{html.escape(self.note)}**: choose one in the list below"
        return f"**{html.escape(self.note)}**; film: {html.escape(self.film.label)}"

    def _ipython_display_(self) -> None:
        """The note as text (seen in any notebook viewer) and, for several films, the drop-down."""
        from IPython.display import display

        display({"text/plain": repr(self), "text/markdown": self._repr_markdown_()}, raw=True)
        if len(self.films) > 1:
            try:
                display(self.widget(with_note=False))  # the note is shown above, as text
            except ImportError:  # no ipywidgets: choose with choice.select(number or label)
                log.info("ipywidgets is not installed: choose the film with choice.select(...)")


def _pick_index(films: tuple[Film, ...], pick: int | str) -> int:
    if isinstance(pick, int) and not isinstance(pick, bool):
        if not -len(films) <= pick < len(films):
            raise OrthoplanError(f"film number {pick} is out of range: there are {len(films)}")
        return pick % len(films)
    labels = [f.label for f in films]
    if pick in labels:
        return labels.index(pick)
    hits = [i for i, label in enumerate(labels) if str(pick) in label]
    if len(hits) != 1:
        raise OrthoplanError(f"{'no' if not hits else len(hits)} film labels contain {str(pick)!r}; "
                             f"choose by number (0 to {len(films) - 1}) or by a unique part of the label")
    return hits[0]


def choose_film(source: Any = None, *, archive_url: str | None = None, pick: int | str = 0,
                **query: Any) -> FilmChoice:
    """Open the surgeon's film: a file, a folder, a study in the archive, or the phantom.

    ``source`` is what :func:`list_films` takes: ``None`` (the synthetic phantom, with the
    note "no film given: using the synthetic phantom"), a path to a DICOM or bitmap file, a
    folder, ``"study:<StudyInstanceUID>"`` with ``archive_url`` (``folder://…``,
    ``https://…/dicom-web``, ``dicom://AET@host:port``), or an archive URL searched with
    ``query`` (e.g. ``Modality="DX"``). ``pick`` chooses among several films (number or
    label); in Jupyter the returned :class:`FilmChoice` shows a drop-down to choose another.

    Examples
    --------
    >>> choice = choose_film(None)
    >>> choice.note.startswith("no film given: using the synthetic phantom"), choice.film.is_phantom
    (True, True)
    >>> choose_film("study:1.2.3", archive_url="folder://plans").load()   # doctest: +SKIP
    """
    films, note = list_films(source, archive_url=archive_url, **query)
    choice = FilmChoice(films, note, _pick_index(films, pick))
    log.info("%d film(s) to choose from; chosen: number %d", len(films), choice.index)
    return choice
