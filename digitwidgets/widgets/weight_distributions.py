"""WeightDistributions: how each layer's weights and gradients move, epoch by epoch."""

from __future__ import annotations

import html
import threading

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.learning.distributions import HEALTHY_RATIO, RATIO_TOLERANCE, Distributions
from digitwidgets.widgets.charts import (
    LEFT_TITLE_OFFSET,
    decade_ticks,
    number_ticks,
    show_ticks,
    whole_ticks,
)
from digitwidgets.widgets.support import InView

_MAX_LAYERS = 8
_TEXT = "font-size: 13px; line-height: 1.4; color: #333;"
# TensorBoard's distribution bands, outermost first: all, 87%, 68% and 38% of the values.
_BANDS = ((0, 8), (1, 7), (2, 6), (3, 5))
_BAND_COLORS = ("#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d")
_MEDIAN = 4
# One colour per layer in the update-ratio chart (Matplotlib's tab10).
LAYER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
NO_EPOCHS = "No epoch finished yet: each layer's distributions appear at every epoch's end."
EXPLAINED = (
    "Each layer's {what} at every epoch's end: the darkest band holds the middle 38% of "
    "them, then 68%, 87% and all of them (as TensorBoard's distributions); the line is the "
    "median. Below, each layer's update ratio: how much one optimizer step changes its "
    "weights, against their size (about 1e-3 is healthy)."
)
WHAT = {
    "weights": "weights (and biases)",
    "gradients": "gradients, on the same 32 training digits",
}


class _LayerFigure:
    """One layer's quantile bands over the epochs: four filled bands and the median."""

    def __init__(self):
        self.x_scale, self.y_scale = bqplot.LinearScale(), bqplot.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.bands = [
            bqplot.Lines(
                x=[],
                y=[[], []],
                scales=scales,
                fill="between",
                colors=[color, color],
                fill_colors=[color],
                fill_opacities=[1.0],
                stroke_width=0.5,
            )
            for color in _BAND_COLORS
        ]
        self.median = bqplot.Lines(
            x=[], y=[], scales=scales, colors=["#7f2704"], marker="circle", marker_size=12
        )
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="Epoch")
        self.y_axis = bqplot.Axis(scale=self.y_scale, side="left", label_offset=LEFT_TITLE_OFFSET)
        self.figure = bqplot.Figure(
            marks=[*self.bands, self.median],
            axes=[self.x_axis, self.y_axis],
            fig_margin={"top": 30, "bottom": 40, "left": 62, "right": 12},
            layout=widgets.Layout(width="270px", height="200px"),
            title_style={"font-size": "14px"},
        )
        self.figure.add_class("dw-distribution-layer")

    def show(self, name: str, quantiles: tuple[tuple[float, ...], ...], label: str) -> None:
        values = np.asarray(quantiles, dtype=float)  # (epochs, 9)
        epochs = np.arange(1, len(values) + 1, dtype=float)
        if len(values) == 1:
            # One epoch: a narrow bar rather than bands of no width.
            epochs, values = np.array([0.8, 1.2]), np.repeat(values, 2, axis=0)
        self.figure.title = name
        self.y_axis.label = label
        for (low, high), band in zip(_BANDS, self.bands, strict=True):
            with band.hold_sync():
                band.x = epochs
                band.y = np.stack([values[:, low], values[:, high]])
        with self.median.hold_sync():
            self.median.x = epochs
            self.median.y = values[:, _MEDIAN]
        show_ticks(self.x_axis, whole_ticks(1, len(quantiles), most=4, margin=0.5))
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        show_ticks(self.y_axis, number_ticks(low, high, most=4))


class WeightDistributions(InView, widgets.VBox):
    """How each trainable layer's weights and gradients move, epoch by epoch, and whether
    each optimizer step is a healthy size.

    ``value`` is a ``Distributions`` (``learning.distributions``): ``follow(trainer)`` sets
    it live from the training events (a new run clears it); a saved run's is its
    ``RunRecord.distributions``. One figure per layer, named, shows the quantile bands of
    its weights or, with ``shown = "gradients"``, of their gradients; one chart shows every
    layer's update ratio on a log scale, and ``advice`` says when a ratio suggests the
    learning rate is too high or too low.
    """

    value = traitlets.Instance(
        Distributions, allow_none=True, help="The distributions shown, or None."
    )
    shown = traitlets.Enum(
        ("weights", "gradients"), "weights", help="Whether the bands show weights or gradients."
    )
    advice = traitlets.Unicode(
        "", read_only=True, help="What the update ratios say of the learning rate, or ''."
    )

    def __init__(self, value: Distributions | None = None, **kwargs):
        """Build the figures (hidden until there is an epoch), then show ``value``."""
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._run_id = ""
        self._title = widgets.HTML("")
        self._title.add_class("dw-distributions-title")
        self._toggle = widgets.ToggleButtons(
            options=[("Weights", "weights"), ("Gradients", "gradients")], value=self.shown
        )
        self._toggle.add_class("dw-distributions-show")
        traitlets.link((self, "shown"), (self._toggle, "value"))
        self._layers = [_LayerFigure() for _ in range(_MAX_LAYERS)]
        self._grid = widgets.Box(
            [layer.figure for layer in self._layers],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self._ratio_scale = bqplot.LogScale()
        self._epoch_scale = bqplot.LinearScale()
        ratio_scales = {"x": self._epoch_scale, "y": self._ratio_scale}
        self._ratios = bqplot.Lines(
            x=[], y=[], scales=ratio_scales, colors=list(LAYER_COLORS), marker="circle"
        )
        self._healthy = bqplot.Lines(
            x=[0.5, 1.5],
            y=[HEALTHY_RATIO, HEALTHY_RATIO],
            scales=ratio_scales,
            colors=["#888"],
            line_style="dashed",
        )
        self._ratio_x_axis = bqplot.Axis(scale=self._epoch_scale, label="Epoch")
        self._ratio_y_axis = bqplot.Axis(
            scale=self._ratio_scale,
            side="left",
            label="Step ÷ weights",
            label_offset=LEFT_TITLE_OFFSET,
        )
        self._ratio_figure = bqplot.Figure(
            marks=[self._healthy, self._ratios],
            axes=[self._ratio_x_axis, self._ratio_y_axis],
            title="Update ratio per layer (dashed: 1e-3)",
            title_style={"font-size": "14px"},
            fig_margin={"top": 30, "bottom": 40, "left": 62, "right": 12},
            layout=widgets.Layout(width="100%", max_width="560px", height="220px"),
        )
        self._ratio_figure.add_class("dw-update-ratios")
        self._legend = widgets.HTML("")
        self._advice = widgets.HTML("")
        self._advice.add_class("dw-distributions-advice")
        self._charts = widgets.VBox(
            [self._toggle, self._grid, self._ratio_figure, self._legend, self._advice]
        )
        self.children = [self._title, self._charts]
        self.add_class("dw-distributions")
        self.value = value
        self._draw()

    def follow(self, trainer) -> None:
        """Show each run of ``trainer`` live: every epoch's distributions, as it ends."""
        trainer.add_listener(self.handle_event)

    def unfollow(self, trainer) -> None:
        """Stop following ``trainer``."""
        trainer.remove_listener(self.handle_event)

    def handle_event(self, event) -> None:
        """Take one training event: a new run clears the figures, each epoch fills them."""
        with self._lock:
            if event.run_id != self._run_id:
                self._run_id = event.run_id
                self.value = None
            if event.distributions is not None:
                self.value = event.distributions

    @traitlets.observe("value", "shown")
    def _on_value_change(self, _change) -> None:
        # Each epoch of a run: drawn if the Weights tab is open, else once it is opened.
        if hasattr(self, "_charts"):
            self.when_in_view("draw", self._draw)

    def _draw(self) -> None:
        distributions = self.value
        if distributions is None or distributions.epochs == 0:
            self._title.value = f"<div style='{_TEXT}'>{html.escape(NO_EPOCHS)}</div>"
            self._charts.layout.display = "none"
            self.set_trait("advice", "")
            return
        self._charts.layout.display = "flex"
        self._title.value = (
            f"<div style='{_TEXT}'>{html.escape(EXPLAINED.format(what=WHAT[self.shown]))}</div>"
        )
        layers = distributions.layers[:_MAX_LAYERS]
        for index, figure in enumerate(self._layers):
            shown = index < len(layers)
            figure.figure.layout.display = "flex" if shown else "none"
            if shown:
                layer = layers[index]
                label = "Weight" if self.shown == "weights" else "Gradient"
                figure.show(layer.name, getattr(layer, self.shown), label)
        self._draw_ratios(layers, distributions.epochs)
        advice = distributions.advice()
        self.set_trait("advice", " ".join(advice))
        text = (
            " ".join(advice)
            if advice
            else f"Every layer's steps are within {RATIO_TOLERANCE:g} times of 1e-3 of its "
            "weights: the learning rate looks neither too high nor too low."
        )
        self._advice.value = f"<div style='{_TEXT}'>{html.escape(text)}</div>"

    def _draw_ratios(self, layers, epochs: int) -> None:
        x = np.arange(1, epochs + 1, dtype=float)
        rows = [
            [np.nan if r is None or r <= 0 else r for r in layer.update_ratios] for layer in layers
        ]
        rows = [row + [np.nan] * (epochs - len(row)) for row in rows]
        with self._ratios.hold_sync():
            self._ratios.x = x
            self._ratios.y = np.asarray(rows, dtype=float)
            self._ratios.labels = [layer.name for layer in layers]
        finite = np.asarray(rows, dtype=float)
        finite = finite[np.isfinite(finite)]
        low = min(float(finite.min()) if finite.size else HEALTHY_RATIO, HEALTHY_RATIO / 10)
        high = max(float(finite.max()) if finite.size else HEALTHY_RATIO, HEALTHY_RATIO * 10)
        decades = decade_ticks(10 ** np.floor(np.log10(low)), 10 ** np.ceil(np.log10(high)))
        show_ticks(self._ratio_y_axis, decades)
        ticks = whole_ticks(1, epochs, most=6, margin=0.5)
        show_ticks(self._ratio_x_axis, ticks)
        with self._healthy.hold_sync():
            self._healthy.x = [ticks.low, ticks.high]
        self._legend.value = (
            f"<div style='{_TEXT}'>"
            + " ".join(
                f"<span style='color:{LAYER_COLORS[i % len(LAYER_COLORS)]}'>●&nbsp;"
                f"{html.escape(layer.name)}</span>"
                for i, layer in enumerate(layers)
            )
            + "</div>"
        )
