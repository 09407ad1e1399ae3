"""Fixtures for the learned detector: the reference readings and a tiny trained model."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HIP_REFS = REPO / "datasets" / "fracatlas-hip" / "references"
HIP_SECOND = REPO / "datasets" / "fracatlas-hip" / "second-reading"


@pytest.fixture(autouse=True)
def learned_detector(monkeypatch):
    """The library's default detector (the suite at large pins the classical one)."""
    monkeypatch.setenv("ORTHOPLAN_DETECTOR", "learned")


@pytest.fixture(scope="session")
def hip_root(real_dir) -> Path:
    path = real_dir / "fracatlas-hip"
    assert path.is_dir(), f"test data missing: {path}"
    return path


@pytest.fixture(scope="session")
def hip_refs():
    from orthoplan.landmarks.references import load_references

    return load_references(HIP_REFS)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, hip_refs, hip_root):
    """A model trained for a few steps on a handful of real films and phantoms (the training
    path, not a useful detector)."""
    from orthoplan.landmarks import training

    usable = [r for r in hip_refs if r.usable and "femoral_head_center_left" in r.points][:4]
    films = training.films_from_references(usable, hip_root) + training.films_from_phantoms(
        2, seed=1, rows=400, columns=480)
    out = tmp_path_factory.mktemp("model") / "ap-pelvis"
    result = training.train(films, out, epochs=2, batch_size=3, input_size=128, seed=0, max_steps=3, threads=2)
    return result
