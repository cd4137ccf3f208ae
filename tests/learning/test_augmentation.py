"""Augmentation changes training inputs only, keeps their shape, range and labels."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitwidgets.learning.augmentation import (
    RandomStrokeWidth,
    augment,
    augmentation_layers,
    with_augmentation,
)
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5


@pytest.fixture(scope="module")
def digits(sample_arrays):
    """64 real training digits, float32 in [0, 1], channel last as the layers receive them."""
    return (sample_arrays["x_train"][:64].astype("float32") / 255.0)[..., None]


def _apply(batch, training, seed=0):
    for layer in augmentation_layers(seed):
        batch = layer(batch, training=training)
    return keras.ops.convert_to_numpy(batch)


def test_training_mode_changes_every_digit_but_keeps_shape_and_range(digits):
    changed = _apply(digits, training=True)
    assert changed.shape == digits.shape
    assert changed.min() >= 0.0 and changed.max() <= 1.0 + 1e-6
    per_digit = np.abs(changed - digits).reshape(len(digits), -1).max(axis=1)
    assert (per_digit > 0.1).all()
    # Still the same digits: mostly where they were, with about as much ink.
    assert np.corrcoef(changed.ravel(), digits.ravel())[0, 1] > 0.3
    assert 0.5 < changed.sum() / digits.sum() < 2.0


def test_inference_mode_leaves_digits_untouched(digits):
    np.testing.assert_array_equal(_apply(digits, training=False), digits)


def test_two_epochs_see_different_versions_of_a_digit(digits):
    layers = augmentation_layers(seed=3)
    first, second = digits, digits
    for layer in layers:
        first = layer(first, training=True)
    for layer in layers:
        second = layer(second, training=True)
    assert not np.allclose(keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(second))


def test_stroke_width_thickens_and_thins_per_digit(digits):
    only_thicker = RandomStrokeWidth(thinning=0.0, thickening=1.0, seed=1)
    only_thinner = RandomStrokeWidth(thinning=1.0, thickening=0.0, seed=1)
    ink = digits.sum(axis=(1, 2, 3))
    thicker = keras.ops.convert_to_numpy(only_thicker(digits, training=True)).sum(axis=(1, 2, 3))
    thinner = keras.ops.convert_to_numpy(only_thinner(digits, training=True)).sum(axis=(1, 2, 3))
    assert (thicker >= ink - 1e-3).all() and (thinner <= ink + 1e-3).all()
    assert thicker.mean() > 1.2 * ink.mean() and thinner.mean() < 0.9 * ink.mean()
    # Amounts differ per digit.
    assert np.std(thicker / ink) > 0.05
    with pytest.raises(ValueError, match="thinning"):
        RandomStrokeWidth(thinning=1.5)


def test_augmented_digits_are_still_their_label(sample_arrays):
    """The shipped model (a stand-in for a reader) reads augmented test digits as their label."""
    from digitwidgets.learning.pretrained import load_pretrained

    model, _ = load_pretrained()
    x_test = sample_arrays["x_test"][:500].astype("float32") / 255.0
    y_test = sample_arrays["y_test"][:500]
    varied = augment(x_test, seed=5)
    assert varied.shape == x_test.shape and not np.allclose(varied, x_test)
    plain_accuracy = np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test)
    varied_accuracy = np.mean(model.predict(varied, verbose=0).argmax(1) == y_test)
    assert varied_accuracy > plain_accuracy - 0.05, (varied_accuracy, plain_accuracy)


def test_with_augmentation_trains_the_plain_model_itself(sample_arrays):
    x = sample_arrays["x_train"][:256].astype("float32") / 255.0
    y = sample_arrays["y_train"][:256]
    model = build_lenet5(Hyperparameters(seed=6))
    before = [weight.copy() for weight in model.get_weights()]
    training_model = with_augmentation(model, seed=6)
    training_model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    after = model.get_weights()
    assert any(not np.allclose(b, a) for b, a in zip(before, after, strict=True))
    # The plain model carries no augmentation layers and gives the same answers as the wrapper
    # outside training.
    assert not any(isinstance(layer, RandomStrokeWidth) for layer in model.layers)
    np.testing.assert_allclose(
        model.predict(x[:16], verbose=0), training_model.predict(x[:16], verbose=0), atol=1e-5
    )


def test_a_model_with_augmentation_layers_saves_and_loads(tmp_path, digits):
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for layer in augmentation_layers(seed=7):
        x = layer(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[-2], RandomStrokeWidth)
    np.testing.assert_allclose(
        loaded.predict(digits[:4], verbose=0), model.predict(digits[:4], verbose=0)
    )


def test_a_model_augments_only_when_training(digits):
    """Called directly, as Recognizer does, a model holding the layers leaves digits be."""
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for layer in augmentation_layers(seed=8):
        x = layer(x)
    model = keras.Model(inputs, x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(digits)), digits)
    np.testing.assert_array_equal(model.predict(digits, verbose=0), digits)
    assert not np.allclose(keras.ops.convert_to_numpy(model(digits, training=True)), digits)


def test_distort_bends_and_slants_real_digits_but_keeps_them_digits(sample_arrays):
    from digitwidgets.learning.augmentation import distort

    originals = sample_arrays["x_test"][:50].astype(np.float32) / 255.0
    bent = distort(originals, seed=3)
    assert bent.shape == originals.shape and bent.dtype == np.float32
    assert bent.min() >= 0 and bent.max() <= 1
    np.testing.assert_array_equal(bent, distort(originals, seed=3))
    changes = np.abs(bent - originals).sum(axis=(1, 2)) / originals.sum(axis=(1, 2))
    assert changes.min() > 0.05  # every digit moved
    # ...but stays close to itself: most of its ink still overlaps the original's.
    overlap = (np.minimum(bent, originals).sum(axis=(1, 2))) / originals.sum(axis=(1, 2))
    assert np.median(overlap) > 0.4
    assert np.allclose(distort(originals[:5], seed=1, elastic=0.0, slant=0.0), originals[:5])
