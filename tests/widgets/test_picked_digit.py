"""PickedDigit: a clicked test digit, read beside the click, named as a test digit."""

from __future__ import annotations

import numpy as np

from digitwidgets.reading.preprocessing import Preprocessed
from digitwidgets.reading.recognition import Recognition
from digitwidgets.widgets.picked_digit import PickedDigit, probability_bars_html
from tests.support import find_widget


def _recognition(digit: int, confidence: float) -> Recognition:
    probabilities = np.full(10, (1 - confidence) / 9, dtype=np.float32)
    probabilities[digit] = confidence
    image = np.zeros((28, 28), dtype=np.float32)
    image[8:20, 12:16] = 1.0
    return Recognition(digit, probabilities, Preprocessed(image=image, cropped=image, scaled=image))


def test_hidden_until_a_digit_is_picked_and_hidden_again_by_its_close_button():
    picked = PickedDigit()
    assert picked.layout.display == "none"
    picked.show(_recognition(8, 0.94), 9, "Test digit #148")
    assert picked.layout.display == "flex"
    text = find_widget(picked, "dw-picked-text").value
    assert "<b>Test digit #148</b>: really a 9, misread as 8 (94% sure)." in text
    assert find_widget(picked, "dw-picked-image").value  # the digit's picture
    find_widget(picked, "dw-picked-close").click()
    assert picked.value is None and picked.layout.display == "none"


def test_a_digit_read_right_says_so_without_overstating():
    picked = PickedDigit()
    picked.show(_recognition(7, 0.999), 7, "Test digit #3")
    text = find_widget(picked, "dw-picked-text").value
    assert "really a 7, read right (over 99% sure)" in text and "100%" not in text


def test_the_winning_bar_is_the_dark_one_whichever_digit_wins():
    for winner in (0, 4, 9):
        bars = probability_bars_html(_recognition(winner, 0.8).probabilities, winner)
        assert bars.count("#08519c") == 1
        dark = bars.index("#08519c")
        # The dark bar sits in the winner's column: its label follows it.
        assert bars[dark:].split("</div>", 2)[1].endswith(f">{winner}")
