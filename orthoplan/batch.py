"""Batch measurements: many radiographs to one table, on local processes or a Dask cluster.

One row per image (:func:`measure_input`): identifiers, view, calibration, every hip
measurement, every landmark's position and confidence, status and error. A failure on
one image is a row with its error, never the end of a run. A run is resumable: rows are
appended to a journal as they arrive (``<out>.journal.jsonl``) and a re-run skips every
input already in the journal or in the existing table, so killing a run loses at most
the images in flight.

Inputs are files, folders (searched recursively for DICOM files), list files (one path a
line, ``#`` comments, relative to the list file), or :class:`ArchiveItem` values (an
instance in an archive, see :func:`archive_inputs`).

Examples
--------
>>> from orthoplan import batch
>>> df = batch.measure_many(["cohort/"], workers=2)          # doctest: +SKIP
>>> df[["sop_instance_uid", "lld_teardrop_mm"]].head()       # doctest: +SKIP

Command line: ``orthoplan batch cohort/ --out results.parquet --workers 2``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import OrthoplanError, PlanError

log = logging.getLogger(__name__)

#: File endings that are never radiographs (skipped when a folder is searched).
_NOT_IMAGES = {".json", ".txt", ".csv", ".parquet", ".md", ".jsonl", ".html", ".pdf", ".py", ".lst"}
#: File endings taken as images when a folder is searched (DICOM is also recognised by content).
_IMAGE_SUFFIXES = {".dcm", ".dicom", ".dic", ".png", ".tif", ".tiff", ".jpg", ".jpeg"}
#: Endings of a list file given as an input.
LIST_SUFFIXES = {".txt", ".lst", ".list"}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ArchiveItem:
    """One instance in an archive: the archive's URL (credentials from options/env) and its SOP Instance UID."""

    url: str
    sop_instance_uid: str

    @property
    def key(self) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username and parts.scheme == "dicom":  # the AE title, not a secret
            netloc = f"{parts.username}@{netloc}"
        safe = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return f"{safe}#{self.sop_instance_uid}"


Input = str | os.PathLike | ArchiveItem


def input_key(item: Input) -> str:
    """The text that names an input in the table's ``input`` column (no credentials)."""
    if isinstance(item, ArchiveItem):
        return item.key
    return str(Path(item))


def _looks_like_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _folder_images(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            suffix = p.suffix.lower()
            if suffix in _NOT_IMAGES:
                continue
            if suffix in _IMAGE_SUFFIXES or _looks_like_dicom(p):
                yield p


def _list_file(path: Path) -> Iterator[Path]:
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"cannot read the list file {path}: {exc}") from None
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            yield p if p.is_absolute() else path.parent / p


def expand_inputs(inputs: Iterable[Input]) -> list[Input]:
    """Files, folders (recursive) and list files, expanded to single inputs in a stable order.

    A folder yields its DICOM files (by ending or by the ``DICM`` marker) and PNG/TIFF
    files; a ``.txt``/``.lst``/``.list`` file is a list of paths. A path that does not exist
    stays in the list: it becomes an error row. Duplicates are dropped.

    Examples
    --------
    >>> expand_inputs([])
    []
    """
    out: list[Input] = []
    seen: set[str] = set()

    def add(item: Input) -> None:
        key = input_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)

    for item in inputs:
        if isinstance(item, ArchiveItem):
            add(item)
            continue
        p = Path(item)
        if p.is_dir():
            for f in _folder_images(p):
                add(f)
        elif p.suffix.lower() in LIST_SUFFIXES and p.is_file():
            for f in _list_file(p):
                if f.is_dir():
                    for g in _folder_images(f):
                        add(g)
                else:
                    add(f)
        else:
            add(p)
    return out


def archive_inputs(url: str, query: str | dict[str, str], **archive_options: Any) -> list[ArchiveItem]:
    """The instances an archive query finds, e.g. ``"Modality=DX&BodyPartExamined=PELVIS"``.

    The query is searched at the instance level (see :meth:`orthoplan.archive.Archive.search`).
    """
    from urllib.parse import parse_qsl

    from .archive import open_archive

    q = dict(parse_qsl(query, keep_blank_values=False)) if isinstance(query, str) else dict(query)
    archive = open_archive(url, **archive_options)
    rows = archive.search(level="instance", **q)
    uids = sorted({str(r["SOPInstanceUID"]) for r in rows if r.get("SOPInstanceUID")})
    return [ArchiveItem(url, uid) for uid in uids]


# --------------------------------------------------------------------------- one row


@dataclass(frozen=True)
class BatchOptions:
    """How every image of a batch is calibrated, measured and reported.

    ``sidecar_landmarks``: when ``<image>.landmarks.json`` (or ``<stem>.landmarks.json``)
    lies beside an image, its landmarks (``orthoplan measure`` format) are used instead of
    automatic detection — for cohorts that are already annotated.
    ``store_plans``: an archive URL to which each image's SR and GSPS are stored.
    ``spacing_mm``: the pixel spacing at the anatomy of every image (JPEG, PNG and TIFF files
    carry none; on a DICOM image it replaces the spacing attributes), as ``orthoplan plan
    --spacing``.
    """

    ball_diameter_mm: float | None = 25.0
    spacing_mm: float | None = None
    assume_magnification: float | None = None
    include_patient_id: bool = False
    sidecar_landmarks: bool = True
    store_plans: str | None = None
    view: str | None = None  #: None: from each image's header and shape, else its picture (:func:`orthoplan.pipeline.infer_view`)
    archive_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        from .errors import UsageError

        s = self.spacing_mm
        if s is not None and not (isinstance(s, (int, float)) and math.isfinite(s) and s > 0):
            raise UsageError(f"batch: the pixel spacing must be a positive number of mm, not {s!r}")


def columns(include_patient_id: bool = False) -> list[str]:
    """The table's columns, in order (the same for every row, ok or not)."""
    from .measurements.definitions import lower_limb_measurement_names, measurement_names
    from .model import LandmarkName

    cols = ["input", "status", "error_type", "error",
            "study_instance_uid", "series_instance_uid", "sop_instance_uid"]
    if include_patient_id:
        cols.append("patient_id")
    cols += ["modality", "view_position", "image_laterality", "body_part_examined", "photometric",
             "rows", "columns", "orientation_source", "view",
             "calibration_mm_per_px", "calibration_source", "calibration_uncertainty_pct",
             "calibration_assumed", "calibration_warnings", "landmark_source"]
    from .measurements.definitions import knee_measurement_names

    names = list(measurement_names()) + list(lower_limb_measurement_names())
    for view in ("knee-ap", "knee-lateral"):  # AP and lateral knee views (jlca is the long-leg's column)
        names += [n for n in knee_measurement_names(view) if n not in names]
    for n in names:  # each value with its 95 % interval (scale, and landmark positions where known)
        cols += [n, f"{n}_lo95", f"{n}_hi95"]
    cols += ["implausible", "notes", "findings"]
    for name in LandmarkName:
        cols += [f"{name.value}_x", f"{name.value}_y", f"{name.value}_confidence"]
    cols += ["n_landmarks", "plan_sr_uid", "elapsed_s", "worker_peak_rss_mib", "orthoplan_version"]
    return cols


def _sidecar(path: Path) -> Path | None:
    for cand in (path.with_name(path.name + ".landmarks.json"), path.with_suffix(".landmarks.json")):
        if cand.is_file():
            return cand
    return None


def _peak_rss_mib() -> float:
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # Linux: KiB
    except (ImportError, OSError):  # pragma: no cover - not on Linux
        return float("nan")


def _load(item: Input, options: BatchOptions):
    from .pipeline import load_radiograph

    if isinstance(item, ArchiveItem):
        from .archive import open_archive

        ds = open_archive(item.url, **options.archive_options).retrieve(item.sop_instance_uid)
        return load_radiograph(ds, spacing_mm=options.spacing_mm)
    return load_radiograph(item, spacing_mm=options.spacing_mm)


def _plan(rad, item: Input, options: BatchOptions):
    from .model import Landmarks
    from .pipeline import plan_radiograph

    landmarks = None
    source = "auto"
    if options.sidecar_landmarks and not isinstance(item, ArchiveItem):
        side = _sidecar(Path(item))
        if side is not None:
            try:
                landmarks = Landmarks.from_dict(json.loads(side.read_text()))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise PlanError(f"landmark file {side.name} is not valid JSON: {exc}") from None
            source = "sidecar"
    plan = plan_radiograph(rad, landmarks=landmarks, ball_diameter_mm=options.ball_diameter_mm,
                           assume_magnification=options.assume_magnification, author="orthoplan batch",
                           view=options.view)
    return plan, source


def _store(rad, plan, options: BatchOptions) -> str:
    """Store the plan's SR and GSPS (an unreachable archive makes the row an error row)."""
    from .dicom.sr import sr_uids
    from .pipeline import store_plan

    store_plan(rad, plan, options.store_plans, queue_on_failure=False, **options.archive_options)
    return sr_uids(plan)[1]


def measure_input(item: Input, options: BatchOptions | None = None) -> dict[str, Any]:
    """The table row of one image: never raises for a bad image, the row says what went wrong.

    Runs load → calibrate → landmarks (sidecar file or detection) → measure, and with
    ``options.store_plans`` also writes the SR and GSPS to that archive.

    Examples
    --------
    >>> row = measure_input("does-not-exist.dcm")
    >>> row["status"], row["error_type"]
    ('error', 'InputNotFoundError')
    """
    options = options or BatchOptions()
    t0 = time.perf_counter()
    row: dict[str, Any] = {c: None for c in columns(options.include_patient_id)}
    row.update(input=input_key(item), status="ok", orthoplan_version=__version__)
    try:
        rad = _load(item, options)
        ref = rad.reference
        row.update(
            study_instance_uid=ref.study_instance_uid, series_instance_uid=ref.series_instance_uid,
            sop_instance_uid=ref.sop_instance_uid, modality=ref.modality,
            view_position=rad.view_position, image_laterality=rad.image_laterality,
            body_part_examined=rad.body_part_examined, photometric=rad.photometric_interpretation,
            rows=ref.rows, columns=ref.columns, orientation_source=rad.orientation.source,
        )
        if options.include_patient_id and rad.dataset is not None:
            row["patient_id"] = str(getattr(rad.dataset, "PatientID", "") or "") or None
        plan, source = _plan(rad, item, options)
        cal = plan.calibration
        row["view"] = plan.view
        row["orientation_source"] = plan.orientation.source  # a turned film's, from its landmarks
        row.update(
            calibration_mm_per_px=cal.mm_per_px, calibration_source=cal.source.value,
            calibration_uncertainty_pct=cal.uncertainty_pct, calibration_assumed=cal.assumed,
            calibration_warnings=" | ".join(cal.warnings) or None, landmark_source=source,
        )
        for m in plan.measurements:
            if m.name in row:
                row[m.name] = m.value
                if m.interval is not None and f"{m.name}_lo95" in row:
                    row[f"{m.name}_lo95"], row[f"{m.name}_hi95"] = m.interval
        from .measurements.definitions import implausible_values

        row["implausible"] = " | ".join(implausible_values(plan.measurements)) or None
        # the plan's notes: what the detector says about the film (a child's pelvis, a prosthesis,
        # the knee's side ...), an assumed scale or orientation: a cohort can be filtered on them
        row["notes"] = " | ".join(plan.notes) or None
        from .model import findings_in

        row["findings"] = ";".join(findings_in(plan.notes)) or None  # the same, as codes to filter by
        for lm in plan.landmarks:
            n = lm.name.value
            row[f"{n}_x"], row[f"{n}_y"], row[f"{n}_confidence"] = lm.x, lm.y, lm.confidence
        row["n_landmarks"] = len(plan.landmarks)
        if options.store_plans:
            row["plan_sr_uid"] = _store(rad, plan, options)
    except OrthoplanError as exc:
        row.update(status="error", error_type=type(exc).__name__, error=str(exc))
    except MemoryError:
        row.update(status="error", error_type="MemoryError", error="out of memory on this image")
    except Exception as exc:  # noqa: BLE001 - one bad image must never end the run
        log.debug("internal error on one batch input", exc_info=True)
        row.update(status="error", error_type="InternalError",
                   error=f"internal error ({type(exc).__name__}); please report it with the image's SOP Instance UID")
    row["elapsed_s"] = round(time.perf_counter() - t0, 4)
    row["worker_peak_rss_mib"] = _peak_rss_mib()
    return row


# --------------------------------------------------------------------------- journal


def journal_path(out: str | os.PathLike) -> Path:
    """Where the rows of a run on ``out`` are appended as they arrive."""
    out = Path(out)
    return out.with_name(out.name + ".journal.jsonl")


def read_journal(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Rows by input key from a journal; a torn last line (a killed run) is ignored."""
    rows: dict[str, dict[str, Any]] = {}
    p = Path(path)
    if not p.exists():
        return rows
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "input" in row:
                rows[str(row["input"])] = row
    return rows


def read_table(path: str | os.PathLike):
    """A batch table (CSV or Parquet) as a pandas DataFrame."""
    import pandas as pd

    p = Path(path)
    try:
        if p.suffix.lower() == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p, low_memory=False)
    except FileNotFoundError:
        raise PlanError(f"table not found: {p}") from None
    except Exception as exc:  # pandas/pyarrow raise many kinds
        raise PlanError(f"cannot read the table {p}: {exc}") from None


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return _clean(value.item())
        except (ValueError, AttributeError):
            pass
    return value


def _done_rows(out: Path, retry_errors: bool) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if out.exists():
        df = read_table(out)
        for rec in df.to_dict(orient="records"):
            rec = {k: (None if (isinstance(v, float) and math.isnan(v)) else _clean(v)) for k, v in rec.items()}
            done[str(rec["input"])] = rec
    done.update(read_journal(journal_path(out)))
    if retry_errors:
        done = {k: r for k, r in done.items() if r.get("status") == "ok"}
    return done


def write_table(rows: Sequence[dict[str, Any]], out: str | os.PathLike, include_patient_id: bool = False) -> Path:
    """Write rows as CSV or Parquet (by ``out``'s ending), atomically (temp file, then rename)."""
    import pandas as pd

    out = Path(out)
    cols = columns(include_patient_id)
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if out.suffix.lower() == ".parquet":
            df.to_parquet(tmp, index=False)
        elif out.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            raise PlanError(f"output must end in .csv or .parquet, got {out.name}")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


# --------------------------------------------------------------------------- running


class _Progress:
    """A progress bar on a terminal (tqdm), periodic log lines otherwise."""

    def __init__(self, total: int, enabled: bool, every_s: float = 10.0):
        self.total, self.n, self.t0, self.last, self.every_s = total, 0, time.monotonic(), 0.0, every_s
        self.bar = None
        if enabled and sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="img", dynamic_ncols=True)
            except ImportError:  # pragma: no cover - tqdm is a dependency
                self.bar = None
        self.enabled = enabled

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
            return
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every_s or self.n == self.total):
            self.last = now
            rate = self.n / max(now - self.t0, 1e-9)
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            log.info("batch: %d/%d images (%.2f/s, ETA %s)", self.n, self.total, rate,
                     "?" if not math.isfinite(eta) else f"{eta / 60:.1f} min")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _exit_with_parent(poll_s: float = 0.5) -> None:
    """Worker initializer: end this worker when the process that started it is gone.

    A killed ``orthoplan batch`` (SIGKILL, an out-of-memory kill, a closed terminal) would
    otherwise leave its workers waiting forever on a queue nobody writes to.
    """
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="orthoplan-parent-watch", daemon=True).start()


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """While worker processes start, hide the caller's ``__main__`` so that they do not run it.

    A ``spawn`` worker normally imports the parent's main module again (as ``__mp_main__``),
    so that objects defined there can be unpickled. For a plain script that calls
    :func:`measure_many` at the top level, without an ``if __name__ == "__main__":`` guard,
    each worker would run the script again and multiprocessing refuses that (a
    ``RuntimeError`` in the worker, ``BrokenProcessPool`` in the script). The workers only
    run :func:`measure_input` on orthoplan values (paths, :class:`ArchiveItem`,
    :class:`BatchOptions`), so they need nothing from the main module: during the
    ``submit`` calls that start them, ``sys.modules["__main__"]`` is an empty module (the
    caller's module object is untouched and put back at once). ``sys.path`` and the working
    folder still travel to the workers. joblib's loky backend starts its workers the same way.

    Examples
    --------
    >>> real = sys.modules["__main__"]
    >>> with _main_script_hidden():
    ...     getattr(sys.modules["__main__"], "__file__", None)
    >>> sys.modules["__main__"] is real
    True
    """
    import types

    real = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if real is not None:
            sys.modules["__main__"] = real


def _run_local(items: Sequence[Input], options: BatchOptions, workers: int) -> Iterator[dict[str, Any]]:
    """``workers`` processes measure, this process only collects (0, or a single input: here)."""
    if workers == 0 or len(items) == 1:
        for item in items:
            yield measure_input(item, options)
        return
    workers = min(workers, len(items))
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # spawn: clean workers (no inherited threads or file handles); bounded in-flight work
    # keeps memory flat whatever the number of images. The pool starts its workers inside
    # submit(), so the caller's script is hidden there (see _main_script_hidden).
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_exit_with_parent) as pool:

        def submit(item: Input) -> Any:
            with _main_script_hidden():
                return pool.submit(measure_input, item, options)

        it = iter(items)
        pending = set()
        for item in it:
            pending.add(submit(item))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(submit(nxt))


def _run_dask(items: Sequence[Input], options: BatchOptions, client: Any) -> Iterator[dict[str, Any]]:
    from distributed import as_completed

    n_workers = max(1, sum(client.nthreads().values()))
    it = iter(items)
    first = [client.submit(measure_input, item, options, pure=False) for _, item in zip(range(2 * n_workers), it)]
    ac = as_completed(first)
    for fut in ac:
        row = fut.result()
        fut.release()
        nxt = next(it, None)
        if nxt is not None:
            ac.add(client.submit(measure_input, nxt, options, pure=False))
        yield row


def iter_rows(
    inputs: Iterable[Input],
    *,
    options: BatchOptions | None = None,
    workers: int | None = None,
    client: Any = None,
    scheduler: str | None = None,
    skip: Iterable[str] = (),
) -> Iterator[dict[str, Any]]:
    """Rows as they are measured (completion order), skipping the input keys in ``skip``.

    ``client`` (a ``dask.distributed.Client``) or ``scheduler`` (``tcp://HOST:8786``) runs
    the work on a Dask cluster; the workers read the images where they are, so paths must
    be valid on the workers (or use archive inputs). Otherwise ``workers`` local worker
    processes measure (default: the machine's cores) while this one collects the rows, so
    writing the table overlaps the measuring; ``workers=0`` measures in this process (for
    debugging; a single input is always measured here).
    """
    options = options or BatchOptions()
    skipped = set(skip)
    items = [i for i in expand_inputs(inputs) if input_key(i) not in skipped]
    if not items:
        return
    if client is None and scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise PlanError("a Dask scheduler needs the 'dask' extra: pip install 'orthoplan[dask]'") from None
        try:
            client = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise PlanError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        try:
            yield from _run_dask(items, options, client)
        finally:
            client.close()
        return
    if client is not None:
        yield from _run_dask(items, options, client)
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 0:
        raise PlanError(f"workers must be 0 (this process) or more, got {n}")
    yield from _run_local(items, options, n)


def run_batch(
    inputs: Iterable[Input],
    out: str | os.PathLike,
    *,
    options: BatchOptions | None = None,
    workers: int | None = None,
    client: Any = None,
    scheduler: str | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> BatchSummary:
    """Measure every input into the table ``out`` (``.csv`` or ``.parquet``), resumably.

    Rows already in ``out`` or in its journal are kept and not measured again (error rows
    too, unless ``retry_errors``). Each new row is appended to the journal and flushed to
    disk as it arrives; the table is rewritten atomically at the end and the journal removed.

    Returns
    -------
    BatchSummary
    """
    options = options or BatchOptions()
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise PlanError(f"output must end in .csv or .parquet, got {out.name}")
    items = expand_inputs(inputs)
    order = {input_key(i): k for k, i in enumerate(items)}
    done = _done_rows(out, retry_errors)
    todo = [i for i in items if input_key(i) not in done]
    log.info("batch: %d inputs, %d already done, %d to measure", len(items), len(items) - len(todo), len(todo))
    jpath = journal_path(out)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    bar = _Progress(len(todo), progress)
    new = 0
    t0 = time.perf_counter()
    try:
        with open(jpath, "a", encoding="utf-8") as journal:
            for row in iter_rows(todo, options=options, workers=workers, client=client, scheduler=scheduler):
                row = {k: _clean(v) for k, v in row.items()}
                journal.write(json.dumps(row, allow_nan=False) + "\n")
                journal.flush()
                os.fsync(journal.fileno())
                done[row["input"]] = row
                new += 1
                bar.update()
                if on_row is not None:
                    on_row(row)
    finally:
        bar.close()
    rows = sorted(done.values(), key=lambda r: (order.get(str(r["input"]), len(order)), str(r["input"])))
    write_table(rows, out, options.include_patient_id)
    jpath.unlink(missing_ok=True)
    errors = sum(1 for r in rows if r.get("status") != "ok")
    return BatchSummary(out=str(out), rows=len(rows), measured=new, skipped=len(items) - len(todo),
                        errors=errors, seconds=round(time.perf_counter() - t0, 3))


@dataclass(frozen=True)
class BatchSummary:
    """What a :func:`run_batch` call did."""

    out: str
    rows: int
    measured: int
    skipped: int
    errors: int
    seconds: float

    def __str__(self) -> str:
        rate = self.measured / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.rows} rows in {self.out} ({self.measured} measured now, {self.skipped} already done, "
                f"{self.errors} errors; {rate:.2f} images/s)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_many(
    inputs: Iterable[Input],
    *,
    options: BatchOptions | None = None,
    workers: int | None = None,
    client: Any = None,
    scheduler: str | None = None,
):
    """Measure every input and return the table as a pandas DataFrame (input order).

    For notebooks: the same rows as ``orthoplan batch``, without a journal. Use
    :func:`run_batch` for long, resumable runs and :func:`iter_rows` to stream rows.

    Examples
    --------
    >>> df = measure_many(["missing.dcm"], workers=1)
    >>> df.loc[0, "status"]
    'error'
    """
    import pandas as pd

    options = options or BatchOptions()
    items = expand_inputs(inputs)
    order = {input_key(i): k for k, i in enumerate(items)}
    rows = sorted(iter_rows(items, options=options, workers=workers, client=client, scheduler=scheduler),
                  key=lambda r: order[r["input"]])
    cols = columns(options.include_patient_id)
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
