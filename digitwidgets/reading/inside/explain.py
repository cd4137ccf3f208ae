"""Where one number inside the network comes from, computed from the model's own weights.

``explain(model, outputs, layer, position)`` takes every shown layer's output for a digit
(``LayerProbe.outputs``) and says how one value of ``layer`` is made:

- a convolution's pixel: the 5x5 window of the layer's input under it, one per input map,
  times the filter's weights, the 25 products and their sum per map, the sum over the maps,
  the bias and the activation (``ConvolutionExplanation``);
- a pooling layer's pixel: the 2x2 window of its input and its max or mean
  (``PoolingExplanation``);
- a dense unit: its largest contributions (input times weight), the rest summed, the bias
  and the activation, softmax over all units for the output (``DenseExplanation``).

Each explanation's ``value`` is computed here and ``output`` is what the layer gave; they
agree to float32 rounding. The layer's input is the previous shown layer's output carried
through the layers between them that are not shown (the channel reshape, the classic
form's zero padding to 32x32, flatten, dropout, augmentation: all as at inference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TOP_CONTRIBUTIONS = 8


class ExplainError(ValueError):
    """The number cannot be explained (no such layer, a position outside it); says why."""


@dataclass(frozen=True)
class MapTerms:
    """One input map's part of a convolution's pixel: window times weights, and their sum."""

    channel: int  # the input map, 0-based
    window: np.ndarray  # (5, 5): the input under the filter (zeros where padded)
    weights: np.ndarray  # (5, 5): the filter's weights for this input map
    products: np.ndarray  # (5, 5): window * weights

    @property
    def sum(self) -> float:
        """The sum of the products."""
        return float(self.products.sum())


@dataclass(frozen=True)
class ConvolutionExplanation:
    """A convolution's pixel: each input map's products and sum, the bias, the activation."""

    layer: str
    channel: int
    row: int
    column: int
    maps: tuple[MapTerms, ...]
    bias: float
    activation: str
    output: float  # the layer's own value at this pixel

    @property
    def total(self) -> float:
        """The products summed over every input map, before the bias."""
        return float(sum(terms.sum for terms in self.maps))

    @property
    def before_activation(self) -> float:
        """The sum plus the bias."""
        return self.total + self.bias

    @property
    def value(self) -> float:
        """The activation of the sum plus the bias: the pixel's value."""
        return activate(self.activation, np.array([self.before_activation]))[0]


@dataclass(frozen=True)
class PoolingExplanation:
    """A pooling layer's pixel: the window of its input map, and its max or mean."""

    layer: str
    channel: int
    row: int
    column: int
    kind: str  # "max" or "average"
    window: np.ndarray  # (2, 2)
    output: float

    @property
    def value(self) -> float:
        """The window's max (max pooling) or mean (average pooling)."""
        return float(self.window.max() if self.kind == "max" else self.window.mean())


@dataclass(frozen=True)
class Contribution:
    """One input of a dense unit: its value, its weight, their product."""

    index: int
    input: float
    weight: float

    @property
    def product(self) -> float:
        """Input times weight."""
        return self.input * self.weight


@dataclass(frozen=True)
class DenseExplanation:
    """A dense unit: its largest contributions, the rest summed, the bias, the activation.

    For the output layer (softmax), ``logits`` holds every unit's sum plus bias, since the
    probability of one digit depends on all ten.
    """

    layer: str
    unit: int
    largest: tuple[Contribution, ...]  # by size of the product, largest first
    rest: float  # the other products summed
    rest_count: int
    bias: float
    activation: str
    logits: np.ndarray  # every unit's sum plus bias
    output: float

    @property
    def total(self) -> float:
        """Every product summed, before the bias."""
        return float(sum(term.product for term in self.largest) + self.rest)

    @property
    def before_activation(self) -> float:
        """The sum plus the bias."""
        return self.total + self.bias

    @property
    def value(self) -> float:
        """The activation of the sum plus the bias (softmax: over every unit's)."""
        if self.activation == "softmax":
            return activate("softmax", self.logits)[self.unit]
        return activate(self.activation, np.array([self.before_activation]))[0]


Explanation = ConvolutionExplanation | PoolingExplanation | DenseExplanation


def activate(name: str, values: np.ndarray) -> np.ndarray:
    """Keras's activation ``name`` applied to ``values`` in float64 (NumPy)."""
    x = np.asarray(values, dtype=np.float64)
    if name in ("linear", None):
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    if name == "selu":
        alpha, scale = 1.6732632423543772, 1.0507009873554805
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
    if name == "softmax":
        shifted = np.exp(x - x.max())
        return shifted / shifted.sum()
    raise ExplainError(f"The activation {name!r} cannot be explained step by step.")


def explain(model, outputs: dict[str, np.ndarray], layer: str, position) -> Explanation:
    """How ``layer``'s value at ``position`` is computed for the digit of ``outputs``.

    Args:
        model: the Keras model ``outputs`` were computed with.
        outputs: ``LayerProbe.outputs`` for one digit: ``{name: array}``.
        layer: a convolution, pooling or dense layer's name.
        position: ``(channel, row, column)`` for a map's pixel, ``unit`` for a dense layer.

    Raises:
        ExplainError: no such layer, a layer of another kind, or a position outside it.
    """
    try:
        keras_layer = model.get_layer(layer)
    except ValueError:
        raise ExplainError(f"The model has no layer {layer!r}.") from None
    kind = type(keras_layer).__name__
    if layer not in outputs:
        raise ExplainError(f"Layer {layer!r} is not among the shown layers' outputs.")
    inputs = _layer_input(model, keras_layer, outputs)
    output = np.asarray(outputs[layer])
    if kind == "Conv2D":
        channel, row, column = _map_position(layer, output, position)
        return _convolution(keras_layer, inputs, output, channel, row, column)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        channel, row, column = _map_position(layer, output, position)
        return _pooling(keras_layer, inputs, output, channel, row, column)
    if kind == "Dense":
        unit = _unit(layer, output, position)
        return _dense(keras_layer, inputs, output, unit)
    raise ExplainError(f"{layer} is a {kind}: only convolutions, poolings and dense layers.")


def _map_position(layer: str, output: np.ndarray, position) -> tuple[int, int, int]:
    try:
        channel, row, column = (int(v) for v in position)
    except (TypeError, ValueError):
        raise ExplainError(f"A pixel of {layer} is (map, row, column), not {position!r}.") from None
    rows, columns, channels = output.shape
    if not (0 <= channel < channels and 0 <= row < rows and 0 <= column < columns):
        raise ExplainError(
            f"{layer} has {channels} maps of {rows}×{columns}: no pixel "
            f"(map {channel}, row {row}, column {column})."
        )
    return channel, row, column


def _unit(layer: str, output: np.ndarray, position) -> int:
    if isinstance(position, (tuple, list)) and len(position) == 1:
        position = position[0]
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)):
        raise ExplainError(f"A value of {layer} is a unit number, not {position!r}.")
    if not 0 <= position < output.shape[-1]:
        raise ExplainError(f"{layer} has units 0 to {output.shape[-1] - 1}, not {position}.")
    return int(position)


def _convolution(layer, inputs, output, channel, row, column) -> ConvolutionExplanation:
    config = layer.get_config()
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    height, width = kernel.shape[:2]
    stride_rows, stride_columns = config["strides"]
    if config["padding"] == "same":
        # TensorFlow's 'same': the extra row or column, if any, goes after.
        pad_rows = max((output.shape[0] - 1) * stride_rows + height - inputs.shape[0], 0)
        pad_columns = max((output.shape[1] - 1) * stride_columns + width - inputs.shape[1], 0)
        inputs = np.pad(
            inputs,
            (
                (pad_rows // 2, pad_rows - pad_rows // 2),
                (pad_columns // 2, pad_columns - pad_columns // 2),
                (0, 0),
            ),
        )
    top, left = row * stride_rows, column * stride_columns
    window = np.asarray(inputs[top : top + height, left : left + width, :], dtype=np.float64)
    maps = tuple(
        MapTerms(
            index,
            window[..., index],
            kernel[:, :, index, channel],
            window[..., index] * kernel[:, :, index, channel],
        )
        for index in range(kernel.shape[2])
    )
    return ConvolutionExplanation(
        layer.name,
        channel,
        row,
        column,
        maps,
        float(bias[channel]) if config.get("use_bias", True) else 0.0,
        str(config["activation"]),
        float(output[row, column, channel]),
    )


def _pooling(layer, inputs, output, channel, row, column) -> PoolingExplanation:
    config = layer.get_config()
    height, width = config["pool_size"]
    stride_rows, stride_columns = config["strides"] or (height, width)
    top, left = row * stride_rows, column * stride_columns
    window = np.asarray(inputs[top : top + height, left : left + width, channel], np.float64)
    kind = "max" if type(layer).__name__.startswith("Max") else "average"
    return PoolingExplanation(
        layer.name, channel, row, column, kind, window, float(output[row, column, channel])
    )


def _dense(layer, inputs, output, unit) -> DenseExplanation:
    config = layer.get_config()
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], dtype=np.float64)
    bias = np.asarray(weights[1], np.float64) if len(weights) > 1 else np.zeros(kernel.shape[1])
    values = np.asarray(inputs, dtype=np.float64).ravel()
    products = values * kernel[:, unit]
    order = np.argsort(-np.abs(products), kind="stable")
    count = min(TOP_CONTRIBUTIONS, len(order))
    largest = tuple(
        Contribution(int(i), float(values[i]), float(kernel[i, unit])) for i in order[:count]
    )
    rest = float(products[order[count:]].sum())
    return DenseExplanation(
        layer.name,
        unit,
        largest,
        rest,
        len(order) - count,
        float(bias[unit]),
        str(config["activation"]),
        values @ kernel + bias,
        float(output[unit]),
    )


def _layer_input(model, layer, outputs: dict[str, np.ndarray]) -> np.ndarray:
    """``layer``'s input for the digit: the nearest shown layer's output (or the digit),
    carried through the layers between, called as at inference."""
    between = []
    tensor = layer.input
    while True:
        producer = tensor._keras_history.operation
        if producer.name in outputs and producer.name != "input":
            values = np.asarray(outputs[producer.name])[None]
            break
        if type(producer).__name__ == "InputLayer":
            shape = tuple(model.inputs[0].shape[1:])
            values = np.asarray(outputs["input"]).reshape(1, *shape)
            break
        between.append(producer)
        tensor = producer.input
    for step in reversed(between):
        values = _carried(step, values)
    return values[0]


def _carried(step, values: np.ndarray) -> np.ndarray:
    """``step``'s output at inference. The layers that only move numbers (a reshape, a
    flattening, zero padding, dropout) are done in NumPy: a Keras layer called eagerly costs
    about a millisecond, and the explanation is made again at every epoch's end."""
    kind = type(step).__name__
    channels_last = getattr(step, "data_format", "channels_last") == "channels_last"
    if kind == "Reshape":
        return values.reshape(len(values), *step.target_shape)
    if kind == "Flatten" and channels_last:
        return values.reshape(len(values), -1)
    if kind == "Dropout":
        return values
    if kind == "ZeroPadding2D" and channels_last:
        (top, bottom), (left, right) = step.padding
        return np.pad(values, ((0, 0), (top, bottom), (left, right), (0, 0)))
    return np.asarray(step(values.astype(np.float32), training=False))


def describe_value(value: float) -> str:
    """A number as the explanation shows it: four significant digits, no "-0"."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    return f"{value:.4g}"
