"""How the weights move: each trainable layer's weights and gradients, epoch by epoch.

At each epoch's end a ``DistributionRecorder`` (on the training thread) takes, for every
layer with weights, the quantiles of its weights (kernel and bias together), the quantiles of
their gradients on one fixed small batch (one extra forward and backward pass per epoch,
not per step), and the update ratio: the size of the epoch's last optimizer step against
the weights, ``‖ΔW‖ / ‖W‖``. About 1e-3 is healthy (Karpathy's rule of thumb); far above,
the learning rate is likely too high, far below, too low. The quantiles are TensorBoard's
distributions' (the minimum, the 7th, 16th, 31st, 50th, 69th, 84th and 93rd percentiles
and the maximum: the bands of ±1.5, ±1, ±0.5 standard deviations of a normal).

``Distributions`` is immutable and plain: it travels in training events and is kept with
the run (``RunRecord.distributions``). No TensorFlow is imported until a recorder records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

QUANTILES = (0.0, 0.0668, 0.1587, 0.3085, 0.5, 0.6915, 0.8413, 0.9332, 1.0)
HEALTHY_RATIO = 1e-3
# Ratios this many times above or below HEALTHY_RATIO are called out.
RATIO_TOLERANCE = 10.0
GRADIENT_BATCH = 32
# Quantiles between the extremes are read from at most this many evenly spaced values of a
# layer (f5 holds 48,120): close enough for bands drawn a few pixels wide, and cheap.
QUANTILE_SAMPLE = 2048


@dataclass(frozen=True)
class LayerDistributions:
    """One layer's history: per epoch, weight and gradient quantiles and the update ratio.

    Attributes:
        name: the layer's name ("c1").
        weights: per epoch, the ``QUANTILES`` of its weights.
        gradients: per epoch, the ``QUANTILES`` of their gradients on the fixed batch.
        update_ratios: per epoch, ``‖ΔW‖ / ‖W‖`` of its last step (None if not measured).
    """

    name: str
    weights: tuple[tuple[float, ...], ...] = ()
    gradients: tuple[tuple[float, ...], ...] = ()
    update_ratios: tuple[float | None, ...] = ()

    def advice(self) -> str:
        """What the latest update ratio says of the learning rate, in a sentence ('' if fine)."""
        ratio = next((r for r in reversed(self.update_ratios) if r is not None), None)
        if ratio is None:
            return ""
        if ratio > HEALTHY_RATIO * RATIO_TOLERANCE:
            return (
                f"{self.name}: each step changes its weights by {ratio:.1e} of their size, "
                "far above 1e-3: the learning rate may be too high."
            )
        if ratio < HEALTHY_RATIO / RATIO_TOLERANCE:
            return (
                f"{self.name}: each step changes its weights by {ratio:.1e} of their size, "
                "far below 1e-3: the learning rate may be too low (or, if the loss stopped "
                "falling, one too high has killed its units)."
            )
        return ""


@dataclass(frozen=True)
class Distributions:
    """Every trainable layer's ``LayerDistributions``, in the model's order."""

    layers: tuple[LayerDistributions, ...] = ()

    @property
    def epochs(self) -> int:
        """How many epochs are recorded."""
        return max((len(layer.weights) for layer in self.layers), default=0)

    def layer(self, name: str) -> LayerDistributions:
        """The history of layer ``name``; ``KeyError`` naming the layers if there is none."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        known = ", ".join(layer.name for layer in self.layers) or "none"
        raise KeyError(f"No layer {name!r} recorded; the layers are {known}.")

    def advice(self) -> list[str]:
        """One sentence per layer whose latest update ratio is far from 1e-3."""
        return [text for text in (layer.advice() for layer in self.layers) if text]

    def added(self, epoch: dict[str, tuple]) -> Distributions:
        """A copy with one more epoch: ``{layer: (weights, gradients, update_ratio)}``."""
        names = [layer.name for layer in self.layers]
        names += [name for name in epoch if name not in names]
        layers = []
        for name in names:
            old = next((layer for layer in self.layers if layer.name == name), None)
            old = old or LayerDistributions(name)
            weights, gradients, ratio = epoch.get(name, ((), (), None))
            layers.append(
                LayerDistributions(
                    name,
                    (*old.weights, tuple(weights)),
                    (*old.gradients, tuple(gradients)),
                    (*old.update_ratios, ratio),
                )
            )
        return Distributions(tuple(layers))

    def to_dict(self) -> dict:
        """JSON-ready: ``{"quantiles": [...], "layers": [{"name", "weights", ...}]}``."""
        return {
            "quantiles": list(QUANTILES),
            "layers": [
                {
                    "name": layer.name,
                    "weights": [list(q) for q in layer.weights],
                    "gradients": [list(q) for q in layer.gradients],
                    "update_ratios": list(layer.update_ratios),
                }
                for layer in self.layers
            ],
        }

    @classmethod
    def from_dict(cls, raw) -> Distributions | None:
        """Rebuild from ``to_dict()``; None for anything else (a run saved without them)."""
        try:
            if list(raw["quantiles"]) != list(QUANTILES):
                return None
            layers = tuple(
                LayerDistributions(
                    str(layer["name"]),
                    tuple(tuple(float(v) for v in q) for q in layer["weights"]),
                    tuple(tuple(float(v) for v in q) for q in layer["gradients"]),
                    tuple(None if r is None else float(r) for r in layer["update_ratios"]),
                )
                for layer in raw["layers"]
            )
        except (KeyError, TypeError, ValueError):
            return None
        return cls(layers)


def quantiles(values: np.ndarray) -> tuple[float, ...]:
    """The ``QUANTILES`` of ``values`` (flattened) as floats: the extremes exact, the others
    from at most ``QUANTILE_SAMPLE`` evenly spaced values."""
    flat = np.asarray(values).ravel()
    sample = np.sort(flat[:: max(1, len(flat) // QUANTILE_SAMPLE)].astype(np.float64))
    # np.quantile's linear method, on the sorted sample: a tenth of its cost per call.
    position = _INNER * (len(sample) - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(sample) - 1)
    inner = sample[low] + (sample[high] - sample[low]) * (position - low)
    return (float(flat.min()), *(float(v) for v in inner), float(flat.max()))


_INNER = np.asarray(QUANTILES[1:-1])


def update_ratio(before: list[np.ndarray], after: list[np.ndarray]) -> float | None:
    """``‖after - before‖ / ‖before‖`` over all the arrays; None if the weights are all 0."""
    change = math.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before, strict=True)))
    size = math.sqrt(sum(float(np.sum(b**2)) for b in before))
    return change / size if size > 0 else None


class DistributionRecorder:
    """Records ``Distributions`` at each epoch's end, on the training thread.

    ``step_begins(model)`` before the epoch's last step keeps the weights it starts from (for
    the update ratio); ``epoch_ended(model)`` measures the epoch and returns the run's
    distributions so far. ``images`` (uint8 or float [0, 1], (N, 28, 28)) and ``labels`` are
    the fixed batch the gradients are taken on.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        """Take gradients on ``images`` and ``labels`` at every epoch's end."""
        images = np.asarray(images)
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        self._images = images.astype(np.float32) / scale
        self._labels = np.asarray(labels).astype(np.int32)
        self._before: list[list[np.ndarray]] | None = None
        self._gradient = None  # the traced gradient, found on the first epoch's end
        self.distributions = Distributions()

    def step_begins(self, model) -> None:
        """Keep the trainable weights before the epoch's last step."""
        self._before = [_values(layer) for layer in _trainable(model)]

    def epoch_ended(self, model, weights: list[np.ndarray] | None = None) -> Distributions:
        """Measure every trainable layer now; return all epochs recorded so far.

        ``weights`` is ``model.get_weights()`` if the caller has just taken it (read, never
        written), saving a copy.
        """
        layers = _trainable(model)
        gradients = self._gradients(model, layers)
        before, self._before = self._before, None
        if weights is None:
            weights = model.get_weights()
        position = {id(variable): index for index, variable in enumerate(model.weights)}
        epoch = {}
        for index, layer in enumerate(layers):
            weights_of = [weights[position[id(v)]] for v in layer.trainable_weights]
            ratio = update_ratio(before[index], weights_of) if before is not None else None
            flat_weights = np.concatenate([w.ravel() for w in weights_of])
            flat_gradients = np.concatenate([g.ravel() for g in gradients[index]])
            epoch[layer.name] = (quantiles(flat_weights), quantiles(flat_gradients), ratio)
        self.distributions = self.distributions.added(epoch)
        return self.distributions

    def _gradients(self, model, layers) -> list[list[np.ndarray]]:
        import tensorflow as tf

        trainable = [tf.convert_to_tensor(v.value) for v in model.trainable_variables]
        non_trainable = [tf.convert_to_tensor(v.value) for v in model.non_trainable_variables]
        if self._gradient is None:
            from ..reading import inference

            # Traced once per architecture, on its clone (each run builds a new model: a trace
            # per run would cost more than all its epochs' measurements); the concrete
            # function for this run's shapes, called directly, skips the traced function's
            # matching of its arguments (a millisecond an epoch).
            traced = inference.architecture(model).function("loss gradient", _gradient_function)
            self._gradient = traced.get_concrete_function(
                trainable, non_trainable, self._images, self._labels
            )
        values = self._gradient(trainable, non_trainable, self._images, self._labels)
        by_variable = {
            id(v): g.numpy() for v, g in zip(model.trainable_variables, values, strict=True)
        }
        return [[by_variable[id(v)] for v in layer.trainable_weights] for layer in layers]


def _gradient_function(template):
    """The loss's gradient on a batch for ``template``'s architecture: the variables of the
    model measured are passed in as values (Keras's stateless call), so every model of the
    architecture shares the trace."""
    import tensorflow as tf

    from ..keras_import import keras

    @tf.function(reduce_retracing=True)
    def gradient(trainable, non_trainable, images, labels):
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            predictions, _ = template.stateless_call(
                trainable, non_trainable, images, training=False
            )
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, predictions))
        return tape.gradient(loss, trainable)

    return gradient


def _trainable(model) -> list:
    return [layer for layer in model.layers if layer.trainable_weights]


def _values(layer) -> list[np.ndarray]:
    # A copy: the optimizer's next step may write into the variable's buffer.
    return [np.array(weight.numpy()) for weight in layer.trainable_weights]
