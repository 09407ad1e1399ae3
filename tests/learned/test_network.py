"""The ONNX runner: orientation transforms, input preparation, heatmap decoding, loading."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from orthoplan.errors import LandmarkError
from orthoplan.landmarks import network


@pytest.mark.parametrize("superior", ["up", "down", "left", "right"])
def test_canonical_transform_matches_the_array_operation(superior):
    rng = np.random.default_rng(0)
    a = rng.random((7, 11))
    t = network.canonical_transform(a.shape, superior)
    b = t.array(a)
    assert b.shape == t.out_shape
    for r, c in [(0, 0), (6, 10), (3, 4), (2, 9)]:
        x, y = t.apply([(c + 0.5, r + 0.5)])[0]  # pixel centre, DICOM convention
        assert b[int(y), int(x)] == a[r, c]
    pts = rng.random((5, 2)) * 7
    assert np.allclose(t.inverse(t.apply(pts)), pts)


def test_canonical_transform_turns_the_head_up():
    # head at the image's left: after the transform the former left edge is the top
    t = network.canonical_transform((100, 200), "left")
    assert t.apply([(0.0, 50.0)])[0][1] == pytest.approx(0.0)
    with pytest.raises(LandmarkError):
        network.canonical_transform((10, 10), "north")


def test_decode_heatmaps_is_subpixel_and_scores_the_mass():
    g = np.arange(64) + 0.5
    x0, y0 = 20.3, 41.7
    logits = -((g[None, :] - x0) ** 2 + (g[:, None] - y0) ** 2) / (2 * 1.5**2)
    out = network.decode_heatmaps(np.stack([logits, np.zeros_like(logits)]).astype(np.float32))
    assert out[0, 0] == pytest.approx(x0, abs=0.15) and out[0, 1] == pytest.approx(y0, abs=0.15)
    assert out[0, 2] > 0.9  # a sharp peak: nearly all the mass at it
    assert out[1, 2] <= 49 / 64**2 + 1e-9  # flat: the mass of at most 7 x 7 pixels


def test_prepare_input_letterboxes_and_normalises():
    img = np.linspace(0, 1, 300 * 200, dtype=np.float32).reshape(300, 200)
    x, s = network.prepare_input(img, 128)
    assert x.shape == (128, 128) and s == pytest.approx(128 / 300)
    assert np.all(x[:, 86:] == 0) and x[:, :85].max() > 0.9


def test_swap_side_and_pairs():
    ch = ("a_right", "a_left", "b_left", "b_right", "c")
    assert network.swap_side("a_right") == "a_left" and network.swap_side("c") == "c"
    assert network.channel_pairs(ch).tolist() == [1, 0, 3, 2, 4]


def test_missing_or_foreign_model_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(LandmarkError, match="not found"):
        network.load_model(tmp_path / "nope.onnx")
    shipped = network.default_model_path()
    (tmp_path / "m.onnx").write_bytes(shipped.read_bytes())
    with pytest.raises(LandmarkError, match="description"):
        network.load_model(tmp_path / "m.onnx")
    (tmp_path / "m.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(LandmarkError, match="not an orthoplan landmark model"):
        network.load_model(tmp_path / "m.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    shutil.copy(shipped.with_suffix(".json"), tmp_path / "bad.json")
    with pytest.raises(LandmarkError, match="could not be loaded"):
        network.load_model(tmp_path / "bad.onnx")
    monkeypatch.setenv("ORTHOPLAN_MODEL", str(tmp_path / "elsewhere.onnx"))
    with pytest.raises(LandmarkError, match="ORTHOPLAN_MODEL"):
        network.load_model()


def test_a_rewritten_description_is_read_again(tmp_path):
    # refitted confidence tables (crossval.evaluate_refine, a site's recalibration) take effect in
    # a running process although the network file is unchanged
    shipped = network.default_model_path()
    for ext in (".onnx", ".json"):
        shutil.copy(shipped.with_suffix(ext), tmp_path / f"m{ext}")
    a = network.load_model(tmp_path / "m.onnx")
    assert network.load_model(tmp_path / "m.onnx") is a
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["confidence"] = {"*": {"score": [-1e9], "confidence": [0.123]}}
    (tmp_path / "m.json").write_text(json.dumps(meta) + " ")  # another size, whatever the clock
    b = network.load_model(tmp_path / "m.onnx")
    assert b is not a and b.confidence("teardrop", 0.9) == pytest.approx(0.123)
    assert a.confidence("teardrop", 0.9) != pytest.approx(0.123)


def test_shipped_model_is_loaded_once_and_describes_itself():
    a, b = network.load_model(), network.load_model()
    assert a is b
    assert a.view == "ap-pelvis" and a.input_size % 32 == 0
    assert "femoral_head_center_left" in a.channels and "femoral_head_top_left" in a.channels
    assert "FracAtlas" in a.meta["attribution"] and "CC BY 4.0" in a.meta["attribution"]
    trained = a.meta["trained"]
    assert trained["command"] and trained["seed"] is not None
    # a calibrated confidence table: non-decreasing steps
    for table in a.meta["confidence"].values():
        assert list(table["score"]) == sorted(table["score"])
        assert list(table["confidence"]) == sorted(table["confidence"])


@pytest.mark.parametrize("view", ["ap-pelvis", "knee"])
def test_test_time_flip_mirrors_exactly_with_the_sides_swapped(view):
    """With test-time flipping, the heatmaps of a mirrored input are the mirrored heatmaps with
    the sides' channels swapped, to the last column (no half-pixel shift, no channel left
    unswapped); without it, the network's own softmax is returned."""
    import dataclasses

    m = network.load_model(view=view)
    flip = dataclasses.replace(m, meta={**m.meta, "test_time_flip": True})
    plain = dataclasses.replace(m, meta={k: v for k, v in m.meta.items() if k != "test_time_flip"})
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(0.4, 0.2, (m.input_size, m.input_size)), 0, 1).astype(np.float32)
    x[:, : m.input_size // 3] += 0.4  # not symmetric
    a = network.heatmap_probabilities(flip, x)
    b = network.heatmap_probabilities(flip, np.ascontiguousarray(x[:, ::-1]))
    perm = network.channel_pairs(m.channels)
    assert (perm != np.arange(len(perm))).any()
    np.testing.assert_allclose(b, a[perm][:, :, ::-1], atol=1e-7)
    np.testing.assert_allclose(a.reshape(len(m.channels), -1).sum(1), 1.0, atol=1e-6)
    raw = network.heatmap_probabilities(plain, x)
    np.testing.assert_array_equal(raw, network.spatial_softmax(network.run(m, x[None])[0]))
    assert np.abs(raw - a).max() > 1e-4
    # decoding probabilities is decoding the logits they came from
    logits = network.run(m, x[None])[0]
    np.testing.assert_allclose(network.decode_probabilities(raw), network.decode_heatmaps(logits))


def test_models_made_now_read_films_with_their_mirror_image():
    """The shipped models' confidence tables were fitted on flipped-and-averaged scores, so the
    flag travels in their description."""
    for view in ("ap-pelvis", "knee"):
        assert network.load_model(view=view).test_time_flip
