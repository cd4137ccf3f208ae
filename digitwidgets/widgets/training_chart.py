"""TrainingChart: live loss and accuracy curves of the run in progress."""

from __future__ import annotations

import html
import math
import threading

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.learning.training.events import EventKind
from digitwidgets.widgets.charts import (
    LEFT_TITLE_OFFSET,
    Ticks,
    number_ticks,
    percent_ticks,
    show_ticks,
    whole_ticks,
)

_TRAIN_COLOR = "#1f77b4"
_VALIDATION_COLOR = "#ff7f0e"
_BATCH_COLOR = "#9ecae1"
_CHANGE_COLOR = "#6a3d9a"
# The batch points a chart keeps per run: past it, every other one goes (evenly sampled).
# More than one per pixel of a 385 px figure; the curve is sent again at every batch event.
MAX_BATCH_POINTS = 500
_HISTORY_KEYS = (
    "batch_epoch",
    "batch_loss",
    "batch_accuracy",
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "change_epoch",
    "change_learning_rate",
)


def _legend_html() -> str:
    """The three series as coloured samples: a thin line per batch, dots per epoch."""
    items = (
        (f"<span style='color:{_BATCH_COLOR}; font-weight:700'>━━</span>", "train, each batch"),
        (f"<span style='color:{_TRAIN_COLOR}'>━●━</span>", "train, each epoch"),
        (f"<span style='color:{_VALIDATION_COLOR}'>━●━</span>", "validation, each epoch"),
    )
    spans = "".join(
        f"<span style='margin-right:18px; white-space:nowrap'>{sample} {text}</span>"
        for sample, text in items
    )
    return (
        "<div style='padding-left:64px; font-size:13px; color:#333; display:flex; "
        f"flex-wrap:wrap; row-gap:4px'>{spans}</div>"
    )


def _empty_history() -> dict[str, list[float]]:
    return {key: [] for key in _HISTORY_KEYS}


class _MetricFigure:
    """One bqplot figure for one metric: per-batch train line, per-epoch train and validation."""

    def __init__(self, title: str, label: str, percent: bool, change_height: float):
        """``percent``: the values are fractions, shown 0-100%; ``change_height``: where on
        the plot's height (0..1) a steered rate's label goes, away from the curves."""
        self.percent = percent
        x_scale = bqplot.LinearScale()
        y_scale = bqplot.LinearScale()
        scales = {"x": x_scale, "y": y_scale}
        empty = np.zeros(0)
        self.batch = bqplot.Lines(
            x=empty,
            y=empty,
            scales=scales,
            colors=[_BATCH_COLOR],
            stroke_width=1,
            labels=["train (per batch)"],
        )
        self.train = bqplot.Lines(
            x=empty,
            y=empty,
            scales=scales,
            colors=[_TRAIN_COLOR],
            marker="circle",
            marker_size=24,
            labels=["train (epoch)"],
        )
        self.validation = bqplot.Lines(
            x=empty,
            y=empty,
            scales=scales,
            colors=[_VALIDATION_COLOR],
            marker="circle",
            marker_size=24,
            labels=["validation (epoch)"],
        )
        # Where the learning rate was steered: a vertical line across the plot (its own 0..1
        # height scale) and the new rate beside it, at the fractional epoch it took effect.
        height = bqplot.LinearScale(min=0.0, max=1.0)
        self.changes = bqplot.Lines(
            x=np.zeros((0, 2)),
            y=np.zeros((0, 2)),
            scales={"x": x_scale, "y": height},
            colors=[_CHANGE_COLOR],
            line_style="dashed",
            labels=["learning rate changed"],
        )
        self.change_height = change_height
        self.change_labels = bqplot.Label(
            x=empty,
            y=empty,
            text=[],
            scales={"x": x_scale, "y": height},
            colors=[_CHANGE_COLOR],
            x_offset=3,
            default_size=12,
            labels=["new learning rate"],
        )
        self.x_axis = bqplot.Axis(scale=x_scale, label="Epoch")
        self.y_axis = bqplot.Axis(
            scale=y_scale, label=label, side="left", label_offset=LEFT_TITLE_OFFSET
        )
        self._ticks: dict[str, Ticks] = {}
        self._sent: dict = {}  # mark -> the arrays it was last sent
        self._show_ticks({"epoch": [], "value": []})
        self.figure = bqplot.Figure(
            marks=[self.batch, self.train, self.validation, self.changes, self.change_labels],
            axes=[self.x_axis, self.y_axis],
            title=title,
            fig_margin={"top": 35, "bottom": 42, "left": 64, "right": 16},
            # At most 385 px, less in a narrow column (a phone): bqplot sizes to its box.
            layout=widgets.Layout(width="385px", max_width="100%", height="270px"),
        )

    def _show_ticks(self, shown: dict[str, list[float]]) -> None:
        """Whole epochs from 0 to the latest; round values (percent for accuracy) around
        what is shown. Sent only when they change: batch events come a few times a second."""
        epochs = [x for x in shown["epoch"] if math.isfinite(x)]
        values = [y for y in shown["value"] if math.isfinite(y)]
        wanted = {"x": whole_ticks(0, math.ceil(max(epochs, default=1.0) - 1e-9))}
        if self.percent:
            wanted["y"] = percent_ticks(values)
        else:
            wanted["y"] = number_ticks(0.0, max(values, default=1.0))
        for key, axis in (("x", self.x_axis), ("y", self.y_axis)):
            if self._ticks.get(key) != wanted[key]:
                self._ticks[key] = wanted[key]
                show_ticks(axis, wanted[key])

    def show(self, history: dict[str, list[float]], metric: str) -> None:
        """Put the history's numbers for ``metric`` into the marks, one message per mark."""
        shown: dict[str, list[float]] = {"epoch": [], "value": []}
        for mark, x_key, y_key in (
            (self.batch, "batch_epoch", f"batch_{metric}"),
            (self.train, "epoch", metric),
            (self.validation, "epoch", f"val_{metric}"),
        ):
            # float32: half the bytes of every message, far finer than a pixel.
            x = np.asarray(history[x_key], dtype=np.float32)[: len(history[y_key])]
            y = np.asarray(history[y_key], dtype=np.float32)
            # A batch event changes the batch curve only: the epoch curves are sent again
            # only when they change (every message costs the kernel and the page).
            if self._sent.get(mark) is None or not _same(self._sent[mark], (x, y)):
                self._sent[mark] = (x, y)
                with mark.hold_sync():
                    mark.x = x
                    mark.y = y
            shown["epoch"].extend(x.tolist())
            shown["value"].extend(y.tolist())
        self._show_ticks(shown)
        at = np.asarray(history["change_epoch"], dtype=float)
        if self._sent.get(self.changes) is not None and _same(self._sent[self.changes], (at,)):
            return
        self._sent[self.changes] = (at,)
        with self.changes.hold_sync():
            # One row (a two-point vertical line) per change.
            self.changes.x = np.column_stack([at, at]).reshape(-1, 2)
            self.changes.y = np.tile([0.0, 1.0], (len(at), 1))
        with self.change_labels.hold_sync():
            self.change_labels.x = at
            self.change_labels.y = np.full(len(at), self.change_height)
            self.change_labels.text = [
                f"rate {rate:g}" for rate in history["change_learning_rate"][: len(at)]
            ]


def _same(sent: tuple, now: tuple) -> bool:
    """Whether arrays ``now`` hold what ``sent`` did (NaN equal to NaN)."""
    return all(
        a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        for a, b in zip(sent, now, strict=True)
    )


NO_EPOCHS = "No epoch finished yet: the figures of each epoch appear here as text too."


def summarize(history: dict[str, list[float]]) -> str:
    """The latest epoch's loss and accuracy, train and validation, as one sentence."""
    if not history["epoch"]:
        return NO_EPOCHS + _changes_text(history)

    def latest(key: str, as_percent: bool) -> str | None:
        values = history.get(key) or []
        if not values or not np.isfinite(values[-1]):
            return None
        return f"{values[-1]:.1%}" if as_percent else f"{values[-1]:.3f}"

    parts = []
    for metric, as_percent in (("loss", False), ("accuracy", True)):
        train, validation = latest(metric, as_percent), latest(f"val_{metric}", as_percent)
        if train is not None:
            also = f" (validation {validation})" if validation else ""
            parts.append(f"{metric} {train}{also}")
    text = f"After epoch {int(history['epoch'][-1])}: " + ", ".join(parts) + "."
    return text + _changes_text(history)


def _changes_text(history: dict[str, list[float]]) -> str:
    """ " Learning rate set to 0.01 during epoch 2." for each steering of the run, or ""."""
    return "".join(
        f" Learning rate set to {rate:g} {_when(at)}."
        for at, rate in zip(history["change_epoch"], history["change_learning_rate"], strict=True)
    )


def _when(at: float) -> str:
    """A position in epochs as words: 1.0 is "after epoch 1", 1.4 "during epoch 2"."""
    whole = round(at)
    if abs(at - whole) < 1e-9:
        return f"after epoch {whole}" if whole else "before the first epoch"
    return f"during epoch {math.floor(at) + 1}"


class TrainingChart(widgets.VBox):
    """Loss and accuracy of the current run, side by side, updated as training goes.

    The light line is the training metric of each batch (x is the fractional epoch);
    the dots are the per-epoch training and validation values, plotted at the end of
    each epoch. A new run (a ``start`` event with a new run id) clears the chart: it
    shows one run at a time, and comparing runs is the job of a run comparison view.

    Attach it with ``follow(trainer)`` or feed it with ``handle_event(event)``. Events
    come from the Trainer's event worker and each one shows: the Trainer already sends
    batch events only a few times a second (``batch_interval``), thinned on the training
    thread before they cross to the worker, and each carries the batches since the previous
    one (``batch_points``): the light line has every batch, evenly sampled past
    ``MAX_BATCH_POINTS``. Axes count whole epochs, accuracy in percent, on round ticks.
    """

    history = traitlets.Dict(
        read_only=True,
        help="What the marks show: batch_epoch, batch_loss, batch_accuracy (per batch); "
        "epoch, loss, accuracy, val_loss, val_accuracy (per epoch); change_epoch and "
        "change_learning_rate (where the learning rate was steered: fractional epoch, rate).",
    )
    run_id = traitlets.Unicode("", read_only=True, help="The run shown, or '' before any.")
    summary = traitlets.Unicode(
        NO_EPOCHS, read_only=True, help="The latest epoch's figures in words (the charts' text)."
    )

    def __init__(self, **kwargs):
        """Build both figures, empty."""
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._history = _empty_history()
        # Every ``_stride``-th batch is kept: 1, doubled whenever MAX_BATCH_POINTS is passed.
        self._batches_seen, self._stride = 0, 1
        # A steered rate's label: high on the loss (it falls), low on the accuracy (it rises).
        self._loss = _MetricFigure("Loss", "Cross-entropy loss", False, 0.93)
        self._accuracy = _MetricFigure("Accuracy", "Accuracy", True, 0.04)
        self.set_trait("history", _empty_history())
        # One legend under both figures: bqplot draws its legends inside the plot area,
        # over the curves, wherever legend_location asks.
        legend = widgets.HTML(_legend_html())
        legend.add_class("dw-chart-legend")
        # The charts' text equivalent, for screen readers and for anyone who wants the numbers.
        summary = widgets.HTML()
        summary.add_class("dw-chart-summary")
        traitlets.dlink((self, "summary"), (summary, "value"), html.escape)
        figures = widgets.HBox(
            [self._loss.figure, self._accuracy.figure], layout=widgets.Layout(flex_flow="row wrap")
        )
        self.children = [figures, legend, summary]
        self.add_class("dw-chart")

    def follow(self, trainer) -> None:
        """Listen to a Trainer's events from now on."""
        trainer.add_listener(self.handle_event)

    def unfollow(self, trainer) -> None:
        """Stop listening to a Trainer."""
        trainer.remove_listener(self.handle_event)

    def clear(self) -> None:
        """Empty the chart."""
        with self._lock:
            self._history = _empty_history()
            self._batches_seen, self._stride = 0, 1
        self._show()

    def handle_event(self, event) -> None:
        """Add a TrainingEvent's numbers to the chart."""
        logs = event.logs or {}
        with self._lock:
            if event.kind is EventKind.START or event.run_id != self.run_id:
                self._history = _empty_history()
                self._batches_seen, self._stride = 0, 1
                self.set_trait("run_id", event.run_id)
            history = self._history
            points = getattr(event, "batch_points", ())
            if not points and event.kind is EventKind.BATCH and event.batches:
                # An event without the batches it stands for: its own position and logs.
                points = [
                    (
                        event.epoch + event.batch / event.batches,
                        float(logs.get("loss", np.nan)),
                        float(logs.get("accuracy", np.nan)),
                    )
                ]
            self._add_batch_points(points)
            if event.kind is EventKind.LEARNING_RATE and event.learning_rate is not None:
                at = event.epoch + (event.batch / event.batches if event.batches else 0.0)
                history["change_epoch"].append(at)
                history["change_learning_rate"].append(float(event.learning_rate))
            elif event.kind is EventKind.EPOCH:
                history["epoch"].append(float(event.epoch + 1))
                for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                    if key in logs:
                        history[key].append(float(logs[key]))
        self._show()

    def _add_batch_points(self, points) -> None:
        """Keep every ``_stride``-th batch (the lock is held): an evenly sampled curve."""
        history = self._history
        for position, loss, accuracy in points:
            self._batches_seen += 1
            if (self._batches_seen - 1) % self._stride:
                continue
            history["batch_epoch"].append(float(position))
            history["batch_loss"].append(float(loss))
            history["batch_accuracy"].append(float(accuracy))
            if len(history["batch_epoch"]) > MAX_BATCH_POINTS:
                for key in ("batch_epoch", "batch_loss", "batch_accuracy"):
                    history[key] = history[key][::2]
                self._stride *= 2

    def _show(self) -> None:
        with self._lock:
            snapshot = {key: list(values) for key, values in self._history.items()}
        self._loss.show(snapshot, "loss")
        self._accuracy.show(snapshot, "accuracy")
        self.set_trait("history", snapshot)
        self.set_trait("summary", summarize(snapshot))
