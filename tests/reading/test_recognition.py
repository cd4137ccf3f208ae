"""Recognizing real digits with a small real model, and swapping models while recognizing."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from digitwidgets.reading.preprocessing import (
    NOTHING_DRAWN,
    THINNED_STROKE_WIDTH,
    Drawing,
    preprocess_digit,
)
from digitwidgets.reading.recognition import NO_MODEL, Recognition, Recognizer


@pytest.fixture(scope="module")
def trained_model(sample_arrays):
    """LeNet-5 trained for two epochs on 2,000 real digits: good enough to tell them apart."""
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5

    x, y = sample_arrays["x_train"][:2000], sample_arrays["y_train"][:2000]
    model = build_lenet5(Hyperparameters(epochs=2, seed=1))
    model.fit(x.astype("float32") / 255.0, y, epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def untrained_model():
    from digitwidgets.learning.hyperparameters import Hyperparameters
    from digitwidgets.learning.model import build_lenet5

    return build_lenet5(Hyperparameters(seed=2))


def test_no_model_says_train_first(digit_images):
    result = Recognizer().recognize(digit_images[3])
    assert not result.ok
    assert result.digit is None and result.probabilities is None and result.confidence is None
    assert result.message == NO_MODEL
    assert result.image is not None  # the steps can still be shown


def test_nothing_drawn(untrained_model):
    recognizer = Recognizer(untrained_model)
    for blank in (np.zeros((280, 280), np.uint8), Drawing((), 280, 280, 18)):
        result = recognizer.recognize(blank)
        assert not result.ok and result.message == NOTHING_DRAWN
        assert result.image is None


def test_real_test_digits_are_mostly_recognized(trained_model, sample_arrays):
    recognizer = Recognizer(trained_model)
    x, y = sample_arrays["x_test"][:200], sample_arrays["y_test"][:200]
    predicted = np.array([recognizer.recognize(image).digit for image in x])
    assert np.mean(predicted == y) > 0.85


def test_one_digit_per_class_as_arrays_and_upscaled_uploads(trained_model, digit_images):
    recognizer = Recognizer(trained_model)
    right_small = right_large = 0
    for digit, image in digit_images.items():
        small = recognizer.recognize(image)
        upload = np.asarray(Image.fromarray(255 - image).resize((280, 280), Image.BICUBIC))
        large = recognizer.recognize(upload)
        for result in (small, large):
            assert isinstance(result, Recognition) and result.ok and result.message == ""
            assert result.probabilities.shape == (10,)
            assert result.probabilities.dtype == np.float32
            assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
            assert result.confidence == pytest.approx(result.probabilities.max())
        assert large.preprocessed.inverted
        right_small += small.digit == digit
        right_large += large.digit == digit
    assert right_small >= 8 and right_large >= 8


def test_a_drawn_one_is_a_one(trained_model):
    drawing = Drawing((((140.0, 40.0), (145.0, 140.0), (150.0, 240.0)),), 280, 280, 20)
    result = Recognizer(trained_model).recognize(drawing)
    assert result.digit == 1
    assert result.image.shape == (28, 28)


def test_a_big_canvas_gives_the_model_the_same_digit_as_the_usual_one(untrained_model):
    # Big canvases are rasterized scaled down; the model must see the same 28x28 digit.
    seven = ((60.0, 60.0), (220.0, 60.0), (120.0, 240.0))
    usual = Recognizer(untrained_model).recognize(Drawing((seven,), 280, 280, 20))
    scale = 4
    big = tuple((x * scale, y * scale) for x, y in seven)
    large = Recognizer(untrained_model).recognize(Drawing((big,), 280 * scale, 280 * scale, 80))
    assert large.digit == usual.digit
    assert np.abs(large.image - usual.image).max() < 0.05


def test_same_answer_as_model_predict(untrained_model, digit_images):
    result = Recognizer(untrained_model).recognize(digit_images[5])
    expected = untrained_model.predict(result.image[None], verbose=0)[0]
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)


def test_logits_model_gives_probabilities(digit_images):
    import keras

    inputs = keras.Input(shape=(28, 28, 1))
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(inputs))
    result = Recognizer(keras.Model(inputs, outputs)).recognize(digit_images[2])
    assert result.ok
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert result.probabilities.min() >= 0
    assert result.saliency is None  # no layers to open up: the views make their own


def test_a_reading_carries_the_saliency_of_its_digit(trained_model, digit_images):
    from digitwidgets.reading.saliency import saliency

    result = Recognizer(trained_model).recognize(digit_images[7])
    assert result.digit == 7
    np.testing.assert_allclose(result.saliency, saliency(trained_model, result.image), atol=1e-5)


def test_swapping_models_while_recognizing_never_raises(untrained_model, digit_images):
    import keras

    other = keras.models.clone_model(untrained_model)
    recognizer = Recognizer(untrained_model)
    errors, results = [], []
    done = threading.Event()

    def recognize_in_a_loop():
        try:
            while not done.is_set():
                results.append(recognizer.recognize(digit_images[len(results) % 10]))
        except Exception as error:  # whatever escapes is the failure
            errors.append(error)

    worker = threading.Thread(target=recognize_in_a_loop)
    worker.start()
    try:
        for turn in range(60):
            recognizer.model = (untrained_model, other, None)[turn % 3]
            threading.Event().wait(0.005)
    finally:
        done.set()
        worker.join(timeout=60)
    assert not errors
    assert results
    assert {r.message for r in results} <= {"", NO_MODEL}
    assert any(r.ok for r in results)


def test_model_property_swaps(untrained_model):
    recognizer = Recognizer()
    assert recognizer.model is None
    recognizer.model = untrained_model
    assert recognizer.model is untrained_model


def test_recognizing_does_not_change_the_preprocessing(untrained_model, digit_images):
    # An upload goes through preprocess_digit with its own pen: this real 0 is one of MNIST's
    # fattest, which thinning (preprocess_digit's stroke_width) would have changed.
    result = Recognizer(untrained_model).recognize(digit_images[0])
    np.testing.assert_array_equal(result.image, preprocess_digit(digit_images[0]).image)
    thinned = preprocess_digit(digit_images[0], stroke_width=THINNED_STROKE_WIDTH).image
    assert not np.array_equal(result.image, thinned)


def test_recognizers_share_the_models_traced_function(untrained_model, digit_images):
    from digitwidgets.reading import inference

    first = Recognizer(untrained_model).recognize(digit_images[3])
    traced = inference.probabilities(untrained_model)
    recognizer = Recognizer(untrained_model)
    recognizer.model = untrained_model  # the same model again: nothing is traced again
    second = recognizer.recognize(digit_images[3])
    assert inference.probabilities(untrained_model) is traced
    np.testing.assert_array_equal(first.probabilities, second.probabilities)


def test_the_same_input_read_by_the_same_model_is_read_once(untrained_model, digit_images):
    """The pad and the prediction view both read a drawing again for each epoch's model."""
    from digitwidgets.reading.recognition import preprocess, read

    preprocessed = preprocess(digit_images[3])
    first = read(untrained_model, preprocessed)
    assert read(untrained_model, preprocessed) is first
    assert read(untrained_model, preprocess(digit_images[3])) is not first  # another input
