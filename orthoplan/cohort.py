"""Cohort summary of a batch table: distributions of the main measurements and the failures.

``orthoplan report results.parquet --out report.html`` (or ``.pdf``). The HTML file is
self-contained (figures embedded as PNG); the PDF has the same figures, one page each,
and a page per 40 failures. Values are at the anatomy, as in the table; rows whose
calibration was assumed are counted and drawn apart, never mixed in silently.

Examples
--------
>>> from orthoplan.cohort import summary_statistics
>>> import pandas as pd
>>> df = pd.DataFrame({"status": ["ok", "ok"], "lld_teardrop_mm": [1.0, 3.0], "calibration_assumed": [False, False]})
>>> summary_statistics(df).loc["lld_teardrop_mm", "median"]
2.0
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from pathlib import Path
from typing import Any

from .errors import PlanError

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


def summary_statistics(df):
    """Count, mean, SD, median, 5th and 95th percentile of each main measurement over ok rows."""
    import pandas as pd

    ok = df[df["status"] == "ok"] if "status" in df else df
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
    assumed = ok["calibration_assumed"].fillna(False).astype(bool) if "calibration_assumed" in ok else pd.Series(False, index=ok.index)
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
                ax.hist(cal, bins=bins, color="#3b7dd8", alpha=0.85, label=f"calibrated (n={cal.size})")
            if ass.size:
                ax.hist(ass, bins=bins, color="#d8893b", alpha=0.7, label=f"ASSUMED scale (n={ass.size})")
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
    src = df.get("calibration_source")
    if src is not None:
        counts = src.fillna("none").value_counts()
        a1.barh(counts.index.astype(str), counts.values, color="#5a9")
    a1.set_title("calibration source (rows)", fontsize=9)
    st = df["error_type"].fillna("ok").value_counts()
    a2.barh(st.index.astype(str), st.values, color="#a55")
    a2.set_title("status / error type (rows)", fontsize=9)
    fig.tight_layout()
    figs.append(("Calibration and status", fig))
    return figs


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
    PlanError
        The table cannot be read, is not a batch table, or ``out`` is neither .html nor .pdf.
    """
    from .batch import read_table

    out = Path(out)
    kind = out.suffix.lower()
    if kind not in (".html", ".htm", ".pdf"):
        raise PlanError(f"report must end in .html or .pdf, got {out.name}")
    df = read_table(table)
    if "status" not in df.columns or "input" not in df.columns:
        raise PlanError(f"{Path(table).name} is not an orthoplan batch table (no 'status'/'input' columns)")
    out.parent.mkdir(parents=True, exist_ok=True)
    stats = summary_statistics(df)
    failures = _failures(df)
    n_ok = int((df["status"] == "ok").sum())
    n_assumed = int(df.get("calibration_assumed", False).fillna(False).astype(bool).sum()) if "calibration_assumed" in df else 0
    figs = _figures(df)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if kind == ".pdf":
            _write_pdf(tmp, df, stats, failures, figs, n_ok, n_assumed)
        else:
            _write_html(tmp, df, stats, failures, figs, n_ok, n_assumed, Path(table).name)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def _write_html(path: Path, df, stats, failures, figs, n_ok: int, n_assumed: int, table_name: str) -> None:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>orthoplan cohort report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}.warn{color:#b35900;font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Cohort report: {html.escape(table_name)}</h1>",
        f"<p>{len(df)} images; {n_ok} measured; {len(df) - n_ok} failed.</p>",
    ]
    if n_assumed:
        parts.append(f"<p class='warn'>{n_assumed} images were measured on an ASSUMED scale (no calibration); "
                     "they are drawn apart in the histograms.</p>")
    parts.append("<h2>Summary</h2>" + stats.to_html(float_format=lambda v: f"{v:.2f}"))
    for title, fig in figs:
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{_png(fig)}'>")
    parts.append(f"<h2>Failures ({len(failures)})</h2>")
    parts.append(failures.to_html(index=False) if len(failures) else "<p>none</p>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def _write_pdf(path: Path, df, stats, failures, figs, n_ok: int, n_assumed: int) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        fig = plt.figure(figsize=(11, 8.5))
        lines = [f"orthoplan cohort report — {len(df)} images, {n_ok} measured, {len(df) - n_ok} failed"]
        if n_assumed:
            lines.append(f"{n_assumed} images on an ASSUMED scale (drawn apart)")
        lines.append("")
        lines.append(stats.to_string(float_format=lambda v: f"{v:.2f}"))
        fig.text(0.04, 0.96, "\n".join(lines), va="top", family="monospace", fontsize=8)
        pdf.savefig(fig)
        plt.close(fig)
        for _title, f in figs:
            pdf.savefig(f)
            plt.close(f)
        for start in range(0, len(failures), 40):
            fig = plt.figure(figsize=(11, 8.5))
            chunk = failures.iloc[start:start + 40]
            text = "\n".join(f"{r.get('input', '')[-60:]:60s}  {r.get('error_type', '')}: {str(r.get('error', ''))[:90]}"
                             for r in chunk.to_dict(orient="records"))
            fig.text(0.03, 0.97, f"Failures {start + 1}–{start + len(chunk)} of {len(failures)}\n\n" + text,
                     va="top", family="monospace", fontsize=6.5)
            pdf.savefig(fig)
            plt.close(fig)
