"""SweepPanel: train one run per value of a setting (or two), then see which did best."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.learning.hyperparameters import FIELDS, Hyperparameters
from digitwidgets.learning.settings_query import format_value
from digitwidgets.learning.sweeps import (
    Sweep,
    SweepError,
    SweepEvent,
    SweepEventKind,
    describe_choice,
    describe_values,
    parse_values,
    suggested_values,
)
from digitwidgets.widgets.charts import (
    LEFT_TITLE_OFFSET,
    chart_title,
    log_value_ticks,
    percent_ticks,
    show_ticks,
    value_ticks,
)
from digitwidgets.widgets.support import error_html, message_html, percent, take_settings

_NONE = "none"
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
_BEST_COLOR = "#d62728"
_STYLE = {"description_width": "90px"}
NO_SWEEP = (
    "No sweep yet: once one runs, a chart here shows each run's final validation accuracy "
    "against the value it tried, the best one marked."
)


def _setting_options(with_none: bool = False) -> list[tuple[str, str]]:
    options = [(spec.label, name) for name, spec in FIELDS.items()]
    return [("(none)", _NONE), *options] if with_none else options


def _x_scale(name: str):
    """Log for rates (a setting read in decades), ordinal for choices and flags, linear for
    other numbers."""
    spec = FIELDS[name]
    if spec.kind in ("choice", "bool"):
        return bqplot.OrdinalScale()
    if spec.log_scale:
        return bqplot.LogScale()
    return bqplot.LinearScale()


def axis_title(name: str) -> str:
    """A swept setting as a visitor names it ("Learning rate (log scale)")."""
    spec = FIELDS[name]
    return spec.label + (
        " (log scale)" if spec.kind not in ("choice", "bool") and spec.log_scale else ""
    )


def _x_value(name: str, value):
    return format_value(value) if FIELDS[name].kind in ("choice", "bool") else float(value)


class SweepPanel(widgets.VBox):
    """Choose a setting and a few values, train one run per value in the background, compare.

    Each run takes the other settings from ``hyperparameters`` (built with a
    ``HyperparameterControls``, the panel follows its ``value``: a dlink) and is saved as an
    ordinary run tagged with its sweep. A chart shows each run's final validation accuracy
    against the swept value, the best one marked. ``on_end(callback(sweep))`` fires when a
    sweep has ended.
    """

    value = traitlets.Instance(
        Sweep, allow_none=True, read_only=True, help="The latest sweep (running or ended)."
    )
    hyperparameters = traitlets.Instance(
        Hyperparameters,
        help="The settings each run starts from, the swept ones aside (linked to the controls).",
    )
    running = traitlets.Bool(False, read_only=True, help="Whether a sweep is in progress.")
    training = traitlets.Bool(
        False, read_only=True, help="Whether the trainer runs a training that is not a sweep's."
    )
    progress = traitlets.Unicode(
        "", read_only=True, help='Where the sweep is: "Run 2 of 6: Learning rate 0.001".'
    )
    message = traitlets.Unicode("", read_only=True, help="Why a sweep could not start, or ''.")
    best = traitlets.Unicode(
        "", read_only=True, help="The best run so far, as a sentence ('' before any)."
    )

    def __init__(self, trainer, hyperparameters, data, **kwargs):
        """Sweep on ``trainer`` with ``data``; the other settings come from ``hyperparameters``
        (a ``Hyperparameters``, or the ``HyperparameterControls`` to follow)."""
        super().__init__(**kwargs)
        self._trainer = trainer
        self._data = data
        self._end_callbacks = widgets.CallbackDispatcher()
        self._sweep_runs: set[str] = set()

        self._setting = widgets.Dropdown(
            options=_setting_options(), value="learning_rate", description="Sweep", style=_STYLE
        )
        self._setting.add_class("dw-sweep-setting")
        self._values = widgets.Text(
            description="Values",
            placeholder="e.g. 1e-4, 1e-3, 1e-2",
            style=_STYLE,
            continuous_update=False,
        )
        self._values.add_class("dw-sweep-values")
        self._setting_2 = widgets.Dropdown(
            options=_setting_options(with_none=True), value=_NONE, description="and", style=_STYLE
        )
        self._setting_2.add_class("dw-sweep-setting-2")
        self._values_2 = widgets.Text(
            description="Its values", style=_STYLE, layout=widgets.Layout(display="none")
        )
        self._values_2.add_class("dw-sweep-values-2")
        for control in (self._setting, self._values, self._setting_2, self._values_2):
            control.layout.width = "100%"
            control.layout.max_width = "420px"
        self._plan = widgets.HTML("")
        self._plan.add_class("dw-sweep-plan")
        self._start = widgets.Button(
            description="Sweep",
            icon="play",
            button_style="primary",
            tooltip="Train one run per value, one after the other",
        )
        self._start.add_class("dw-sweep")
        self._stop = widgets.Button(
            description="Stop after this run",
            icon="stop",
            disabled=True,
            tooltip="The run in progress finishes and is saved; no further run starts",
            layout=widgets.Layout(width="auto"),
        )
        self._stop.add_class("dw-sweep-stop")
        self._progress = widgets.HTML("")  # HTML, not Label: it wraps on a phone
        self._progress.add_class("dw-sweep-progress")
        self._message = widgets.HTML("")
        self._message.add_class("dw-sweep-message")
        self._best = widgets.HTML("")
        self._best.add_class("dw-sweep-best")
        self._figure = self._build_chart()
        # The title above the figure, in HTML that wraps (bqplot's own is one line of SVG,
        # cut at both edges of a phone-wide figure), shown and hidden with it.
        self._title = chart_title("Final validation accuracy per run", left=70, right=20)
        self._title.layout.max_width = self._figure.layout.max_width
        traitlets.dlink((self._figure.layout, "display"), (self._title.layout, "display"))
        self._empty = widgets.HTML(message_html(NO_SWEEP))
        self._empty.add_class("dw-sweep-empty")

        traitlets.dlink((self, "progress"), (self._progress, "value"), html.escape)
        traitlets.dlink((self, "message"), (self._message, "value"), error_html)
        traitlets.dlink((self, "best"), (self._best, "value"), _best_html)
        traitlets.dlink((self, "running"), (self._stop, "disabled"), lambda running: not running)
        for control in (self._setting, self._values, self._setting_2, self._values_2):
            traitlets.dlink((self, "running"), (control, "disabled"))
        self._setting.observe(self._on_setting_change, "value")
        self._setting_2.observe(self._on_setting_change, "value")
        self._values.observe(lambda _: self._update_plan(), "value")
        self._values_2.observe(lambda _: self._update_plan(), "value")
        take_settings(self, hyperparameters)
        self.observe(lambda _: self._update_plan(), "hyperparameters")
        self.observe(self._update_start, ["running", "training"])
        self._start.on_click(lambda _: self.start())
        self._stop.on_click(lambda _: self.stop())
        trainer.add_listener(self._on_training_event)
        self.set_trait("training", bool(getattr(trainer, "running", False)))
        self._values.value = describe_values(suggested_values(self._setting.value))
        self._update_plan()
        self._update_start()

        self.children = [
            widgets.HTML(
                "Train one run per value of a setting, one after the other, each with the "
                "other settings of step 1; every run is saved and listed under "
                "<i>Compare runs</i>."
            ),
            self._setting,
            self._values,
            self._setting_2,
            self._values_2,
            self._plan,
            widgets.HBox([self._start, self._stop], layout={"flex_flow": "row wrap"}),
            self._message,
            self._progress,
            self._empty,
            self._title,
            self._figure,
            self._best,
        ]
        self.add_class("dw-sweep-panel")

    def on_end(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(sweep)`` when a sweep has ended (finished, stopped or failed)."""
        self._end_callbacks.register_callback(callback, remove=remove)

    def values(self) -> dict[str, list]:
        """The swept settings and their typed values; ``SweepError`` if a value is bad."""
        chosen = {self._setting.value: parse_values(self._setting.value, self._values.value)}
        second = self._setting_2.value
        if second != _NONE:
            if second in chosen:
                raise SweepError(
                    f"Choose two different settings, not {FIELDS[second].label} twice."
                )
            chosen[second] = parse_values(second, self._values_2.value)
        return chosen

    def start(self) -> None:
        """Start a sweep of the chosen values; a refusal is shown beside the controls."""
        from digitwidgets.learning.training import TrainingInProgressError

        if self.running:
            return
        try:
            sweep = Sweep(
                self.hyperparameters, self.values(), data=self._data, trainer=self._trainer
            )
        except SweepError as error:
            self.set_trait("message", str(error))
            return
        sweep.add_listener(self._on_sweep_event)
        self._sweep_runs = set()
        self._reset_chart(sweep)
        self.set_trait("message", "")
        self.set_trait("best", "")
        self.set_trait("value", sweep)
        self.set_trait("running", True)
        try:
            sweep.start()
        except (ValueError, TrainingInProgressError) as error:
            self.set_trait("running", False)
            self.set_trait("progress", "")
            self.set_trait("message", f"Could not start: {error}")

    def stop(self) -> None:
        """End the sweep once the run in progress has finished and is saved."""
        if self.value is not None and self.running:
            self.value.stop()
            self.set_trait("progress", f"{self.progress} · stopping after this run…")

    @traitlets.default("hyperparameters")
    def _default_hyperparameters(self) -> Hyperparameters:
        return Hyperparameters()

    def _on_setting_change(self, change) -> None:
        target = self._values if change["owner"] is self._setting else self._values_2
        if change["new"] != _NONE:
            target.value = describe_values(suggested_values(change["new"]))
        self._values_2.layout.display = "none" if self._setting_2.value == _NONE else "flex"
        self._update_plan()

    def _update_plan(self) -> None:
        try:
            values = self.values()
        except SweepError as error:
            self._plan.value = ""
            self.set_trait("message", str(error))
            return
        if not self.running:
            self.set_trait("message", "")
        runs = math.prod(len(v) for v in values.values())
        epochs = self.hyperparameters.epochs
        self._plan.value = (
            f"{runs} run{'s' if runs != 1 else ''} of {epochs} epoch{'s' if epochs != 1 else ''}"
            " each, one after the other."
        )

    def _update_start(self, _change=None) -> None:
        self._start.disabled = self.running or self.training

    def _build_chart(self) -> bqplot.Figure:
        self._y_scale = bqplot.LinearScale()
        x_scale = _x_scale(self._setting.value)
        self._lines = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x_scale, "y": self._y_scale},
            marker="circle",
            marker_size=40,
            colors=_COLORS,
            display_legend=False,
            labels=[],
        )
        self._best_mark = bqplot.Scatter(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x_scale, "y": self._y_scale},
            marker="diamond",
            default_size=220,
            colors=[_BEST_COLOR],
        )
        self._best_label = bqplot.Label(
            x=np.zeros(0),
            y=np.zeros(0),
            scales={"x": x_scale, "y": self._y_scale},
            text=[],
            colors=[_BEST_COLOR],
            x_offset=12,
            y_offset=-8,  # above the point: the line falls away from the best on both sides
            align="start",
            font_weight="bold",
        )
        self._x_axis = bqplot.Axis(scale=x_scale, label=axis_title(self._setting.value))
        self._y_axis = bqplot.Axis(
            scale=self._y_scale,
            side="left",
            label="Final validation accuracy",
            label_offset=LEFT_TITLE_OFFSET,
        )
        show_ticks(self._y_axis, percent_ticks())
        figure = bqplot.Figure(
            marks=[self._lines, self._best_mark, self._best_label],
            axes=[self._x_axis, self._y_axis],
            fig_margin={"top": 20, "bottom": 45, "left": 70, "right": 20},
            legend_location="bottom-right",
            # Hidden, with a sentence in its place, until a sweep has something to show.
            layout=widgets.Layout(width="100%", max_width="560px", height="260px", display="none"),
        )
        figure.add_class("dw-sweep-chart")
        return figure

    def _reset_chart(self, sweep: Sweep) -> None:
        # A new sweep may sweep another kind of setting: a new x scale, the same marks.
        name = sweep.settings[0]
        x_scale = _x_scale(name)
        if isinstance(x_scale, bqplot.OrdinalScale):
            x_scale.domain = [
                format_value(v) for v in dict.fromkeys(r.values[name] for r in sweep.results)
            ]
        for mark in (self._lines, self._best_mark, self._best_label):
            mark.scales = {"x": x_scale, "y": self._y_scale}
        with self._x_axis.hold_sync():
            self._x_axis.scale = x_scale
            self._x_axis.label = axis_title(name)
            self._x_axis.tick_values = None
            self._x_axis.tick_labels = None
        # A tick at each swept value only, written as the values were typed: a log axis would
        # otherwise crowd its labels, and an explicit domain keeps points off the edges.
        swept = [r.values[name] for r in sweep.results]
        if isinstance(x_scale, bqplot.LogScale):
            show_ticks(self._x_axis, log_value_ticks(swept))
        elif isinstance(x_scale, bqplot.LinearScale):
            show_ticks(self._x_axis, value_ticks(swept))
        self._empty.layout.display = "none"
        self._figure.layout.display = None
        self._draw(sweep)

    def _draw(self, sweep: Sweep) -> None:
        name = sweep.settings[0]
        second = sweep.settings[1] if len(sweep.settings) > 1 else None
        series = list(dict.fromkeys(r.values[second] for r in sweep.results)) if second else [None]
        xs = list(dict.fromkeys(r.values[name] for r in sweep.results))
        y = np.full((len(series), len(xs)), np.nan)
        for result in sweep.results:
            row = series.index(result.values[second]) if second else 0
            accuracy = result.val_accuracy
            if accuracy is not None:
                y[row, xs.index(result.values[name])] = accuracy
        x_values = [_x_value(name, value) for value in xs]
        x = np.array([x_values] * len(series))
        best = sweep.best
        # Round percents around the runs measured so far, within 0-100%.
        show_ticks(self._y_axis, percent_ticks(y[np.isfinite(y)].tolist(), margin=0.02))
        with self._lines.hold_sync():
            self._lines.x = x
            self._lines.y = y
            self._lines.labels = (
                [f"{FIELDS[second].label} {format_value(v)}" for v in series] if second else []
            )
            self._lines.display_legend = second is not None
        point_x = [_x_value(name, best.values[name])] if best else []
        point_y = [best.val_accuracy] if best else []
        # "best" beside its point, on the side with room: left of the rightmost value.
        last = bool(best) and xs.index(best.values[name]) == len(xs) - 1 and len(xs) > 1
        with self._best_label.hold_sync():
            self._best_label.align = "end" if last else "start"
            self._best_label.x_offset = -12 if last else 12
        for mark in (self._best_mark, self._best_label):
            with mark.hold_sync():
                mark.x = np.array(point_x) if point_x else np.zeros(0)
                mark.y = np.array(point_y, dtype=float)
                if mark is self._best_label:
                    mark.text = ["best"] if best else []

    def _on_sweep_event(self, event: SweepEvent) -> None:
        # The Trainer's event worker (or the thread that pressed Sweep): traits and marks only.
        sweep = self.value
        if sweep is None or event.sweep_id != sweep.id:
            return
        if event.run_id:
            self._sweep_runs.add(event.run_id)
        if event.kind is SweepEventKind.RUN_STARTED:
            self.set_trait("progress", event.message)
        elif event.kind is SweepEventKind.RUN_ENDED:
            self._draw(sweep)
            self._show_best(sweep, "Best so far")
        if event.ended:
            self._show_best(sweep, "Best")
            self.set_trait("progress", event.message)
            self.set_trait("running", False)
            self.set_trait("training", bool(getattr(self._trainer, "running", False)))
            self._end_callbacks(sweep)

    def _show_best(self, sweep: Sweep, opening: str) -> None:
        best = sweep.best
        if best is None:
            return
        self.set_trait(
            "best",
            f"{opening}: {describe_choice(best.values)}, {percent(best.val_accuracy)} "
            f"validation accuracy (run {best.index} of {sweep.count}).",
        )

    def _on_training_event(self, event) -> None:
        # The Trainer's event worker: a run that is not one of ours keeps the Sweep button off.
        if self.running or event.run_id in self._sweep_runs:
            return
        self.set_trait("training", not event.ended)


def _best_html(text: str) -> str:
    return message_html(text) if text else ""
