"""Batch throughput of the full automatic pipeline on 3000 x 2500 DX (pytest-benchmark).

Run: ``python -m pytest benchmarks/bench_batch.py --benchmark-only -s``

Each image goes load → calibrate (ball) → detect → measure → row, with 1 and with 2 local
worker processes. Printed and kept in ``extra_info``: steady-state images/s (from the first
to the last row, so process start-up is excluded), scaling efficiency
``rate(2) / (2 × rate(1))``, and each worker's peak resident memory (the ``worker_peak_rss_mib``
column). Targets (issue 6): ≥ 2 images/s per core, efficiency ≥ 0.85, < 1 GiB per worker.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orthoplan import batch, synthetic

N_IMAGES = 16
RATES: dict[int, float] = {}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("full")
    for seed in range(N_IMAGES):
        case = synthetic.make_pelvis(seed=300 + seed, rows=2500, columns=3000, detector_spacing_mm=0.15)
        case.dataset.save_as(folder / f"dx_{seed:02d}.dcm", enforce_file_format=True)
    return folder


def _run(cohort: Path, out: Path, workers: int) -> dict:
    stamps: list[float] = []
    summary = batch.run_batch([cohort], out, workers=workers, progress=False,
                              options=batch.BatchOptions(sidecar_landmarks=False),
                              on_row=lambda row: stamps.append(time.perf_counter()))
    df = batch.read_table(out)
    steady = (len(stamps) - workers) / (stamps[-1] - stamps[workers - 1]) if len(stamps) > workers else float("nan")
    return {"summary": summary, "rate": steady, "peak_rss_mib": float(df["worker_peak_rss_mib"].max()),
            "ok": int((df["status"] == "ok").sum())}


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_throughput(benchmark, cohort, tmp_path, workers):
    result = benchmark.pedantic(_run, args=(cohort, tmp_path / "r.parquet", workers), rounds=1, iterations=1)
    RATES[workers] = result["rate"]
    benchmark.extra_info.update(images_per_s=round(result["rate"], 3), peak_rss_mib=result["peak_rss_mib"],
                                ok_rows=result["ok"])
    if workers == 2 and 1 in RATES:
        benchmark.extra_info["scaling_efficiency"] = round(RATES[2] / (2 * RATES[1]), 3)
    print(f"\nworkers={workers}: {result['rate']:.2f} images/s steady, peak {result['peak_rss_mib']:.0f} MiB "
          f"per worker, {result['ok']}/{N_IMAGES} ok"
          + (f", efficiency {RATES[2] / (2 * RATES[1]):.2f}" if workers == 2 and 1 in RATES else ""))
    assert result["ok"] == N_IMAGES
