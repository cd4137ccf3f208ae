"""PredictionView: digit, confidence, highlighted probabilities and the model's input."""

from __future__ import annotations

import html
import io
import re

import numpy as np
import pytest
from PIL import Image

from digitwidgets.reading.preprocessing import Drawing, preprocess_digit
from digitwidgets.reading.recognition import Recognition, Recognizer
from digitwidgets.widgets.prediction_view import WAITING, PredictionView
from tests.support import find_widget


@pytest.fixture(scope="module")
def pretrained_model():
    """The LeNet-5 shipped with the package."""
    from digitwidgets.learning.pretrained import load_pretrained

    return load_pretrained()[0]


def _text(widget):
    """What an HTML widget shows, without its tags."""
    return html.unescape(re.sub(r"<[^>]*>", "", widget.value))


def _png(widget):
    return np.asarray(Image.open(io.BytesIO(bytes(widget.value))))


def _recognition(digit_images, digit=3):
    probabilities = np.full(10, 0.02, dtype=np.float32)
    probabilities[digit] = 0.82
    return Recognition(digit, probabilities, preprocess_digit(digit_images[digit]))


def test_shows_digit_confidence_and_highlights_the_winner(digit_images):
    view = PredictionView()
    view.value = _recognition(digit_images)
    assert _text(find_widget(view, "dw-prediction")) == "3"
    assert _text(find_widget(view, "dw-confidence")) == "82% sure"
    bars = find_widget(view, "dw-probabilities").marks[0]
    np.testing.assert_allclose(bars.y, view.value.probabilities, rtol=1e-6)
    # The winner is marked in the data the colour scale reads, whichever digit wins (a list
    # of per-bar colours was drawn by bqplot for the first bar only: 0 alone turned dark).
    assert list(np.flatnonzero(bars.color)) == [3]
    scale = bars.scales["color"]
    assert (scale.min, scale.max) == (0.0, 1.0) and scale.colors[-1] != scale.colors[0]
    for digit in (7, 0, 9):
        view.value = _recognition(digit_images, digit=digit)
        assert list(np.flatnonzero(bars.color)) == [digit]
    view.value = None
    assert not np.any(bars.color)
    # Nothing to show: the steps take no room (not a hidden block of blank).
    assert find_widget(view, "dw-steps").layout.display == "none"


def test_shows_the_model_input_and_the_steps_enlarged(digit_images):
    view = PredictionView(_recognition(digit_images, digit=7))
    model_input = Image.open(io.BytesIO(find_widget(view, "dw-model-input").value))
    assert model_input.size == (140, 140)
    # Nearest-neighbour enlargement: every 5x5 block is one model pixel.
    pixels = np.asarray(model_input)
    expected = (view.value.image * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(pixels[::5, ::5], expected)
    assert bytes(find_widget(view, "dw-step-cropped").value).startswith(b"\x89PNG")
    assert bytes(find_widget(view, "dw-step-scaled").value).startswith(b"\x89PNG")


def test_none_and_messages_show_no_digit(digit_images):
    view = PredictionView(_recognition(digit_images))
    view.value = Recognition(None, None, None, "Train a model first, or choose a saved one.")
    assert find_widget(view, "dw-prediction").value == ""
    assert _text(find_widget(view, "dw-confidence")).startswith("Train a model first")
    assert not np.asarray(find_widget(view, "dw-probabilities").marks[0].y).any()
    assert bytes(find_widget(view, "dw-model-input").value) == b""
    view.value = None
    assert find_widget(view, "dw-prediction").value == ""
    assert _text(find_widget(view, "dw-confidence")) == WAITING


def test_the_digit_has_room_for_its_whole_glyph(digit_images):
    view = PredictionView(_recognition(digit_images))
    digit = find_widget(view, "dw-prediction")
    size = int(re.search(r"font-size: (\d+)px", digit.value)[1])
    line = int(re.search(r"line-height: (\d+)px", digit.value)[1])
    assert line >= size and digit.layout.height == f"{line}px"


def test_a_near_certain_answer_is_not_called_100_percent(digit_images):
    probabilities = np.full(10, 0.0001, dtype=np.float32)
    probabilities[1] = 0.9991
    view = PredictionView(Recognition(1, probabilities, preprocess_digit(digit_images[1])))
    assert _text(find_widget(view, "dw-confidence")) == "over 99% sure"


def test_steps_keep_their_aspect_ratio_on_a_black_square(digit_images):
    one = Drawing((((140.0, 40.0), (140.0, 240.0)),), 280, 280, 18.0)
    view = PredictionView(Recognizer().recognize(one))  # no model: the steps still show
    preprocessed = view.value.preprocessed
    assert preprocessed.scaled.shape[0] == 20 and preprocessed.scaled.shape[1] < 10
    for css_class in ("dw-step-cropped", "dw-step-scaled"):
        pixels = _png(find_widget(view, css_class))
        assert pixels.shape == (100, 100)
        columns = pixels.max(axis=0)
        # A thin vertical stroke: ink in the middle, black on both sides, full height.
        assert columns[:30].max() == 0 and columns[-30:].max() == 0 and columns[50] > 200
        assert (pixels[:, 50] > 200).mean() > 0.7
    scaled = _png(find_widget(view, "dw-step-scaled"))
    # Enlarged with hard edges: every 5x5 block is one of the 20x20 pixels.
    assert (scaled.reshape(20, 5, 20, 5) == scaled[::5, ::5][:, None, :, None]).all()


def test_steps_are_captioned_in_order(digit_images):
    view = PredictionView(_recognition(digit_images))
    captions = []
    for css_class in ("dw-step-cropped", "dw-step-scaled", "dw-model-input", "dw-saliency"):
        step = next(
            w
            for w in _walk(view)
            if "dw-step" in getattr(w, "_dom_classes", ()) and find_widget(w, css_class) is not None
        )
        captions.append(_text(step.children[0]))
    assert captions[0] == "1 · your drawing's ink"
    assert captions[1] == "2 · scaled to 20 px"
    assert captions[2] == "3 · centred by mass in 28×28 (what the model sees)"
    assert captions[3].startswith("Why this digit")


def test_saliency_shows_what_drove_the_answer_and_follows_the_drawing(
    pretrained_model, digit_images
):
    recognizer = Recognizer(pretrained_model)
    view = PredictionView()
    saliency = find_widget(view, "dw-saliency")
    view.value = recognizer.recognize(digit_images[3])
    assert bytes(saliency.value) == b""  # no model given to the view: no map
    view.model = pretrained_model
    three = _png(saliency)
    assert three.shape == (140, 140, 3)
    # Red where the ink counted, nothing red off the ink.
    red = (three[..., 0].astype(int) - three[..., 1]) > 60
    ink = np.kron(view.value.image, np.ones((5, 5))) > 0.3
    assert red.any() and red[ink].mean() > red[~ink].mean()
    view.value = recognizer.recognize(digit_images[7])
    seven = _png(saliency)
    assert seven.shape == three.shape and not np.array_equal(seven, three)
    view.value = recognizer.recognize(np.zeros((28, 28), dtype=np.uint8))
    assert bytes(saliency.value) == b""


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_the_probability_chart_reads_in_words_on_three_round_percents():
    digit_axis, probability_axis = find_widget(PredictionView(), "dw-probabilities").axes
    assert (digit_axis.label, probability_axis.label) == ("Digit", "Probability")
    assert list(probability_axis.tick_values) == [0.0, 0.5, 1.0]
    assert list(probability_axis.tick_labels.values()) == ["0%", "50%", "100%"]
    assert (probability_axis.scale.min, probability_axis.scale.max) == (0.0, 1.0)
