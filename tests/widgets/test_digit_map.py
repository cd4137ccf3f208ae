"""DigitMap driven from code: a model, a digit, hover, click, a confusion cell, recompute."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitwidgets.learning.evaluation import evaluate
from digitwidgets.learning.pretrained import load_pretrained
from digitwidgets.reading.preprocessing import NOTHING_DRAWN, Preprocessed
from digitwidgets.reading.recognition import NO_MODEL, Recognition
from digitwidgets.widgets.digit_map import DigitMap
from digitwidgets.widgets.prediction_view import png_bytes
from tests.support import find_widget, sample_subset, widgets_with

MAPPED = 200  # test digits on the map: enough for t-SNE, few enough to be quick


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()[0]


@pytest.fixture(scope="module")
def data(sample_arrays):
    return sample_subset(sample_arrays, 10, MAPPED)


@pytest.fixture(scope="module")
def drawn(pretrained, sample_arrays):
    """Recognitions of real test digits the map does not hold, as the pad would hand them."""
    x, y = sample_arrays["x_test"][MAPPED:], sample_arrays["y_test"][MAPPED:]
    evaluation = evaluate(pretrained, x[:20], y[:20])
    return [(evaluation.recognition(i), int(y[i])) for i in range(20)]


@pytest.fixture(scope="module")
def mapped(pretrained, data):
    """A map of the pretrained model, both projections done."""
    digit_map = DigitMap(data, pretrained, model_description="the pretrained LeNet-5")
    assert digit_map.wait(300)
    return digit_map


def test_the_map_shows_the_test_digits_for_the_named_model(mapped, data):
    assert "dw-digit-map" in mapped._dom_classes
    assert mapped.shown_model == "the pretrained LeNet-5"
    assert "the pretrained LeNet-5" in find_widget(mapped, "dw-map-title").value
    assert not mapped.busy and mapped.progress == 1.0
    assert set(mapped._projections) == {"linear", "t-SNE"}
    assert len(mapped._points.x) == MAPPED
    np.testing.assert_array_equal(mapped._points.color, data.y_test)
    mapped.method = "t-SNE"
    np.testing.assert_allclose(mapped._points.x, mapped._projections["t-SNE"].positions[:, 0])
    mapped.method = "linear"
    np.testing.assert_allclose(mapped._points.x, mapped._projections["linear"].positions[:, 0])


def test_a_digit_lands_on_the_map_beside_test_digits_of_its_class(mapped, data, drawn):
    for recognition, label in drawn[:10]:
        mapped.value = recognition
        assert mapped.you is not None
        assert len(mapped.neighbours) == 8
        neighbour_labels = data.y_test[list(mapped.neighbours)]
        assert label in neighbour_labels
        thumbnails = widgets_with(mapped, "dw-neighbour")
        assert len(thumbnails) == 8
        first = thumbnails[0]
        assert first.children[0].value == png_bytes(data.x_test[mapped.neighbours[0]], 56)
        assert first.children[1].description == f"a {data.y_test[mapped.neighbours[0]]}"
        assert f"your {recognition.digit}" in find_widget(mapped, "dw-neighbours-title").value
        assert "Your digit" in find_widget(mapped, "dw-map-point-you").value
    np.testing.assert_allclose(mapped._you_mark.x, [mapped.you[0]])


def test_a_new_digit_moves_the_marker_and_the_neighbours(mapped, drawn):
    mapped.value = drawn[0][0]
    before = (mapped.you, mapped.neighbours)
    other = next(r for r, label in drawn if label != drawn[0][1])
    mapped.value = other
    assert (mapped.you, mapped.neighbours) != before


def test_a_blank_drawing_takes_the_marker_away(mapped, drawn):
    mapped.value = drawn[0][0]
    mapped.value = Recognition(
        None, None, Preprocessed(image=None, message=NOTHING_DRAWN), NOTHING_DRAWN
    )
    assert mapped.you is None and mapped.neighbours == ()
    assert len(mapped._you_mark.x) == 0
    assert NOTHING_DRAWN in find_widget(mapped, "dw-map-point-you").value


def test_hover_shows_the_point_s_digit_and_click_sends_it_on(mapped, data, drawn):
    mapped.value = drawn[0][0]
    mapped._on_hover(mapped._points, {"data": {"index": 7}})
    assert mapped._tooltip_image.value == png_bytes(data.x_test[7], 56)
    assert f"<b>{data.y_test[7]}</b>" in mapped._tooltip_text.value
    chosen = []
    mapped.on_image_selected(chosen.append)
    try:
        mapped._on_click(mapped._points, {"data": {"index": 12}})
        widgets_with(mapped, "dw-neighbour")[0].children[1].click()
    finally:
        mapped.on_image_selected(chosen.append, remove=True)
    assert len(chosen) == 2
    np.testing.assert_allclose(chosen[0].image, data.x_test[12] / 255.0, atol=1e-6)
    np.testing.assert_allclose(chosen[1].image, data.x_test[mapped.neighbours[0]] / 255.0)
    assert chosen[0].ok and chosen[0].probabilities.shape == (10,)
    # The clicked digit is read under the map, named as a test digit, not as "your digit".
    picked = find_widget(mapped, "dw-picked-digit")
    assert picked.value is chosen[1] and picked.layout.display == "flex"
    assert picked.true_digit == int(data.y_test[mapped.neighbours[0]])
    assert f"Test digit #{mapped.neighbours[0]}" in find_widget(picked, "dw-picked-text").value
    children = list(mapped.children)
    assert children.index(picked) == children.index(mapped._legend) + 1


def test_a_long_model_description_is_named_short_and_the_words_read_right(pretrained, data):
    description = (
        "Pretrained LeNet-5 (60,000 MNIST digits, augmented): 99.3% on MNIST's 10,000 test "
        "digits, 99.8% on 2,800 drawn in other ways."
    )
    digit_map = DigitMap(data, pretrained, model_description=description)
    assert digit_map.wait(300)
    assert digit_map.shown_model == "Pretrained LeNet-5"
    title = find_widget(digit_map, "dw-map-title").value
    assert "Map of the test digits: Pretrained LeNet-5" in title and "99.3%" not in title
    assert digit_map.status.startswith(
        f"{MAPPED:,} test digits placed by what the model makes of them (its f6 features)"
    )
    # The progress bar is named, and gone once the map is done.
    progress = find_widget(digit_map, "dw-map-progress")
    assert progress.description and progress.layout.display == "none"
    # The legend draws the misread mark as bqplot does: a "+" (its "cross" marker).
    assert digit_map._misread.marker == "cross" and "+ misread" in digit_map._legend.value
    assert find_widget(digit_map, "dw-map-method").style.button_width == "auto"


def test_a_confusion_cell_highlights_its_digits(mapped, pretrained, data):
    evaluation = evaluate(pretrained, data.x_test, data.y_test)
    mapped.highlight_cell(3, 3)
    assert mapped.highlighted == tuple(int(i) for i in evaluation.cell(3, 3))
    assert len(mapped._highlight.x) == len(mapped.highlighted) > 0
    mapped.highlight(())
    assert len(mapped._highlight.x) == 0


def test_a_new_model_waits_for_recompute_then_is_named(pretrained, data, drawn):
    digit_map = DigitMap(data, pretrained, model_description="the pretrained LeNet-5")
    assert digit_map.wait(300)
    digit_map.value = drawn[0][0]
    other = keras.models.clone_model(pretrained)
    other.set_weights([w * 0.9 for w in pretrained.get_weights()])
    digit_map.model_description = "run 7, epoch 3"
    digit_map.model = other
    # Not recomputed by itself: the map still names the model it shows, and says so.
    assert digit_map.shown_model == "the pretrained LeNet-5"
    assert "press Recompute" in digit_map.status
    before = digit_map._projections["linear"].positions.copy()
    find_widget(digit_map, "dw-map-recompute").click()
    assert digit_map.wait(300)
    assert digit_map.shown_model == "run 7, epoch 3"
    assert "press Recompute" not in digit_map.status
    assert not np.allclose(digit_map._projections["linear"].positions, before)
    assert digit_map.you is not None  # the drawing is placed on the new map


def test_no_model_says_so_and_shows_no_map(pretrained, data, drawn):
    digit_map = DigitMap(data)
    assert digit_map.status == NO_MODEL and digit_map._figure.layout.visibility == "hidden"
    digit_map.value = drawn[0][0]
    assert digit_map.you is None and digit_map.neighbours == ()
    digit_map.model = pretrained
    digit_map.recompute()
    assert digit_map.wait(300) and digit_map.you is not None
    digit_map.model = None
    assert digit_map.status == NO_MODEL and digit_map._figure.layout.visibility == "hidden"
    assert digit_map.you is None and len(digit_map._points.x) == 0


def test_a_model_without_the_expected_layers_gets_a_sentence(data):
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    digit_map = DigitMap(data, keras.Model(inputs, outputs))
    assert digit_map.wait(60)
    assert "not a LeNet-style network" in digit_map.status
    assert digit_map._figure.layout.visibility == "hidden" and not digit_map.busy
