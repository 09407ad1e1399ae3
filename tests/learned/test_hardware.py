"""Metal hardware on a film: the classifier's runner, its training path, and what the
detectors do with it (notes, lowered confidences, the picture).

The shipped model was trained on every FracAtlas film, so the real films here check the runner,
the shipped file and the detectors' use of it, not the accuracy: that is the cross-validation of
``scripts/train_hardware.py`` (docs/accuracy.md).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from orthoplan.errors import LandmarkError
from orthoplan.landmarks import hardware, training
from orthoplan.model import HARDWARE_FINDING, Side

from .conftest import REPO

#: An AP left hip with a proximal femoral plate, screws and cerclage wires. (The shipped model
#: finds only some films with metal: IMG0002509's plate, for one, stays under the threshold.)
PLATE_FILM = "IMG0004114.jpg"
#: An adult AP pelvis without metal.
CLEAN_FILM = "IMG0000124.jpg"
#: An AP knee and leg with a tibial nail and its locking screws.
KNEE_NAIL_FILM = "IMG0002345.jpg"


def _display(path):
    from orthoplan.image import load

    return np.asarray(load(path).display, np.float32)


def test_one_strong_cell_makes_the_film_probable():
    quiet = np.full((8, 8), -6.0)
    assert hardware.film_probability(quiet) < 0.01
    one = quiet.copy()
    one[3, 5] = 8.0
    assert hardware.film_probability(one) > 0.9
    # the soft maximum: one cell counts for nearly as much as many
    assert hardware.film_probability(np.full((8, 8), 8.0)) > hardware.film_probability(one)


def test_the_module_examples_run():
    import doctest

    from orthoplan.landmarks import common

    for mod in (hardware, common):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0, mod.__name__


def test_the_shipped_model_finds_a_plate(real_dir):
    film = _display(real_dir / "fracatlas-hip" / "images" / PLATE_FILM)
    guess = hardware.find_hardware(film)
    assert guess.found and guess.probability >= guess.threshold == hardware.HARDWARE_MIN_PROBABILITY
    h, w = film.shape
    assert 0 <= guess.x <= w and 0 <= guess.y <= h


def test_a_film_without_metal_is_not_flagged(real_dir):
    guess = hardware.find_hardware(_display(real_dir / "fracatlas-hip" / "images" / CLEAN_FILM))
    assert not guess.found


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((10, 10, 3)), np.full((64, 64), np.nan)])
def test_bad_images_are_refused(bad):
    with pytest.raises(LandmarkError):
        hardware.find_hardware(bad)


def test_a_missing_or_foreign_model_is_refused(tmp_path):
    with pytest.raises(LandmarkError, match="not found"):
        hardware.find_hardware(np.zeros((64, 64)), tmp_path / "none.onnx")
    from orthoplan.landmarks.network import MODEL_DIR

    with pytest.raises(LandmarkError, match="not for hardware films"):
        hardware.load_hardware_model(MODEL_DIR / "knee.onnx")


def test_the_pelvis_detector_says_it_and_lowers_the_femur_near_it(real_dir):
    from orthoplan.image import load
    from orthoplan.landmarks.learned import FEMORAL_ANATOMIES, detect_learned

    rad = load(real_dir / "fracatlas-hip" / "images" / PLATE_FILM)
    with_check = detect_learned(rad)
    without = detect_learned(rad, check_hardware=False)
    note = [n for n in with_check.notes if HARDWARE_FINDING in n]
    assert note and "left hip" in note[0]
    assert not any(HARDWARE_FINDING in n for n in without.notes)
    before = {lm.name: lm.confidence for lm in without.landmarks}
    after = {lm.name: lm.confidence for lm in with_check.landmarks}
    lowered = [n for n in before if n.anatomy in FEMORAL_ANATOMIES and n.side is Side.LEFT]
    assert lowered
    for n, c in before.items():
        if n in lowered:
            assert n not in after or after[n] == pytest.approx(c * hardware.HARDWARE_PENALTY)
            if n not in after:
                assert HARDWARE_FINDING in dict(with_check.landmarks.missing)[n]
        else:
            assert after[n] == pytest.approx(c)


def test_the_knee_detector_says_it(real_dir):
    from orthoplan.image import load
    from orthoplan.landmarks.knee_learned import detect_knee_learned

    rad = load(real_dir / "fracatlas-knee" / "images" / KNEE_NAIL_FILM)
    det = detect_knee_learned(rad, "knee-ap")
    plain = detect_knee_learned(rad, "knee-ap", check_hardware=False)
    assert any(HARDWARE_FINDING in n for n in det.notes)
    before = {lm.name: lm.confidence for lm in plain.landmarks}
    assert before
    for lm in det.landmarks:
        assert lm.confidence == pytest.approx(before[lm.name] * hardware.HARDWARE_PENALTY)


def test_the_plan_and_its_picture_say_it(real_dir):
    from orthoplan.model import Calibration
    from orthoplan.overlay import plan_overlay
    from orthoplan.pipeline import load_radiograph, plan_radiograph

    rad = load_radiograph(str(real_dir / "fracatlas-hip" / "images" / PLATE_FILM))
    plan = plan_radiograph(rad, calibration=Calibration(0.8, "explicit-spacing", 0.05))
    assert any(n.startswith("Landmark detection: " + HARDWARE_FINDING) for n in plan.notes)
    labels = [g.label for layer in plan_overlay(plan) for g in layer.graphics if g.label]
    assert any(label.startswith("METAL HARDWARE?") for label in labels)


# --------------------------------------------------------------------------- training


def test_synthetic_metal_is_flat_bright_and_seeded():
    rng = np.random.default_rng(0)
    base = np.full((256, 256), 0.3, np.float32)
    base[40:220, 90:170] = 0.7  # a bone
    a = training.draw_metal(base, np.random.default_rng(3))
    b = training.draw_metal(base, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert (a > 0.95).sum() > 20  # brighter than any bone of the input
    line = training.draw_divider(base, rng)
    assert (line > 0.85).sum() >= 256  # edge to edge
    ball = training.draw_ball(base, rng)
    assert 50 < (ball > 0.95).sum() < 700  # a disc of 5-14 px radius


def test_training_writes_a_model_the_runner_uses(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.8, (6, 64, 64)).astype(np.float32)
    y = np.array([1, 0, 1, 0, 0, 0])
    res = training.train_hardware(x, y, tmp_path / "hardware", steps=2, seed=0, threads=2, command="test")
    meta = json.loads(res.meta.read_text())
    assert meta["view"] == "hardware" and meta["trained"]["steps"] == 2 and meta["threshold"] == 0.9
    guess = hardware.find_hardware(rng.uniform(0, 1, (300, 200)), res.onnx)
    assert 0.0 <= guess.probability <= 1.0 and 0 <= guess.x <= 200 and 0 <= guess.y <= 300


def test_an_ensemble_is_the_mean_of_its_members_and_exports_as_one_model(tmp_path):
    """``members``: networks from seeds ``seed + 1000 m``, averaged; the first is the network
    trained alone from ``seed``; the ONNX file holds the mean."""
    import torch

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 0.8, (6, 64, 64)).astype(np.float32)
    y = np.array([1, 0, 1, 0, 0, 0])
    alone = [training.train_hardware(x, y, None, steps=2, seed=s, threads=2) for s in (3, 3 + training.MEMBER_SEED_STEP)]
    both = training.train_hardware(x, y, None, steps=2, seed=3, threads=2, members=2)
    image = torch.from_numpy(x[:2])[:, None]
    with torch.no_grad():
        expected = (alone[0](image) + alone[1](image)) / 2
        assert torch.allclose(both(image), expected, atol=1e-6)
    res = training.train_hardware(x, y, tmp_path / "ens", steps=2, seed=3, threads=2, members=2, command="test")
    meta = json.loads(res.meta.read_text())
    assert meta["trained"]["members"] == 2 and meta["trained"]["member_seeds"] == [3, 1003]
    guess = hardware.find_hardware(rng.uniform(0, 1, (300, 200)), res.onnx)
    assert 0.0 <= guess.probability <= 1.0
    with pytest.raises(LandmarkError, match="at least one member"):
        training.train_hardware(x, y, None, steps=1, members=0)


def test_training_needs_both_kinds_of_film(tmp_path):
    x = np.zeros((3, 64, 64), np.float32)
    with pytest.raises(LandmarkError, match="with metal and films without"):
        training.train_hardware(x, [0, 0, 0], tmp_path / "h", steps=1)
    with pytest.raises(LandmarkError, match="square inputs"):
        training.train_hardware(np.zeros((3, 64, 48), np.float32), [0, 1, 0], tmp_path / "h", steps=1)


def test_the_training_script_runs_on_a_few_real_films(real_dir, tmp_path):
    out = tmp_path / "hardware"
    rows = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "train_hardware.py"), "--root", str(real_dir),
                           "--limit", "6", "--phantoms", "1", "--folds", "2", "--steps", "2", "--threads", "2",
                           "--input-size", "64", "--out", str(out), "--rows", str(rows)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| 0.9 | real films |" in proc.stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["crossval_folds"] == 2 and any(r["films"] == "phantoms" for r in meta["crossval"])
    assert len(json.loads(rows.read_text())) == 14  # 6 + 6 films, 1 + 1 phantoms


@pytest.mark.parametrize("args", [["--folds", "1"], ["--steps", "0"], ["--threshold", "1.5"], ["--phantoms", "-1"],
                                  ["--synthetic", "40"], ["--input-size", "100"], ["--skip-cv", "--cv-only"],
                                  ["--limit", "0"], ["--limit", "-3"], ["--members", "0"]])
def test_the_training_script_refuses_bad_options(args):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "train_hardware.py"), *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "error" in proc.stderr


def test_the_training_script_says_where_the_films_are_missing(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "train_hardware.py"), "--root", str(tmp_path),
                           "--cv-only"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "not found" in proc.stderr
