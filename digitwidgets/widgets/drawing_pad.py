"""DrawingPad: draw a digit with mouse or finger; each finished stroke is recognized."""

from __future__ import annotations

import html
import threading

import ipywidgets as widgets
import traitlets
from ipycanvas import Canvas, hold_canvas

from digitwidgets.reading.preprocessing import Drawing, preprocess_drawing
from digitwidgets.reading.recognition import Recognition, Recognizer, read
from digitwidgets.reading.several import Number, read_digits, split_drawing
from digitwidgets.widgets.support import message_html

_PAPER = "white"
_INK = "#111111"
DRAW_A_DIGIT = "Draw a digit with the mouse or a finger: it is read at the end of each stroke."
NO_MODEL_YET = "No model yet: train one first, then draw a digit here."
PAD_NAME = (
    "Drawing pad: draw one digit with the mouse, a finger or a pen. Keys: Backspace undoes a "
    "stroke, Delete clears; without a pointer, upload a picture below."
)
MODEL_LOADING = "The model is loading: draw now, your digit is read as soon as it is ready."


class DrawingPad(widgets.VBox):
    """A canvas to draw one digit on, with Undo and Clear.

    The strokes are kept in Python (``strokes``) and rasterized for the model from there;
    the canvas only shows them. Dark ink on white paper reads as a pen on paper;
    preprocessing turns it into MNIST's light-on-dark form either way. When ``model``
    changes (link it to the owner of the current model), the drawing is read again.
    """

    value = traitlets.Instance(
        Recognition,
        allow_none=True,
        read_only=True,
        help="The recognition of the current drawing, or None when nothing is drawn.",
    )
    strokes = traitlets.List(
        help="Finished strokes, each a list of [x, y] canvas points; setting it redraws.",
    )
    model = traitlets.Any(
        None, allow_none=True, help="The Keras model that reads the drawing, or None."
    )
    drawing = traitlets.Instance(
        Drawing,
        allow_none=True,
        read_only=True,
        help="The current strokes as a Drawing (what the model reads), or None when empty.",
    )
    message = traitlets.Unicode(DRAW_A_DIGIT, read_only=True, help="What the pad tells the user.")
    number = traitlets.Instance(
        Number,
        allow_none=True,
        read_only=True,
        help="The digits of a number written with gaps, read left to right, or None.",
    )
    focus_previous = traitlets.Instance(
        widgets.DOMWidget,
        allow_none=True,
        help="Where Shift+Tab on the pad sends the keyboard focus (the canvas keeps every key).",
    )
    model_loading = traitlets.Bool(
        False, help="Whether a model is on its way (the pad says so instead of 'no model')."
    )

    def __init__(self, recognizer: Recognizer | None = None, *, size=280, pen_width=18.0, **kwargs):
        """Build a ``size`` x ``size`` pad drawing with a ``pen_width`` pixels pen.

        Given a ``recognizer``, the pad reads with its model, following it (a dlink).
        """
        super().__init__(**kwargs)
        # A drawing is recognized on the kernel's thread, and again on the event worker when
        # a model arrives: one at a time, each with the strokes and model current then.
        self._recognizing = threading.RLock()
        self._shown = widgets.CallbackDispatcher()
        self.size = int(size)
        self.pen_width = float(pen_width)
        self._current: list[list[float]] | None = None
        self._canvas = Canvas(
            width=self.size,
            height=self.size,
            layout=widgets.Layout(width=f"{self.size}px", height=f"{self.size}px"),
        )
        self._canvas.add_class("dw-pad")
        # The frame carries dw-pad too, so ".dw-pad canvas" finds the drawing surface as well.
        frame = widgets.Box(
            [self._canvas],
            layout=widgets.Layout(border="1px solid #999", width="fit-content", overflow="hidden"),
        )
        frame.add_class("dw-pad")
        frame.add_class("dw-pad-frame")
        # The pad's name and what its keys do, in words on the page; the page's template makes
        # it the canvas's accessible name. (A tooltip cannot carry it: ipywidgets fails to
        # render a Canvas or a Box that has one.)
        self._name = widgets.HTML(
            f'<span id="dw-pad-name-{id(self):x}">{html.escape(PAD_NAME)}</span>',
            layout=widgets.Layout(width="280px", max_width="100%"),
        )
        self._name.add_class("dw-pad-name")
        self._canvas.on_mouse_down(self._on_mouse_down)
        self._canvas.on_mouse_move(self._on_mouse_move)
        self._canvas.on_mouse_up(self._on_mouse_up)
        self._canvas.on_mouse_out(self._on_mouse_up)
        self._canvas.on_touch_start(self._on_touch_start)
        self._canvas.on_touch_move(self._on_touch_move)
        self._canvas.on_touch_end(self._on_touch_end)
        self._canvas.on_touch_cancel(self._on_touch_end)
        self._canvas.on_client_ready(self._on_client_ready)
        # ipycanvas takes every key pressed on the canvas, Tab included: hand the focus on
        # ourselves, or a keyboard user is trapped on the pad.
        self._canvas.on_key_down(self._on_key_down)

        self._undo = widgets.Button(description="Undo", icon="undo")
        self._undo.add_class("dw-undo")
        self._undo.on_click(lambda _: self.undo())
        self._clear = widgets.Button(description="Clear", icon="eraser")
        self._clear.add_class("dw-clear")
        self._clear.on_click(lambda _: self.clear())
        # HTML rather than Label: a long message wraps instead of being cut off.
        self._message = widgets.HTML(layout=widgets.Layout(width="280px", max_width="100%"))
        self._message.add_class("dw-pad-message")
        self._message.add_class("dw-live")  # a live region: a screen reader announces it
        traitlets.dlink((self, "message"), (self._message, "value"), message_html)

        self._redraw()
        self._show_idle_message()
        if recognizer is not None:
            traitlets.dlink((recognizer, "model"), (self, "model"))
        self.children = [
            self._name,
            frame,
            widgets.HBox([self._undo, self._clear]),
            self._message,
        ]
        self.add_class("dw-drawing-pad")

    def undo(self) -> None:
        """Remove the last stroke."""
        self.strokes = self.strokes[:-1]

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes = []

    def recognize(self) -> None:
        """Read the current strokes again."""
        with self._recognizing:
            self._recognize()

    def _recognize(self) -> None:
        if not self.strokes:
            self.set_trait("drawing", None)
            self.set_trait("value", None)
            self.set_trait("number", None)
            self._show_idle_message()
            return
        drawing = Drawing(
            strokes=tuple(tuple((float(x), float(y)) for x, y in s) for s in self.strokes),
            width=self.size,
            height=self.size,
            pen_width=self.pen_width,
        )
        # The drawing first: whoever follows ``value`` finds the drawing it came from.
        self.set_trait("drawing", drawing)
        recognition = read(self.model, preprocess_drawing(drawing))
        # A number written with gaps: each digit read, left to right; no single digit guessed.
        several = self.model is not None and len(split_drawing(drawing)) > 1
        self.set_trait("number", read_digits(self.model, drawing) if several else None)
        if several:
            recognition = Recognition(None, None, recognition.preprocessed, self.number.message)
        self._show(recognition)

    def _show(self, recognition: Recognition) -> None:
        self.set_trait("value", recognition)
        if recognition.ok:
            message = f"Looks like a {recognition.digit}. Undo or Clear to draw again."
        elif self.number is not None:
            count, text = len(self.number.digits), self.number.text
            message = f"{count} digits, read left to right: {text}. Undo or Clear to draw again."
        elif self.model is None and self.model_loading:
            message = MODEL_LOADING
        else:
            message = recognition.message
        self.set_trait("message", message)

    def _show_idle_message(self) -> None:
        if self.model is not None:
            message = DRAW_A_DIGIT
        else:
            message = MODEL_LOADING if self.model_loading else NO_MODEL_YET
        self.set_trait("message", message)

    @traitlets.observe("model_loading")
    def _on_model_loading(self, change) -> None:
        if not self.strokes:
            self._show_idle_message()

    @traitlets.observe("strokes")
    def _on_strokes_change(self, change) -> None:
        self._redraw()
        self.recognize()

    @traitlets.observe("model")
    def _on_model_change(self, change) -> None:
        # Whichever thread set it (the Trainer's event worker each epoch): the same drawing,
        # already preprocessed, read by the new model; this only sets traits.
        with self._recognizing:
            if self.value is None or self.value.preprocessed is None:
                self._show_idle_message()
            else:
                self._show(read(self.model, self.value.preprocessed))

    def _on_client_ready(self) -> None:
        # ipycanvas sends "switch to this canvas" only when the target canvas changes, and the
        # first switch went out before the page existed (Voila), so the browser would have no
        # canvas to draw on: forget the switch so the redraw (and each stroke after) finds it.
        self._canvas._canvas_manager._current_canvas = None
        self._redraw()
        self._shown()

    def on_shown(self, callback, remove: bool = False) -> None:
        """Call ``callback()`` each time a page shows the pad (its canvas is ready in a browser).

        A page load that no browser displays (a crawler, a link preview) never calls it.
        """
        self._shown.register_callback(callback, remove=remove)

    def _on_key_down(self, key: str, shift_key: bool, ctrl_key: bool, meta_key: bool) -> None:
        if key == "Tab" and shift_key:
            if self.focus_previous is not None:
                self.focus_previous.focus()
            else:
                self._canvas.blur()
        elif key == "Tab":
            self._undo.focus()
        elif key == "Backspace":
            self.undo()
        elif key in ("Delete", "Escape"):
            self.clear()

    def _on_mouse_down(self, x: float, y: float) -> None:
        self._current = [[float(x), float(y)]]
        # A dot, so that a click without a move leaves a mark as it does for the model.
        with hold_canvas():
            self._set_pen()
            self._canvas.fill_circle(x, y, self.pen_width / 2)

    def _on_mouse_move(self, x: float, y: float) -> None:
        if self._current is None:
            return
        last_x, last_y = self._current[-1]
        self._current.append([float(x), float(y)])
        self._canvas.stroke_line(last_x, last_y, x, y)

    def _on_mouse_up(self, x: float, y: float) -> None:
        if self._current is None:
            return
        if [float(x), float(y)] != self._current[-1]:
            self._on_mouse_move(x, y)
        stroke, self._current = self._current, None
        self.strokes = [*self.strokes, stroke]

    def _on_touch_start(self, touches) -> None:
        if touches:
            self._on_mouse_down(*touches[0])

    def _on_touch_move(self, touches) -> None:
        if touches:
            self._on_mouse_move(*touches[0])

    def _on_touch_end(self, touches) -> None:
        # The lifted finger is no longer in ``touches``: end where the stroke last was.
        if self._current is not None:
            self._on_mouse_up(*self._current[-1])

    def _redraw(self) -> None:
        canvas = self._canvas
        with hold_canvas():
            canvas.clear()
            canvas.fill_style = _PAPER
            canvas.fill_rect(0, 0, self.size, self.size)
            self._set_pen()
            for stroke in self.strokes:
                if len(stroke) == 1:
                    canvas.fill_circle(stroke[0][0], stroke[0][1], self.pen_width / 2)
                else:
                    canvas.stroke_lines(stroke)

    def _set_pen(self) -> None:
        """Ink colour, pen width and round ends for what comes next."""
        canvas = self._canvas
        canvas.stroke_style = _INK
        canvas.fill_style = _INK
        canvas.line_width = self.pen_width
        canvas.line_cap = "round"
        canvas.line_join = "round"
