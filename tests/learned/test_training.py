"""The training path (a few steps on a handful of films), export, fine-tuning, `orthoplan train`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from orthoplan.errors import LandmarkError
from orthoplan.landmarks import network, training


def test_training_writes_a_model_the_runner_uses(tiny_model, real_dir):
    m = network.load_model(tiny_model.onnx)
    assert m.channels == training.AP_PELVIS_CHANNELS and m.input_size == 128
    assert tiny_model.weights.exists() and len(tiny_model.losses) >= 1
    assert all(np.isfinite(tiny_model.losses))
    meta = json.loads(tiny_model.meta.read_text())
    assert meta["trained"]["seed"] == 0 and meta["trained"]["steps"] == 3
    from orthoplan.pipeline import load_radiograph

    rad = load_radiograph(str(real_dir / "hip_cr_rg2.dcm"))
    peaks = network.predict(rad.display, m)
    assert len(peaks) == len(m.channels)
    assert all(0 <= p.x <= rad.shape[1] and 0 <= p.y <= rad.shape[0] for p in peaks)


def test_training_is_seeded(tmp_path):
    films = training.films_from_phantoms(2, seed=3, rows=300, columns=360)
    a = training.train(films, tmp_path / "a", epochs=1, batch_size=2, input_size=64, seed=5, max_steps=2, threads=1)
    b = training.train(films, tmp_path / "b", epochs=1, batch_size=2, input_size=64, seed=5, max_steps=2, threads=1)
    wa, wb = np.load(a.weights), np.load(b.weights)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)


def test_augmentation_keeps_points_on_their_anatomy():
    """A flipped film swaps the sides' channels; points follow the image through the affine."""
    import torch

    img = np.zeros((100, 120), np.float32)
    img[30:34, 20:24] = 1.0  # a bright dot at the right hip's place (viewer's left)
    pts = np.full((len(training.AP_PELVIS_CHANNELS), 2), np.nan)
    k = training.AP_PELVIS_CHANNELS.index("femoral_head_center_right")
    pts[k] = (22.0, 32.0)
    film = training.TrainingFilm("t", img, pts, np.zeros(len(pts), bool))
    perm = network.channel_pairs(training.AP_PELVIS_CHANNELS)
    rng = np.random.default_rng(0)
    for _ in range(20):
        imgs, p, _ = training._affine_batch([film], 128, rng, True, perm)
        q = p[0][np.isfinite(p[0]).all(1)]
        if len(q) == 0:
            continue  # cropped away: then it is marked absent
        x, y = q[0]
        if 2 <= x < 126 and 2 <= y < 126:
            assert float(imgs[0, 0, int(y), int(x)]) > 0.3  # the point is still on the dot
    assert isinstance(imgs, torch.Tensor)


def test_site_processing_changes_the_film_and_keeps_its_blank_frame():
    """Another site's processing (edge enhancement or local equalisation) changes the film's
    grey levels, not where the film is: the letterbox and collimation stay blank, values stay
    within 0-1, and a share of 0 leaves the batch alone without drawing a random number."""
    import torch

    rng = np.random.default_rng(1)
    img = np.zeros((2, 1, 64, 64), np.float32)
    img[:, 0, 8:56, 8:40] = np.linspace(0.2, 0.8, 32, dtype=np.float32)  # a ramp, blank outside
    img[:, 0, 20:30, 20:30] = 0.9
    batch = torch.from_numpy(img)
    out = training._site_processed(batch, rng, 1.0)
    assert out.shape == batch.shape
    assert float(out[:, 0, :, 40:].abs().max()) == 0.0 and float(out[:, 0, :8].abs().max()) == 0.0
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert float((out - batch).abs().max()) > 0.05  # the grey levels changed
    state = rng.bit_generator.state
    assert torch.equal(training._site_processed(batch, rng, 0.0), batch)
    assert rng.bit_generator.state == state


def test_a_recipe_with_site_processing_trains_and_says_so(tmp_path):
    films = training.films_from_phantoms(2, seed=3, rows=300, columns=360)
    res = training.train(films, tmp_path / "s", epochs=1, batch_size=2, input_size=64, seed=5, max_steps=2, threads=1,
                         site_processing=1.0)
    assert all(np.isfinite(res.losses))
    assert json.loads(res.meta.read_text())["trained"]["site_processing"] == 1.0
    with pytest.raises(LandmarkError, match="share"):
        training.train(films, tmp_path / "t", input_size=64, max_steps=1, site_processing=1.5)


def test_landmark_files_use_only_points_a_person_placed(tmp_path, real_dir):
    import shutil

    shutil.copy(real_dir / "hip_cr_rg2.dcm", tmp_path / "hip.dcm")
    (tmp_path / "hip.json").write_text(json.dumps({"landmarks": {
        "femoral_head_center_left": {"x": 904.7, "y": 874.8, "source": "manual", "radius": 141.4},
        "teardrop_left": {"x": 742.0, "y": 961.0, "source": "auto", "confidence": 0.9},
        "ischial_tuberosity_left": [667.0, 1244.5]}}))
    films = training.films_from_landmark_files(tmp_path)
    assert len(films) == 1
    ch = training.AP_PELVIS_CHANNELS
    known = {ch[i] for i in np.where(np.isfinite(films[0].points).all(1))[0]}
    assert known == {"femoral_head_center_left", "femoral_head_top_left", "ischial_tuberosity_left"}


def test_no_film_is_an_error(tmp_path):
    with pytest.raises(LandmarkError, match="no training film"):
        training.train([], tmp_path / "x")


def test_an_input_size_the_network_cannot_halve_is_refused(tmp_path):
    films = training.films_from_phantoms(1, seed=2, rows=300, columns=360)
    for size in (100, 0, -64):
        with pytest.raises(LandmarkError, match="multiple of 32, at least 64"):
            training.train(films, tmp_path / "x", input_size=size, max_steps=1)
    assert not any(tmp_path.iterdir())


def test_a_landmark_file_of_a_film_stored_turned_trains_it_turned(tmp_path, hip_refs, hip_root):
    """A site's landmark file beside a JPEG stored turned by a quarter turn (no orientation
    tags): the film is turned head up for training as its landmarks show, the same training film
    as the reading's recorded orientation gives. Read head up, the network would learn a pelvis
    lying on its side."""
    import shutil

    from orthoplan.pipeline import load_radiograph

    ref = next(r for r in hip_refs if r.stem == "IMG0000726")
    assert ref.superior == "right"
    shutil.copy(hip_root / ref.image, tmp_path / "film.jpg")
    pts = {n: {"x": p.x, "y": p.y, "source": "manual"} for n, p in ref.points.items()}
    (tmp_path / "film.json").write_text(json.dumps({"landmarks": pts}))
    film, = training.films_from_landmark_files(tmp_path)
    expected = training.film_from_points("film", load_radiograph(str(tmp_path / "film.jpg")).display,
                                         {n: (p.x, p.y, None) for n, p in ref.points.items()},
                                         training.AP_PELVIS_CHANNELS, ref.superior, 1, (), 480)
    assert film.image.shape == expected.image.shape
    np.testing.assert_allclose(film.points, expected.points, atol=1e-6)
    ch = list(training.AP_PELVIS_CHANNELS)
    right, left = (film.points[ch.index(f"femoral_head_center_{s}")] for s in ("right", "left"))
    assert left[0] - right[0] > 4 * abs(left[1] - right[1])  # head up: the heads side by side


def test_a_plan_of_a_film_stored_turned_trains_it_in_the_plans_orientation(hip_refs, hip_root):
    """Plans read back from an archive carry their orientation (a turned one too): the film is
    turned head up for training by it, not by the image's assumed one."""
    from orthoplan.model import (Calibration, CalibrationSource, ImageOrientation, Landmark, LandmarkSource,
                                 Landmarks, Measurements, Plan)
    from orthoplan.pipeline import load_radiograph

    ref = next(r for r in hip_refs if r.stem == "IMG0000726")
    rad = load_radiograph(str(hip_root / ref.image))
    lms = Landmarks.from_landmarks([Landmark(n, p.x, p.y, 1.0, LandmarkSource.MANUAL) for n, p in ref.points.items()])
    plan = Plan(image=rad.reference, calibration=Calibration(0.5, CalibrationSource.EXPLICIT_SPACING, 5.0), landmarks=lms,
                measurements=Measurements(),
                orientation=ImageOrientation.turned(ref.superior))
    film, = training.films_from_plans([(rad, plan)])
    expected = training.film_from_points("x", rad.display, {n: (p.x, p.y, None) for n, p in ref.points.items()},
                                         training.AP_PELVIS_CHANNELS, ref.superior, 1, (), 480)
    np.testing.assert_allclose(film.points, expected.points, atol=1e-6)
