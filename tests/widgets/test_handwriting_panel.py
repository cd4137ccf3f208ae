"""HandwritingPanel: answers update the running count, buttons wait for the next prediction,
fine-tuning makes a tuned copy the current model, in the background, and says so."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from digitwidgets.learning.current_model import CurrentModel
from digitwidgets.learning.feedback import HandwritingLog
from digitwidgets.learning.mnist import DataInfo, MnistData
from digitwidgets.reading.preprocessing import Drawing
from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.handwriting_panel import HandwritingPanel
from tests.support import find_widget


@pytest.fixture(scope="module")
def pretrained_model():
    """The LeNet-5 shipped with the package."""
    from digitwidgets.learning.pretrained import load_pretrained

    return load_pretrained()[0]


@pytest.fixture
def data(sample_arrays):
    """A few hundred real training digits (all fine-tuning mixes in)."""
    x, y = sample_arrays["x_train"][:300], sample_arrays["y_train"][:300]
    info = DataInfo("embedded-sample", "sample", len(x), 50)
    return MnistData(x, y, sample_arrays["x_test"][:50], sample_arrays["y_test"][:50], info)


def _text(widget):
    return html.unescape(re.sub(r"<[^>]*>", "", widget.value))


def _answer_buttons(panel):
    return [find_widget(panel, "dw-confirm")] + [
        find_widget(panel, f"dw-correct-{d}") for d in range(10)
    ]


ONE = Drawing((((140.0, 40.0), (140.0, 240.0)),), 280, 280, 18.0)


def test_buttons_wait_for_a_prediction(pretrained_model, data, digit_images):
    recognizer = Recognizer(pretrained_model)
    panel = HandwritingPanel(CurrentModel(model=recognizer.model), data, HandwritingLog())
    assert all(button.disabled for button in _answer_buttons(panel))
    assert find_widget(panel, "dw-fine-tune").disabled
    panel.value = Recognizer().recognize(digit_images[4])  # no model: nothing to answer
    assert all(button.disabled for button in _answer_buttons(panel))
    panel.value = recognizer.recognize(digit_images[4])
    assert not any(button.disabled for button in _answer_buttons(panel))
    assert "Right?" in _text(panel.children[0].children[0])


def test_confirm_and_correct_update_the_running_count(pretrained_model, data, digit_images):
    recognizer = Recognizer(pretrained_model)
    log = HandwritingLog()
    panel = HandwritingPanel(CurrentModel(model=recognizer.model), data, log)
    score = find_widget(panel, "dw-handwriting-score")

    panel.drawing = ONE
    panel.value = recognizer.recognize(ONE)
    assert panel.value.digit == 1
    find_widget(panel, "dw-confirm").click()
    assert (log.total, log.right) == (1, 1) and log.entries()[0].drawing is ONE
    assert _text(score) == "The model read 1 of your 1 drawing right (100%)."
    # One answer per prediction: the buttons wait for the next one.
    assert all(button.disabled for button in _answer_buttons(panel))
    find_widget(panel, "dw-confirm").click()
    assert log.total == 1
    assert not find_widget(panel, "dw-fine-tune").disabled

    panel.drawing = None
    panel.value = recognizer.recognize(digit_images[7])
    assert panel.value.digit == 7
    find_widget(panel, "dw-correct-2").click()  # the user says it was a 2: the model was wrong
    assert (log.total, log.right) == (2, 1) and log.entries()[1].label == 2
    assert _text(score) == "The model read 1 of your 2 drawings right (50%)."
    panel.value = recognizer.recognize(digit_images[3])
    panel.correct(3)  # picking the digit it read counts as right
    assert _text(score) == "The model read 2 of your 3 drawings right (67%)."
    panel.test_accuracy = 0.975
    # Which test digits it is: the model line may quote another set for the same model.
    assert _text(score).endswith("(67%) · on this page's 50 MNIST test digits: 97.5%.")


def test_a_drawing_read_again_by_a_new_model_keeps_its_answer(pretrained_model, data):
    from digitwidgets.reading.preprocessing import preprocess_drawing
    from digitwidgets.reading.recognition import read

    panel = HandwritingPanel(CurrentModel(model=pretrained_model), data, HandwritingLog())
    preprocessed = preprocess_drawing(ONE)
    panel.drawing = ONE
    panel.value = read(pretrained_model, preprocessed)
    panel.correct(1)
    assert panel.answered
    # Fine-tuning (or a run's epoch) hands a new model: the pad reads the same drawing again.
    panel.value = read(pretrained_model, preprocessed)
    assert panel.answered and all(button.disabled for button in _answer_buttons(panel))
    assert "Right?" not in _text(panel.children[0].children[0])
    # A new drawing is asked about.
    panel.value = read(pretrained_model, preprocess_drawing(ONE))
    assert not panel.answered and "Right?" in _text(panel.children[0].children[0])


def test_use_pretrained_makes_the_pretrained_model_current(data):
    current = CurrentModel()
    panel = HandwritingPanel(current, data)
    find_widget(panel, "dw-use-pretrained").click()
    assert current.source == "pretrained" and current.model is not None
    assert "Pretrained LeNet-5" in current.description
    # The panel's test accuracy follows the current model's.
    assert panel.test_accuracy == current.test_accuracy and panel.test_accuracy > 0.9


def test_fine_tune_without_a_model_says_so(data, digit_images):
    log = HandwritingLog()
    panel = HandwritingPanel(CurrentModel(), data, log)
    log.record(digit_images[5] / 255.0, 3, 5)
    panel.fine_tune()
    assert not panel.busy and "no model" in panel.status


def test_fine_tune_swaps_in_a_tuned_model_and_tells(pretrained_model, data, digit_images):
    recognizer = Recognizer(pretrained_model)
    current = CurrentModel(model=pretrained_model, description="the pretrained one")
    panel = HandwritingPanel(current, data, HandwritingLog())
    changed = []
    current.observe(lambda change: changed.append(change["new"]), "model")
    for digit in (2, 5, 8):
        panel.value = recognizer.recognize(digit_images[digit])
        panel.correct(digit)
    find_widget(panel, "dw-fine-tune").click()
    assert panel.busy and find_widget(panel, "dw-fine-tune").disabled
    assert "Fine-tuning on your 3 drawings" in panel.status
    assert panel.wait(timeout=120)
    assert not panel.busy and panel.status.startswith("Fine-tuned on your 3 drawings")
    assert current.model is not pretrained_model and current.source == "fine-tuned"
    assert changed == [current.model]
    assert current.description == "the pretrained one · fine-tuned on your drawings"
    recognizer.model = current.model
    before = pretrained_model.get_weights()[-1]
    after = recognizer.model.get_weights()[-1]
    assert not np.allclose(before, after)
    # The tuned model still reads the drawings it was tuned on.
    assert [recognizer.recognize(digit_images[d]).digit for d in (2, 5, 8)] == [2, 5, 8]


def test_the_tuned_model_line_is_cleared_once_another_model_is_in_use(data):
    current = CurrentModel(model=object(), description="your run run1 (finished)")
    panel = HandwritingPanel(current, data, HandwritingLog())
    tuned = object()
    panel._fine_tuned(tuned, None, 3, current.description)  # the fine-tuning thread's end
    assert current.model is tuned
    assert panel.status == "Fine-tuned on your 3 drawings: the pad now uses the tuned model."
    current.record_test_accuracy(tuned, 0.9)  # the same model measured: still true
    assert panel.status.startswith("Fine-tuned on your 3 drawings")
    # A sweep's best run takes the pad: the line would no longer be true.
    current.set(object(), source="run", description="the best of your sweep's 2 runs")
    assert panel.status == ""
    current.set(object(), source="run", description="your run run3 (finished)")
    assert panel.status == ""
