"""Your own handwriting: what the user said about each prediction, and learning from it.

``HandwritingLog`` keeps each recognized drawing with the model's answer and the user's
(a confirmation or the right digit), and counts how often the model read the user right.
``fine_tune`` trains a copy of a model for a few seconds on the user's drawings mixed with
MNIST digits, so it learns the user's hand without forgetting everyone else's. It blocks:
callers run it on a background thread and swap the model in when it returns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..reading.preprocessing import SIZE, Drawing, preprocess_drawing


@dataclass(frozen=True, eq=False)
class Feedback:
    """One drawing the model read, with what the user said the digit is."""

    image: np.ndarray  # (28, 28) float32 in [0, 1]: what the model saw
    predicted: int
    label: int
    drawing: Drawing | None = None

    @property
    def correct(self) -> bool:
        """True when the model read it right."""
        return self.predicted == self.label


class HandwritingLog:
    """The user's drawings with the model's predictions and the user's answers; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: list[Feedback] = []

    def record(self, image, predicted: int, label: int, drawing: Drawing | None = None) -> Feedback:
        """Keep one answer: the (28, 28) ``image`` the model saw, its prediction, the right digit.

        Raises:
            ValueError: if the image is not 28x28 or a digit is not 0-9.
        """
        for name, digit in (("predicted", predicted), ("label", label)):
            if isinstance(digit, bool) or int(digit) != digit or not 0 <= int(digit) <= 9:
                raise ValueError(f"{name} must be a digit 0-9, not {digit!r}.")
        picture = np.asarray(image, dtype=np.float32)
        if picture.shape != (SIZE, SIZE):
            raise ValueError(f"Expected the 28x28 image the model saw, got shape {picture.shape}.")
        entry = Feedback(picture.copy(), int(predicted), int(label), drawing)
        with self._lock:
            self._entries.append(entry)
        return entry

    def confirm(self, recognition, drawing: Drawing | None = None) -> Feedback:
        """The user says ``recognition`` (a ``Recognition``) read the digit right.

        Raises:
            ValueError: if the recognition holds no digit.
        """
        _require_digit(recognition)
        return self.record(recognition.image, recognition.digit, recognition.digit, drawing)

    def correct(self, recognition, label: int, drawing: Drawing | None = None) -> Feedback:
        """The user says the digit in ``recognition`` is ``label`` (which may be what it read).

        Raises:
            ValueError: if the recognition holds no digit or ``label`` is not 0-9.
        """
        _require_digit(recognition)
        return self.record(recognition.image, recognition.digit, label, drawing)

    @property
    def total(self) -> int:
        """How many drawings the user answered for."""
        with self._lock:
            return len(self._entries)

    @property
    def right(self) -> int:
        """How many of them the model had read right."""
        with self._lock:
            return sum(entry.correct for entry in self._entries)

    @property
    def accuracy(self) -> float | None:
        """``right / total``, or None before the first answer."""
        with self._lock:
            total = len(self._entries)
            right = sum(entry.correct for entry in self._entries)
        return right / total if total else None

    def describe(self) -> str:
        """ "Your digits: 7 of 9 read right (78%)", or how to start."""
        with self._lock:
            total = len(self._entries)
            right = sum(entry.correct for entry in self._entries)
        if not total:
            return "Your digits: confirm or correct a prediction to count them."
        return f"Your digits: {right} of {total} read right ({right / total:.0%})"

    def examples(self) -> tuple[np.ndarray, np.ndarray]:
        """The user's drawings as (N, 28, 28) float32 images and their (N,) uint8 labels."""
        with self._lock:
            entries = list(self._entries)
        images = np.zeros((len(entries), SIZE, SIZE), dtype=np.float32)
        for index, entry in enumerate(entries):
            images[index] = entry.image
        return images, np.array([entry.label for entry in entries], dtype=np.uint8)

    def entries(self) -> list[Feedback]:
        """Every answer so far, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._entries.clear()


def fine_tune(
    model,
    drawings,
    labels,
    mnist_x: np.ndarray,
    mnist_y: np.ndarray,
    *,
    epochs: int = 3,
    seed: int = 0,
    mnist_count: int = 2000,
    copies: int = 20,
    learning_rate: float = 1e-4,
):
    """A copy of ``model`` trained a little more on the user's drawings, mixed with MNIST.

    Each drawing is repeated ``copies`` times, each copy shifted, turned, zoomed and made
    thicker or thinner at random (``augmentation.augment``), so the model learns the digit
    rather than its exact pixels; ``mnist_count`` MNIST digits chosen at random come along so
    it keeps reading everyone else's hand. With the defaults and a handful of drawings this
    takes a few seconds on a CPU. ``model`` is not changed.

    Args:
        model: a Keras model taking (N, 28, 28) float32 digits in [0, 1].
        drawings: (N, 28, 28) images as the model sees them, or ``Drawing`` objects.
        labels: the N right digits.
        mnist_x: MNIST digits (M, 28, 28), uint8 0..255 or float in [0, 1].
        mnist_y: their M labels.
        epochs: passes over the mix.
        seed: chooses the MNIST slice and the random changes; same seed, same model.
        mnist_count: MNIST digits mixed in (all of them if fewer).
        copies: varied copies of each drawing.
        learning_rate: Adam's step size, a tenth of training's. Adam moves every weight by
            about this much a step however small the error, so a larger one shakes a model
            that already reads the drawings: at 5e-4 the shipped model, tuned on three
            digits it read with certainty, misread one of them afterwards with three seeds
            of four.

    Raises:
        ValueError: if there are no drawings or their count differs from the labels'.
    """
    from ..keras_import import keras
    from .augmentation import augment
    from .model import seeding_keeps_functions

    images = _as_images(drawings)
    targets = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(images) == 0 or len(images) != len(targets):
        raise ValueError(
            f"Need one label per drawing and at least one drawing; got {len(images)} drawings "
            f"and {len(targets)} labels."
        )
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(mnist_x))[:mnist_count]
    mnist_images = np.asarray(mnist_x)[chosen].astype(np.float32)
    if np.asarray(mnist_x).dtype == np.uint8 or mnist_images.max() > 1.0:
        mnist_images /= 255.0
    repeated = np.repeat(images, copies, axis=0)
    varied = np.concatenate([images, augment(repeated[len(images) :], seed=seed)])
    x = np.concatenate([varied, mnist_images]).astype(np.float32)
    y = np.concatenate([np.repeat(targets, copies), np.asarray(mnist_y)[chosen].astype(np.int64)])
    order = rng.permutation(len(x))

    with seeding_keeps_functions():
        keras.utils.set_random_seed(seed)
    tuned = keras.models.clone_model(model)
    tuned.set_weights(model.get_weights())
    tuned.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    tuned.fit(x[order], y[order], epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    return tuned


def _as_images(drawings) -> np.ndarray:
    """(N, 28, 28) float32 model inputs from Drawing objects or 28x28 images."""
    images = []
    for item in drawings:
        if isinstance(item, Drawing):
            # What recognition gives the model for a drawing, so tuning learns the same view.
            image = preprocess_drawing(item).image
            if image is None:
                raise ValueError("A drawing without ink cannot teach the model anything.")
        else:
            image = np.asarray(item, dtype=np.float32).reshape(SIZE, SIZE)
        images.append(image)
    return np.asarray(images, dtype=np.float32).reshape(-1, SIZE, SIZE)


def _require_digit(recognition) -> None:
    if recognition is None or recognition.digit is None or recognition.image is None:
        raise ValueError("There is no recognized digit to confirm or correct.")
