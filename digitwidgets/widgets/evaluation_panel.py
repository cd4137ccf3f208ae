"""EvaluationPanel: a model's confusion matrix on the test digits, and the digits behind a cell."""

from __future__ import annotations

import html
import threading
from collections.abc import Callable

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from digitwidgets.background import BackgroundTask
from digitwidgets.learning.evaluation import Evaluation, evaluate
from digitwidgets.widgets.picked_digit import PickedDigit
from digitwidgets.widgets.support import TitledImage, percent, png_bytes, test_digits

# Two meanings, two hues on one scale: a mistake cell (off the diagonal) takes a value in
# 0..1, its count over the largest mistake count (white to red); a diagonal cell takes
# 2 + the share of its row read right (pale to full green). Values between 1 and 2 are never
# used. A count of 7 mistakes is then never as loud as a diagonal of 147 right.
_CELL_COLORS = ["#ffffff", "#f4815f", "#e5f5e0", "#74c476"]
_RIGHT = 2.0
_SELECTED_STYLE = {"stroke": "#d62728", "stroke-width": 3}
_THUMBNAIL_SIZE = 56


def _class_accuracy_html(evaluation: Evaluation | None) -> str:
    """Each digit over the share of its test images read right, in cells that wrap onto
    more rows on a narrow screen (a table would run off a phone's side)."""
    if evaluation is None:
        return ""
    totals = evaluation.confusion.sum(axis=1)
    accuracy = evaluation.per_class_accuracy
    cells = "".join(
        f'<div style="text-align:center; min-width:52px" title="'
        f'{int(np.diag(evaluation.confusion)[digit])} of {int(totals[digit])}">'
        f"<b>{digit}</b><br>{percent(accuracy[digit])}</div>"
        for digit in range(10)
    )
    return (
        '<div style="line-height:1.4">Read right, per digit:</div>'
        f'<div style="display:flex; flex-wrap:wrap; gap:4px 6px; line-height:1.4">{cells}</div>'
    )


def cell_colors(confusion: np.ndarray) -> np.ndarray:
    """The colour-scale value of each cell: mistakes 0..1 by count over the largest mistake
    count, the diagonal 2..3 by the share of its row read right."""
    confusion = np.asarray(confusion, dtype=float)
    diagonal = np.eye(len(confusion), dtype=bool)
    largest_mistake = max(1.0, confusion[~diagonal].max(initial=0.0))
    values = confusion / largest_mistake
    totals = confusion.sum(axis=1)
    shares = np.divide(np.diag(confusion), totals, out=np.zeros(len(totals)), where=totals > 0)
    values[diagonal] = _RIGHT + shares
    return values


def _status_text(evaluation: Evaluation) -> str:
    run = f" · run {evaluation.run_id}" if evaluation.run_id else ""
    return (
        f"Test accuracy {percent(evaluation.accuracy)} on {evaluation.size:,} test digits"
        f"{run} · evaluated in {evaluation.seconds:.1f} s. Click a cell to see its digits."
    )


class EvaluationPanel(widgets.VBox):
    """How a model does on the test digits: confusion matrix, per-class accuracy, a gallery.

    ``data`` is an ``MnistData`` (its test digits are used). Evaluations run on a
    ``BackgroundTask``, which only sets traits; a newer evaluation replaces one still running.
    ``follow(current)`` evaluates each model a ``CurrentModel`` settles on (not the models
    a run hands over between epochs).
    Clicking a cell of the matrix shows that cell's digits; clicking a digit's caption
    fires ``on_image_selected`` with a ``Recognition`` of it.
    """

    value = traitlets.Instance(
        Evaluation, allow_none=True, read_only=True, help="The latest evaluation, or None."
    )
    model = traitlets.Any(None, help="The Keras model that Evaluate evaluates, or None.")
    busy = traitlets.Bool(False, read_only=True, help="Whether an evaluation is running.")
    status = traitlets.Unicode(
        "Train a model or load a saved run, then evaluate it on the test digits.",
        read_only=True,
        help="What happened last, as a sentence.",
    )
    cell = traitlets.Tuple(
        default_value=None,
        allow_none=True,
        read_only=True,
        help="The selected (true, predicted) cell of the confusion matrix, or None.",
    )
    gallery_indices = traitlets.List(
        read_only=True, help="Indices into the test digits of the images the gallery shows."
    )

    _current = None
    _settled = None

    def __init__(self, data, model=None, *, gallery_size: int = 48, **kwargs):
        """Show the confusion matrix of ``model`` (later ones too) on ``data``'s test digits."""
        super().__init__(**kwargs)
        self._x_test, self._y_test = test_digits(data)
        self._gallery_size = gallery_size
        self._lock = threading.Lock()
        self._task = BackgroundTask("digitwidgets-evaluation")
        self._run_id: str | None = None
        self._image_callbacks = widgets.CallbackDispatcher()

        self._evaluate = widgets.Button(
            description="Evaluate",
            icon="table",
            tooltip="Run the model on every test digit",
            layout=widgets.Layout(width="auto", flex="0 0 auto"),
        )
        self._evaluate.add_class("dw-evaluate")
        self._evaluate.on_click(lambda _: self.evaluate())
        self._status = widgets.HTML(self.status)
        self._status.add_class("dw-evaluation-status")
        traitlets.dlink((self, "status"), (self._status, "value"), html.escape)

        self._heatmap, figure = self._build_matrix()
        self._class_accuracy = widgets.HTML("")
        self._class_accuracy.add_class("dw-class-accuracy")
        self._gallery_title = widgets.HTML("")
        self._gallery_title.add_class("dw-gallery-title")
        self._gallery = widgets.Box(
            layout=widgets.Layout(flex_flow="row wrap", grid_gap="4px", max_width="900px")
        )
        self._gallery.add_class("dw-gallery")
        # A digit clicked in the gallery is read here, just above it: where the visitor looks.
        self._picked = PickedDigit()
        self._legend = widgets.HTML(
            "<div style='font-size:13px; line-height:1.4'>"
            "<span style='background:#74c476; padding:0 6px'>&nbsp;</span> read right "
            "&nbsp; <span style='background:#f4815f; padding:0 6px'>&nbsp;</span> mistakes, "
            "darker for more · rows: the true digit, columns: what the model read</div>"
        )
        self._legend.add_class("dw-confusion-legend")

        # The counts are drawn over the cells: a click on a count is a click on its cell.
        style = widgets.HTML(
            "<style>.dw-confusion text.label { pointer-events: none; }</style>",
            layout=widgets.Layout(display="none"),
        )
        self.children = [
            style,
            widgets.HBox(
                [self._evaluate, self._status],
                layout={"align_items": "center", "flex_flow": "row wrap", "grid_gap": "8px"},
            ),
            figure,
            self._legend,
            self._class_accuracy,
            self._gallery_title,
            self._picked,
            self._gallery,
        ]
        self.add_class("dw-evaluation")
        self.model = model
        self._evaluate.disabled = model is None

    def _build_matrix(self) -> tuple[bqplot.GridHeatMap, bqplot.Figure]:
        rows = bqplot.OrdinalScale(reverse=True)
        columns = bqplot.OrdinalScale()
        colors = bqplot.ColorScale(colors=_CELL_COLORS, min=0, max=_RIGHT + 1)
        digits = np.arange(10)
        heatmap = bqplot.GridHeatMap(
            row=digits,
            column=digits,
            color=np.zeros((10, 10)),
            scales={"row": rows, "column": columns, "color": colors},
            # The counts are written by the Label mark below: the cells' colour values
            # are not counts (``cell_colors``).
            display_format=None,
            stroke="#ffffff",
            # No "select" interaction: bqplot cannot echo a selection made in the browser
            # back (nested lists arrive as object arrays); the panel highlights the cell.
            interactions={},
            selected_style=_SELECTED_STYLE,
            tooltip=None,
        )
        heatmap.on_element_click(self._on_cell_click)
        # Each cell's count at its centre: unit steps from -0.5 to 9.5 fall on the bands'
        # middles; row 0 at the top, as the rows' reversed scale puts it.
        cells = np.indices((10, 10)).reshape(2, -1)
        self._counts = bqplot.Label(
            x=cells[1].astype(float),
            y=cells[0].astype(float),
            text=np.zeros(100, dtype=int).astype(str),
            scales={
                "x": bqplot.LinearScale(min=-0.5, max=9.5),
                "y": bqplot.LinearScale(min=-0.5, max=9.5, reverse=True),
            },
            colors=["#222222"],
            default_size=12,
            font_weight="normal",
            align="middle",  # and centred vertically by bqplot (dominant-baseline)
        )
        figure = bqplot.Figure(
            marks=[heatmap, self._counts],
            axes=[
                bqplot.Axis(scale=columns, label="predicted", label_offset="32px"),
                bqplot.Axis(scale=rows, side="left", label="true", label_offset="28px"),
            ],
            title="Confusion matrix",
            fig_margin={"top": 40, "bottom": 50, "left": 50, "right": 10},
            # A phone's width shrinks the cells; the figure never runs off the screen.
            layout=widgets.Layout(width="440px", max_width="100%", height="440px"),
            # The pan/zoom toolbar would cover the title on hover; nothing here pans.
            display_toolbar=False,
        )
        figure.add_class("dw-confusion")
        return heatmap, figure

    @property
    def counts(self) -> list[int]:
        """The counts written in the matrix's cells, row by row (empty cells: 0)."""
        return [int(text) for text in self._counts.text]

    def follow(self, current) -> None:
        """Evaluate each model ``current`` (a ``CurrentModel``) settles on, and keep its
        ``test_accuracy`` up to date; ``model`` follows ``current.model``."""
        self._current = current
        traitlets.dlink((current, "model"), (self, "model"))
        # "source" too: a run's last epoch and its end hand over the very same model.
        current.observe(self._on_current_change, ["model", "source"])

    def evaluate_model(self, model, run_id: str | None = None) -> None:
        """Evaluate ``model`` (from run ``run_id``) in the background; returns at once."""
        self._run_id = run_id
        self.model = model
        self.evaluate()

    def evaluate(self) -> None:
        """Evaluate the current ``model`` in the background; a newer call wins."""
        model, run_id = self.model, self._run_id
        if model is None:
            self.set_trait("status", "No model to evaluate: train one or load a saved run.")
            return
        with self._lock:
            self.set_trait("busy", True)
            self.set_trait("status", f"Evaluating on {len(self._y_test):,} test digits…")
            started = self._task.run(
                evaluate,
                model,
                self._x_test,
                self._y_test,
                run_id=run_id,
                done=lambda evaluation, error: self._evaluated(model, evaluation, error),
            )
            if started is None:  # the interpreter is exiting
                self.set_trait("busy", False)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running evaluation; True when none is left running."""
        return self._task.wait(timeout)

    def select_cell(self, true: int, predicted: int) -> None:
        """Show the test digits of ``true`` that the model read as ``predicted``."""
        evaluation = self.value
        if evaluation is None:
            return
        indices = evaluation.cell(true, predicted)
        confidences = evaluation.probabilities[indices, predicted]
        # Most confident mistakes first; for right answers, the least sure first.
        order = np.argsort(-confidences if true != predicted else confidences, kind="stable")
        shown = indices[order][: self._gallery_size]
        self.set_trait("cell", (int(true), int(predicted)))
        self._heatmap.selected = np.array([[true, predicted]])
        self._show_gallery(evaluation, shown, len(indices), true, predicted)

    def on_image_selected(self, callback: Callable, remove: bool = False) -> None:
        """Call ``callback(recognition)`` when the user picks a digit in the gallery."""
        self._image_callbacks.register_callback(callback, remove=remove)

    def select_image(self, index: int) -> None:
        """Read test digit ``index`` beside the gallery, and hand it to the
        ``on_image_selected`` callbacks as a Recognition."""
        evaluation = self.value
        if evaluation is not None:
            recognition = evaluation.recognition(index)
            self._picked.show(recognition, int(evaluation.labels[index]), f"Test digit #{index}")
            self._image_callbacks(recognition)

    @traitlets.observe("model", "busy")
    def _on_model_or_busy_change(self, _change) -> None:
        self._evaluate.disabled = self.busy or self.model is None

    @traitlets.observe("value")
    def _on_value_change(self, change) -> None:
        evaluation: Evaluation | None = change["new"]
        self._clear_gallery()
        self.set_trait("cell", None)
        self._class_accuracy.value = _class_accuracy_html(evaluation)
        confusion = evaluation.confusion if evaluation is not None else np.zeros((10, 10), int)
        with self._heatmap.hold_sync():
            self._heatmap.color = cell_colors(confusion)
            self._heatmap.selected = None
        self._counts.text = np.asarray(confusion, dtype=int).reshape(-1).astype(str)

    def _evaluated(self, model, evaluation: Evaluation | None, error) -> None:
        # Evaluation thread, newest evaluation only: set traits.
        with self._lock:
            if error is not None:
                self.set_trait("status", f"Evaluation failed: {error}")
            else:
                self.set_trait("value", evaluation)
                self.set_trait("status", _status_text(evaluation))
            self.set_trait("busy", False)
        current = getattr(self, "_current", None)
        if current is not None and evaluation is not None:
            current.record_test_accuracy(model, evaluation.accuracy)

    def _on_current_change(self, change) -> None:
        current = change["owner"]
        settled = (current.model, current.run_id) if current.settled else None
        if settled is not None and settled != self._settled:
            self.evaluate_model(*settled)
        self._settled = settled

    def _on_cell_click(self, _mark, content: dict) -> None:
        # The browser sends {"event": "element_click", "data": {"rowNum", "columnNum", ...}}.
        cell = content.get("data") or {}
        self.select_cell(int(cell["rowNum"]), int(cell["columnNum"]))

    def _clear_gallery(self) -> None:
        old = self._gallery.children
        self._gallery.children = ()
        for item in old:
            for child in item.children:
                child.close()
            item.close()
        self._gallery_title.value = ""
        self._picked.value = None
        self.set_trait("gallery_indices", [])

    def _show_gallery(self, evaluation, shown, total: int, true: int, predicted: int) -> None:
        self._clear_gallery()
        what = "read right" if true == predicted else f"read as {predicted}"
        more = f", showing {len(shown)}" if len(shown) < total else ""
        self._gallery_title.value = html.escape(
            f"{total} test digit{'' if total == 1 else 's'} {true} {what}{more}."
        ) + (" Click one to see all its probabilities." if total else "")
        self._gallery.children = [self._gallery_item(evaluation, int(i)) for i in shown]
        self.set_trait("gallery_indices", [int(i) for i in shown])

    def _gallery_item(self, evaluation: Evaluation, index: int) -> widgets.VBox:
        true, predicted = int(evaluation.labels[index]), int(evaluation.predictions[index])
        image = TitledImage(
            value=png_bytes(evaluation.images[index], _THUMBNAIL_SIZE),
            format="png",
            tooltip=f"Test digit #{index}: a {true}, read as {predicted}",
            layout=widgets.Layout(width=f"{_THUMBNAIL_SIZE}px", height=f"{_THUMBNAIL_SIZE}px"),
        )
        caption = widgets.Button(
            description=f"{true}→{predicted} {evaluation.confidence(index):.0%}",
            tooltip=(
                f"Test digit #{index}: true {true}, predicted {predicted} "
                f"({evaluation.confidence(index):.1%}). Click to see its probabilities."
            ),
            layout=widgets.Layout(width=f"{_THUMBNAIL_SIZE + 28}px", padding="0"),
        )
        caption.on_click(lambda _: self.select_image(index))
        item = widgets.VBox([image, caption], layout={"align_items": "center"})
        item.add_class("dw-gallery-item")
        return item
