"""The LeNet-5 shipped in the package: loads, is small, and reads drawn digits as stated."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.pretrained import MODEL_PATH, load_pretrained, pretrained_info
from digitwidgets.reading.preprocessing import preprocess_drawing
from digitwidgets.reading.recognition import Recognizer
from tests.support import fat_marker_picture
from tools.drawn_digits import make_drawn_digits, predicted_accuracy
from tools.drawn_variations import VARIATIONS, make_varied_drawn_digits, variation_of

# The model's JSON holds what it scored when trained (scripts/train_pretrained.py); the tests
# measure again and allow half a point for other platforms' numerics. The floors are issue
# 15's goals: 98% on the drawn-digit set, not below the 97.5% of the model before on MNIST.
DRAWN_DIGITS_FLOOR = 0.98
MNIST_TEST_FLOOR = 0.975
# Issue 15's goal on the broader drawn set: every variation and every digit, flagged 1s too.
BROAD_FLOOR = 0.97


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()


def test_shipped_file_is_small_and_holds_a_plain_lenet5(pretrained):
    model, _ = pretrained
    assert MODEL_PATH.stat().st_size < 1_000_000
    assert 50_000 < model.count_params() < 70_000
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)
    # No augmentation layers inside: the file loads with plain Keras, nothing registered.
    assert not [layer.name for layer in model.layers if "random" in type(layer).__name__.lower()]


def test_reads_the_drawn_digit_set_above_the_floor(pretrained):
    model, info = pretrained
    accuracy = make_drawn_digits().accuracy(model, "mnist")
    assert accuracy >= DRAWN_DIGITS_FLOOR
    assert accuracy == pytest.approx(info["drawn_digits_accuracy"]["mnist"], abs=0.005)


def test_reads_mnist_test_digits_above_the_floor(pretrained, sample_arrays):
    model, info = pretrained
    accuracy = predicted_accuracy(
        model, sample_arrays["x_test"].astype(np.float32) / 255.0, sample_arrays["y_test"]
    )
    assert accuracy >= MNIST_TEST_FLOOR
    assert accuracy == pytest.approx(info["mnist_test_accuracy"], abs=0.005)


def test_reads_every_variation_of_the_broader_drawn_set(pretrained):
    model, info = pretrained
    broad = make_varied_drawn_digits()  # through the pad's path: strokes drawn at MNIST's scale
    images = np.array([preprocess_drawing(drawing).image for drawing in broad.drawings])
    right = model.predict(images, verbose=0, batch_size=512).argmax(axis=1) == broad.labels
    assert right.mean() == pytest.approx(info["broad_drawn_accuracy"], abs=0.005)
    variations = np.array([variation_of(style) for style in broad.styles])
    for variation in VARIATIONS:  # small, large, in a corner, thin, thick, shaky...
        assert right[variations == variation].mean() >= BROAD_FLOOR, variation
    for digit in range(10):
        assert right[broad.labels == digit].mean() >= BROAD_FLOOR, digit


def test_reads_real_digits_uploaded_as_drawn_with_a_fat_marker(pretrained, sample_arrays):
    # Uploads reach the model with their own pen (not thinned): this model reads thick
    # strokes better as they are (docs/handwriting.md, "Uploads").
    recognizer = Recognizer(pretrained[0])
    right = []
    for digit in range(10):
        for image in sample_arrays["x_test"][sample_arrays["y_test"] == digit][:5]:
            right.append(recognizer.recognize(fat_marker_picture(image)).digit == digit)
    assert np.mean(right) >= 0.9


def test_info_states_the_accuracies_in_a_sentence():
    info = pretrained_info()
    # Full MNIST's training digits less the sample's 1,500 test digits, which it never saw.
    assert info["train_digits"] == 58_500 and info["hyperparameters"]["augmentation"] is True
    assert info["mnist_official_test_digits"] == 10_000
    for accuracy in (
        info["mnist_official_test_accuracy"],
        info["drawn_digits_accuracy"]["mnist"],
        info["broad_drawn_accuracy"],
    ):
        assert f"{accuracy:.1%}" in info["description"]


def test_each_load_is_a_separate_model(pretrained, digit_images):
    model, _ = pretrained
    other, _ = load_pretrained()
    other.layers[-1].kernel.assign(np.zeros(other.layers[-1].kernel.shape, np.float32))
    image = digit_images[2][None].astype(np.float32) / 255.0
    assert int(np.argmax(model.predict(image, verbose=0))) == 2
