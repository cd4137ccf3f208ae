"""EvaluationPanel: confusion matrix of a real small model, a cell's gallery, picking a digit."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.current_model import CurrentModel
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.training import TrainingEvent
from digitwidgets.widgets.evaluation_panel import EvaluationPanel
from tests.support import widgets_with


@pytest.fixture(scope="module")
def data():
    return load_embedded_sample()


@pytest.fixture(scope="module")
def model(data):
    """LeNet-5 trained for one epoch on 2,000 real training digits: good, not perfect."""
    model = build_lenet5(Hyperparameters(epochs=1, seed=1))
    x, y = data.x_train[:2000], data.y_train[:2000]
    model.fit(x.astype("float32") / 255.0, y, batch_size=64, epochs=1, verbose=0)
    return model


@pytest.fixture
def panel(data, model):
    panel = EvaluationPanel(data)
    panel.evaluate_model(model, run_id="run-a")
    assert panel.wait(60)
    return panel


def _one(widget, css_class):
    (found,) = widgets_with(widget, css_class)
    return found


def _worst_mistake(evaluation) -> tuple[int, int]:
    mistakes = np.where(np.eye(10, dtype=bool), -1, evaluation.confusion)
    true, predicted = np.unravel_index(np.argmax(mistakes), mistakes.shape)
    return int(true), int(predicted)


def test_confusion_counts_add_up_to_the_test_size(panel, data):
    evaluation = panel.value
    assert evaluation.run_id == "run-a"
    assert evaluation.confusion.sum() == len(data.y_test) == 1500
    assert panel.counts == evaluation.confusion.reshape(-1).tolist()
    assert not panel.busy
    assert f"{evaluation.accuracy:.1%}" in panel.status and "1,500" in panel.status


def test_per_class_accuracy_table_shows_each_digit(panel):
    table = _one(panel, "dw-class-accuracy").value
    for digit in range(10):
        assert f"{panel.value.per_class_accuracy[digit]:.1%}" in table
    # Cells that wrap onto more rows on a phone, not a table that runs off its side.
    assert "<table" not in table and "flex-wrap:wrap" in table


def test_mistakes_and_right_answers_are_coloured_on_scales_of_their_own(panel):
    from digitwidgets.widgets.evaluation_panel import cell_colors

    confusion = np.diag([147, 120, 5] + [100] * 7)
    confusion[0, 1], confusion[2, 0] = 7, 1
    values = cell_colors(confusion)
    # The largest mistake is the reddest; a diagonal of 147 is green, never a mistake's red.
    assert values[0, 1] == 1.0 and values[2, 0] == pytest.approx(1 / 7)
    assert values[1, 2] == 0.0
    assert values[0, 0] == pytest.approx(2 + 147 / 154) and values[1, 1] == 3.0
    scale = panel._heatmap.scales["color"]
    assert (scale.min, scale.max) == (0, 3) and len(scale.colors) == 4
    figure = _one(panel, "dw-confusion")
    # No pan/zoom toolbar over the title; "true" beside the rows, not behind the cells.
    assert figure.display_toolbar is False
    assert not figure.axes[1].label_offset.startswith("-")
    assert figure.layout.max_width == "100%"


def test_an_off_diagonal_cell_shows_exactly_its_misread_digits(panel, data):
    true, predicted = _worst_mistake(panel.value)
    expected = panel.value.cell(true, predicted)
    assert 0 < len(expected) <= 48
    # As the browser sends a click on the heat map's cell.
    click = {"event": "element_click", "data": {"rowNum": true, "columnNum": predicted}}
    panel._heatmap._handle_custom_msgs(None, click)
    assert panel.cell == (true, predicted)
    assert panel._heatmap.selected.tolist() == [[true, predicted]]
    assert sorted(panel.gallery_indices) == sorted(expected.tolist())
    items = widgets_with(_one(panel, "dw-gallery"), "dw-gallery-item")
    assert len(items) == len(expected)
    for index, item in zip(panel.gallery_indices, items, strict=True):
        assert data.y_test[index] == true
        assert item.children[1].description.startswith(f"{true}→{predicted} ")
    confidences = [panel.value.confidence(i) for i in panel.gallery_indices]
    assert confidences == sorted(confidences, reverse=True)


def test_a_large_cell_shows_at_most_the_gallery_size(panel):
    indices = set(panel.value.cell(1, 1).tolist())
    assert len(indices) > 48
    panel.select_cell(1, 1)
    assert len(panel.gallery_indices) == 48
    assert set(panel.gallery_indices) <= indices
    assert "showing 48" in _one(panel, "dw-gallery-title").value


def test_clicking_a_digit_hands_its_recognition_on(panel, data):
    received = []
    panel.on_image_selected(received.append)
    true, predicted = _worst_mistake(panel.value)
    panel.select_cell(true, predicted)
    first = widgets_with(panel, "dw-gallery-item")[0]
    first.children[1].click()
    (recognition,) = received
    index = panel.gallery_indices[0]
    assert recognition.digit == predicted != true
    np.testing.assert_array_equal(recognition.probabilities, panel.value.probabilities[index])
    np.testing.assert_allclose(recognition.image, data.x_test[index] / 255.0)
    # Read where it was clicked: just above the gallery, naming what it really is.
    picked = _one(panel, "dw-picked-digit")
    children = list(panel.children)
    assert children.index(picked) == children.index(_one(panel, "dw-gallery")) - 1
    assert picked.value is recognition and picked.layout.display == "flex"
    text = _one(picked, "dw-picked-text").value
    assert f"Test digit #{index}</b>: really a {true}, misread as {predicted}" in text
    # A new cell's gallery takes it away.
    panel.select_cell(true, true)
    assert picked.value is None and picked.layout.display == "none"


def test_a_new_evaluation_clears_the_gallery_and_the_newest_wins(panel, model):
    panel.select_cell(2, 2)
    assert panel.gallery_indices
    panel.evaluate_model(model, run_id="run-b")
    panel.evaluate_model(model, run_id="run-c")
    assert panel.wait(60)
    assert panel.value.run_id == "run-c"
    assert panel.cell is None and panel.gallery_indices == []
    assert _one(panel, "dw-gallery").children == ()


def test_evaluate_needs_a_model(data):
    panel = EvaluationPanel(data)
    button = _one(panel, "dw-evaluate")
    assert button.disabled
    panel.evaluate()
    assert panel.value is None and "No model" in panel.status


def test_evaluate_button_evaluates_the_current_model(data, model):
    panel = EvaluationPanel(data, model=model)
    button = _one(panel, "dw-evaluate")
    assert not button.disabled
    button.click()
    assert panel.wait(60)
    assert panel.value.confusion.sum() == 1500 and not button.disabled


def test_a_failing_model_is_explained(data):
    def broken(batch, training=False):
        raise RuntimeError("weights missing")

    panel = EvaluationPanel(data, model=broken)
    panel.evaluate()
    assert panel.wait(60)
    assert panel.value is None and not panel.busy
    assert panel.status.startswith("Evaluation failed") and "weights missing" in panel.status


class FakeTrainer:
    def __init__(self):
        self.listeners = []

    def add_listener(self, listener):
        self.listeners.append(listener)

    def emit(self, event):
        for listener in self.listeners:
            listener(event)


def test_follow_evaluates_each_model_the_app_settles_on(data, model):
    trainer, current, panel = FakeTrainer(), CurrentModel(), EvaluationPanel(data)
    current.follow(trainer)
    panel.follow(current)
    trainer.emit(TrainingEvent("epoch", "run-x", model=model))
    assert panel.wait(60) and panel.value is None
    assert panel.model is model and current.source == "epoch"
    trainer.emit(TrainingEvent("finish", "run-x", model=model))
    assert panel.wait(60)
    assert panel.value.run_id == "run-x"
    assert current.test_accuracy == panel.value.accuracy
