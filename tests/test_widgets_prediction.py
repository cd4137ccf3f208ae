"""PredictionView: digit, confidence, highlighted probabilities and the model's input."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from digitwidgets.preprocessing import preprocess_digit
from digitwidgets.recognition import Recognition
from digitwidgets.widgets.prediction import PredictionView


def _find(widget, css_class):
    if css_class in getattr(widget, "_dom_classes", ()):
        return widget
    for child in getattr(widget, "children", ()):
        found = _find(child, css_class)
        if found is not None:
            return found
    return None


def _recognition(digit_images, digit=3):
    probabilities = np.full(10, 0.02, dtype=np.float32)
    probabilities[digit] = 0.82
    return Recognition(digit, probabilities, preprocess_digit(digit_images[digit]))


def test_shows_digit_confidence_and_highlights_the_winner(digit_images):
    view = PredictionView()
    view.value = _recognition(digit_images)
    assert _find(view, "dw-prediction").value == "3"
    assert _find(view, "dw-confidence").value == "82% sure"
    bars = _find(view, "dw-probabilities").marks[0]
    np.testing.assert_allclose(bars.y, view.value.probabilities, rtol=1e-6)
    assert len(set(bars.colors)) == 2
    assert [i for i, color in enumerate(bars.colors) if color != bars.colors[0]] == [3]


def test_shows_the_model_input_and_the_steps_enlarged(digit_images):
    view = PredictionView(_recognition(digit_images, digit=7))
    model_input = Image.open(io.BytesIO(_find(view, "dw-model-input").value))
    assert model_input.size == (140, 140)
    # Nearest-neighbour enlargement: every 5x5 block is one model pixel.
    pixels = np.asarray(model_input)
    expected = (view.value.image * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(pixels[::5, ::5], expected)
    assert bytes(_find(view, "dw-step-cropped").value).startswith(b"\x89PNG")
    assert bytes(_find(view, "dw-step-scaled").value).startswith(b"\x89PNG")


def test_none_and_messages_show_no_digit(digit_images):
    view = PredictionView(_recognition(digit_images))
    view.value = Recognition(None, None, None, "Train a model first, or choose a saved one.")
    assert _find(view, "dw-prediction").value == ""
    assert _find(view, "dw-confidence").value.startswith("Train a model first")
    assert not np.asarray(_find(view, "dw-probabilities").marks[0].y).any()
    assert bytes(_find(view, "dw-model-input").value) == b""
    view.value = None
    assert _find(view, "dw-prediction").value == ""
    assert _find(view, "dw-confidence").value == ""
