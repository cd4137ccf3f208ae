"""DrawingPad: handlers build strokes, Undo/Clear edit them, strokes get recognized."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.drawing_pad import DRAW_A_DIGIT, NO_MODEL_YET, DrawingPad

SCALE = 10  # 28x28 MNIST pixels onto the 280x280 pad


@pytest.fixture(scope="module")
def trained_model(sample_arrays):
    """A LeNet-5 trained briefly on 3,000 real digits: good enough to read clear digits."""
    import keras

    from digitwidgets.learning.model import build_lenet5

    keras.utils.set_random_seed(0)
    model = build_lenet5(Hyperparameters())
    x = sample_arrays["x_train"][:3000].astype("float32") / 255.0
    model.fit(x, sample_arrays["y_train"][:3000], epochs=3, batch_size=64, verbose=0)
    return model


def _trace(pad, image):
    """Draw a real digit's ink as a person would: one horizontal stroke per run of ink."""
    for row in range(28):
        ink = np.flatnonzero(image[row] > 100)
        if not len(ink):
            continue
        runs = np.split(ink, np.flatnonzero(np.diff(ink) > 1) + 1)
        for run in runs:
            y = row * SCALE + SCALE / 2
            pad._on_mouse_down(run[0] * SCALE + SCALE / 2, y)
            pad._on_mouse_move((run[0] + run[-1]) / 2 * SCALE + SCALE / 2, y)
            pad._on_mouse_up(run[-1] * SCALE + SCALE / 2, y)


def test_mouse_handlers_build_strokes():
    pad = DrawingPad()
    assert pad.message == NO_MODEL_YET and pad.value is None
    pad._on_mouse_move(5, 5)  # moving without a pressed button draws nothing
    assert pad.strokes == []
    pad._on_mouse_down(140, 40)
    pad._on_mouse_move(140, 100)
    pad._on_mouse_move(141, 180)
    assert pad.strokes == []  # a stroke is published when it ends
    pad._on_mouse_up(141, 240)
    assert pad.strokes == [[[140, 40], [140, 100], [141, 180], [141, 240]]]
    pad._on_mouse_down(100, 50)
    pad._on_mouse_up(100, 50)
    assert pad.strokes[1] == [[100, 50]]


def test_touch_handlers_build_strokes():
    pad = DrawingPad()
    pad._on_touch_start([(20, 30)])
    pad._on_touch_move([(25, 60), (200, 200)])  # a second finger is ignored
    pad._on_touch_end([])
    assert pad.strokes == [[[20, 30], [25, 60]]]


def test_without_a_model_the_pad_says_to_train_first():
    pad = DrawingPad()
    pad._on_mouse_down(140, 40)
    pad._on_mouse_up(140, 240)
    assert pad.value is not None and not pad.value.ok
    assert pad.message.startswith("Train a model first")
    assert pad.value.preprocessed is not None and not pad.value.preprocessed.empty


def test_undo_and_clear():
    pad = DrawingPad()
    for x in (60, 140, 220):
        pad._on_mouse_down(x, 40)
        pad._on_mouse_up(x, 240)
    pad.undo()
    assert [stroke[0][0] for stroke in pad.strokes] == [60, 140]
    pad.children[2].children[0].click()  # Undo
    assert len(pad.strokes) == 1
    pad.children[2].children[1].click()  # Clear
    assert pad.strokes == [] and pad.value is None and pad.message == NO_MODEL_YET


def test_css_classes():
    pad = DrawingPad()
    canvas = pad.children[1].children[0]
    assert "dw-pad" in canvas._dom_classes
    assert type(canvas).__name__ == "Canvas"
    assert (canvas.width, canvas.height) == (280, 280)
    assert "dw-undo" in pad.children[2].children[0]._dom_classes
    assert "dw-clear" in pad.children[2].children[1]._dom_classes


def test_with_a_model_the_pad_invites_drawing_and_says_train_first_only_without(
    trained_model,
):
    pad = DrawingPad(Recognizer(trained_model))
    assert pad.model is trained_model
    assert pad.message == DRAW_A_DIGIT and "train" not in pad.message.lower()
    pad.model = None
    assert pad.message == NO_MODEL_YET
    assert "draw a digit" in NO_MODEL_YET.lower()  # what the two-visitor browser test waits for


def test_drawing_is_the_strokes_the_model_read(trained_model):
    pad = DrawingPad(Recognizer(trained_model), size=200, pen_width=12)
    assert pad.drawing is None
    pad._on_mouse_down(100, 30)
    pad._on_mouse_move(100, 170)
    pad._on_mouse_up(100, 170)
    assert pad.drawing.strokes == (((100.0, 30.0), (100.0, 170.0)),)
    assert (pad.drawing.width, pad.drawing.height, pad.drawing.pen_width) == (200, 200, 12.0)
    np.testing.assert_array_equal(
        Recognizer(trained_model).recognize(pad.drawing).image, pad.value.image
    )
    pad.clear()
    assert pad.drawing is None


def _record_messages(monkeypatch):
    """The command batches the canvas manager sends to the browser, decoded."""
    from ipycanvas.canvas import _CANVAS_MANAGER, COMMANDS

    names = {index: name for name, index in COMMANDS.items()}
    sent = []

    def record(command, buffers=()):
        batch = command if command and isinstance(command[0], list) else [command]
        sent.append([names[item[0]] for item in batch])

    monkeypatch.setattr(_CANVAS_MANAGER, "_send_custom", record)
    return sent


def test_client_ready_switches_the_browser_to_the_pad_before_redrawing(monkeypatch):
    pad = DrawingPad()
    pad._on_mouse_down(140, 40)
    pad._on_mouse_up(140, 240)
    sent = _record_messages(monkeypatch)
    # The first switch went out before the page existed (lost in Voila): send it again.
    pad._canvas._handle_frontend_event(None, {"event": "client_ready"}, [])
    assert len(sent) == 1 and sent[0][0] == "switchCanvas"
    assert "strokeLines" in sent[0] and "fillRect" in sent[0]


def test_each_mouse_move_draws_at_once(monkeypatch):
    pad = DrawingPad()
    pad._canvas._handle_frontend_event(None, {"event": "client_ready"}, [])
    sent = _record_messages(monkeypatch)
    pad._on_mouse_down(140, 40)
    assert len(sent) == 1 and sent[0][-1] == "fillCircle"  # the pen's dot, with its settings
    pad._on_mouse_move(140, 120)
    assert sent[-1] == ["strokeLine"]
    pad._on_mouse_move(150, 200)
    assert sent[-1] == ["strokeLine"] and pad.strokes == []


def test_client_ready_redraws_every_stroke(monkeypatch):
    from ipycanvas.canvas import _CANVAS_MANAGER

    pad = DrawingPad()
    pad._on_mouse_down(140, 40)
    pad._on_mouse_up(140, 240)
    sent = []
    monkeypatch.setattr(
        _CANVAS_MANAGER, "send_command", lambda canvas, command, buffers=(): sent.append(command)
    )
    pad._canvas._handle_frontend_event(None, {"event": "client_ready"}, [])
    with_stroke = len(sent)
    pad.clear()
    sent.clear()
    pad._canvas._handle_frontend_event(None, {"event": "client_ready"}, [])
    # The paper is repainted either way; the stroke adds its own commands.
    assert with_stroke > len(sent) > 0


def test_traced_real_digits_are_recognized(trained_model, digit_images):
    recognizer = Recognizer(trained_model)
    pad = DrawingPad(recognizer)
    right = []
    for digit, image in digit_images.items():
        pad.clear()
        _trace(pad, image)
        assert pad.value is not None and pad.value.ok
        right.append(pad.value.digit == digit)
    assert sum(right) >= 8, right


def test_a_vertical_stroke_is_a_one_and_a_new_model_re_recognizes(trained_model):
    pad = DrawingPad()
    pad._on_mouse_down(140, 40)
    pad._on_mouse_move(140, 140)
    pad._on_mouse_up(140, 240)
    before = pad.value
    assert not before.ok
    pad.model = trained_model  # read again at once, as the dashboard's link makes it
    assert pad.value.digit == 1
    assert pad.value.preprocessed is before.preprocessed  # the same input, read anew
    assert pad.message.startswith("Looks like a 1")


def test_the_pad_follows_the_model_of_the_recognizer_it_was_given(trained_model):
    recognizer = Recognizer()
    pad = DrawingPad(recognizer)
    pad._on_mouse_down(140, 40)
    pad._on_mouse_up(140, 240)
    assert not pad.value.ok
    recognizer.model = trained_model
    assert pad.model is trained_model and pad.value.digit == 1


def test_keys_on_the_pad_move_the_focus_on_and_undo_or_clear(monkeypatch):
    pad = DrawingPad()
    before = widgets.Button()
    pad.focus_previous = before
    focused = []
    monkeypatch.setattr(widgets.Button, "focus", lambda self: focused.append(self))
    pad._on_key_down("Tab", False, False, False)
    assert focused == [pad._undo]  # Tab leaves the canvas forwards: no keyboard trap
    pad._on_key_down("Tab", True, False, False)
    assert focused == [pad._undo, before]  # and Shift+Tab backwards
    pad.strokes = [[[10.0, 10.0], [200.0, 200.0]], [[50.0, 200.0], [200.0, 50.0]]]
    pad._on_key_down("Backspace", False, False, False)
    assert len(pad.strokes) == 1
    pad._on_key_down("Delete", False, False, False)
    assert pad.strokes == []
