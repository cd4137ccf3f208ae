"""Why this digit: which pixels of the 28x28 input pushed the model towards its answer.

Gradient times input: the gradient of the predicted class's score with respect to each
pixel, times that pixel's ink. Only ink can count (the background is 0), and ink counts as
much as the score would fall without it, to first order. The score is the class's logit, the
last layer's value before softmax, when the model ends in a softmax ``Dense`` layer: the
probability of a confident answer is flat (about 1) and its gradient nearly 0.

The gradient function is traced once per architecture with ``tf.function`` and shared by
every model of it (``digitwidgets.reading.inference``: each epoch's copy of a training
reuses the trace), so a map costs about a millisecond on a CPU after the first
(``bench/bench_handwriting.py`` measures it).
"""

from __future__ import annotations

import weakref

import numpy as np

from . import inference
from .preprocessing import SIZE


def saliency(model, image28: np.ndarray) -> np.ndarray:
    """Gradient x input for the predicted class: (28, 28) float32 in [0, 1], 1 where it counts most.

    Only pixels that speak for the predicted digit are kept (negative evidence shows as 0).
    All zeros for an empty image.

    Raises:
        ValueError: if ``image28`` does not hold 28 x 28 values.
    """
    image = np.asarray(image28, dtype=np.float32)
    if image.size != SIZE * SIZE:
        raise ValueError(f"Expected a 28x28 image, got shape {image.shape}.")
    explain = inference.traced(model, "saliency", _wrap)
    return normalized(explain(image.reshape(1, SIZE, SIZE)))


def normalized(evidence: np.ndarray) -> np.ndarray:
    """Gradient x input as ``saliency`` shows it: (28, 28) float32, the negative evidence 0
    and the strongest pixel 1 (all zeros when nothing speaks for the digit)."""
    evidence = np.clip(np.asarray(evidence, dtype=np.float32).reshape(SIZE, SIZE), 0.0, None)
    peak = evidence.max()
    return (evidence / peak if peak > 0 else evidence).astype(np.float32)


def logits_head(model):
    """A function from the input of ``model``'s last layer to the class logits when that
    layer is a softmax ``Dense`` (the score to explain), else None (explain its output)."""
    from ..keras_import import keras

    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if not (isinstance(last, keras.layers.Dense) and activation == "softmax"):
        return None

    def logits(values):
        return keras.ops.matmul(values, last.kernel) + last.bias

    return logits


def _wrap(model):
    """``model``'s saliency function: the architecture's trace, with its weights copied in.

    It holds the model weakly: it lives in the model's weakly keyed entry.
    """
    shared = inference.architecture(model)
    explain = shared.function("saliency", _trace)
    model_ref = weakref.ref(model)

    def run(image: np.ndarray) -> np.ndarray:
        with shared.holding(model_ref()):
            return np.asarray(explain(image))

    return run


def _trace(model):
    """A traced function from a (1, 28, 28) image to its gradient x input for the top class,
    built on an architecture's own clone (``inference.Architecture``)."""
    import tensorflow as tf

    score_model, head = _score_parts(model)
    shape = tuple(model.inputs[0].shape[1:])

    @tf.function(input_signature=[tf.TensorSpec((1, SIZE, SIZE), tf.float32)])
    def explain(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            scores = head(score_model(tf.reshape(image, (1, *shape)), training=False))
            top = tf.argmax(scores, axis=-1)[0]
            score = scores[0, top]
        gradient = tf.reshape(tape.gradient(score, image), (1, SIZE, SIZE))
        return gradient * image

    return explain


def _score_parts(model):
    """``(features_model, head)`` where ``head(features_model(x))`` gives the class logits.

    Falls back to the model's own output (``head`` the identity) when its last layer is not a
    softmax ``Dense``.
    """
    from ..keras_import import keras

    head = logits_head(model)
    if head is not None:
        return keras.Model(model.inputs, model.layers[-1].input), head
    return model, lambda values: values


def overlay(image28: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The digit in grey with its saliency in red on top: uint8 (28, 28, 3), for showing.

    Ink is light grey on black as the model sees it; the more a pixel counts, the redder.
    """
    ink = np.clip(np.asarray(image28, dtype=np.float32).reshape(SIZE, SIZE), 0.0, 1.0)
    weight = np.clip(np.asarray(heat, dtype=np.float32).reshape(SIZE, SIZE), 0.0, 1.0)
    grey = 0.45 * ink
    rgb = np.stack([grey + (1.0 - grey) * weight, grey * (1 - weight), grey * (1 - weight)], -1)
    return np.round(rgb * 255).astype(np.uint8)
