"""Explaining one number: the explained value equals the layer's own output, for every kind."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.reading.inside.explain import (
    ConvolutionExplanation,
    DenseExplanation,
    ExplainError,
    PoolingExplanation,
    activate,
    explain,
)
from digitwidgets.reading.inside.layers import layer_probe


def _with_random_biases(model, seed: int):
    """Biases start at zero: random ones make a test fail if the bias were left out."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if len(weights) == 2:
            layer.set_weights([weights[0], rng.normal(0, 0.3, weights[1].shape)])
    return model


@pytest.fixture(scope="module")
def modern():
    return _with_random_biases(build_lenet5(Hyperparameters()), 1)


@pytest.fixture(scope="module")
def classic():
    hp = Hyperparameters(architecture="classic", activation="tanh")
    return _with_random_biases(build_lenet5(hp), 2)


@pytest.fixture(scope="module")
def digit(sample_arrays):
    return sample_arrays["x_test"][0].astype(np.float32) / 255.0


def _pixels(output: np.ndarray, count: int, seed: int):
    rng = np.random.default_rng(seed)
    rows, columns, channels = output.shape
    # The corners (padding reaches them in 'same') and random pixels inside.
    yield 0, 0, 0
    yield channels - 1, rows - 1, columns - 1
    for _ in range(count):
        yield int(rng.integers(channels)), int(rng.integers(rows)), int(rng.integers(columns))


@pytest.mark.parametrize("form", ["modern", "classic"])
@pytest.mark.parametrize("layer", ["c1", "c3"])
def test_a_convolution_s_pixel_is_its_window_times_the_filter_plus_bias_activated(
    request, form, layer, digit
):
    model = request.getfixturevalue(form)
    outputs = layer_probe(model).outputs(digit)
    for channel, row, column in _pixels(outputs[layer], 12, seed=len(layer)):
        explained = explain(model, outputs, layer, (channel, row, column))
        assert isinstance(explained, ConvolutionExplanation)
        assert explained.output == pytest.approx(float(outputs[layer][row, column, channel]))
        assert explained.value == pytest.approx(explained.output, rel=1e-4, abs=1e-5)
        inputs = 1 if layer == "c1" else 6
        assert len(explained.maps) == inputs
        assert all(terms.products.shape == (5, 5) for terms in explained.maps)
        sums = [float(terms.products.sum()) for terms in explained.maps]
        assert explained.total == pytest.approx(sum(sums))
    assert explained.activation == ("relu" if form == "modern" else "tanh")


def test_a_c3_window_is_the_pooled_maps_under_the_filter(modern, digit):
    outputs = layer_probe(modern).outputs(digit)
    explained = explain(modern, outputs, "c3", (3, 2, 4))
    np.testing.assert_allclose(explained.maps[5].window, outputs["s2"][2:7, 4:9, 5], rtol=1e-6)
    kernel = modern.get_layer("c3").get_weights()[0]
    np.testing.assert_allclose(explained.maps[5].weights, kernel[:, :, 5, 3], rtol=1e-6)


def test_a_same_padded_corner_reads_zeros_outside_the_digit(modern, digit):
    outputs = layer_probe(modern).outputs(digit)
    window = explain(modern, outputs, "c1", (0, 0, 0)).maps[0].window
    assert np.all(window[:2, :] == 0) and np.all(window[:, :2] == 0)
    np.testing.assert_allclose(window[2:, 2:], digit[:3, :3], rtol=1e-6)


@pytest.mark.parametrize("form, kind", [("modern", "max"), ("classic", "average")])
@pytest.mark.parametrize("layer", ["s2", "s4"])
def test_a_pooling_pixel_is_its_window_s_max_or_mean(request, form, kind, layer, digit):
    model = request.getfixturevalue(form)
    outputs = layer_probe(model).outputs(digit)
    for channel, row, column in _pixels(outputs[layer], 12, seed=3):
        explained = explain(model, outputs, layer, (channel, row, column))
        assert isinstance(explained, PoolingExplanation)
        assert explained.kind == kind and explained.window.shape == (2, 2)
        assert explained.value == pytest.approx(explained.output, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("form", ["modern", "classic"])
@pytest.mark.parametrize("layer", ["f5", "f6", "probabilities"])
def test_a_dense_unit_is_its_contributions_plus_bias_activated(request, form, layer, digit):
    model = request.getfixturevalue(form)
    outputs = layer_probe(model).outputs(digit)
    units = outputs[layer].shape[-1]
    for unit in (0, units // 2, units - 1):
        explained = explain(model, outputs, layer, unit)
        assert isinstance(explained, DenseExplanation)
        assert explained.value == pytest.approx(explained.output, rel=1e-4, abs=1e-5)
        products = [abs(term.product) for term in explained.largest]
        assert products == sorted(products, reverse=True) and len(products) == 8
        inputs = model.get_layer(layer).get_weights()[0].shape[0]
        assert explained.rest_count == inputs - 8
    if layer == "probabilities":
        assert explained.activation == "softmax" and len(explained.logits) == 10


def test_the_explanation_follows_each_new_model(modern, digit):
    # Training hands over a new copy at each epoch's end; its probe shares the trace.
    first = build_lenet5(Hyperparameters(seed=5))
    before = explain(first, layer_probe(first).outputs(digit), "c1", (1, 14, 14))
    after = explain(modern, layer_probe(modern).outputs(digit), "c1", (1, 14, 14))
    assert after.value != pytest.approx(before.value)
    for explained in (before, after):
        assert explained.value == pytest.approx(explained.output, rel=1e-4, abs=1e-5)


def test_bad_requests_say_what_is_wrong(modern, digit):
    outputs = layer_probe(modern).outputs(digit)
    with pytest.raises(ExplainError, match="no layer 'c9'"):
        explain(modern, outputs, "c9", (0, 0, 0))
    with pytest.raises(ExplainError, match="6 maps of 28×28: no pixel"):
        explain(modern, outputs, "c1", (6, 0, 0))
    with pytest.raises(ExplainError, match="units 0 to 119, not 120"):
        explain(modern, outputs, "f5", 120)
    with pytest.raises(ExplainError, match=r"\(map, row, column\)"):
        explain(modern, outputs, "s2", 3)


def test_activations_match_keras():
    from digitwidgets.keras_import import keras

    values = np.linspace(-3, 3, 13)
    for name in ("relu", "tanh", "sigmoid", "elu", "selu", "softmax"):
        expected = np.asarray(keras.activations.get(name)(values[None].astype("float32")))[0]
        np.testing.assert_allclose(activate(name, values), expected, rtol=1e-5, atol=1e-6)


def test_the_layers_between_shown_ones_carry_numbers_as_keras_does(digit):
    from digitwidgets.keras_import import keras
    from digitwidgets.reading.inside.explain import _carried

    maps = np.random.default_rng(3).normal(size=(1, 6, 5, 3)).astype(np.float32)
    for layer, values in (
        (keras.layers.Reshape((28, 28, 1)), digit[None]),
        (keras.layers.Flatten(), maps),
        (keras.layers.ZeroPadding2D(((1, 2), (3, 0))), maps),
        (keras.layers.Dropout(0.5), maps),
        (keras.layers.RandomRotation(0.2), maps),  # not a mover of numbers: Keras's own call
    ):
        np.testing.assert_allclose(
            _carried(layer, values), layer(values, training=False), err_msg=layer.name
        )
