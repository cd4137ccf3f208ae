"""The traced functions that run a model, shared by every reader of it and by every model of
the same architecture.

Calling a Keras model through a ``tf.function`` costs well under a millisecond for a digit
once traced; tracing costs 0.1 to 0.5 s. Recognition, saliency, evaluation and the layer
probe all need such functions of the current model, and training hands over a new model
copy at every epoch's end: tracing again for each copy would cost more than the readings
themselves. So the functions are traced once per *architecture* (``Architecture``: a private
clone of the graph, which holds one model's weights at a time, copied in when another model
asks), and ``traced(model, name, build)`` keeps, per model, the small wrapper that copies
that model's weights in and calls them; the recognizer and the evaluation share
``probabilities(model)``.

Entries are keyed weakly by the model: a model nobody else holds any more is freed together
with its wrappers. So what ``build`` returns must not hold the model itself (its layers and
variables are fine): a strong reference from a value to its key would keep both alive for
ever.
"""

from __future__ import annotations

import contextlib
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
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
    shape = image_shape(model)
    shared = architecture(model)
    call = shared.function("probabilities", _probabilities_of)
    # Weakly: the wrapper is the value of the model's own entry (see the module docstring).
    model_ref = weakref.ref(model)

    def run(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32).reshape((len(images), *shape))
        with shared.holding(model_ref()):
            return np.asarray(call(images))

    return run


def _probabilities_of(clone):
    import tensorflow as tf

    shape = image_shape(clone)

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32)])
    def call(batch):
        return clone(batch, training=False)

    return call


class Architecture:
    """A private clone of one model architecture, the functions traced on it, and whose
    weights it holds.

    ``function(name, build)`` builds ``build(clone)`` once; ``holding(model)`` is the lock
    under which the clone holds ``model``'s weights (copied in by ``assign_weights`` only when
    the previous caller held another model's: 0.6 ms for LeNet-5). Every model of one
    architecture (each epoch's copy of one run, runs with the same settings) shares the traces.
    """

    def __init__(self, model, *, clone: bool = True):
        """Clone ``model``'s graph (``clone=False``: use the model itself, never copied into,
        through a weak proxy: this object lives in the model's own weakly keyed entry)."""
        from ..keras_import import keras

        self.clone = keras.models.clone_model(model) if clone else weakref.proxy(model)
        self.described = clone  # False: Keras could not describe the model
        self._lock = threading.RLock()
        self._holder: Callable[[], Any] = lambda: None
        self._functions: dict[str, Any] = {}

    def function(self, name: str, build: Callable[[Any], Any]) -> Any:
        """``build(clone)``, built once per ``name`` (a traced function, or anything derived
        from the architecture alone); a build that raises keeps nothing."""
        with self._lock:
            function = self._functions.get(name)
            if function is None:
                function = self._functions[name] = build(self.clone)
            return function

    @contextlib.contextmanager
    def holding(self, model) -> Iterator[Any]:
        """Hold the lock with ``model``'s weights in the clone, which is yielded."""
        if model is None:
            raise RuntimeError("The model of this function no longer exists.")
        with self._lock:
            if self.described and self._holder() is not model:
                assign_weights(self.clone, model.weights)
                self._holder = weakref.ref(model)
            yield self.clone


def assign_weights(model, values) -> None:
    """Put ``values`` into ``model``'s variables, in ``model.weights`` order: arrays, or the
    ``weights`` of a model of the same architecture (copied variable to variable).

    Straight into TensorFlow's variables. Keras's ``set_weights`` converts and checks each
    value first, and a model's ``get_weights`` makes a NumPy copy of each: for LeNet-5's ten
    variables, 1.5 ms from one model to another that way against 0.6 ms this way.
    ``ValueError`` if the count or a shape differs (nothing is assigned then).
    """
    variables = model.weights
    values = list(values)
    if len(values) != len(variables) or any(
        tuple(value.shape) != tuple(variable.shape)
        for value, variable in zip(values, variables, strict=True)
    ):
        raise ValueError(
            f"{model.name} holds {len(variables)} weights of shapes "
            f"{[tuple(v.shape) for v in variables]}, not {[tuple(v.shape) for v in values]}."
        )
    for variable, value in zip(variables, values, strict=True):
        variable.value.assign(getattr(value, "value", value))


_architectures: OrderedDict[str, Architecture] = OrderedDict()
_MAX_ARCHITECTURES = 4
_architectures_lock = threading.Lock()


def architecture(model) -> Architecture:
    """The ``Architecture`` shared by ``model`` and every model described the same way.

    A model Keras cannot describe (``get_config`` fails) gets one of its own, which uses it
    directly. The last few architectures are kept, each with its traces.
    """
    return traced(model, "architecture", _find_architecture)


def adopt(model, like) -> None:
    """Let ``model`` share ``like``'s ``Architecture`` without describing it again (about a
    millisecond): for a model built on ``like``'s own layers, as each epoch's copy is."""
    traced(model, "architecture", lambda _: architecture(like))


def _find_architecture(model) -> Architecture:
    signature = architecture_signature(model)
    if signature is None:
        return Architecture(model, clone=False)
    with _architectures_lock:
        shared = _architectures.get(signature)
        if shared is not None:
            _architectures.move_to_end(signature)
            return shared
    shared = Architecture(model)
    with _architectures_lock:
        shared = _architectures.setdefault(signature, shared)
        while len(_architectures) > _MAX_ARCHITECTURES:
            _architectures.popitem(last=False)
    return shared


def architecture_signature(model) -> str | None:
    """The model's graph and settings as text (two models share traces when it is equal), or
    None when Keras cannot describe it: only Keras's own graph models (functional and
    sequential) are fully described by their config; a subclassed model's is not."""
    kind = type(model)
    if kind.__name__ not in _GRAPH_MODELS or not kind.__module__.startswith("keras."):
        return None
    try:
        config = model.get_config()
    except Exception:  # noqa: BLE001 - a model Keras cannot describe gets traces of its own
        return None
    return config_signature(kind.__name__, config)


def config_signature(kind: str, config: dict) -> str:
    """A model class's name and config as one text: equal for models described alike."""
    return json.dumps({"class": kind, "config": config}, sort_keys=True, default=str)


_GRAPH_MODELS = ("Functional", "Sequential")
