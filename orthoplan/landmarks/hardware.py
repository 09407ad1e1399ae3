"""Metal hardware on a film: plates, screws, nails, wires, staples and prostheses.

Landmarks near metal are less reliable: a plate covers the trochanters and the shaft, a nail
fills the canal, a knee replacement has no native condyles. Held out, the learned detectors'
femoral landmarks on the FracAtlas hip films with hardware were a median 11-70 % of the head
diameter from the reading (7-11 % elsewhere), and the knee points on the knee films with
hardware 62 % of the condylar width (2.2 %). So the detectors ask this module, say what it
finds in their notes, and lower the confidence of the landmarks near it.

A small convolutional network (trained by :func:`.training.train_hardware`, exported to
ONNX, run with onnxruntime through :mod:`.network`) sees the whole film reduced to
``input_size`` pixels (256) and gives a coarse map of local evidence (one logit per
``stride`` x ``stride`` cell). The film's probability of hardware is the sigmoid of the
map's soft maximum (log-mean-exp), and the cell of strongest evidence says *where* it is.
Trained on the 1231 FracAtlas hip and knee films with the data set's own hardware flag (33 with
metal), 30 phantom pelvises (6 with a hip prosthesis) and 30 phantom knees; measured by
cross-validation (``scripts/train_hardware.py``; docs/accuracy.md). It finds only some films
with metal (the strongest evidence: plates, nails, prostheses; thin wires and screws are often
missed) and, held out, took none of the 1198 real films without metal for one, though 7 of 54
phantoms (films unlike FracAtlas): its silence says nothing, and a film from elsewhere may be
flagged wrongly (which lowers confidences, never moves a point).

The shipped model is ``models/hardware.{onnx,json,npz}``.

Examples
--------
>>> import numpy as np
>>> film = np.full((454, 373), 0.3, np.float32)
>>> film[100:380, 120:260] = 0.7                    # a bone, no metal
>>> find_hardware(film).found
False
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import LandmarkError
from .network import LandmarkModel, load_model, prepare_input, run

log = logging.getLogger(__name__)

#: The model's view name (``models/hardware.onnx``).
HARDWARE_VIEW = "hardware"
#: From this probability on a film is said to carry metal hardware (chosen on the
#: cross-validation of ``scripts/train_hardware.py``; the model's description keeps its own).
HARDWARE_MIN_PROBABILITY = 0.9
#: On a film with metal, the landmarks near it keep this share of their confidence (the
#: detectors apply it: the femoral landmarks of the hip nearest the metal, every landmark of the
#: knee nearest it). Held out, the femoral landmarks on the FracAtlas hip films with hardware
#: were within 10 % of the head diameter of the reading on 0-50 % of hips (shaft points 0-14 %),
#: on the other adults' films on 48-66 %; the knee points on the knee films with hardware a median
#: 62 % of the condylar width from it.
HARDWARE_PENALTY = 0.5


@dataclass(frozen=True)
class HardwareGuess:
    """What the hardware model sees on a film.

    ``probability`` is the film's; ``x``, ``y`` (stored-image pixels) the centre of the cell
    of strongest evidence, where the metal most likely is.
    """

    probability: float
    x: float
    y: float
    threshold: float = HARDWARE_MIN_PROBABILITY

    @property
    def found(self) -> bool:
        """Hardware on the film (``probability`` at least the model's threshold)."""
        return self.probability >= self.threshold


def load_hardware_model(path: str | os.PathLike | None = None) -> LandmarkModel:
    """The hardware model (``path``, default the shipped one), loaded once per process."""
    return load_model(path, view=HARDWARE_VIEW)


def film_probability(evidence: np.ndarray) -> float:
    """The film's probability of hardware from the evidence map's logits (any shape): the
    sigmoid of their log-mean-exp, a soft maximum (one strong cell is enough).

    >>> round(film_probability(np.array([[-8.0, -8.0], [-8.0, 6.0]])), 3)
    0.99
    """
    z = np.asarray(evidence, np.float64).ravel()
    m = float(z.max())
    lme = m + math.log(float(np.exp(z - m).sum())) - math.log(z.size)
    return float(1.0 / (1.0 + math.exp(-lme)))


def find_hardware(display: np.ndarray, model: LandmarkModel | str | os.PathLike | None = None) -> HardwareGuess:
    """Ask the hardware model about a film (``display``: bone bright, any size, as stored).

    Raises
    ------
    LandmarkError
        For an image that is not 2-D, too small or not finite, or a model that cannot be read.
    """
    from ..geometry import block_mean

    a = np.asarray(display, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) < 8:
        raise LandmarkError("hardware: the image must be a 2-D array of at least 8 x 8 pixels")
    m = model if isinstance(model, LandmarkModel) else load_hardware_model(model)
    # fast to about twice the input by block means (half the time of resampling the whole film),
    # then the network's own reduction; a non-finite pixel makes its block non-finite
    factor = max(a.shape) // (2 * m.input_size)
    small = block_mean(a, factor) if factor > 1 else a
    if not np.all(np.isfinite(small)):
        raise LandmarkError("hardware: the image has non-finite pixel values")
    x, scale = prepare_input(small, m.input_size)
    scale /= factor if factor > 1 else 1
    evidence = run(m, x[None])[0, 0]
    p = film_probability(evidence)
    r, q = np.unravel_index(int(np.argmax(evidence)), evidence.shape)
    cell = m.input_size / evidence.shape[0]
    threshold = float(m.meta.get("threshold", HARDWARE_MIN_PROBABILITY))
    h, w = a.shape
    gx = min(((q + 0.5) * cell) / scale, w)
    gy = min(((r + 0.5) * cell) / scale, h)
    log.debug("hardware: probability %.3f at (%.0f, %.0f)", p, gx, gy)
    return HardwareGuess(p, float(gx), float(gy), threshold)
