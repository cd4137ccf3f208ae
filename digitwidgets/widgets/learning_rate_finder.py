"""LearningRateFinder: the learning-rate range test as a button, a live chart and a suggestion."""

from __future__ import annotations

import html
from collections.abc import Callable

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.lr_finder import (
    END_LEARNING_RATE,
    START_LEARNING_RATE,
    LearningRateRange,
    LearningRateRangeTest,
    format_rate,
)
from digitwidgets.learning.training.events import EventKind
from digitwidgets.widgets.charts import decade_ticks, number_ticks, show_ticks

_LOSS_COLOR = "#9ecae1"
_SMOOTHED_COLOR = "#1f77b4"
_SUGGESTION_COLOR = "#2e7d32"
_LEGEND = (
    "<div style='padding-left:48px; font-size:13px; color:#333; display:flex; "
    "flex-wrap:wrap; column-gap:18px'>"
    f"<span style='white-space:nowrap'><span style='color:{_LOSS_COLOR}; font-weight:700'>━━"
    "</span> loss of each batch</span>"
    f"<span style='white-space:nowrap'><span style='color:{_SMOOTHED_COLOR}; font-weight:700'>"
    "━━</span> smoothed</span>"
    f"<span style='white-space:nowrap'><span style='color:{_SUGGESTION_COLOR}'>┆</span> "
    "suggested rate</span></div>"
)
# The rate axis reaches a little beyond the rates tried: its "1e-6" stays clear of the loss
# axis's labels at the corner, and its "1" inside the figure, clear of the axis's end tick.
_RATE_AXIS_START = START_LEARNING_RATE / 3
_RATE_AXIS_END = END_LEARNING_RATE * 2
_READY = (
    "Not sure which learning rate? Try rates from 1e-6 to 1 for a few seconds and see where "
    "the loss falls fastest."
)


class LearningRateFinder(widgets.VBox):
    """Find a learning rate for the current settings, and put the suggestion into them.

    Press "Find a learning rate": a short run with the rate rising from 1e-6 to 1 draws the
    loss against the rate (log axis) as it goes; the suggested rate is marked, and "Use ..."
    sets it in ``hyperparameters`` (link that to ``HyperparameterControls.value``). The test
    uses ``hyperparameters``' architecture, activation, optimizer and batch size; it is not
    a saved run and does not change the model in use. With a ``trainer`` it waits for no
    training: it refuses while one runs, and Train refuses while it runs.
    """

    hyperparameters = traitlets.Instance(
        Hyperparameters, help="The settings the test uses; 'Use ...' sets their learning rate."
    )
    value = traitlets.Instance(
        LearningRateRange,
        allow_none=True,
        read_only=True,
        help="The latest test's points (live while it runs), or None before any.",
    )
    suggestion = traitlets.Float(
        None, allow_none=True, read_only=True, help="The suggested learning rate, or None."
    )
    running = traitlets.Bool(False, read_only=True, help="Whether a test is under way.")
    status = traitlets.Unicode(_READY, read_only=True, help="What happened last, as a sentence.")

    def __init__(
        self, data, hyperparameters: Hyperparameters | None = None, trainer=None, **kwargs
    ):
        """Test on ``data``'s training digits, keeping clear of ``trainer``'s runs."""
        super().__init__(**kwargs)
        self._data = data
        self._trainer = trainer
        self._test = LearningRateRangeTest(trainer)
        self._test.add_listener(self._on_result)
        self._apply_callbacks = widgets.CallbackDispatcher()
        self.hyperparameters = hyperparameters if hyperparameters is not None else Hyperparameters()

        self._find = widgets.Button(
            description="Find a learning rate",
            icon="search",
            tooltip="A short run with rising learning rates: where does the loss fall fastest?",
            layout=widgets.Layout(width="auto"),
        )
        self._find.add_class("dw-lr-finder")
        self._find.on_click(lambda _: self.find())
        self._stop = widgets.Button(
            description="Stop", icon="stop", disabled=True, layout=widgets.Layout(width="auto")
        )
        self._stop.add_class("dw-lr-finder-stop")
        self._stop.on_click(lambda _: self.stop())
        self._apply = widgets.Button(
            description="Use the suggestion",
            button_style="success",
            icon="check",
            tooltip="Put the suggested learning rate into the settings",
            layout=widgets.Layout(width="auto", display="none"),
        )
        self._apply.add_class("dw-lr-suggestion")
        self._apply.on_click(lambda _: self.apply())
        self._status = widgets.HTML()
        self._status.add_class("dw-lr-finder-status")
        traitlets.dlink((self, "status"), (self._status, "value"), _status_html)
        traitlets.dlink((self, "running"), (self._stop, "disabled"), lambda running: not running)
        traitlets.dlink((self, "running"), (self._find, "disabled"))
        # The chart is built by the first test: a bqplot figure hidden until then would still
        # be fetched and rendered by every page before it is usable (docs/benchmarks.md).
        self._figure = None
        self._legend = None
        if trainer is not None:
            trainer.add_listener(self._on_training_event)

        self.children = [
            widgets.HBox(
                [self._find, self._stop, self._apply],
                layout=widgets.Layout(flex_flow="row wrap", grid_gap="6px"),
            ),
            self._status,
        ]
        self.add_class("dw-lr-finder-panel")

    @traitlets.default("hyperparameters")
    def _default_hyperparameters(self) -> Hyperparameters:
        return Hyperparameters()

    def _build_figure(self) -> bqplot.Figure:
        x_scale = bqplot.LogScale()
        # From 0 to a little above the untrained loss (set per test): a blown-up batch would
        # otherwise flatten the part that matters.
        self._y_scale = y_scale = bqplot.LinearScale()
        # The suggestion's line spans the plot's height whatever the losses: its own 0..1 scale.
        height_scale = bqplot.LinearScale(min=0.0, max=1.0)
        empty = np.zeros(0)
        self._loss_line = bqplot.Lines(
            x=empty, y=empty, scales={"x": x_scale, "y": y_scale}, colors=[_LOSS_COLOR]
        )
        self._smoothed_line = bqplot.Lines(
            x=empty,
            y=empty,
            scales={"x": x_scale, "y": y_scale},
            colors=[_SMOOTHED_COLOR],
            stroke_width=2.5,
        )
        self._marker = bqplot.Lines(
            x=[START_LEARNING_RATE, START_LEARNING_RATE],
            y=[0.0, 1.0],
            scales={"x": x_scale, "y": height_scale},
            colors=[_SUGGESTION_COLOR],
            line_style="dashed",
            visible=False,
        )
        self._marker_label = bqplot.Label(
            x=[START_LEARNING_RATE],
            y=[0.92],
            text=[""],
            scales={"x": x_scale, "y": height_scale},
            colors=[_SUGGESTION_COLOR],
            x_offset=4,
            default_size=13,
            font_weight="bolder",
            visible=False,
        )
        # One tick a decade, 1e-6 ... 0.001 ... 1: a log axis labels 2..9 of each decade too.
        rate_axis = bqplot.Axis(scale=x_scale, label="Learning rate (log scale)")
        show_ticks(rate_axis, decade_ticks(START_LEARNING_RATE, END_LEARNING_RATE))
        with x_scale.hold_sync():
            x_scale.min = _RATE_AXIS_START
            x_scale.max = _RATE_AXIS_END
        self._loss_axis = bqplot.Axis(scale=y_scale, label="Loss", side="left")
        self._loss_ticks = number_ticks(0.0, 3.0, most=5)
        show_ticks(self._loss_axis, self._loss_ticks)
        figure = bqplot.Figure(
            marks=[self._loss_line, self._smoothed_line, self._marker, self._marker_label],
            axes=[rate_axis, self._loss_axis],
            title="Loss while the learning rate rises",
            fig_margin={"top": 40, "bottom": 42, "left": 48, "right": 16},
            layout=widgets.Layout(width="400px", max_width="100%", height="240px", display="none"),
        )
        figure.add_class("dw-lr-finder-chart")
        return figure

    def find(self, *, batches: int | None = None) -> None:
        """Start a test with ``hyperparameters``; a refusal is shown in ``status``."""
        from digitwidgets.learning.training import TrainingInProgressError

        options = {} if batches is None else {"batches": batches}
        if self.running:
            return
        # Before the start: a test that fails at once reports back before start() returns.
        self.set_trait("running", True)
        self.set_trait("status", "Finding a learning rate…")
        self.set_trait("suggestion", None)
        self._apply.layout.display = "none"
        if self._figure is None:  # before the start: the test's worker updates its marks
            self._figure = self._build_figure()
            self._legend = widgets.HTML(_LEGEND, layout=widgets.Layout(display="none"))
            self._legend.add_class("dw-lr-finder-legend")
            self.children = (*self.children, self._figure, self._legend)
        self._marker.visible = self._marker_label.visible = False
        try:
            self._test.start(self.hyperparameters, self._data, **options)
        except (ValueError, RuntimeError, TrainingInProgressError) as error:
            self.set_trait("running", False)
            self.set_trait("status", f"Could not start: {error}")
            return
        self._figure.layout.display = self._legend.layout.display = None

    def stop(self) -> None:
        """End the test after its current batch (a suggestion is made from what ran)."""
        self._test.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the test has ended and been shown (scripts and tests)."""
        return self._test.wait(timeout)

    def apply(self) -> None:
        """Put the suggested rate into ``hyperparameters`` (and so the linked settings)."""
        if self.suggestion is None:
            return
        self.hyperparameters = self.hyperparameters.replace(learning_rate=self.suggestion)
        self.set_trait("status", f"The learning rate is now {format_rate(self.suggestion)}.")
        self._apply_callbacks(self.suggestion)

    def on_apply(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(learning_rate)`` after the suggestion was put into the settings."""
        self._apply_callbacks.register_callback(callback, remove=remove)

    def _on_result(self, result: LearningRateRange) -> None:
        # The test's event worker: update marks and traits only.
        if len(result.smoothed) and np.isfinite(result.smoothed[0]):
            top = float(1.5 * max(result.smoothed[0], result.smoothed.min()))
            ticks = number_ticks(0.0, top, most=5)
            if ticks != self._loss_ticks:  # results come a few times a second
                self._loss_ticks = ticks
                show_ticks(self._loss_axis, ticks)
        with self._loss_line.hold_sync():
            self._loss_line.x = result.learning_rates
            self._loss_line.y = result.losses
        with self._smoothed_line.hold_sync():
            self._smoothed_line.x = result.learning_rates
            self._smoothed_line.y = result.smoothed
        self.set_trait("value", result)
        if not result.done:
            self.set_trait("status", result.describe())
            return
        suggestion = result.suggestion
        if suggestion is not None:
            text = f"Use {format_rate(suggestion)}"
            with self._marker.hold_sync():
                self._marker.x = [suggestion, suggestion]
                self._marker.visible = True
            with self._marker_label.hold_sync():
                self._marker_label.x = [suggestion]
                self._marker_label.text = [format_rate(suggestion)]
                self._marker_label.visible = True
            self._apply.description = text
            self._apply.tooltip = f"Set the learning rate to {format_rate(suggestion)}"
            self._apply.layout.display = None
        else:
            self._marker.visible = self._marker_label.visible = False
        self.set_trait("suggestion", suggestion)
        self.set_trait("status", result.describe())
        self.set_trait("running", False)

    def _on_training_event(self, event) -> None:
        # The Trainer's event worker: no test while a model trains (the core refuses too).
        if event.kind is EventKind.START:
            self._find.disabled = True
            self._find.tooltip = "A model is training: find a learning rate before or after."
        elif event.ended:
            self._find.disabled = self.running
            self._find.tooltip = "A short run with rising learning rates."


def _status_html(status: str) -> str:
    return f"<div style='line-height:1.4; color:#333'>{html.escape(status)}</div>"
