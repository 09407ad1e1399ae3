"""``batch.measure_many(["cohort/"], workers=2)`` in a plain script, as the README shows it.

Issue 16, item 4: without an ``if __name__ == "__main__":`` guard, spawned workers re-ran the
script and multiprocessing refused (``RuntimeError`` in each worker, ``BrokenProcessPool``
in the script). The workers must not run the caller's script at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from orthoplan.phantoms import pelvis as phantom

SCRIPT = """\
from pathlib import Path

from orthoplan import batch

with open("ran.txt", "a") as fh:  # top-level code: must run once, not again in each worker
    fh.write("ran\\n")
df = batch.measure_many(["cohort/"], workers=2)
df[["input", "status", "error", "lld_teardrop_mm"]].to_json("rows.json", orient="records")
print(len(df), "rows")
"""


def _small_cohort(folder: Path, seeds: tuple[int, ...]) -> dict[str, float]:
    """Phantom films with their exact landmarks beside them (the sidecar format); truth LLD by name."""
    folder.mkdir(parents=True)
    truth = {}
    for seed in seeds:
        case = phantom.make_pelvis(seed=seed, rows=600, columns=720, detector_spacing_mm=0.6)
        case.dataset.save_as(folder / f"film_{seed}.dcm", enforce_file_format=True)
        lm = {"landmarks": {l.name.value: [l.x, l.y] for l in case.landmarks}}
        (folder / f"film_{seed}.landmarks.json").write_text(json.dumps(lm))
        truth[f"film_{seed}.dcm"] = case.measurements["lld_teardrop_mm"]
    return truth


def test_measure_many_with_workers_in_an_unguarded_script(tmp_path):
    truth = _small_cohort(tmp_path / "cohort", (3101, 3102, 3103))
    script = tmp_path / "measure.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "3 rows"
    assert (tmp_path / "ran.txt").read_text() == "ran\n", "a worker ran the script's top-level code again"
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [Path(r["input"]).name for r in rows] == sorted(truth)
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert abs(r["lld_teardrop_mm"] - truth[Path(r["input"]).name]) < 1.0
