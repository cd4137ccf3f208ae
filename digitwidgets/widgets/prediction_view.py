"""PredictionView: the recognized digit, how sure the model is, and what the model saw."""

from __future__ import annotations

import html
import threading

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.reading.recognition import Recognition, read
from digitwidgets.widgets.charts import LEFT_TITLE_OFFSET, percent_ticks, show_ticks
from digitwidgets.widgets.support import WAITING, TitledImage, png_bytes, sure

_BAR_COLOR = "#c6dbef"
_WINNER_COLOR = "#08519c"
# Five screen pixels per model pixel, for the 20 px step and the 28x28 input alike.
_PIXEL = 5
_INPUT_SIZE = 28 * _PIXEL
_STEP_SIZE = 20 * _PIXEL

# Inline styles: the view reads the same inside the dashboard, a notebook or another page.
_DIGIT_STYLE = (
    "font-size: 80px; line-height: 96px; height: 96px; font-weight: 700; "
    f"text-align: center; color: {_WINNER_COLOR};"
)
_CONFIDENCE_STYLE = "font-size: 15px; line-height: 1.35; text-align: center; color: #333;"
_CAPTION_STYLE = "font-size: 13px; line-height: 1.3; color: #333;"
# The photo path's steps, by the class of their picture and their caption.
_PHOTO_STEPS = {
    "photo": "a · your photo, small",
    "flattened": "b · the light divided out",
    "ink": "c · the ink found (lines removed in grey)",
    "kept": "d · the digit kept",
}
_PIXELATED = "image-rendering: pixelated; border: 1px solid #ccc; background: black;"


def square(image: np.ndarray | None) -> np.ndarray | None:
    """``image`` centred on a black square as wide as its longest side: shown unstretched."""
    if image is None or np.asarray(image).size == 0:
        return None
    values = np.asarray(image)
    height, width = values.shape[:2]
    side = max(height, width)
    padded = np.zeros((side, side, *values.shape[2:]), dtype=values.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    padded[top : top + height, left : left + width] = values
    return padded


def _image(size: int, css_class: str) -> widgets.Image:
    image = TitledImage(
        value=b"", format="png", layout=widgets.Layout(width=f"{size}px", height=f"{size}px")
    )
    image.add_class(css_class)
    return image


def _step(caption: str, image: widgets.Image) -> widgets.VBox:
    """One step of the way to the model: a caption (up to three lines) over its picture."""
    width = f"{int(image.layout.width.removesuffix('px')) + 24}px"
    image.tooltip = caption  # the picture's text for a screen reader (its title)
    text = widgets.HTML(f"<div style='{_CAPTION_STYLE}'>{html.escape(caption)}</div>")
    text.layout = widgets.Layout(height="54px", width=width)
    step = widgets.VBox([text, image], layout=widgets.Layout(width=width, margin="0 10px 0 0"))
    step.add_class("dw-step")
    return step


class PredictionView(widgets.VBox):
    """Show a Recognition: the digit, its confidence, all ten probabilities and the input.

    Below them, the drawing's way to the model in order (its ink, scaled to 20 px, centred
    by mass in 28x28) and, when ``model`` is set, which pixels made the model answer as it
    did (gradient x input, ``digitwidgets.reading.saliency``). When ``model`` changes, the
    view reads the input on show again with it (a drawing, an upload or a test digit alike).
    """

    value = traitlets.Instance(
        Recognition, allow_none=True, help="The recognition to show, or None to show nothing."
    )
    model = traitlets.Any(
        None,
        allow_none=True,
        help="The Keras model that made the recognition, for the 'why this digit' map; "
        "None hides the map.",
    )

    def __init__(self, value: Recognition | None = None, *, model=None, **kwargs):
        """Build an empty view, then show ``value`` (and its saliency with ``model``)."""
        super().__init__(**kwargs)
        self._showing = threading.RLock()
        self._digit = widgets.HTML("", layout=widgets.Layout(height="96px"))
        self._digit.add_class("dw-prediction")
        self._confidence = widgets.HTML("")
        self._confidence.add_class("dw-confidence")

        x_scale = bqplot.OrdinalScale()
        y_scale = bqplot.LinearScale(min=0.0, max=1.0)
        # The winner is marked in the data (1, the others 0) through a colour scale: a list
        # of per-bar ``colors`` is applied by bqplot to the first bar only.
        winner_scale = bqplot.ColorScale(colors=[_BAR_COLOR, _WINNER_COLOR], min=0.0, max=1.0)
        self._steps_shown = None  # the input whose preprocessing steps are on show
        self._bars = bqplot.Bars(
            x=np.arange(10),
            y=np.zeros(10),
            color=np.zeros(10),
            scales={"x": x_scale, "y": y_scale, "color": winner_scale},
            padding=0.2,
        )
        x_axis = bqplot.Axis(scale=x_scale, label="Digit")
        probability_axis = bqplot.Axis(
            scale=y_scale, side="left", label="Probability", label_offset=LEFT_TITLE_OFFSET
        )
        # 0, 50, 100%: three round ticks on a short axis (eleven crowded it).
        show_ticks(probability_axis, percent_ticks(most=3))
        self._probabilities = bqplot.Figure(
            marks=[self._bars],
            axes=[x_axis, probability_axis],
            title="Probabilities",
            fig_margin={"top": 35, "bottom": 40, "left": 62, "right": 10},
            layout=widgets.Layout(width="340px", max_width="100%", height="220px"),
            display_toolbar=False,  # it would cover the title on hover
        )
        self._probabilities.add_class("dw-probabilities")

        self._cropped = _image(_STEP_SIZE, "dw-step-cropped")
        self._scaled = _image(_STEP_SIZE, "dw-step-scaled")
        self._input = _image(_INPUT_SIZE, "dw-model-input")
        self._saliency = _image(_INPUT_SIZE, "dw-saliency")
        self._pixelated = widgets.HTML(
            f"<style>.dw-prediction-view .dw-step img {{ {_PIXELATED} }}</style>",
            layout=widgets.Layout(display="none"),
        )
        self._steps = widgets.HBox(
            [
                _step("1 · your drawing's ink", self._cropped),
                _step("2 · scaled to 20 px", self._scaled),
                _step("3 · centred by mass in 28×28 (what the model sees)", self._input),
            ],
            layout=widgets.Layout(align_items="flex-start"),
        )
        self._steps.add_class("dw-steps")
        # A photo of paper first goes its own way to the ink (docs/photos.md): shown above.
        self._photo_images = [_image(_STEP_SIZE, f"dw-photo-{name}") for name in _PHOTO_STEPS]
        self._photo_steps = widgets.HBox(
            [_step(caption, image) for caption, image in zip(
                _PHOTO_STEPS.values(), self._photo_images, strict=True
            )],
            layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap", display="none"),
        )  # fmt: skip
        self._photo_steps.add_class("dw-photo-steps")
        self._why = _step("Why this digit: red pixels pushed the model to it", self._saliency)
        self._steps.children = [*self._steps.children, self._why]

        verdict = widgets.VBox(
            [self._digit, self._confidence],
            layout=widgets.Layout(width="160px", align_items="center"),
        )
        self.children = [
            self._pixelated,
            # Side by side, or the chart under the digit where they do not fit (a phone).
            widgets.HBox(
                [verdict, self._probabilities],
                layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
            ),
            self._photo_steps,
            self._steps,
        ]
        self.add_class("dw-prediction-view")
        self.model = model
        self.value = value
        self._show(value)

    @traitlets.observe("value")
    def _on_value_change(self, change) -> None:
        # Values arrive from the kernel's thread (a drawing) and the event worker (a new model)
        # alike: show whichever is current, one at a time, so the page's widgets end in the
        # same state as the kernel's (two interleaved updates could leave the older one shown).
        with self._showing:
            self._show(self.value)

    @traitlets.observe("model")
    def _on_model_change(self, change) -> None:
        # Whichever thread set it (the Trainer's event worker each epoch): the input on show,
        # already preprocessed, read by the new model. A value set meanwhile is kept.
        with self._showing:
            shown = self.value
            if shown is None or shown.preprocessed is None:
                return
            reading = read(change["new"], shown.preprocessed)
            if self.value is not shown:
                return
            if reading is shown:
                # Already this model's reading (remembered by ``read``): show its saliency.
                self._show(shown)
            else:
                self.value = reading

    def _show(self, recognition: Recognition | None) -> None:
        if not hasattr(self, "_bars"):
            return
        ok = recognition is not None and recognition.ok
        digit = str(recognition.digit) if ok else ""
        self._digit.value = f"<div style='{_DIGIT_STYLE}'>{digit}</div>" if ok else ""
        if ok:
            text = sure(recognition.confidence)
        elif recognition is not None:
            text = recognition.message
        else:
            text = WAITING
        self._confidence.value = f"<div style='{_CONFIDENCE_STYLE}'>{html.escape(text)}</div>"

        probabilities = (
            np.asarray(recognition.probabilities, dtype=float) if ok else np.zeros(10, dtype=float)
        )
        winner = np.zeros(10, dtype=float)
        if ok:
            winner[recognition.digit] = 1.0
        with self._bars.hold_sync():
            self._bars.y = probabilities
            self._bars.color = winner

        preprocessed = recognition.preprocessed if recognition is not None else None
        if preprocessed is None or preprocessed is not self._steps_shown:
            # A new model reading the same input (every epoch): the steps stay as they are.
            self._show_steps(preprocessed)
        self._show_saliency(recognition)

    def _show_steps(self, preprocessed) -> None:
        self._steps_shown = preprocessed
        cropped = square(getattr(preprocessed, "cropped", None))
        scaled = square(getattr(preprocessed, "scaled", None))
        self._cropped.value = png_bytes(cropped, _STEP_SIZE)
        self._scaled.value = png_bytes(scaled, _STEP_SIZE)
        self._input.value = png_bytes(getattr(preprocessed, "image", None), _INPUT_SIZE)
        # Gone, not hidden, while there is nothing to show: a hidden row of steps left 400 px
        # of blank under the waiting message on a phone.
        self._steps.layout.display = "flex" if self._input.value else "none"
        self._show_photo_steps(getattr(preprocessed, "photo", None))

    def _show_photo_steps(self, steps) -> None:
        """The photo path's steps (a ``PhotoSteps``), even when it found no digit; else none."""
        if steps is None:
            self._photo_steps.layout.display = "none"
            return
        ink = steps.ink.astype(np.float32) + 0.4 * steps.lines
        pictures = (steps.photo, steps.flattened, ink, steps.kept)
        for image, picture in zip(self._photo_images, pictures, strict=True):
            image.value = png_bytes(square(np.asarray(picture, dtype=np.float32)), _STEP_SIZE)
        self._photo_steps.layout.display = "flex"

    def _show_saliency(self, recognition: Recognition | None) -> None:
        heat = None
        if self.model is not None and recognition is not None and recognition.ok:
            from digitwidgets.reading.saliency import overlay, saliency

            evidence = recognition.saliency  # made with the reading, when it could be
            if evidence is None:
                evidence = saliency(self.model, recognition.image)
            heat = overlay(recognition.image, evidence)
        self._saliency.value = png_bytes(heat, _INPUT_SIZE)
        self._why.layout.visibility = "visible" if heat is not None else "hidden"
