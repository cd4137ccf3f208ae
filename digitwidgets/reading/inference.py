"""One cache, per model, of the traced functions that run it, shared by every reader of a model.

Calling a Keras model through a ``tf.function`` costs well under a millisecond for a digit
once traced; tracing costs 0.1 to 0.5 s. Recognition, saliency, evaluation and the layer
probe all need such functions of the current model. ``traced(model, name, build)`` builds
each one once per model and hands the same one to every caller, from any thread; the
recognizer and the evaluation share ``probabilities(model)``.

Entries are keyed weakly by the model: a model nobody else holds any more (training hands
over a new copy at every epoch end) is freed together with its functions. So what ``build``
returns must not hold the model itself (its layers and variables are fine): a strong
reference from a value to its key would keep both alive for ever.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

SIZE = 28

_entries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_entries_lock = threading.Lock()


class _Entry:
    """One model's functions, and a lock per function under which it is built."""

    def __init__(self) -> None:
        self.functions: dict[str, Any] = {}
        self.locks: dict[str, threading.Lock] = {}


def traced(model, name: str, build: Callable[[Any], Any]) -> Any:
    """``build(model)``, built once per model and ``name`` and then shared; thread-safe.

    Two threads asking at once for a function not built yet build it once: the second waits
    for the first. Other functions, of this model or another, are not held up meanwhile (a
    saliency trace does not delay a recognition). If ``build`` raises, nothing is kept and
    the next call tries again.
    """
    with _entries_lock:
        entry = _entries.get(model)
        if entry is None:
            entry = _entries[model] = _Entry()
        function = entry.functions.get(name)
        if function is not None:
            return function
        lock = entry.locks.setdefault(name, threading.Lock())
    with lock:
        function = entry.functions.get(name)
        if function is None:
            function = build(model)
            with _entries_lock:
                entry.functions[name] = function
    return function


def cached_names(model) -> tuple[str, ...]:
    """The names of the functions built so far for ``model``, for tests and diagnostics."""
    with _entries_lock:
        entry = _entries.get(model)
    return tuple(entry.functions) if entry is not None else ()


def probabilities(model) -> Callable[[np.ndarray], np.ndarray]:
    """A function from float32 (n, 28, 28) images in [0, 1] to the model's (n, 10) output.

    The model is called directly (``model.predict`` builds a data pipeline per call, tens of
    milliseconds for one image) through a ``tf.function`` traced once per model for any n.
    """
    return traced(model, "probabilities", _trace_probabilities)


def image_shape(model) -> tuple[int, ...]:
    """(28, 28), or the shape of one image the model was built for, such as (28, 28, 1)."""
    try:
        shape = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return (SIZE, SIZE)
    if None in shape or int(np.prod(shape)) != SIZE * SIZE:
        return (SIZE, SIZE)
    return shape


def _trace_probabilities(model):
    import tensorflow as tf

    shape = image_shape(model)
    # Weakly: the function is the value of the model's own entry (see the module docstring).
    # It is traced on its first call, while the caller holds the model.
    model_ref = weakref.ref(model)

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32)])
    def call(batch):
        return model_ref()(batch, training=False)

    def run(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        return np.asarray(call(images.reshape((len(images), *shape))))

    return run
