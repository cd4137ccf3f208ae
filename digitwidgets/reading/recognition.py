"""Recognize one digit with a trained model, fast enough to follow a pen.

``model.predict`` sets up a whole data pipeline for every call (tens of milliseconds for one
image). The model is called directly through ``inference.probabilities``, a ``tf.function``
traced once per model and shared with the evaluation, which costs well under a millisecond
for LeNet-5 on a CPU (see ``bench/bench_recognition.py``).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import traitlets

from . import inference
from .inside.layers import ArchitectureError, layer_probe
from .preprocessing import Drawing, Preprocessed, preprocess_digit, preprocess_drawing

NO_MODEL = "Train a model first, or choose a saved one."


@dataclass(frozen=True, eq=False)
class Recognition:
    """What the model saw and what it thinks; ``digit`` is None with a ``message`` saying why."""

    digit: int | None
    probabilities: np.ndarray | None
    preprocessed: Preprocessed | None
    message: str = ""
    # Which pixels spoke for the digit (``saliency.saliency``), when the reading gave it too.
    saliency: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        """True when a digit was recognized."""
        return self.digit is not None

    @property
    def confidence(self) -> float | None:
        """The probability of the recognized digit, or None."""
        if self.digit is None or self.probabilities is None:
            return None
        return float(self.probabilities[self.digit])

    @property
    def image(self) -> np.ndarray | None:
        """The (28, 28) image given to the model, or None."""
        return None if self.preprocessed is None else self.preprocessed.image


def read(model, preprocessed: Preprocessed) -> Recognition:
    """``model``'s reading of a digit already preprocessed (None: no model yet).

    A new model reads the same input again this way: the reading keeps ``preprocessed``.
    The last few readings are remembered: the pad and the prediction view both read the
    drawing again when a new model arrives, and the second gets the first's reading.
    """
    if model is None:
        return Recognition(None, None, preprocessed, NO_MODEL)
    if preprocessed.empty:
        return Recognition(None, None, preprocessed, preprocessed.message)
    remembered = _readings.get(model, preprocessed)
    if remembered is not None:
        return remembered
    try:
        # A LeNet-style model reads the digit, its saliency and every layer's output in one
        # call (``LayerProbe.look``), which the views showing them find already made.
        look = layer_probe(model).look(preprocessed.image)
        output, heat = look.probabilities, look.saliency
    except ArchitectureError:
        output, heat = inference.probabilities(model)(preprocessed.image[None])[0], None
    probabilities = _as_probabilities(output)
    reading = Recognition(int(np.argmax(probabilities)), probabilities, preprocessed, saliency=heat)
    _readings.put(model, preprocessed, reading)
    return reading


class _Readings:
    """The last few ``(model, preprocessed) -> Recognition``, both held weakly."""

    def __init__(self, size: int = 4):
        self._size = size
        self._entries: list[tuple[weakref.ref, weakref.ref, Recognition]] = []
        self._lock = threading.Lock()

    def get(self, model, preprocessed) -> Recognition | None:
        with self._lock:
            for model_ref, input_ref, reading in self._entries:
                if model_ref() is model and input_ref() is preprocessed:
                    return reading
        return None

    def put(self, model, preprocessed, reading: Recognition) -> None:
        try:
            entry = (weakref.ref(model), weakref.ref(preprocessed), reading)
        except TypeError:  # something that cannot be held weakly is not remembered
            return
        with self._lock:
            alive = [e for e in self._entries if e[0]() is not None and e[1]() is not None]
            self._entries = [*alive, entry][-self._size :]


_readings = _Readings()


def preprocess(image_or_drawing: np.ndarray | Drawing) -> Preprocessed:
    """A grey/RGB/RGBA array or a ``Drawing`` as the model reads it (28x28, MNIST's form).

    Raises:
        ValueError: if an array has a shape that is not an image.
    """
    if isinstance(image_or_drawing, Drawing):
        # The strokes are drawn again at MNIST's scale, whatever the pad's size and pen.
        return preprocess_drawing(image_or_drawing)
    return preprocess_digit(np.asarray(image_or_drawing))


class Recognizer(traitlets.HasTraits):
    """Preprocess a drawing or picture and classify it with ``model``.

    ``model`` is a trait: link it to the one owner of the current model
    (``traitlets.dlink((current, "model"), (recognizer, "model"))``). It can change from any
    thread (training hands over a new copy each epoch); a recognition in progress finishes
    with the model it started with.
    """

    model = traitlets.Any(None, allow_none=True, help="The Keras model that reads digits, or None.")

    def __init__(self, model=None, **kwargs):
        """Read with ``model`` (None: every reading says to train a model first)."""
        super().__init__(model=model, **kwargs)

    def recognize(self, image_or_drawing: np.ndarray | Drawing) -> Recognition:
        """Recognize the digit in a grey/RGB/RGBA array or a `Drawing`.

        Raises:
            ValueError: if an array has a shape that is not an image.
        """
        return read(self.model, preprocess(image_or_drawing))


def _as_probabilities(output: np.ndarray) -> np.ndarray:
    values = np.asarray(output, dtype=np.float64).reshape(-1)
    # A model that ends without softmax returns logits; show them as probabilities anyway.
    if values.min() < 0 or not np.isclose(values.sum(), 1.0, atol=1e-3):
        values = np.exp(values - values.max())
    return (values / values.sum()).astype(np.float32)
