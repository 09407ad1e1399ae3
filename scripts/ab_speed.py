#!/usr/bin/env python3
"""CPU time per image of the batch pipeline: this checkout against an earlier commit, interleaved.

The machines we measure on are shared and their speed drifts by ±25 % from minute to
minute, so two runs one after the other cannot tell a 10 % change. This script imports the
``orthoplan`` package of ``--ref`` (extracted with ``git archive``) under another name, next
to the working copy's, and measures each image with both, alternating which goes first.
It reports both medians and the median of the per-image ratios (now / ref).

Usage::

    python scripts/ab_speed.py --ref 45650b1                # 20 synthetic 3000 x 2500 DX
    python scripts/ab_speed.py --ref HEAD~3 --images DIR --rounds 4
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reference_package(ref: str, where: Path) -> str:
    """Extract ``orthoplan/`` at ``ref`` into ``where`` as package ``orthoplan_ref``."""
    archive = where / "ref.tar"
    done = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), ref, "orthoplan"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"ab_speed: cannot read orthoplan/ at {ref!r} from git: {done.stderr.strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    shutil.move(str(where / "orthoplan"), str(where / "orthoplan_ref"))
    return "orthoplan_ref"


def _cohort(folder: Path, n: int) -> list[Path]:
    from orthoplan.phantoms import pelvis as phantom

    files = []
    for seed in range(n):
        f = folder / f"dx_{seed:02d}.dcm"
        phantom.make_pelvis(seed=300 + seed, rows=2500, columns=3000,
                              detector_spacing_mm=0.15).dataset.save_as(f, enforce_file_format=True)
        files.append(f)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref", required=True, help="git commit to compare against (e.g. a tag or a hash)")
    p.add_argument("--images", type=Path, help="folder of DICOM files (default: 20 synthetic 3000 x 2500 DX)")
    p.add_argument("--rounds", type=int, default=2, help="passes over the images (default 2)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sys.path.insert(0, str(tmp))
        ref = importlib.import_module(_reference_package(args.ref, tmp) + ".batch")
        now = importlib.import_module("orthoplan.batch")
        files = sorted(args.images.glob("*.dcm")) if args.images else _cohort(tmp, 20)
        if not files:
            p.error(f"no .dcm files in {args.images}")
        opts = {ref: ref.BatchOptions(sidecar_landmarks=False), now: now.BatchOptions(sidecar_landmarks=False)}
        for mod in (ref, now):  # warm up imports and caches
            mod.measure_input(files[0], opts[mod])
        cpu: dict = {ref: [], now: []}
        for rnd in range(args.rounds):
            for f in files:
                for mod in ((ref, now) if rnd % 2 == 0 else (now, ref)):
                    t = time.process_time()
                    mod.measure_input(f, opts[mod])
                    cpu[mod].append(time.process_time() - t)
    ratio = statistics.median(b / a for a, b in zip(cpu[ref], cpu[now]))
    print(f"{len(files)} images x {args.rounds} rounds, CPU per image: {args.ref} median "
          f"{1000 * statistics.median(cpu[ref]):.0f} ms, this checkout median {1000 * statistics.median(cpu[now]):.0f} ms; "
          f"per-image ratio (this / {args.ref}) median {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
