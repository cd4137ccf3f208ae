"""PredictionView: the recognized digit, how sure the model is, and what the model saw."""

from __future__ import annotations

import io

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image

from digitwidgets.recognition import Recognition

_BAR_COLOR = "#c6dbef"
_WINNER_COLOR = "#08519c"
_INPUT_SIZE = 140
_STEP_SIZE = 70


def png_bytes(image: np.ndarray | None, size: int) -> bytes:
    """A float [0, 1] (or uint8) image as PNG, enlarged to ``size`` pixels with hard edges."""
    if image is None or np.asarray(image).size == 0:
        return b""
    values = np.asarray(image)
    if values.dtype != np.uint8:
        values = (np.clip(values, 0.0, 1.0) * 255).round().astype(np.uint8)
    picture = Image.fromarray(values)
    scale = size / max(picture.size)
    shape = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    # Nearest neighbour: each model pixel stays a visible square.
    picture = picture.resize(shape, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _image(size: int, css_class: str) -> widgets.Image:
    image = widgets.Image(
        value=b"", format="png", layout=widgets.Layout(width=f"{size}px", height=f"{size}px")
    )
    image.add_class(css_class)
    return image


class PredictionView(widgets.VBox):
    """Show a Recognition: the digit, its confidence, all ten probabilities and the input."""

    value = traitlets.Instance(
        Recognition, allow_none=True, help="The recognition to show, or None to show nothing."
    )

    def __init__(self, value: Recognition | None = None, **kwargs):
        """Build an empty view, then show ``value``."""
        super().__init__(**kwargs)
        self._digit = widgets.HTML("")
        self._digit.add_class("dw-prediction")
        self._confidence = widgets.Label("")
        self._confidence.add_class("dw-confidence")

        x_scale = bqplot.OrdinalScale()
        y_scale = bqplot.LinearScale(min=0.0, max=1.0)
        self._bars = bqplot.Bars(
            x=np.arange(10),
            y=np.zeros(10),
            scales={"x": x_scale, "y": y_scale},
            color_mode="element",
            colors=[_BAR_COLOR] * 10,
            padding=0.2,
        )
        self._probabilities = bqplot.Figure(
            marks=[self._bars],
            axes=[
                bqplot.Axis(scale=x_scale, label="digit"),
                bqplot.Axis(scale=y_scale, side="left", label="probability", tick_format=".0%"),
            ],
            title="Probabilities",
            fig_margin={"top": 35, "bottom": 40, "left": 55, "right": 10},
            layout=widgets.Layout(width="320px", height="220px"),
        )
        self._probabilities.add_class("dw-probabilities")

        self._input = _image(_INPUT_SIZE, "dw-model-input")
        self._cropped = _image(_STEP_SIZE, "dw-step-cropped")
        self._scaled = _image(_STEP_SIZE, "dw-step-scaled")
        self._steps = widgets.HBox(
            [
                widgets.VBox([widgets.Label("ink cropped"), self._cropped]),
                widgets.VBox([widgets.Label("scaled to 20 px"), self._scaled]),
            ]
        )
        self.children = [
            widgets.HBox(
                [widgets.VBox([self._digit, self._confidence]), self._probabilities],
                layout=widgets.Layout(align_items="center"),
            ),
            widgets.HBox(
                [widgets.VBox([widgets.Label("What the model sees (28x28)"), self._input])]
                + [self._steps]
            ),
        ]
        self.add_class("dw-prediction-view")
        self.value = value
        self._show(value)

    @traitlets.observe("value")
    def _on_value_change(self, change) -> None:
        self._show(change["new"])

    def _show(self, recognition: Recognition | None) -> None:
        if not hasattr(self, "_bars"):
            return
        ok = recognition is not None and recognition.ok
        self._digit.value = str(recognition.digit) if ok else ""
        if ok:
            self._confidence.value = f"{recognition.confidence:.0%} sure"
        else:
            self._confidence.value = recognition.message if recognition is not None else ""

        probabilities = (
            np.asarray(recognition.probabilities, dtype=float) if ok else np.zeros(10, dtype=float)
        )
        colors = [_BAR_COLOR] * 10
        if ok:
            colors[recognition.digit] = _WINNER_COLOR
        with self._bars.hold_sync():
            self._bars.y = probabilities
            self._bars.colors = colors

        preprocessed = recognition.preprocessed if recognition is not None else None
        self._input.value = png_bytes(getattr(preprocessed, "image", None), _INPUT_SIZE)
        self._cropped.value = png_bytes(getattr(preprocessed, "cropped", None), _STEP_SIZE)
        self._scaled.value = png_bytes(getattr(preprocessed, "scaled", None), _STEP_SIZE)
        self._steps.layout.visibility = "visible" if self._cropped.value else "hidden"
