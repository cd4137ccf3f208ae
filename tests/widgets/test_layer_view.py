"""LayerView driven from code: a model, a digit, clicks on the strip and on a map."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitwidgets.learning.evaluation import evaluate
from digitwidgets.learning.pretrained import load_pretrained
from digitwidgets.reading.preprocessing import NOTHING_DRAWN, Preprocessed
from digitwidgets.reading.recognition import NO_MODEL, Recognition
from digitwidgets.widgets.layer_view import WAITING, LayerView
from tests.support import find_widget, widgets_with


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()[0]


@pytest.fixture(scope="module")
def digits(pretrained, sample_arrays):
    """Recognitions of real test digits, as the pad would hand them over."""
    evaluation = evaluate(pretrained, sample_arrays["x_test"][:10], sample_arrays["y_test"][:10])
    return [evaluation.recognition(i) for i in range(10)]


def keras_output(model, name, image):
    return np.asarray(keras.Model(model.input, model.get_layer(name).output)(image[None]))[0]


def shown_maps(view):
    return [w.value for w in widgets_with(view, "dw-feature-map") if w.value]


def strip_button(view, name):
    return next(b for b in widgets_with(view, "dw-layer") if b.description == name)


def test_the_hooks_are_there_and_the_strip_names_every_layer(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    assert "dw-layers" in view._dom_classes
    buttons = widgets_with(view, "dw-layer")
    assert [b.description for b in buttons] == list(view.layer_names)
    assert view.layer_names == ("input", "c1", "s2", "c3", "s4", "f5", "f6", "probabilities")
    assert find_widget(view, "dw-feature-map") is not None
    assert find_widget(view, "dw-filter") is not None
    strip = find_widget(view, "dw-layer-strip")
    assert "28×28×6" in strip.children[1].children[1].value
    assert "156 parameters" in strip.children[1].children[1].value


def test_a_digit_shows_the_first_convolution_s_six_maps_on_a_stated_scale(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    assert view.layer == "c1" and view.message == ""
    assert len(shown_maps(view)) == 6
    high = keras_output(pretrained, "c1", digits[0].image).max()
    assert f"white = {high:.3g}" in find_widget(view, "dw-layer-title").value
    filters = [w.value for w in widgets_with(view, "dw-filter") if w.value]
    assert len(filters) == 6


def test_clicking_a_layer_in_the_strip_shows_its_maps(pretrained, digits):
    view = LayerView(pretrained, digits[1])
    strip_button(view, "c3").click()
    assert view.layer == "c3"
    assert len(shown_maps(view)) == 16
    assert "c3" in find_widget(view, "dw-layer-title").value
    assert len([w for w in widgets_with(view, "dw-filter") if w.value]) == 16  # 16 rows of 6
    strip_button(view, "f5").click()
    assert view._bar_figure.layout.display == "flex"
    np.testing.assert_allclose(
        view._bars.y, keras_output(pretrained, "f5", digits[1].image), atol=1e-5
    )
    strip_button(view, "probabilities").click()
    np.testing.assert_allclose(view._bars.y, digits[1].probabilities, atol=1e-5)


def test_clicking_a_map_enlarges_it_with_the_layer_s_values(pretrained, digits):
    view = LayerView(pretrained, digits[2])
    strip_button(view, "s2").click()
    assert view.enlarged_values() is None
    widgets_with(view, "dw-map-enlarge")[4].click()
    assert view.enlarged == 4
    np.testing.assert_allclose(
        view.enlarged_values(), keras_output(pretrained, "s2", digits[2].image)[..., 4], atol=1e-5
    )
    # A new digit changes the enlarged map at once.
    view.value = digits[3]
    np.testing.assert_allclose(
        view.enlarged_values(), keras_output(pretrained, "s2", digits[3].image)[..., 4], atol=1e-5
    )


def test_a_new_digit_changes_the_maps(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    before = shown_maps(view)
    view.value = digits[5]
    after = shown_maps(view)
    assert len(after) == 6 and after != before


def test_a_blank_drawing_clears_the_maps_with_the_prediction_s_message(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    view.value = Recognition(
        None, None, Preprocessed(image=None, message=NOTHING_DRAWN), NOTHING_DRAWN
    )
    assert view.message == NOTHING_DRAWN
    assert NOTHING_DRAWN in find_widget(view, "dw-layers-message").value
    assert shown_maps(view) == []
    view.value = None
    assert view.message == WAITING and shown_maps(view) == []


def test_no_model_says_so_and_shows_nothing_stale(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    view.model = None
    assert view.message == NO_MODEL
    assert shown_maps(view) == [] and view.layer_names == ()
    assert [w for w in widgets_with(view, "dw-filter") if w.value] == []
    assert view._detail.layout.display == "none"
    view.model = pretrained
    assert view.message == "" and len(shown_maps(view)) == 6


def test_a_model_without_the_expected_layers_gets_a_sentence(pretrained, digits):
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    view = LayerView(pretrained, digits[0])
    view.model = keras.Model(inputs, outputs)
    assert "not a LeNet-style network" in view.message
    assert shown_maps(view) == [] and view.layer_names == ()


def test_a_new_model_redraws_the_filters_and_maps(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    filters = [w.value for w in widgets_with(view, "dw-filter")]
    maps = shown_maps(view)
    other = keras.models.clone_model(pretrained)
    other.set_weights([-w for w in pretrained.get_weights()])
    view.model = other
    assert [w.value for w in widgets_with(view, "dw-filter")] != filters
    assert shown_maps(view) != maps
    view.enlarge(0)
    np.testing.assert_allclose(
        view.enlarged_values(), keras_output(other, "c1", digits[0].image)[..., 0], atol=1e-5
    )


def test_probabilities_read_in_percent_and_a_wide_layer_labels_every_tenth_unit(pretrained, digits):
    view = LayerView(pretrained, digits[1])
    strip_button(view, "probabilities").click()
    units, values = view._bar_figure.axes
    assert units.label == "Digit"
    assert units.tick_labels == {str(digit): str(digit) for digit in range(10)}
    assert values.label == "Probability"
    assert list(values.tick_values) == [0.0, 0.5, 1.0]
    assert list(values.tick_labels.values()) == ["0%", "50%", "100%"]
    assert (values.scale.min, values.scale.max) == (0.0, 1.0)
    strip_button(view, "f6").click()
    units, values = view._bar_figure.axes
    assert units.label == "Unit"
    shown = {unit: label for unit, label in units.tick_labels.items() if label}
    assert shown == {str(unit): str(unit) for unit in range(0, 84, 10)}
    assert len(units.tick_labels) == 84
    assert values.label == "Activation"
    labels = list(values.tick_labels.values())
    assert len(labels) == len(set(labels)) <= 6
    assert values.scale.min <= min(0.0, float(view._bars.y.min()))
    assert values.scale.max >= float(view._bars.y.max())


def test_the_enlarged_map_says_a_pixels_value_and_a_click_picks_it(pretrained, digits):
    """Pointing at the enlarged map shows the value under the pointer; clicking picks it."""
    view = LayerView(pretrained, digits[2])
    view.select("c1")
    view.enlarge(3)
    values = view.enlarged_values()
    side = 280 // 28
    value_line = find_widget(view, "dw-enlarged-value")
    view._on_enlarged_point(6 * side + 2, 9 * side + 2)  # over row 10, column 7 (1-based)
    assert value_line.value.count("row 10, column 7: ") == 1
    assert f"{values[9, 6]:.3f}" in value_line.value
    view._on_enlarged_click(6 * side + 2, 9 * side + 2)
    assert view.picked == ("c1", 3, 9, 6)
    view._on_enlarged_click(-5, 400)  # off the map: nothing picked
    assert view.picked == ("c1", 3, 9, 6)
