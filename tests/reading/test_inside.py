"""What the network sees inside: layer outputs, filters, features, projections and neighbours.

Checked against Keras itself on real test digits of the embedded sample, with the shipped
pretrained LeNet-5.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.pretrained import load_pretrained
from digitwidgets.reading.inside import (
    ArchitectureError,
    LayerProbe,
    embed_neighbours,
    layer_probe,
    linear_projection,
    nearest_digits,
)
from digitwidgets.reading.inside.projection import EmbeddingCancelled

SHOWN = ["c1", "s2", "c3", "s4", "f5", "f6", "probabilities"]


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()[0]


@pytest.fixture(scope="module")
def test_digits(sample_arrays):
    """The first 40 test digits as the model reads them: float32 (40, 28, 28) in [0, 1]."""
    return sample_arrays["x_test"][:40].astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def features(pretrained, sample_arrays):
    """f6 features and probabilities of all 1,500 test digits."""
    return layer_probe(pretrained).penultimate(sample_arrays["x_test"])


def keras_output(model, name, images):
    return np.asarray(keras.Model(model.input, model.get_layer(name).output)(images))


def test_the_strip_lists_every_shown_layer_with_shape_and_parameters(pretrained):
    probe = layer_probe(pretrained)
    assert [info.name for info in probe.layers] == ["input", *SHOWN]
    assert [info.kind for info in probe.layers] == [
        "input", "convolution", "pooling", "convolution", "pooling", "dense", "dense", "output",
    ]  # fmt: skip
    shapes = {info.name: info.shape_text for info in probe.layers}
    assert shapes == {
        "input": "28×28×1", "c1": "28×28×6", "s2": "14×14×6", "c3": "10×10×16",
        "s4": "5×5×16", "f5": "120", "f6": "84", "probabilities": "10",
    }  # fmt: skip
    assert sum(info.parameters for info in probe.layers) == pretrained.count_params() == 61_706
    assert probe.layers[1].description == "convolution 5×5, 6 filters, relu"


def test_every_layer_output_equals_keras_for_real_digits(pretrained, test_digits):
    probe = layer_probe(pretrained)
    batch = probe.outputs_batch(test_digits)
    for name in SHOWN:
        np.testing.assert_allclose(
            batch[name], keras_output(pretrained, name, test_digits), atol=1e-5, err_msg=name
        )
    one = probe.outputs(test_digits[3])
    for name in SHOWN:
        np.testing.assert_allclose(one[name], batch[name][3], atol=1e-5, err_msg=name)
    assert one["input"].shape == (28, 28, 1)
    assert one["c1"].shape == (28, 28, 6) and one["f6"].shape == (84,)
    # Real digits light the maps up: not a map of zeros.
    assert one["c1"].max() > 0.1


def test_one_look_gives_the_outputs_the_saliency_and_the_reading_of_separate_calls(
    pretrained, test_digits
):
    from digitwidgets.reading import inference
    from digitwidgets.reading.saliency import saliency

    probe = layer_probe(pretrained)
    digit = test_digits[5]
    look = probe.look(digit)
    batch = probe.outputs_batch(digit[None])
    for name in ["input", *SHOWN]:
        np.testing.assert_allclose(look.outputs[name], batch[name][0], atol=1e-5, err_msg=name)
    np.testing.assert_allclose(
        look.probabilities, inference.probabilities(pretrained)(digit[None])[0], atol=1e-6
    )
    # saliency() on its own trace: gradient x input of the top logit, the same numbers.
    own = saliency(pretrained, digit)
    assert own.max() == 1.0
    np.testing.assert_allclose(look.saliency, own, atol=1e-5)
    # The same digit again (another array, equal values) is answered from the first call,
    # and nobody can change what the readers share.
    assert probe.look(digit.copy()) is look
    assert probe.outputs(digit.copy())["c3"] is look.outputs["c3"]
    with pytest.raises(ValueError, match="read-only"):
        look.outputs["c1"][0, 0, 0] = 1.0
    # Another digit gets its own look.
    assert probe.look(test_digits[6]) is not look


def test_the_classic_form_is_opened_up_too(test_digits):
    model = build_lenet5(Hyperparameters(architecture="classic", activation="tanh", epochs=1))
    probe = LayerProbe(model)
    assert [info.name for info in probe.layers] == ["input", *SHOWN]
    assert probe.layers[2].description == "average pooling 2×2"
    batch = probe.outputs_batch(test_digits[:5])
    for name in SHOWN:
        np.testing.assert_allclose(
            batch[name], keras_output(model, name, test_digits[:5]), atol=1e-5, err_msg=name
        )
    # tanh maps go negative: the shared scale must start below 0 for them.
    assert batch["c1"].min() < 0


def test_filters_are_the_convolution_kernels(pretrained):
    filters = layer_probe(pretrained).filters()
    assert filters["c1"].shape == (6, 1, 5, 5) and filters["c3"].shape == (16, 6, 5, 5)
    kernel = pretrained.get_layer("c3").get_weights()[0]  # (5, 5, 6, 16)
    np.testing.assert_array_equal(filters["c3"][4, 2], kernel[:, :, 2, 4])


def test_models_of_one_architecture_share_a_trace_and_keep_their_own_outputs(
    pretrained, test_digits
):
    other = keras.models.clone_model(pretrained)
    other.set_weights([w * 0.5 for w in pretrained.get_weights()])
    first, second = layer_probe(pretrained), layer_probe(other)
    assert first is not second
    # One trace: an epoch's new copy costs no retrace.
    assert first._functions is second._functions
    # Alternate, so that each call must load its own model's weights (a batch) or pass them
    # (a look: a new digit each time, so that none is answered from memory).
    for round_ in range(2):
        for index, (model, probe) in enumerate(((pretrained, first), (other, second))):
            np.testing.assert_allclose(
                probe.outputs_batch(test_digits[:4])["f5"],
                keras_output(model, "f5", test_digits[:4]),
                atol=1e-5,
            )
            digit = test_digits[10 + 2 * round_ + index]
            np.testing.assert_allclose(
                probe.look(digit).outputs["f5"],
                keras_output(model, "f5", digit[None])[0],
                atol=1e-5,
            )
    assert not np.allclose(first.filters()["c1"], second.filters()["c1"])


def test_penultimate_features_are_the_input_of_the_last_layer(pretrained, sample_arrays):
    images = sample_arrays["x_test"][:30]
    features, probabilities = layer_probe(pretrained).penultimate(images, batch_size=7)
    floats = images.astype(np.float32) / 255.0
    expected = np.asarray(keras.Model(pretrained.input, pretrained.layers[-1].input)(floats))
    np.testing.assert_allclose(features, expected, atol=1e-5)
    np.testing.assert_allclose(probabilities, np.asarray(pretrained(floats)), atol=1e-5)


def test_a_model_without_convolutions_gets_a_clear_sentence():
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    with pytest.raises(ArchitectureError, match="not a LeNet-style network.*Flatten, Dense"):
        LayerProbe(keras.Model(inputs, outputs))


def test_a_model_of_another_shape_gets_a_clear_sentence():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    outputs = keras.layers.Dense(5)(keras.layers.Flatten()(x))
    with pytest.raises(ArchitectureError, match="reads a 28×28 digit into 10 probabilities"):
        layer_probe(keras.Model(inputs, outputs))


def test_an_image_that_is_not_28x28_is_refused(pretrained):
    with pytest.raises(ValueError, match="28x28"):
        layer_probe(pretrained).outputs(np.zeros((20, 20), np.float32))


def test_the_neighbours_of_a_test_digit_are_mostly_of_its_class(features, sample_arrays):
    feats, probabilities = features
    labels = sample_arrays["y_test"].astype(int)
    read = np.argmax(probabilities, axis=1)
    same = 0
    for digit in range(10):
        for index in np.flatnonzero(labels == digit)[:3]:
            nearest = nearest_digits(feats, feats[index], 9)
            assert nearest[0] == index  # itself, at distance 0
            neighbour_labels = labels[nearest[1:]]
            # A digit the model misreads (test digit 10, a 2 written like a 1 with a base)
            # sits among the digits it was read as.
            expected = digit if read[index] == digit else read[index]
            assert expected in neighbour_labels, (index, neighbour_labels)
            same += int((neighbour_labels == digit).sum())
    assert same / (30 * 8) > 0.9


def test_the_linear_projection_places_a_digit_where_its_features_say(features):
    feats, _ = features
    projection = linear_projection(feats)
    assert projection.positions.shape == (1500, 2)
    np.testing.assert_allclose(projection.positions.mean(axis=0), 0, atol=1e-3)
    spread = projection.positions.var(axis=0)
    assert spread[0] >= spread[1] > 0  # the first component explains the most
    np.testing.assert_allclose(projection.place(feats[17]), projection.positions[17], atol=1e-4)
    with pytest.raises(ValueError):
        linear_projection(feats[:1])


def test_tsne_keeps_digits_of_a_class_together_and_reports_progress(features, sample_arrays):
    feats, _ = features
    labels = sample_arrays["y_test"][:300].astype(int)
    reported = []
    projection = embed_neighbours(feats[:300], progress=reported.append)
    assert projection.positions.shape == (300, 2) and projection.method == "t-SNE"
    assert reported[0] == 0.0 and reported[-1] == 1.0 and reported == sorted(reported)
    assert len(reported) > 10
    # On the map, a digit's nearest points are mostly of its own class.
    same = [
        (
            labels[nearest_digits(projection.positions, projection.positions[i], 6)[1:]]
            == labels[i]
        ).mean()
        for i in range(0, 300, 10)
    ]
    assert np.mean(same) > 0.8
    # A new digit is placed among its nearest test digits in feature space.
    place = projection.place(feats[5])
    nearest = nearest_digits(feats[:300], feats[5])
    np.testing.assert_allclose(place, projection.positions[nearest].mean(axis=0), atol=1e-5)


def test_tsne_stops_when_cancelled(features):
    feats, _ = features
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(EmbeddingCancelled):
        embed_neighbours(feats[:200], cancelled=cancelled)
