"""The learned coarse stage: a heatmap network run with onnxruntime on a downsampled film.

A small U-Net (trained by :mod:`orthoplan.landmarks.training`, exported to ONNX) sees the
film reduced to :attr:`LandmarkModel.input_size` pixels on its long side, turned so that the
patient's head is up and letterboxed into a square. It gives one spatial softmax per channel;
the most probable place is a landmark's coarse position and the probability mass there its raw
score. Classical
fits then refine the points at full resolution (:mod:`orthoplan.landmarks.learned`).

Channels are named by the patient's side *as the film is displayed in the standard way*
(the patient's right on the viewer's left). A film whose orientation says otherwise
(``patient_left_x == -1``) has its sides swapped after decoding.

The model shipped with the package lives in ``orthoplan/landmarks/models/`` (``<view>.onnx``
and its ``<view>.json``: channel names, input size, how it was trained, the data's
attribution and the table that turns a raw score into a calibrated confidence). A site's own
model is chosen with ``ORTHOPLAN_MODEL`` (a ``.onnx`` path; its ``.json`` beside it) or the
``model`` argument. A model is loaded once per process.

Examples
--------
>>> t = canonical_transform((100, 80), superior="left")   # head at the image's left
>>> t.apply([(0.0, 0.0)]).round(3).tolist()                # stored (x, y) -> head-up (x, y)
[[100.0, 0.0]]
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import LandmarkError

log = logging.getLogger(__name__)

MODEL_FORMAT = "orthoplan-landmark-model/1"
MODEL_DIR = Path(__file__).with_name("models")
#: A channel of the lateral knee view is named ``lateral:<anatomy>`` (no side: a lateral view
#: looks the same for either knee, and a horizontal flip keeps it).
LATERAL_PREFIX = "lateral:"

__all__ = ["LandmarkModel", "load_model", "default_model_path", "canonical_transform", "Transform",
           "prepare_input", "decode_heatmaps", "predict", "Peak"]


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Transform:
    """An affine map of image ``(x, y)`` (DICOM convention) to another frame, with its array op.

    ``matrix`` is 2 x 3; ``rot90_k`` and ``flip_rows`` say how to turn the pixel array the
    same way (``np.rot90(a, k)`` then ``a[::-1]`` if ``flip_rows``).
    """

    matrix: np.ndarray
    rot90_k: int = 0
    flip_rows: bool = False
    out_shape: tuple[int, int] = (0, 0)

    def apply(self, xy) -> np.ndarray:
        p = np.asarray(xy, dtype=float).reshape(-1, 2)
        return p @ self.matrix[:, :2].T + self.matrix[:, 2]

    def inverse(self, xy) -> np.ndarray:
        m = np.vstack([self.matrix, [0.0, 0.0, 1.0]])
        inv = np.linalg.inv(m)[:2]
        p = np.asarray(xy, dtype=float).reshape(-1, 2)
        return p @ inv[:, :2].T + inv[:, 2]

    def array(self, a: np.ndarray) -> np.ndarray:
        out = np.rot90(a, self.rot90_k) if self.rot90_k else a
        return out[::-1] if self.flip_rows else out


def canonical_transform(shape: tuple[int, int], superior: str = "up") -> Transform:
    """The map from a stored film of ``shape`` (rows, cols) whose patient's head lies towards
    ``superior`` (``up``, ``down``, ``left``, ``right``) to the head-up film.

    A film stored turned by 90° is turned back; one stored upside down (``down``: the head at
    the bottom, e.g. ``superior_y == +1``) is flipped top to bottom, which keeps the
    patient's left and right where a viewer sees them.
    """
    rows, cols = shape
    if superior == "up":
        return Transform(np.array([[1.0, 0, 0], [0, 1.0, 0]]), 0, False, (rows, cols))
    if superior == "down":
        return Transform(np.array([[1.0, 0, 0], [0, -1.0, rows]]), 0, True, (rows, cols))
    if superior == "left":  # turn clockwise: (x, y) -> (rows - y, x)
        return Transform(np.array([[0, -1.0, rows], [1.0, 0, 0]]), -1, False, (cols, rows))
    if superior == "right":  # turn counter-clockwise: (x, y) -> (y, cols - x)
        return Transform(np.array([[0, 1.0, 0], [-1.0, 0, cols]]), 1, False, (cols, rows))
    raise LandmarkError(f"superior must be up, down, left or right, not {superior!r}")


def letterbox(shape: tuple[int, int], size: int) -> tuple[float, tuple[int, int]]:
    """Scale and the scaled ``(rows, cols)`` that fit an image of ``shape`` in ``size`` x ``size``
    (top-left aligned)."""
    rows, cols = shape
    s = size / max(rows, cols)
    return s, (max(1, round(rows * s)), max(1, round(cols * s)))


def intensity_levels(image: np.ndarray) -> tuple[float, float]:
    """The 1st and 99th percentiles of a film (on a subsample): its black and white levels."""
    sample = image[:: max(1, image.shape[0] // 256), :: max(1, image.shape[1] // 256)]
    lo, hi = np.percentile(sample, (1.0, 99.0))
    return float(lo), float(hi)


def prepare_input(image: np.ndarray, size: int, levels: tuple[float, float] | None = None
                  ) -> tuple[np.ndarray, float]:
    """The network's input: ``image`` (head up, bone bright) reduced to fit ``size`` (area
    averaging), robustly normalised (``levels``, default the image's own 1st/99th percentile,
    to 0/1) and letterboxed into a ``size`` x ``size`` float32 array (zeros outside).
    Returns ``(input, scale)``."""
    from PIL import Image

    s, (r, c) = letterbox(image.shape, size)
    small = np.asarray(Image.fromarray(np.ascontiguousarray(image, dtype=np.float32)).resize((c, r), Image.BOX),
                       dtype=np.float32)
    lo, hi = levels if levels is not None else intensity_levels(small)
    out = np.zeros((size, size), np.float32)
    out[:r, :c] = np.clip((small - lo) / max(float(hi - lo), 1e-6), -0.5, 1.5)
    return out, s


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class LandmarkModel:
    """A loaded heatmap model: an onnxruntime session and what it was trained for."""

    path: str
    view: str
    channels: tuple[str, ...]
    input_size: int
    stride: int
    meta: dict
    session: object

    def confidence(self, anatomy: str, score: float) -> float:
        """The calibrated confidence of a raw peak score (the model's table; the raw score
        itself where it has none). A table maps score thresholds to the fraction of held-out
        points within the tolerance; it is applied as a step function."""
        table = self.meta.get("confidence", {}).get(anatomy) or self.meta.get("confidence", {}).get("*")
        if not table:
            return float(np.clip(score, 0.0, 1.0))
        xs = np.asarray(table["score"], float)
        ys = np.asarray(table["confidence"], float)
        i = np.searchsorted(xs, score, side="right") - 1
        return float(ys[i]) if i >= 0 else 0.0

    @property
    def test_time_flip(self) -> bool:
        """Whether the heatmaps are the mean of the film's and its mirror image's (the model's
        description says so: its confidence tables were fitted on scores read that way)."""
        return bool(self.meta.get("test_time_flip", False))


#: The environment variable naming a site's own model, per view (else the shipped model).
MODEL_ENV = {"ap-pelvis": "ORTHOPLAN_MODEL", "knee": "ORTHOPLAN_KNEE_MODEL"}
#: Every variable that can name a view's model (said when the model named is not there):
#: AP knee films read ``$ORTHOPLAN_KNEE_AP_MODEL`` first (:func:`.knee_learned.knee_model_path`).
MODEL_ENV_ALL = {"ap-pelvis": ("ORTHOPLAN_MODEL",), "knee": ("ORTHOPLAN_KNEE_AP_MODEL", "ORTHOPLAN_KNEE_MODEL")}


def default_model_path(view: str = "ap-pelvis") -> Path:
    """The view's environment variable (:data:`MODEL_ENV`: ``$ORTHOPLAN_MODEL`` for the AP
    pelvis, ``$ORTHOPLAN_KNEE_MODEL`` for knees) if set, else the model shipped for ``view``."""
    env = os.environ.get(MODEL_ENV.get(view, ""), "")
    return Path(env) if env else MODEL_DIR / f"{view}.onnx"


def load_model(path: str | os.PathLike | None = None, view: str = "ap-pelvis") -> LandmarkModel:
    """Load a model (once per process and file version; later calls return the same object, and
    a network or description rewritten since, such as refitted confidence tables, is read again).

    A model made for another view (its description's ``view``) is refused: a pelvis model
    would find nonsense on a knee film."""
    p = Path(path) if path is not None else default_model_path(view)
    try:
        st = p.stat()
    except OSError:
        names = " / ".join(MODEL_ENV_ALL.get(view, ("ORTHOPLAN_MODEL",)))
        raise LandmarkError(f"landmark model {p} not found (where {names} is set, it must name a model made by "
                            "`orthoplan train`; else reinstall orthoplan)") from None
    try:  # the description (confidence tables) may be rewritten without the network
        jt = p.with_suffix(".json").stat()
        stamp = (st.st_mtime_ns, st.st_size, jt.st_mtime_ns, jt.st_size)
    except OSError:
        stamp = (st.st_mtime_ns, st.st_size)
    m = _load(str(p.resolve()), stamp)
    if m.view != view:
        raise LandmarkError(f"landmark model {p.name} is a model for {m.view} films, not for {view} films")
    return m


@functools.lru_cache(maxsize=4)
def _load(path: str, _stamp: tuple[int, ...]) -> LandmarkModel:
    import onnxruntime as ort

    meta_path = Path(path).with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LandmarkError(f"landmark model description {meta_path.name} missing or unreadable ({exc.__class__.__name__})") from None
    if meta.get("format") != MODEL_FORMAT:
        raise LandmarkError(f"{meta_path.name}: not an orthoplan landmark model (format {meta.get('format')!r})")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(os.environ.get("ORTHOPLAN_MODEL_THREADS", "1"))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        raise LandmarkError(f"landmark model {Path(path).name} could not be loaded: {exc}") from None
    log.info("landmark model %s loaded (%s, %d channels)", Path(path).name, meta.get("view"), len(meta["channels"]))
    return LandmarkModel(path, str(meta.get("view", "ap-pelvis")), tuple(meta["channels"]), int(meta["input_size"]),
                         int(meta.get("stride", 1)), meta, sess)


# --------------------------------------------------------------------------- inference


@dataclass(frozen=True)
class Peak:
    """A heatmap's peak in stored-image coordinates, with the raw score (probability mass at it)."""

    channel: str
    x: float
    y: float
    score: float


def spatial_softmax(logits: np.ndarray) -> np.ndarray:
    """Each channel's probabilities ``(C, H, W)`` (summing to 1 over the channel's pixels)."""
    c = logits.shape[0]
    flat = logits.reshape(c, -1).astype(np.float32)
    flat = np.exp(flat - flat.max(1, keepdims=True))
    return (flat / flat.sum(1, keepdims=True)).reshape(logits.shape)


def decode_heatmaps(logits: np.ndarray) -> np.ndarray:
    """``(C, 3)`` from each channel's logits (a spatial softmax): see :func:`decode_probabilities`."""
    return decode_probabilities(spatial_softmax(logits))


def decode_probabilities(prob: np.ndarray) -> np.ndarray:
    """``(C, 3)`` from each channel's probabilities ``(C, H, W)``: the sub-pixel ``(x, y)`` in
    heatmap-pixel coordinates (DICOM convention: the probability-weighted centroid of the
    5 x 5 neighbourhood of the most probable pixel) and the score, the probability mass
    within 3 pixels of it (near 1: the network is sure where the landmark is; spread out:
    it is not, or the landmark is absent)."""
    c, h, w = prob.shape
    idx = prob.reshape(c, -1).argmax(1)
    out = np.zeros((c, 3))
    for k in range(c):
        r, q = divmod(int(idx[k]), w)
        r0, r1, q0, q1 = max(0, r - 2), min(h, r + 3), max(0, q - 2), min(w, q + 3)
        win = prob[k, r0:r1, q0:q1]
        rr, qq = np.mgrid[r0:r1, q0:q1]
        tot = win.sum()
        out[k, 0] = (win * qq).sum() / tot + 0.5
        out[k, 1] = (win * rr).sum() / tot + 0.5
        out[k, 2] = prob[k, max(0, r - 3):r + 4, max(0, q - 3):q + 4].sum()
    return out


def run(model: LandmarkModel, batch: np.ndarray) -> np.ndarray:
    """Heatmaps ``(N, C, S/stride, S/stride)`` for inputs ``(N, S, S)``."""
    name = model.session.get_inputs()[0].name
    return model.session.run(None, {name: batch[:, None].astype(np.float32)})[0]


def heatmap_probabilities(model: LandmarkModel, x: np.ndarray) -> np.ndarray:
    """The model's ``(C, S/stride, S/stride)`` spatial probabilities for one input ``(S, S)``.

    With :attr:`LandmarkModel.test_time_flip` the input's mirror image is run too (one batch
    of two), its heatmaps mirrored back with the sides' channels swapped (as in training's
    flips), and the two channels' probabilities averaged. An input column ``j`` mirrors to
    ``S - 1 - j``, so a heatmap column ``q`` to ``S/stride - 1 - q`` exactly.
    """
    if not model.test_time_flip:
        return spatial_softmax(run(model, x[None])[0])
    both = run(model, np.stack([x, x[:, ::-1]]))
    prob = spatial_softmax(both[0])
    prob += spatial_softmax(both[1])[channel_pairs(model.channels)][:, :, ::-1]
    prob *= 0.5
    return prob


def _peaks_in(model: LandmarkModel, x: np.ndarray) -> np.ndarray:
    pts = decode_probabilities(heatmap_probabilities(model, x))
    pts[:, :2] *= model.stride
    return pts


def predict(display: np.ndarray, model: LandmarkModel, superior: str = "up",
            patient_left_x: int = 1) -> list[Peak]:
    """Every channel's peak on a film (``display``: bone bright, stored orientation).

    ``superior`` says where the patient's head is in the stored film; ``patient_left_x``
    is +1 for the standard display (patient's left towards increasing x), -1 when the
    film shows the patient's left on the viewer's left (the sides are swapped).
    """
    t = canonical_transform(display.shape, superior)
    up = t.array(display)
    levels = intensity_levels(up)
    x, s = prepare_input(up, model.input_size, levels)
    pts = _peaks_in(model, x)
    pts[:, :2] /= s  # head-up film pixels
    names = list(model.channels)
    # a peak in the letterbox's padding, off the film, is no landmark: score 0, kept on the film
    h, w = up.shape
    off = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > h)
    pts[off, 2] = 0.0
    pts[:, 0] = np.clip(pts[:, 0], 0, w)
    pts[:, 1] = np.clip(pts[:, 1], 0, h)
    xy = t.inverse(pts[:, :2])
    if patient_left_x == -1:
        names = [swap_side(n) for n in names]
    return [Peak(n, float(p[0]), float(p[1]), float(v)) for n, p, v in zip(names, xy, pts[:, 2])]


def swap_side(name: str) -> str:
    """``x_left`` <-> ``x_right``."""
    if name.endswith("_left"):
        return name[: -len("left")] + "right"
    if name.endswith("_right"):
        return name[: -len("right")] + "left"
    return name


def channel_pairs(channels: Sequence[str]) -> np.ndarray:
    """The channel permutation that swaps sides (for horizontal flips)."""
    index = {n: i for i, n in enumerate(channels)}
    return np.array([index.get(swap_side(n), i) for i, n in enumerate(channels)])
