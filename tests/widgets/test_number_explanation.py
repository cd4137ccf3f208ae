"""NumberExplanation driven from code: click a map's pixel in the layers view, read the sums."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.evaluation import evaluate
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.pretrained import load_pretrained
from digitwidgets.reading.inside.explain import (
    ConvolutionExplanation,
    DenseExplanation,
    PoolingExplanation,
)
from digitwidgets.widgets.layer_view import LayerView
from digitwidgets.widgets.number_explanation import HINT, NumberExplanation
from tests.support import find_widget, widgets_with


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained()[0]


@pytest.fixture(scope="module")
def digits(pretrained, sample_arrays):
    evaluation = evaluate(pretrained, sample_arrays["x_test"][:3], sample_arrays["y_test"][:3])
    return [evaluation.recognition(i) for i in range(3)]


def click(canvas, x: float, y: float) -> None:
    """What the browser sends when the canvas is clicked at (x, y)."""
    canvas._handle_frontend_event(None, {"event": "mouse_down", "x": x, "y": y}, [])


@pytest.fixture
def linked(pretrained, digits):
    view = LayerView(pretrained, digits[0])
    explanation = NumberExplanation()
    explanation.follow(view)
    return view, explanation


def test_it_waits_for_a_click_with_a_hint(linked):
    _view, explanation = linked
    assert "dw-explain" in explanation._dom_classes
    assert explanation.explanation is None and explanation.message == HINT


def test_clicking_a_small_map_explains_that_pixel_with_25_products(linked):
    view, explanation = linked
    view.select("c1")
    # Map 3 of c1 is 28x28 on 84 screen pixels: (40, 10) is row 3, column 13.
    click(widgets_with(view, "dw-map-pick")[2], 40, 10)
    assert view.enlarged == 2 and view.picked == ("c1", 2, 3, 13)
    explained = explanation.explanation
    assert isinstance(explained, ConvolutionExplanation)
    assert (explained.channel, explained.row, explained.column) == (2, 3, 13)
    assert explained.value == pytest.approx(view.enlarged_values()[3, 13], rel=1e-4, abs=1e-5)
    text = find_widget(explanation, "dw-explain-text").value
    assert text.count("dw-explain-term") == 25
    assert "the layer's own value" in text


def test_c3_shows_each_input_map_s_sum_with_its_products_a_click_away(linked):
    view, explanation = linked
    view.select("c3")
    view.pick(5, 4, 6)
    explained = explanation.explanation
    assert len(explained.maps) == 6
    text = find_widget(explanation, "dw-explain-text").value
    assert text.count("<details>") == 6 and text.count("dw-explain-term") == 150
    assert "s2 map 6: the 25 products sum to" in text
    # Clicking the explanation's own map moves to another pixel: 10x10 on 168 px.
    click(find_widget(explanation, "dw-explain-pick"), 100, 20)
    assert explanation.target == ("c3", 5, 1, 5)


def test_pooling_and_dense_layers(linked):
    view, explanation = linked
    view.select("s2")
    view.pick(0, 7, 7)
    assert isinstance(explanation.explanation, PoolingExplanation)
    assert explanation.explanation.kind == "max"
    view.select("probabilities")
    explained = explanation.explanation
    assert isinstance(explained, DenseExplanation)
    assert explained.unit == view.value.digit  # the strongest unit: the digit it reads
    unit = find_widget(explanation, "dw-explain-unit")
    unit.value = 4
    assert explanation.explanation.unit == 3
    assert explanation.explanation.value == pytest.approx(explanation.explanation.output, abs=1e-5)


def test_it_follows_a_new_model_and_a_new_digit(linked, digits):
    view, explanation = linked
    view.select("c1")
    view.pick(0, 14, 14)
    first = explanation.explanation.value
    view.model = build_lenet5(Hyperparameters(seed=3))
    assert explanation.explanation is not None
    assert explanation.explanation.value != pytest.approx(first)
    view.value = digits[1]
    assert explanation.explanation.value == pytest.approx(
        explanation.explanation.output, rel=1e-4, abs=1e-5
    )
    np.testing.assert_allclose(
        explanation.explanation.output, view.enlarged_values()[14, 14], rtol=1e-5
    )


def test_a_blank_pad_shows_the_hint_again(linked):
    view, explanation = linked
    view.pick(0, 1, 1)
    view.value = None
    assert explanation.explanation is None and explanation.message == HINT
