"""Cohort summary of a batch table: distributions of the main measurements and the failures.

``orthoplan report results.parquet --out report.html`` (or ``.pdf``). The HTML file is
self-contained (figures embedded as PNG); the PDF has the same figures, one page each,
and the failures with their whole error text. Values are at the anatomy, as in the table;
rows whose calibration was assumed are counted, summarised and drawn apart from the
calibrated ones, never mixed in silently.

Examples
--------
>>> from orthoplan.cohort import summary_statistics
>>> import pandas as pd
>>> df = pd.DataFrame({"status": ["ok", "ok"], "lld_teardrop_mm": [1.0, 3.0], "calibration_assumed": [False, False]})
>>> float(summary_statistics(df).loc["lld_teardrop_mm", "median"])
2.0
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
import textwrap
from pathlib import Path
from typing import Any

from .errors import InputNotFoundError, PlanError, UsageError

log = logging.getLogger(__name__)

#: Measurements drawn in the report (both sides where the name has a side), in order.
MAIN_MEASUREMENTS: tuple[str, ...] = (
    "lld_teardrop_mm", "lld_ischial_mm",
    "femoral_offset_{side}_mm", "global_offset_{side}_mm", "acetabular_offset_{side}_mm",
    "neck_shaft_angle_{side}_deg", "lcea_{side}_deg", "tonnis_angle_{side}_deg", "sharp_angle_{side}_deg",
)


def _names(df) -> list[str]:
    out = []
    for pattern in MAIN_MEASUREMENTS:
        for name in ([pattern] if "{side}" not in pattern else [pattern.format(side=s) for s in ("right", "left")]):
            if name in df.columns:
                out.append(name)
    return out


#: Colours of the report: calibrated rows, rows on an assumed scale, success, failure.
CALIBRATED_COLOR = "#3b7dd8"
ASSUMED_COLOR = "#d8893b"
OK_COLOR = "#4a9a5a"
ERROR_COLOR = "#b04545"


def assumed_rows(df):
    """A boolean Series: the rows measured on an ASSUMED scale (``calibration_assumed`` true).

    Reads the column as the CSV and Parquet tables give it (bool, object with gaps, or the
    text ``"True"``/``"False"``).

    >>> import pandas as pd
    >>> assumed_rows(pd.DataFrame({"calibration_assumed": [True, "False", None, "true"]})).tolist()
    [True, False, False, True]
    """
    import pandas as pd

    if "calibration_assumed" not in df:
        return pd.Series(False, index=df.index)
    col = df["calibration_assumed"]
    return col.map(lambda v: str(v).strip().lower() in ("true", "1", "yes")).astype(bool)


def summary_statistics(df, scale: str = "calibrated"):
    """Count, mean, SD, median, 5th and 95th percentile of each main measurement over ok rows.

    ``scale``: ``"calibrated"`` (default) summarises the rows with a measured scale,
    ``"assumed"`` those on an ASSUMED scale (lengths there are estimates), ``"all"`` both
    pooled. Lengths from the two are never pooled by default.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"status": ["ok", "ok"], "lld_teardrop_mm": [1.0, 9.0], "calibration_assumed": [False, True]})
    >>> float(summary_statistics(df).loc["lld_teardrop_mm", "median"])
    1.0
    >>> float(summary_statistics(df, "assumed").loc["lld_teardrop_mm", "median"])
    9.0
    """
    import pandas as pd

    if scale not in ("calibrated", "assumed", "all"):
        raise UsageError(f"scale must be 'calibrated', 'assumed' or 'all', got {scale!r}")
    ok = df[df["status"] == "ok"] if "status" in df else df
    if scale != "all":
        assumed = assumed_rows(ok)
        ok = ok[assumed] if scale == "assumed" else ok[~assumed]
    stats = {}
    for name in _names(df):
        v = pd.to_numeric(ok[name], errors="coerce").dropna()
        stats[name] = {
            "n": int(v.size),
            "mean": float(v.mean()) if v.size else float("nan"),
            "sd": float(v.std()) if v.size > 1 else float("nan"),
            "median": float(v.median()) if v.size else float("nan"),
            "p5": float(v.quantile(0.05)) if v.size else float("nan"),
            "p95": float(v.quantile(0.95)) if v.size else float("nan"),
        }
    return pd.DataFrame.from_dict(stats, orient="index", columns=["n", "mean", "sd", "median", "p5", "p95"])


def _figures(df) -> list[tuple[str, Any]]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import pandas as pd

    ok = df[df["status"] == "ok"]
    assumed = assumed_rows(ok)
    figs: list[tuple[str, Any]] = []
    names = _names(df)
    for start in range(0, len(names), 6):
        chunk = names[start:start + 6]
        fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), squeeze=False)
        for ax, name in zip(axes.ravel(), chunk):
            v = pd.to_numeric(ok[name], errors="coerce")
            cal = v[~assumed].dropna()
            ass = v[assumed].dropna()
            bins = 25
            if cal.size:
                ax.hist(cal, bins=bins, color=CALIBRATED_COLOR, alpha=0.85, label=f"calibrated (n={cal.size})")
            if ass.size:
                ax.hist(ass, bins=bins, color=ASSUMED_COLOR, alpha=0.7, label=f"ASSUMED scale (n={ass.size})")
            unit = "mm" if name.endswith("_mm") else "°"
            ax.set_title(name, fontsize=9)
            ax.set_xlabel(unit)
            if cal.size or ass.size:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        for ax in axes.ravel()[len(chunk):]:
            ax.axis("off")
        fig.tight_layout()
        figs.append((f"Measurements {start + 1}–{start + len(chunk)}", fig))
    # calibration sources and statuses
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.5))
    labels, counts_, colors = _calibration_bars(ok)
    if labels:
        a1.barh(labels, counts_, color=colors)
    a1.set_title("calibration of the measured rows: calibrated vs ASSUMED scale", fontsize=9)
    labels, counts_, colors = _status_bars(df)
    a2.barh(labels, counts_, color=colors)
    a2.set_title("status / error type (rows)", fontsize=9)
    for ax in (a1, a2):
        ax.invert_yaxis()  # read from the top
    fig.tight_layout()
    figs.append(("Calibration and status", fig))
    return figs


def _calibration_bars(ok) -> tuple[list[str], list[int], list[str]]:
    """Bars of the measured rows by calibration: ``calibrated: <source>`` in the calibrated
    colour, ``ASSUMED: <source>`` in the assumed colour, whatever the source's name."""
    assumed = assumed_rows(ok)
    src = ok["calibration_source"].fillna("none").astype(str) if "calibration_source" in ok else None
    if src is None:
        src = ok["status"].map(lambda _v: "unknown source")
    keys = [("ASSUMED: " if a else "calibrated: ") + s for a, s in zip(assumed, src)]
    counts: dict[str, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    labels = sorted(counts, key=lambda k: (k.startswith("ASSUMED"), -counts[k], k))
    return labels, [counts[k] for k in labels], [ASSUMED_COLOR if k.startswith("ASSUMED") else CALIBRATED_COLOR
                                                 for k in labels]


def _status_bars(df) -> tuple[list[str], list[int], list[str]]:
    """Bars of the rows by outcome: ``ok`` in the success colour, each error type in the error colour."""
    ok = df["status"] == "ok"
    err = df["error_type"] if "error_type" in df else df["status"]
    keys = ["ok" if good else str(e if isinstance(e, str) and e else "error") for good, e in zip(ok, err)]
    counts: dict[str, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    labels = sorted(counts, key=lambda k: (k != "ok", -counts[k], k))
    return labels, [counts[k] for k in labels], [OK_COLOR if k == "ok" else ERROR_COLOR for k in labels]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _failures(df):
    cols = [c for c in ("input", "error_type", "error") if c in df.columns]
    return df.loc[df["status"] != "ok", cols]


def write_cohort_report(table: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the cohort summary of a batch table (CSV/Parquet) as HTML or PDF (by ``out``'s ending).

    Raises
    ------
    UsageError
        ``out`` is neither .html nor .pdf, or ``table`` is neither .csv nor .parquet (exit code 2).
    InputNotFoundError
        ``table`` does not exist (exit code 66).
    PlanError
        The table cannot be read, or is not a batch table.
    """
    from .batch import read_table

    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".html", ".htm", ".pdf"):
        raise UsageError(f"the report must end in .html or .pdf, got {out.name}")
    if Path(table).suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"the table must be an orthoplan batch table (.csv or .parquet), got {Path(table).name}")
    if not Path(table).is_file():
        raise InputNotFoundError(f"table not found: {table}")
    df = read_table(table)
    if "status" not in df.columns or "input" not in df.columns:
        raise PlanError(f"{Path(table).name} is not an orthoplan batch table (no 'status'/'input' columns)")
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = summary_statistics(df)
    failures = _failures(df)
    assumed_stats = summary_statistics(df, "assumed")
    n_ok = int((df["status"] == "ok").sum())
    n_assumed = int(assumed_rows(df[df["status"] == "ok"]).sum())
    figs = _figures(df)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if kind == ".pdf":
            _write_pdf(tmp, df, stats, assumed_stats, failures, figs, n_ok, n_assumed)
        else:
            _write_html(tmp, df, stats, assumed_stats, failures, figs, n_ok, n_assumed, Path(table).name)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def _write_html(path: Path, df, stats, assumed_stats, failures, figs, n_ok: int, n_assumed: int,
                table_name: str) -> None:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>orthoplan cohort report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}.warn{color:#b35900;font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Cohort report: {html.escape(table_name)}</h1>",
        f"<p>{len(df)} images; {n_ok} measured ({n_ok - n_assumed} calibrated, {n_assumed} on an ASSUMED scale); "
        f"{len(df) - n_ok} failed.</p>",
    ]
    if n_assumed:
        parts.append(f"<p class='warn'>{n_assumed} images were measured on an ASSUMED scale (no calibration); "
                     "they are summarised and drawn apart from the calibrated ones.</p>")
    fmt = lambda v: f"{v:.2f}"  # noqa: E731
    parts.append(f"<h2>Summary: calibrated scale ({n_ok - n_assumed} images)</h2>" + stats.to_html(float_format=fmt))
    if n_assumed:
        parts.append(f"<h2 class='warn'>Summary: ASSUMED scale ({n_assumed} images; lengths are estimates)</h2>"
                     + assumed_stats.to_html(float_format=fmt))
    for title, fig in figs:
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{_png(fig)}'>")
    parts.append(f"<h2>Failures ({len(failures)})</h2>")
    parts.append(failures.to_html(index=False) if len(failures) else "<p>none</p>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def failure_lines(failures, width: int = 150) -> list[str]:
    """The failures as text lines for the PDF: the input, then its whole error text wrapped
    to ``width`` characters (never cut), so two different failures never read the same.

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"input": ["a.dcm"], "error_type": ["CalibrationError"], "error": ["x " * 100]})
    >>> lines = failure_lines(rows, width=60)
    >>> lines[0], len(lines) > 3
    ('a.dcm', True)
    """
    lines: list[str] = []
    for r in failures.to_dict(orient="records"):
        lines.append(str(r.get("input", "")))
        text = f"{r.get('error_type', '') or 'error'}: {r.get('error', '')}"
        lines += textwrap.wrap(text, width=width, initial_indent="    ", subsequent_indent="      ",
                               break_long_words=True, break_on_hyphens=False) or ["    "]
    return lines


def _write_pdf(path: Path, df, stats, assumed_stats, failures, figs, n_ok: int, n_assumed: int) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        fig = plt.figure(figsize=(11, 8.5))
        fmt = lambda v: f"{v:.2f}"  # noqa: E731
        lines = [f"orthoplan cohort report — {len(df)} images, {n_ok} measured "
                 f"({n_ok - n_assumed} calibrated, {n_assumed} on an ASSUMED scale), {len(df) - n_ok} failed", "",
                 f"calibrated scale ({n_ok - n_assumed} images)", stats.to_string(float_format=fmt)]
        if n_assumed:
            lines += ["", f"ASSUMED scale ({n_assumed} images; lengths are estimates, summarised apart)",
                      assumed_stats.to_string(float_format=fmt)]
        fig.text(0.04, 0.96, "\n".join(lines), va="top", family="monospace", fontsize=8)
        pdf.savefig(fig)
        plt.close(fig)
        for _title, f in figs:
            pdf.savefig(f)
            plt.close(f)
        lines = failure_lines(failures)
        per_page = 64
        pages = range(0, len(lines), per_page)
        for page, start in enumerate(pages, 1):
            fig = plt.figure(figsize=(11, 8.5))
            fig.text(0.03, 0.97, f"Failures ({len(failures)}), page {page} of {len(pages)}\n\n"
                     + "\n".join(lines[start:start + per_page]), va="top", family="monospace", fontsize=6.5)
            pdf.savefig(fig)
            plt.close(fig)
