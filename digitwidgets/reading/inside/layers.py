"""Every layer's output for a digit in one traced call, and the learned convolution filters.

A ``LayerProbe`` calls a copy of a model's graph with one output per shown layer through a
``tf.function`` traced once per architecture (``reading.inference.Architecture``): all
outputs of one drawing cost about a millisecond (``bench/bench_inside.py``), instead of a
Keras sub-model per layer per drawing. Training hands over a new model copy at every epoch
end; the copies share one architecture, so they share the trace and an epoch end costs a
weight copy, not a new trace; a look at one digit (``LayerProbe.look``) takes the model's
weights as arguments and copies nothing.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .. import inference
from ..preprocessing import SIZE
from ..saliency import logits_head, normalized

KINDS = ("input", "convolution", "pooling", "dense", "output")
_LOOKS_KEPT = 4
_POOLING = ("MaxPooling2D", "AveragePooling2D")


class ArchitectureError(ValueError):
    """The model is not a LeNet-style network these views can open up; the message says why."""


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the architecture strip."""

    name: str
    kind: str  # one of KINDS
    output_shape: tuple[int, ...]  # without the batch dimension, e.g. (28, 28, 6)
    parameters: int
    description: str  # e.g. "convolution 5×5, 6 filters, relu"

    @property
    def shape_text(self) -> str:
        """The output shape as "28×28×6"."""
        return "×".join(str(size) for size in self.output_shape)

    @property
    def has_maps(self) -> bool:
        """Whether the output is a stack of 2-D maps (convolutions, pooling)."""
        return len(self.output_shape) == 3


@dataclass(frozen=True, eq=False)
class Look:
    """One digit as one model sees it, from one traced call (``LayerProbe.look``).

    ``outputs`` holds each shown layer's output as ``LayerProbe.outputs`` gives it, the last
    being the model's own output; ``saliency`` is what ``saliency.saliency`` gives for the
    digit. The arrays are read-only: every reader of this model and digit shares them.
    """

    outputs: dict[str, np.ndarray]
    saliency: np.ndarray

    @property
    def probabilities(self) -> np.ndarray:
        """The model's output for the digit (its last layer's), (10,)."""
        return next(reversed(self.outputs.values()))


class LayerProbe:
    """All shown layers' outputs for a batch of 28x28 digits, from one traced call.

    Probes of models with the same architecture share one trace (a clone of the graph with
    one output per shown layer). A look at one digit passes its model's weights to the call;
    the batch calls load them into the clone first if another model's are there.
    Thread-safe.

    Raises:
        ArchitectureError: if the model has no convolution, is not a Keras graph, or does not
            read 28x28 digits into 10 outputs.
    """

    def __init__(self, model):
        """Describe ``model``'s layers, reusing (or tracing) the function giving their outputs."""
        # A weak reference: probes are cached per model and must not keep models alive.
        self._model = weakref.ref(model)
        self._architecture = inference.architecture(model)
        if not self._architecture.described:
            raise ArchitectureError(
                "This model cannot be opened up: Keras cannot describe it as a graph of layers."
            )
        self._functions = self._architecture.function("layer probe", _Trace)
        self.layers: tuple[LayerInfo, ...] = self._functions.layers
        self._looks: OrderedDict[bytes, Look] = OrderedDict()  # the last few digits' looks
        self._lock = threading.Lock()

    def look(self, image28: np.ndarray) -> Look:
        """Every shown layer's output for one (28, 28) image in [0, 1], and its saliency.

        One traced call gives both: at each epoch's end the pad's reading, the saliency, the
        layers view and the explanation all ask about the same drawing, and the first call
        answers the rest (the last few digits are remembered).

        Raises:
            ValueError: if the image does not hold 28 x 28 values.
        """
        image = np.array(image28, dtype=np.float32)  # a copy: the look keeps it
        if image.size != SIZE * SIZE:
            raise ValueError(f"Expected a 28x28 image, got shape {image.shape}.")
        image = image.reshape(1, SIZE, SIZE)
        key = image.tobytes()
        with self._lock:
            found = self._looks.get(key)
        if found is not None:
            return found
        # The model's own weights go into the call: no copy into the architecture's clone,
        # no lock shared with the other models of the architecture (under a training both
        # cost more than the call: 3.7 ms an epoch, the copy alone).
        model = self._alive()  # held through the call: its variables are read then
        values, evidence = self._functions.look(model.weights, image)
        outputs = {"input": image[0, ..., None]}
        for layer, array in zip(self.layers[1:], values, strict=True):
            outputs[layer.name] = np.asarray(array)[0]
        found = Look(outputs, normalized(np.asarray(evidence)))
        for array in (*outputs.values(), found.saliency):
            array.setflags(write=False)
        with self._lock:
            found = self._looks.setdefault(key, found)
            self._looks.move_to_end(key)
            while len(self._looks) > _LOOKS_KEPT:
                self._looks.popitem(last=False)
        return found

    def outputs(self, image28: np.ndarray) -> dict[str, np.ndarray]:
        """Each shown layer's output for one (28, 28) image in [0, 1]: ``{name: array}``.

        The input is under "input" as (28, 28, 1); maps are (H, W, C); dense layers (N,).
        The arrays are read-only (``look``'s, shared).

        Raises:
            ValueError: if the image does not hold 28 x 28 values.
        """
        return dict(self.look(image28).outputs)

    def outputs_batch(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Each shown layer's outputs for (N, 28, 28) images in [0, 1]: ``{name: (N, ...)}``."""
        images = np.asarray(images, dtype=np.float32).reshape(-1, SIZE, SIZE)
        with self._architecture.holding(self._alive()):
            values = self._functions.call(images)
            values = [np.asarray(array) for array in values]
        result = {"input": images[..., None]}
        for layer, array in zip(self.layers[1:], values, strict=True):
            result[layer.name] = array
        return result

    def filters(self) -> dict[str, np.ndarray]:
        """Each convolution's kernels: ``{name: (out, in, height, width)}``: c3 (16, 6, 5, 5)."""
        model = self._alive()
        kernels = {
            layer.name: np.asarray(model.get_layer(layer.name).get_weights()[0])
            for layer in self.layers
            if layer.kind == "convolution"
        }
        return {name: np.transpose(k, (3, 2, 0, 1)) for name, k in kernels.items()}

    def penultimate(self, images: np.ndarray, batch_size: int = 1000):
        """``(features, probabilities)`` for (N, 28, 28) images (uint8 0..255 or float [0, 1]).

        ``features`` is the input of the last layer (LeNet-5: f6's 84 values), float32 (N, D).
        """
        images = np.asarray(images)
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        features, probabilities = [], []
        model = self._alive()
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size].astype(np.float32) / scale
            with self._architecture.holding(model):
                values, output = self._functions.penultimate(chunk.reshape(-1, SIZE, SIZE))
                values, output = np.asarray(values), np.asarray(output)
            features.append(values.reshape(len(chunk), -1))
            probabilities.append(output.reshape(len(chunk), -1))
        if not features:
            return np.zeros((0, 0), np.float32), np.zeros((0, 10), np.float32)
        return np.concatenate(features), np.concatenate(probabilities)

    def _alive(self):
        model = self._model()
        if model is None:
            raise RuntimeError("The model of this probe no longer exists.")
        return model


class _Trace:
    """The functions giving every shown layer's output, traced on an architecture's clone."""

    def __init__(self, clone):
        import tensorflow as tf

        from ...keras_import import keras

        self.layers, names = _describe(clone)
        probe = keras.Model(clone.input, [clone.get_layer(n).output for n in names])
        features = keras.Model(clone.input, clone.layers[-1].input)
        input_shape = tuple(clone.inputs[0].shape[1:])
        spec = [tf.TensorSpec((None, SIZE, SIZE), tf.float32)]

        @tf.function(input_signature=spec)
        def call(images):
            return probe(tf.reshape(images, (-1, *input_shape)), training=False)

        @tf.function(input_signature=spec)
        def penultimate(images):
            batch = tf.reshape(images, (-1, *input_shape))
            return features(batch, training=False), clone(batch, training=False)

        # One forward pass gives every output and the score saliency explains (the logits
        # from the last layer's input, or its output); one backward pass, the saliency. The
        # weights are arguments (Keras's stateless scope reads them for the clone's
        # variables): any model of the architecture is looked at as it is.
        parts = keras.Model(clone.input, [*probe.outputs, clone.layers[-1].input])
        head = logits_head(clone)
        variables = list(clone.weights)

        @tf.function(
            input_signature=[
                [tf.TensorSpec(v.shape, v.dtype) for v in variables],
                tf.TensorSpec((1, SIZE, SIZE), tf.float32),
            ]
        )
        def look(weights, image):
            with keras.StatelessScope(state_mapping=list(zip(variables, weights, strict=True))):
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    batch = tf.reshape(image, (1, *input_shape))
                    *outputs, last_input = parts(batch, training=False)
                    scores = outputs[-1] if head is None else head(last_input)
                    score = scores[0, tf.argmax(scores, axis=-1)[0]]
                gradient = tf.reshape(tape.gradient(score, image), (1, SIZE, SIZE))
            return outputs, gradient * image

        self._look = look
        self._concrete_look = None
        self._lock = threading.Lock()
        self.call = call
        self.penultimate = penultimate

    def look(self, weights, image: np.ndarray):
        """``(outputs, gradient x input)`` of one (1, 28, 28) image for the model whose
        ``weights`` (its variables, in the architecture's order) are given.

        The concrete function is called directly: matching the arguments of the traced one
        cost about a millisecond a call. Traced on first use, not with the probe (the map
        of digits only needs ``penultimate``).
        """
        with self._lock:
            if self._concrete_look is None:
                self._concrete_look = self._look.get_concrete_function()
        return self._concrete_look([w.value for w in weights], image)


def layer_probe(model) -> LayerProbe:
    """The probe for ``model``, kept in the shared per-model cache (``reading.inference``).

    Probes share one trace per architecture: training hands over a new model copy at each
    epoch end, and its probe reuses the trace of the previous copy and only copies the
    weights in.

    Raises:
        ArchitectureError: see ``LayerProbe``.
    """
    return inference.traced(model, "layer probe", LayerProbe)


def _describe(model) -> tuple[tuple[LayerInfo, ...], list[str]]:
    """The strip's layers and the names of those whose outputs are probed (all but input)."""
    from ...keras_import import keras

    try:
        inputs = model.inputs
        input_shape = tuple(inputs[0].shape[1:])
        output_shape = tuple(model.outputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError) as error:
        raise ArchitectureError(
            "This model has no fixed input and output (a subclassed model?), so its layers "
            "cannot be shown."
        ) from error
    if None in input_shape or int(np.prod(input_shape)) != SIZE * SIZE or output_shape != (10,):
        raise ArchitectureError(
            f"This model reads {input_shape} into {output_shape}; the layer views need one "
            "that reads a 28×28 digit into 10 probabilities."
        )
    infos = [LayerInfo("input", "input", (SIZE, SIZE, 1), 0, "the 28×28 digit the model reads")]
    names = []
    last = model.layers[-1]
    for layer in model.layers:
        kind = _kind(layer, last)
        if kind is None:
            continue
        shape = tuple(int(size) for size in layer.output.shape[1:])
        infos.append(LayerInfo(layer.name, kind, shape, int(layer.count_params()), _text(layer)))
        names.append(layer.name)
    kinds = {info.kind for info in infos}
    if "convolution" not in kinds or not isinstance(last, keras.layers.Dense):
        found = ", ".join(type(layer).__name__ for layer in model.layers) or "no layers"
        raise ArchitectureError(
            "This model is not a LeNet-style network (it needs convolutions and a final dense "
            f"layer; it has {found}), so its feature maps cannot be shown."
        )
    return tuple(infos), names


def _kind(layer, last) -> str | None:
    name = type(layer).__name__
    if name == "Conv2D":
        return "convolution"
    if name in _POOLING:
        return "pooling"
    if name == "Dense":
        return "output" if layer is last else "dense"
    return None


def _text(layer) -> str:
    config = layer.get_config()
    activation = config.get("activation")
    name = type(layer).__name__
    if name == "Conv2D":
        height, width = config["kernel_size"]
        return f"convolution {height}×{width}, {config['filters']} filters, {activation}"
    if name in _POOLING:
        kind = "max" if name.startswith("Max") else "average"
        height, width = config["pool_size"]
        return f"{kind} pooling {height}×{width}"
    return f"dense, {config['units']} units, {activation}"
