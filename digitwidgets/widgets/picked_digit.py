"""PickedDigit: a test digit someone clicked, read where they clicked it."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.reading.recognition import Recognition
from digitwidgets.widgets.support import TitledImage, png_bytes, sure

_SIZE = 84
_BAR_COLOR = "#c6dbef"
_WINNER_COLOR = "#08519c"
_BAR_HEIGHT = 48


def probability_bars_html(probabilities, winner: int) -> str:
    """Ten small bars, one per digit, the ``winner`` dark; each says its share on hover."""
    bars = []
    for digit, probability in enumerate(np.asarray(probabilities, dtype=float)):
        height = max(1, round(float(probability) * _BAR_HEIGHT))
        color = _WINNER_COLOR if digit == winner else _BAR_COLOR
        bars.append(
            f"<div title='{digit}: {probability:.1%}' style='display:flex; "
            "flex-direction:column; align-items:center; justify-content:flex-end; width:20px'>"
            f"<div style='width:14px; height:{height}px; background:{color}'></div>"
            f"<div style='font-size:12px; line-height:1.3'>{digit}</div></div>"
        )
    return (
        f"<div style='display:flex; gap:2px; align-items:flex-end; height:{_BAR_HEIGHT + 18}px'"
        f" aria-label='probabilities'>{''.join(bars)}</div>"
    )


class PickedDigit(widgets.HBox):
    """A test digit picked in a gallery or on a map: its picture, what it really is, what the
    model read and how sure it was, shown beside the click (not in step 3, which belongs to
    the visitor's own drawing). Empty and hidden while ``value`` is None; × hides it."""

    value = traitlets.Instance(
        Recognition, allow_none=True, help="The model's reading of the picked digit, or None."
    )
    true_digit = traitlets.Int(None, allow_none=True, help="What the test digit really is.")
    name = traitlets.Unicode("Test digit", help='How to call it ("Test digit #12").')

    def __init__(self, **kwargs):
        """Build it empty and hidden."""
        super().__init__(**kwargs)
        self._image = TitledImage(
            value=b"",
            format="png",
            layout=widgets.Layout(width=f"{_SIZE}px", height=f"{_SIZE}px"),
            tooltip="The test digit picked",
        )
        self._image.add_class("dw-picked-image")
        self._text = widgets.HTML("")
        self._text.add_class("dw-picked-text")
        self._close = widgets.Button(
            description="×",
            tooltip="Hide this test digit",
            layout=widgets.Layout(width="32px", padding="0"),
        )
        self._close.add_class("dw-picked-close")
        self._close.on_click(lambda _: setattr(self, "value", None))
        self.children = [self._image, self._text, self._close]
        self.layout = widgets.Layout(
            align_items="flex-start",
            flex_flow="row wrap",
            grid_gap="12px",
            border="1px solid #ccc",
            padding="8px",
            margin="6px 0",
            display="none",
        )
        self.add_class("dw-picked-digit")

    def show(self, recognition: Recognition, true_digit: int, name: str) -> None:
        """Show ``recognition`` of the test digit ``name`` whose true label is ``true_digit``."""
        self.true_digit = int(true_digit)
        self.name = name
        self.value = recognition
        # Focus moves the page to it when it is out of sight (a long gallery above it).
        self._close.focus()

    @traitlets.observe("value", "true_digit", "name")
    def _on_change(self, _change) -> None:
        recognition = self.value
        if recognition is None:
            self.layout.display = "none"
            self._image.value = b""
            self._text.value = ""
            return
        read = recognition.digit
        verdict = "read right" if read == self.true_digit else f"misread as {read}"
        self._image.value = png_bytes(recognition.image, _SIZE)
        self._text.value = (
            "<div style='font-size:13px; line-height:1.4'>"
            f"<b>{html.escape(self.name)}</b>: really a {self.true_digit}, {verdict} "
            f"({sure(recognition.confidence)}).</div>"
            + probability_bars_html(recognition.probabilities, read)
        )
        self.layout.display = "flex"
