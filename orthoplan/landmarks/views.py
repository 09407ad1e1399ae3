"""Which view a film shows: :func:`classify_view`.

orthoplan detects landmarks on AP pelvis/hip films and on AP and lateral knee films. A film
read by the wrong detector gives nonsense: the pelvis detector takes a femoral condyle for a
femoral head, the knee detector finds knees in a pelvis. A knee film may also be two
projections side by side on one image (an AP and a lateral, each on its own exposure field),
which no knee detector can read as one knee, or a long film of the whole leg. So:

* :func:`orthoplan.pipeline.infer_view` asks this classifier when the header does not say the
  body part (a JPEG, a DICOM without BodyPartExamined);
* each detector refuses a film that the classifier confidently takes for another kind
  (:func:`other_film_reason`): the pelvis detector a knee film, the knee detectors an AP pelvis
  or two projections side by side (:data:`TWO_VIEW_REASON`).

The classifier is small and linear: the film letterboxed into 128 × 128 pixels, its histogram
of oriented gradients (:func:`skimage.feature.hog`), its mean column and row profiles and its
aspect ratio (:func:`view_features`), then multinomial logistic regression
(:func:`fit_view_model`, L-BFGS from SciPy). The shipped weights (``models/view.npz``) were
fitted on the FracAtlas hip and knee films (CC BY 4.0) and phantoms, each also turned by half a
turn (a film stored upside down without orientation tags shows the same view), by
``python scripts/train_views.py``, whose 5-fold cross-validation is in ``docs/accuracy.md``.
The labels are the data set's index (views judged by eye from thumbnails; every hip film is an
``ap-pelvis``), so a few are wrong.

Examples
--------
>>> from orthoplan.phantoms import knee as phantom                      # doctest: +SKIP
>>> guess = classify_view(rad)                                          # doctest: +SKIP
>>> guess.view, round(guess.probabilities["two-view"], 2)               # doctest: +SKIP
('knee-ap', 0.01)
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import LandmarkError, UsageError
from .common import LastCall

__all__ = ["VIEW_CLASSES", "KNEE_FILM_CLASSES", "ViewGuess", "ViewModel", "view_features", "fit_view_model", "classify_view",
           "other_film_reason", "refusal_reason", "confident_view", "view_either_way", "OTHER_FILM_MIN_PROBABILITY", "OWN_BODY_PARTS",
           "fibula_examples", "FIBULA_L2",
           "load_view_model", "TWO_VIEW_REASON", "TWO_VIEW_MIN_PROBABILITY", "FIBULA_CLASSES", "fibula_side",
           "FIBULA_MIN_PROBABILITY", "MATURITY_CLASSES", "maturity_features", "skeletal_immaturity",
           "IMMATURE_MIN_PROBABILITY", "UPRIGHT_CLASSES", "UPRIGHT_L2", "HEAD_DOWN_MIN_PROBABILITY", "knee_head_down",
           "upright_examples", "turned_examples", "HEAD_UP_TURNS", "LATERAL_TURN_CLASSES", "LATERAL_TURN_L2",
           "QUARTER_TURN_MIN_PROBABILITY", "lateral_knee_head"]

#: The classes, in the order of the model's outputs: the AP pelvis/hip films (every film the
#: pelvis detector reads, frog-leg and single-hip films included), the knee films and the long
#: films of the whole leg.
VIEW_CLASSES = ("knee-ap", "knee-lateral", "two-view", "long-leg", "ap-pelvis")
#: The classes that are a knee film (one view of a knee, or two side by side).
KNEE_FILM_CLASSES = ("knee-ap", "knee-lateral", "two-view")
#: A detector refuses a film that the classifier takes for another kind from this probability on
#: (the pelvis detector: the knee classes together; the knee detectors: ``ap-pelvis``), and
#: :func:`orthoplan.pipeline.infer_view` takes the classifier's view from it on. Chosen on the
#: cross-validation of ``scripts/train_views.py`` (docs/accuracy.md): there no hip film reached
#: it for the knee classes and no knee film for ``ap-pelvis`` (at 0.95 one hip film, a pelvis
#: and femur read as usable, would have been refused), while 94 % of the knee films and 80 %
#: of the hip films are known.
OTHER_FILM_MIN_PROBABILITY = 0.99
#: Side of the square the film is letterboxed into before its features are taken.
FEATURE_SIZE = 128
#: A film is taken for two views side by side from this probability on (see the cross-validation
#: on the FracAtlas knee films in docs/accuracy.md: at 0.8 about 9 in 10 two-view films are
#: found and 1 in 500 single views is taken for two).
TWO_VIEW_MIN_PROBABILITY = 0.8
TWO_VIEW_REASON = ("two projections side by side on one image (an AP and a lateral view): crop one view "
                   "and read it on its own")
MODEL_FORMAT = "orthoplan-view-model/1"
#: The fibula model's classes: on which side of the head-up AP knee image the fibula lies.
FIBULA_CLASSES = ("image-left", "image-right")
#: The fibula's side is taken from this probability on (cross-validated on real AP knee films:
#: docs/accuracy.md); below it the side is not decided.
FIBULA_MIN_PROBABILITY = 0.8
#: The hip maturity model's classes: an adult pelvis, or a skeletally immature one (a child's or
#: an adolescent's: open triradiate cartilage, capital physes, separate epiphyses).
MATURITY_CLASSES = ("adult", "immature")
#: The maturity model's regularisation (:func:`fit_view_model`'s ``l2``).
MATURITY_L2 = 0.1
#: A pelvis is said to be skeletally immature from this probability on (cross-validated on the
#: FracAtlas hip films, docs/accuracy.md: at 0.5, 49 of 53 children's and adolescents' films
#: found, 11 of the 13 read as usable AP films; 3 of 238 adults' films taken for immature, none
#: of them an AP film read as usable).
IMMATURE_MIN_PROBABILITY = 0.5
#: Each femoral head's neighbourhood, ``PATCH_RADII`` head radii either side of its centre,
#: is resampled to ``PATCH_SIZE`` pixels square for :func:`maturity_features`.
PATCH_RADII = 3.0
PATCH_SIZE = 64


@dataclass(frozen=True)
class ViewModel:
    """Multinomial logistic regression over standardised features."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray     # (classes,)
    meta: Mapping[str, object] = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for one feature vector ``(F,)`` or a batch ``(N, F)``."""
        f = np.atleast_2d(np.asarray(features, np.float64))
        if f.shape[1] != self.mean.size:
            raise LandmarkError(f"view model: {f.shape[1]} features given, the model takes {self.mean.size}")
        z = ((f - self.mean) / self.scale) @ self.weights + self.bias
        z = np.exp(z - z.max(axis=1, keepdims=True))
        p = z / z.sum(axis=1, keepdims=True)
        return p[0] if np.ndim(features) == 1 else p


@dataclass(frozen=True)
class ViewGuess:
    """The most probable view and every class's probability."""

    view: str
    probabilities: Mapping[str, float]

    @property
    def two_view(self) -> bool:
        """Two projections side by side (probability ≥ :data:`TWO_VIEW_MIN_PROBABILITY`)."""
        return self.probabilities.get("two-view", 0.0) >= TWO_VIEW_MIN_PROBABILITY


def view_features(display: np.ndarray) -> np.ndarray:
    """The classifier's features of a display image (bone bright, any size).

    >>> view_features(np.random.default_rng(0).random((454, 373))).shape
    (1829,)
    """
    from skimage.feature import hog
    from skimage.transform import resize

    from ..geometry import block_mean

    if np.asarray(display).dtype.kind not in "fiub":
        raise LandmarkError(f"view: the image must hold numbers, not {np.asarray(display).dtype}")
    a = np.asarray(display, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) < 8:
        raise LandmarkError("view: the image must be a 2-D array of at least 8 x 8 pixels")
    h, w = a.shape
    factor = max(h, w) // (2 * FEATURE_SIZE)
    b = block_mean(a, factor) if factor > 1 else a  # fast to about twice the size, then smooth resizing
    if not np.all(np.isfinite(b)):  # a non-finite pixel makes its block non-finite
        raise LandmarkError("view: the image has non-finite pixel values")
    lo, hi = float(b.min()), float(b.max())
    b = (b - lo) / (hi - lo) if hi > lo else np.zeros_like(b)
    s = FEATURE_SIZE / max(b.shape)
    small = resize(b, (max(1, round(b.shape[0] * s)), max(1, round(b.shape[1] * s))), anti_aliasing=True)
    box = np.zeros((FEATURE_SIZE, FEATURE_SIZE), np.float32)
    box[:small.shape[0], :small.shape[1]] = small
    grads = hog(box, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2))
    cols = resize(box.mean(axis=0)[None], (1, 32))[0]
    rows = resize(box.mean(axis=1)[None], (1, 32))[0]
    return np.concatenate([grads, cols, rows, [h / w]]).astype(np.float64)


def fit_view_model(features: np.ndarray, labels: Sequence[int], classes: Sequence[str] = VIEW_CLASSES,
                   l2: float = 1e-3, meta: Mapping[str, object] | None = None) -> ViewModel:
    """Fit the classifier: class-balanced cross-entropy plus ``l2`` times the squared weights,
    minimised by L-BFGS (deterministic: no random start)."""
    from scipy.optimize import minimize

    x = np.asarray(features, np.float64)
    y = np.asarray(labels, int)
    k = len(classes)
    if x.ndim != 2 or x.shape[0] != y.size or y.size == 0 or y.min() < 0 or y.max() >= k:
        raise ValueError("fit_view_model: one label in range per feature row is needed")
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    xs = (x - mean) / scale
    n, f = xs.shape
    counts = np.bincount(y, minlength=k).clip(1)
    w_cls = n / (k * counts)
    sample_w = w_cls[y]
    onehot = np.eye(k)[y]

    def loss(theta):
        wts, b = theta[: f * k].reshape(f, k), theta[f * k:]
        z = xs @ wts + b
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -(sample_w * (onehot * logp).sum(axis=1)).sum() / sample_w.sum() + l2 * (wts ** 2).sum()
        g = (np.exp(logp) - onehot) * sample_w[:, None] / sample_w.sum()
        return value, np.concatenate([(xs.T @ g + 2 * l2 * wts).ravel(), g.sum(axis=0)])

    res = minimize(loss, np.zeros(f * k + k), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    wts, b = res.x[: f * k].reshape(f, k), res.x[f * k:]
    return ViewModel(tuple(classes), mean, scale, wts, b, dict(meta or {}))


def save_view_model(model: ViewModel, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``<path>.npz`` (the numbers) and ``<path>.json`` (classes and how it was made)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(p.with_suffix(".npz"), mean=model.mean, scale=model.scale, weights=model.weights,
                        bias=model.bias)
    p.with_suffix(".json").write_text(json.dumps({"format": MODEL_FORMAT, "classes": list(model.classes),
                                                  **model.meta}, indent=1) + "\n")
    return p.with_suffix(".npz"), p.with_suffix(".json")


def default_view_model_path(name: str = "view") -> Path:
    return Path(__file__).with_name("models") / name


def load_view_model(path: str | os.PathLike | None = None) -> ViewModel:
    """The view model at ``path`` (``.npz`` + ``.json``), by default the shipped one; loaded once."""
    p = Path(path) if path is not None else default_view_model_path()
    p = p.with_suffix("")
    try:
        stat = p.with_suffix(".npz").stat()
    except OSError:
        raise LandmarkError(f"view model {p.name}: not found") from None
    return _load(str(p), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: str, _mtime: int, _size: int) -> ViewModel:
    p = Path(path)
    try:
        meta = json.loads(p.with_suffix(".json").read_text())
        with np.load(p.with_suffix(".npz")) as z:
            arrays = {k: np.asarray(z[k], np.float64) for k in ("mean", "scale", "weights", "bias")}
    except (OSError, ValueError, KeyError) as exc:
        raise LandmarkError(f"view model {p.name}: unreadable ({exc.__class__.__name__})") from None
    if meta.get("format") != MODEL_FORMAT:
        raise LandmarkError(f"view model {p.name}: format must be {MODEL_FORMAT!r}")
    classes = tuple(meta.get("classes", ()))
    if arrays["weights"].shape != (arrays["mean"].size, len(classes)):
        raise LandmarkError(f"view model {p.name}: weights do not match its classes and features")
    return ViewModel(classes, arrays["mean"], arrays["scale"], arrays["weights"], arrays["bias"],
                     {k: v for k, v in meta.items() if k not in ("format", "classes")})


def classify_view(display: np.ndarray, model: ViewModel | None = None) -> ViewGuess:
    """The view of a film's display image (bone bright): see the module docstring.

    A constant image shows nothing: every class gets the same probability (the linear model
    would otherwise extrapolate to a confident class).

    >>> guess = classify_view(np.zeros((300, 250)))
    >>> sorted(guess.probabilities) == sorted(VIEW_CLASSES), round(guess.probabilities["knee-ap"], 2)
    (True, 0.2)
    """
    if model is None:
        remembered = _last_guess.get(display)
        if remembered is not None:
            return remembered  # the same read-only film as the last call (view inference, then the detector)
    guess = _classify(display, model or load_view_model())
    if model is None:
        _last_guess.put(display, guess)
    return guess


#: The last read-only film classified with the shipped model and its guess: a plan asks twice
#: (:func:`orthoplan.pipeline.infer_view`, then the detector's refusal check).
_last_guess = LastCall()


def _classify(display: np.ndarray, m: ViewModel) -> ViewGuess:
    f = view_features(display)
    if not np.any(f[:-1]):  # no gradient, no profile: a constant image (the last feature is its shape)
        return ViewGuess(m.classes[-1], {c: 1.0 / len(m.classes) for c in m.classes})
    p = m.probabilities(f)
    probs = {c: float(v) for c, v in zip(m.classes, p)}
    return ViewGuess(max(probs, key=probs.get), probs)


def confident_view(guess: ViewGuess, min_probability: float = OTHER_FILM_MIN_PROBABILITY) -> str | None:
    """The detector's view for a film the classifier is sure of: ``"ap-pelvis"``, or the knee
    view (``"knee-ap"``/``"knee-lateral"``; two projections side by side go to ``"knee-ap"``,
    whose detector refuses them with the reason) when the knee classes together reach
    ``min_probability``; else None.

    >>> confident_view(ViewGuess("two-view", {"two-view": 0.995, "ap-pelvis": 0.005}))
    'knee-ap'
    >>> confident_view(ViewGuess("ap-pelvis", {"knee-ap": 0.4, "ap-pelvis": 0.6})) is None
    True
    """
    p = guess.probabilities
    if sum(p.get(c, 0.0) for c in KNEE_FILM_CLASSES) >= min_probability:
        return "knee-lateral" if p.get("knee-lateral", 0.0) > max(p.get("knee-ap", 0.0), p.get("two-view", 0.0)) else "knee-ap"
    if p.get("ap-pelvis", 0.0) >= min_probability:
        return "ap-pelvis"
    return None


def view_either_way(image: np.ndarray, guess: ViewGuess | None = None,
                    min_probability: float = OTHER_FILM_MIN_PROBABILITY) -> str | None:
    """:func:`confident_view` of a film, or, where the classifier is not sure of it, of its
    mirror image, else of the film turned by half a turn: a film displayed mirrored (a PA film
    shown as taken, or flipped) or stored upside down shows the same view. The mirror image or
    the turned film decides only where it is sure and the film's own most probable class is of
    the same kind (a knee class, or the pelvis); ``guess`` is the film's :func:`classify_view`
    where already made.

    Held out (``scripts/train_views.py``'s folds; the classifier that also learned the films
    turned), the FracAtlas knee films as stored that go to a knee detector: 877 of 917 with the
    mirror image, 885 with the turned film too (878 with the mirror and the classifier before),
    and no hip film. The mirror image alone: on the FracAtlas films mirrored, the classifier
    that learned the films head up only was unsure of 30 of 458 AP knee films, 29 of 378 lateral
    ones and 76 of 292 hip films; reading their mirror too, of 6, 9 and 34, none taken for
    another view (in-sample; ``tests/knee_views/test_view_classifier.py``).
    """
    guess = guess or classify_view(image)  # (view_features refuses what is no image)
    seen = confident_view(guess, min_probability)
    if seen is not None:
        return seen
    top = max(guess.probabilities, key=guess.probabilities.get)
    kind = {c: "knee" for c in KNEE_FILM_CLASSES}
    film = np.asarray(image)
    for other in (film[:, ::-1], film[::-1, ::-1]):  # the mirror image, the film turned by half a turn
        decided = confident_view(classify_view(np.ascontiguousarray(other)), min_probability)
        if decided is not None and kind.get(top, top) == kind.get(decided, decided):
            return decided
    return None


#: BodyPartExamined values (upper case) with which the header itself says a film is of a
#: detector's kind: the detector then reads it whatever the classifier thinks.
OWN_BODY_PARTS = {"ap-pelvis": ("PELVIS", "HIP"), "knee-ap": ("KNEE",), "knee-lateral": ("KNEE",)}


def refusal_reason(radiograph, view: str, guess: ViewGuess | None = None) -> str | None:
    """Why the detector of ``view`` should not read ``radiograph`` (:func:`other_film_reason` of
    its :func:`classify_view`, or of ``guess`` if given), or None. A film whose header names the
    body part of ``view`` (:data:`OWN_BODY_PARTS`) is read: the site's header outranks a
    classifier that learned from one data set's films."""
    part = (getattr(radiograph, "body_part_examined", None) or "").strip().upper()
    if part in OWN_BODY_PARTS.get(view, ()):
        return None
    return other_film_reason(guess or classify_view(radiograph.display), view)


def other_film_reason(guess: ViewGuess, view: str,
                      min_probability: float = OTHER_FILM_MIN_PROBABILITY) -> str | None:
    """Why the detector of ``view`` should not read a film the classifier judged as ``guess``:
    a knee film for the ``ap-pelvis`` view, an AP pelvis/hip film for a knee view; else None.

    >>> knee = ViewGuess("knee-ap", {"knee-ap": 0.995, "ap-pelvis": 0.005})
    >>> other_film_reason(knee, "ap-pelvis")
    'not an AP pelvis/hip film: the view classifier takes it for a knee film (knee-ap, probability 0.995); detect it as view knee-ap'
    >>> other_film_reason(knee, "knee-lateral") is None
    True
    """
    p = guess.probabilities
    if view == "ap-pelvis":
        knee = sum(p.get(c, 0.0) for c in KNEE_FILM_CLASSES)
        if knee >= min_probability:
            best = max(KNEE_FILM_CLASSES, key=lambda c: p.get(c, 0.0))
            hint = ("crop one view and detect it as view knee-ap or knee-lateral" if best == "two-view"
                    else f"detect it as view {best}")
            return (f"not an AP pelvis/hip film: the view classifier takes it for a knee film ({best}, "
                    f"probability {knee:.3f}); {hint}")
    elif view in ("knee-ap", "knee-lateral"):
        pelvis = p.get("ap-pelvis", 0.0)
        if pelvis >= min_probability:
            return (f"not a knee film: the view classifier takes it for an AP pelvis/hip film (probability "
                    f"{pelvis:.3f}); detect it as view ap-pelvis")
    return None


def fibula_side(display: np.ndarray, model: ViewModel | None = None,
                min_probability: float = FIBULA_MIN_PROBABILITY) -> tuple[int | None, float]:
    """On which side of a *head-up* AP knee image (one knee) the fibula lies: ``+1`` towards the
    image's right (+x), ``-1`` towards its left, ``None`` when the model is less sure than
    ``min_probability`` (:data:`FIBULA_MIN_PROBABILITY`); and the model's probability of its answer.

    The fibula lies laterally, so with the patient's orientation this gives the knee's side.
    The model (``models/knee-fibula``) is the view classifier's features and fit, trained on
    the AP knee films read in ``datasets/fracatlas-knee`` and their mirror images
    (``python scripts/train_views.py``).

    >>> side, p = fibula_side(np.zeros((300, 250)))
    >>> side in (-1, 1, None) and 0.5 <= p <= 1.0
    True
    """
    m = model or load_view_model(default_view_model_path("knee-fibula"))
    p_right = float(m.probabilities(view_features(display))[m.classes.index("image-right")])
    p = max(p_right, 1.0 - p_right)
    if p < min_probability:
        return None, p
    return (1 if p_right >= 0.5 else -1), p


#: The fibula model's regularisation (:func:`fit_view_model`'s ``l2``).
FIBULA_L2 = 1e-2

#: The upright model's classes: the patient's head at the top of an AP knee image, or at its bottom.
UPRIGHT_CLASSES = ("head-up", "head-down")
#: The upright model's regularisation (:func:`fit_view_model`'s ``l2``).
UPRIGHT_L2 = 1e-3
#: An AP knee image is taken for stored head down from this probability on (with the knee
#: network's own reading, :data:`orthoplan.landmarks.knee_learned.UPSIDE_DOWN_SHARE`). Chosen on
#: the 5-fold cross-validation of ``scripts/train_views.py`` (docs/accuracy.md): there 2 of the
#: 912 head-up images (one film of long femoral shafts and short tibiae, and its mirror image)
#: reached it, and 98.6 % of the images turned upside down.
HEAD_DOWN_MIN_PROBABILITY = 0.9


def knee_head_down(display: np.ndarray, model: ViewModel | None = None) -> float:
    """The probability that the patient's head lies at the *bottom* of an AP knee image as
    stored (a film stored upside down, or flipped top to bottom).

    The model (``models/knee-upright``) is the view classifier's features and fit, trained on
    the FracAtlas AP knee films head up and turned by half a turn, each also mirrored
    (``python scripts/train_views.py``; :func:`upright_examples`). An AP knee network finds a
    knee nearly as surely upside down (the femur taken for the tibia), so it cannot tell alone.

    >>> p_down = knee_head_down(np.zeros((300, 250)))
    >>> 0.0 <= p_down <= 1.0
    True
    """
    m = model or load_view_model(default_view_model_path("knee-upright"))
    return float(m.probabilities(view_features(display))[m.classes.index("head-down")])


def upright_examples(displays: Sequence[np.ndarray], superiors: Sequence[str]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels (0: head up, 1: head down) and film index of AP knee images: each film
    turned head up (``superiors``: where its patient's head lies as stored, ``"up"``,
    ``"down"``, ``"left"`` or ``"right"``), as it is and mirrored, each head up and turned by
    half a turn: the upright model's training data (four images per film).

    >>> x, y, g = upright_examples([np.random.default_rng(0).random((60, 50))], ["left"])
    >>> x.shape[0], y.tolist(), g.tolist()
    (4, [0, 1, 0, 1], [0, 0, 0, 0])
    """
    return turned_examples(displays, superiors, (0, 2))


#: ``np.rot90`` quarter turns (counter-clockwise) that bring the patient's head to the top of a
#: film whose head lies at ...
HEAD_UP_TURNS = {"up": 0, "left": 3, "down": 2, "right": 1}


def turned_examples(displays: Sequence[np.ndarray], superiors: Sequence[str], turns: Sequence[int]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and film index of each film turned head up (``superiors``: where its
    patient's head lies as stored), as it is and mirrored, each turned by every one of ``turns``
    (``np.rot90`` quarter turns, counter-clockwise: 1 puts the head at the image's left, 2 at its
    bottom, 3 at its right); the label is the turn's index in ``turns``.

    >>> x, y, g = turned_examples([np.random.default_rng(0).random((60, 50))], ["up"], (0, 1, 2, 3))
    >>> x.shape[0], y.tolist()
    (8, [0, 1, 2, 3, 0, 1, 2, 3])
    """
    if len(displays) != len(superiors):
        raise UsageError("turned_examples: one superior per display is needed")
    if not turns or any(t not in (0, 1, 2, 3) for t in turns):
        raise UsageError("turned_examples: turns are quarter turns 0 to 3")
    x, y, g = [], [], []
    for i, (d, superior) in enumerate(zip(displays, superiors)):
        if superior not in HEAD_UP_TURNS:
            raise UsageError(f"turned_examples: superior must be one of {', '.join(HEAD_UP_TURNS)}, not {superior!r}")
        if np.ndim(d) != 2:
            raise LandmarkError("view: the image must be a 2-D array of at least 8 x 8 pixels")
        up = np.rot90(np.asarray(d, dtype=np.float32), HEAD_UP_TURNS[superior])
        for img in (up, up[:, ::-1]):
            for label, turn in enumerate(turns):
                x.append(view_features(np.ascontiguousarray(np.rot90(img, turn))))
                y.append(label)
                g.append(i)
    return np.array(x), np.array(y), np.array(g)


#: The lateral turn model's classes: where the patient's head lies in a lateral knee image (the
#: ``np.rot90`` turn of a head-up film that puts it there is the class's index).
LATERAL_TURN_CLASSES = ("head-up", "head-left", "head-down", "head-right")
#: The lateral turn model's regularisation (:func:`fit_view_model`'s ``l2``).
LATERAL_TURN_L2 = 1e-3
#: A lateral knee film without orientation tags is read turned by a quarter turn where the
#: lateral turn model gives that turn at least this probability (and the knee network is surer
#: of the knee so: :func:`orthoplan.landmarks.knee_learned.detect_knee_learned`). Chosen on the
#: 5-fold cross-validation of ``scripts/train_views.py`` (docs/accuracy.md): there 93.8 % of
#: the images turned by a quarter turn reached it in the right direction, 2 of 1512 in the wrong
#: one, and 13 of 756 head-up images; on the readers' 134 head-up lateral films (held-out
#: probabilities, ``scripts/knee_orientation_check.py``) the detector turned none.
QUARTER_TURN_MIN_PROBABILITY = 0.9


def lateral_knee_head(display: np.ndarray, model: ViewModel | None = None) -> dict[str, float]:
    """Where the patient's head lies in a lateral knee image as stored: the probability of each
    of :data:`LATERAL_TURN_CLASSES` (``"head-left"``: a film stored turned a quarter turn, the
    femur running to the image's left).

    The model (``models/knee-lateral-turn``) is the view classifier's features and fit, trained
    on the FracAtlas lateral knee films turned head up, each in the four quarter turns and
    mirrored (``python scripts/train_views.py --models lateral-turn``; :func:`turned_examples`).
    A knee network finds a lateral knee turned by a quarter turn nearly as surely as head up, so
    it cannot tell alone.

    >>> p = lateral_knee_head(np.zeros((300, 250)))
    >>> sorted(p) == sorted(LATERAL_TURN_CLASSES), abs(sum(p.values()) - 1.0) < 1e-9
    (True, True)
    """
    m = model or load_view_model(default_view_model_path("knee-lateral-turn"))
    return dict(zip(m.classes, (float(v) for v in m.probabilities(view_features(display)))))


def fibula_examples(refs, displays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels (0: fibula on the image's left) and reading index of every usable
    head-up AP knee reading of one knee, each with its mirror image (label swapped): the fibula
    model's training data. ``displays(ref)`` gives a reading's display image (bone bright).

    The label is where the reader's lateral points lie against the medial ones (the fibula is
    lateral), so it needs no marker."""
    x, y, g = [], [], []
    for i, ref in enumerate(refs):
        sides = {n.rsplit("_", 1)[1] for n in ref.points}
        if not ref.usable or ref.view != "knee-ap" or ref.superior != "up" or len(sides) != 1:
            continue
        side = sides.pop()
        lat = ref.points.get(f"tibial_plateau_lateral_{side}") or ref.points.get(f"femoral_epicondyle_lateral_{side}")
        med = ref.points.get(f"tibial_plateau_medial_{side}") or ref.points.get(f"femoral_epicondyle_medial_{side}")
        if lat is None or med is None:
            continue
        label = 0 if lat.x < med.x else 1
        d = np.asarray(displays(ref), dtype=np.float32)
        for img, lab in ((d, label), (d[:, ::-1], 1 - label)):
            x.append(view_features(img))
            y.append(lab)
            g.append(i)
    return np.array(x), np.array(y), np.array(g)



def maturity_features(display: np.ndarray, superior: str,
                      heads: Sequence[tuple[float, float, float, tuple[float, float]]]) -> np.ndarray:
    """The hip maturity model's features of an AP pelvis/hip film: the view features of the
    head-up film (:func:`view_features`) and the histogram of oriented gradients of each femoral
    head's neighbourhood (where the physes and the triradiate cartilage show), averaged over the
    heads, then 1 if there was a head.

    ``heads``: ``(x, y, radius_px, lateral)`` in stored image coordinates, ``lateral`` the unit
    vector towards that hip's lateral side (each neighbourhood is mirrored so that its lateral
    side is on the left, as a right hip on a standard display). ``superior``: where the patient's
    head lies on the stored film.

    >>> f = maturity_features(np.zeros((454, 373)), "up", [(120.0, 200.0, 20.0, (-1.0, 0.0))])
    >>> f.shape, float(f[-1])
    ((3594,), 1.0)
    """
    from skimage.feature import hog
    from skimage.transform import resize

    from ..geometry import block_mean
    from .common import crop
    from .network import canonical_transform

    a = np.asarray(display, dtype=np.float32)
    if a.ndim != 2:
        raise LandmarkError("maturity: the image must be a 2-D array")
    t = canonical_transform(a.shape, superior)
    up = t.array(a)
    patches = []
    for head in heads:
        try:
            x, y, r, lateral = head
            x, y, r = float(x), float(y), float(r)
            lat = np.asarray(lateral, float).reshape(2)
        except (TypeError, ValueError):
            raise LandmarkError("maturity: each head is (x, y, radius_px, (lateral x, lateral y))") from None
        if not (np.isfinite([x, y, r, *lat]).all() and r > 0 and float(np.hypot(*lat)) > 0):
            raise LandmarkError("maturity: a head needs a finite position, a positive radius and a lateral direction")
        (cx, cy), = t.apply((x, y))
        sub, _ = crop(up, (float(cx), float(cy)), PATCH_RADII * r)
        if sub.size == 0 or min(sub.shape) < 8 or not np.all(np.isfinite(sub)):
            continue
        factor = max(sub.shape) // (2 * PATCH_SIZE)  # fast to about twice the size, then smooth resizing
        q = resize(block_mean(sub, factor) if factor > 1 else sub, (PATCH_SIZE, PATCH_SIZE), anti_aliasing=True)
        if float((t.matrix[:, :2] @ lat)[0]) > 0:  # lateral towards +x: mirror
            q = q[:, ::-1]
        lo, hi = np.percentile(q, (1.0, 99.0))
        q = np.clip((q - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
        patches.append(hog(q, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)))
    n_hog = 9 * 4 * (PATCH_SIZE // 8 - 1) ** 2
    head = np.mean(patches, axis=0) if patches else np.zeros(n_hog)
    return np.concatenate([view_features(up), head, [1.0 if patches else 0.0]])


def skeletal_immaturity(display: np.ndarray, superior: str,
                        heads: Sequence[tuple[float, float, float, tuple[float, float]]],
                        model: ViewModel | None = None) -> float:
    """The probability that an AP pelvis/hip film shows a skeletally immature pelvis (a child's
    or an adolescent's), by the shipped ``models/hip-maturity`` model (``python
    scripts/train_hip_maturity.py``; features: :func:`maturity_features`).

    >>> 0.0 <= skeletal_immaturity(np.zeros((454, 373)), "up", []) <= 1.0
    True
    """
    m = model or load_view_model(default_view_model_path("hip-maturity"))
    return float(m.probabilities(maturity_features(display, superior, heads))[m.classes.index("immature")])
