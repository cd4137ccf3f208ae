"""Clumsy drawing on the DrawingPad: dots, scribbles, strokes off the pad, huge strokes and
rapid clearing all end in a recognition or a message, and the pad keeps working.

Rasterizing such strokes on its own is tested in test_preprocessing.py (a dot, clipping,
5,000 points); here they go through the pad's mouse and touch handlers.
"""

from __future__ import annotations

import math

import pytest

from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.drawing_pad import DRAW_A_DIGIT, DrawingPad


@pytest.fixture(scope="module")
def recognizer():
    """The pretrained LeNet-5 shipped with the package, as the dashboard starts with."""
    from digitwidgets.learning.pretrained import load_pretrained

    return Recognizer(load_pretrained()[0])


def stroke(pad, points, *, touch=False) -> None:
    """Press at the first point, move through the rest and lift at the last."""
    first, *rest = points
    if touch:
        pad._on_touch_start([first])
        for point in rest:
            pad._on_touch_move([point])
        pad._on_touch_end([])
    else:
        pad._on_mouse_down(*first)
        for point in rest:
            pad._on_mouse_move(*point)
        pad._on_mouse_up(*(rest[-1] if rest else first))


def a_one(pad) -> None:
    stroke(pad, [(140, 40 + 20 * i) for i in range(11)])


def assert_answered(pad) -> None:
    """The pad shows a recognition or says why there is none; nothing is left half-done."""
    assert pad.value is not None
    assert pad.message
    if pad.value.ok:
        assert pad.message.startswith(f"Looks like a {pad.value.digit}")
        assert 0 <= pad.value.digit <= 9
    else:
        assert pad.message == pad.value.message
    assert pad._current is None


@pytest.mark.parametrize("touch", [False, True])
def test_a_single_click_is_a_dot_that_gets_an_answer(recognizer, touch):
    pad = DrawingPad(recognizer)
    stroke(pad, [(140.0, 140.0)], touch=touch)
    assert pad.strokes == [[[140.0, 140.0]]]
    assert pad.drawing.rasterize().max() == 255, "the dot left no ink for the model"
    assert_answered(pad)


@pytest.mark.parametrize("touch", [False, True])
def test_a_scribble_over_the_whole_pad_gets_an_answer(recognizer, touch):
    pad = DrawingPad(recognizer)
    zigzag = [(0.0 if i % 2 else 280.0, 7.0 * i) for i in range(41)]
    stroke(pad, zigzag, touch=touch)
    assert (pad.drawing.rasterize() > 0).mean() > 0.5
    assert_answered(pad)
    pad.clear()
    a_one(pad)
    assert pad.value.digit == 1


@pytest.mark.parametrize("touch", [False, True])
def test_strokes_that_leave_the_pad_and_come_back(recognizer, touch):
    pad = DrawingPad(recognizer)
    # A finger keeps reporting points past the edge; a mouse's far-off coordinates as well.
    stroke(pad, [(140, 40), (140, -5_000), (1e9, -1e9), (-300, 600), (140, 240)], touch=touch)
    assert pad.drawing.rasterize().shape == (280, 280)
    assert_answered(pad)
    # The mouse leaves the pad mid-stroke: ipycanvas reports mouse-out, which ends it.
    pad._on_mouse_down(140, 40)
    pad._on_mouse_move(140, 140)
    pad._on_mouse_up(140, 290)  # the mouse-out handler
    assert len(pad.strokes) == 2
    # Moving back in with the button still held draws nothing until the next press.
    pad._on_mouse_move(140, 200)
    pad._on_mouse_up(140, 200)
    assert len(pad.strokes) == 2
    assert_answered(pad)


def test_thousands_of_points_in_one_stroke(recognizer):
    pad = DrawingPad(recognizer)
    points = [(140 + 80 * math.sin(t / 400), 40 + 200 * t / 20_000) for t in range(0, 20_000, 2)]
    stroke(pad, points)
    assert len(pad.strokes[0]) == 10_000
    assert_answered(pad)


def test_drawing_and_clearing_rapidly_leaves_a_working_pad(recognizer):
    pad = DrawingPad(recognizer)
    for round_ in range(150):
        a_one(pad)
        if round_ % 3 == 0:
            pad.undo()
        elif round_ % 3 == 1:
            pad._clear.click()
        else:
            pad._on_mouse_down(20, 20)  # pressed, then Clear before lifting
            pad.clear()
            pad._on_mouse_up(20, 20)
            pad.clear()
    assert pad.strokes == [] and pad.value is None and pad.drawing is None
    assert pad.message == DRAW_A_DIGIT
    a_one(pad)
    assert pad.value.digit == 1


def test_lifting_or_moving_without_pressing_draws_nothing(recognizer):
    pad = DrawingPad(recognizer)
    pad._on_mouse_move(10, 10)
    pad._on_mouse_up(10, 10)
    pad._on_touch_move([(10, 10)])
    pad._on_touch_end([])
    pad._on_touch_start([])
    assert pad.strokes == [] and pad.value is None
