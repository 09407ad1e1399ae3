"""``orthoplan detect IMAGE --json`` prints the landmarks in DICOM image coordinates."""

from __future__ import annotations

import json
import subprocess
import sys

from orthoplan.phantoms import pelvis as phantom


def test_detect_json(tmp_path):
    case = phantom.make_pelvis(seed=2, rows=1000, columns=1200, detector_spacing_mm=0.38)
    files = phantom.write_case(case, tmp_path)
    out = subprocess.run([sys.executable, "-m", "orthoplan.cli", "detect", str(files["image"]), "--json"],
                         capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    lms = doc["landmarks"]
    head = lms["femoral_head_center_left"]
    assert set(head) == {"x", "y", "confidence", "radius"}
    assert set(lms["teardrop_left"]) == {"x", "y", "confidence"}
    truth = case.landmarks["femoral_head_center_left"]
    assert abs(head["x"] - truth.x) < 3 and abs(head["y"] - truth.y) < 3
    assert isinstance(doc.get("missing", {}), dict)
    assert isinstance(doc["notes"], list)  # what the detector says about the film
