"""Dashboard: the whole app on one page: choose settings, train and watch, draw, look deeper."""

from __future__ import annotations

import atexit

import ipywidgets as widgets
import traitlets

from digitwidgets.recognition import Recognizer
from digitwidgets.widgets.chart import TrainingChart
from digitwidgets.widgets.controls import HyperparameterControls
from digitwidgets.widgets.drawing_pad import DrawingPad
from digitwidgets.widgets.evaluation import EvaluationPanel
from digitwidgets.widgets.export import ExportPanel
from digitwidgets.widgets.handwriting import HandwritingPanel
from digitwidgets.widgets.prediction import PredictionView
from digitwidgets.widgets.runs_table import RunComparison
from digitwidgets.widgets.training_panel import TrainingPanel
from digitwidgets.widgets.upload import ImageUpload

_MODEL_EVENTS = ("epoch", "finish", "stopped")
_NO_MODEL = "No model yet: train one in step 2, or load a saved run in step 4."

# Scoped to the components' own classes so the page around the dashboard is untouched.
_CSS = """
<style>
.dw-dashboard { max-width: 1240px; font-size: 14px; }
.dw-dashboard .dw-title h2 { margin: 4px 0; }
.dw-dashboard .dw-section { margin: 14px 0 4px 0; font-size: 18px; font-weight: 600; }
.dw-dashboard .dw-intro { color: #555; }
.dw-dashboard .dw-data-info { color: #333; font-style: italic; }
.dw-dashboard .dw-model-label { color: #333; }
.dw-dashboard .dw-column { padding-right: 12px; }
.dw-model-input, .dw-step-cropped, .dw-step-scaled { image-rendering: pixelated;
                 border: 1px solid #ccc; background: black; }
.dw-pad { cursor: crosshair; touch-action: none; }
.dw-status { font-weight: 600; }
</style>
"""


def _html(text: str, css_class: str) -> widgets.HTML:
    html = widgets.HTML(text)
    html.add_class(css_class)
    return html


def _column(children, width: str) -> widgets.VBox:
    column = widgets.VBox(children, layout=widgets.Layout(width=width, min_width="300px"))
    column.add_class("dw-column")
    return column


class Dashboard(widgets.VBox):
    """Train LeNet-5 on MNIST, watch it learn, then try it on your own handwriting.

    Every argument is optional: ``data`` defaults to ``load_mnist()`` (the embedded sample
    when nothing better is found), ``store`` to the default RunStore, ``trainer`` to a
    Trainer saving there and ``recognizer`` to one holding the pretrained LeNet-5 shipped
    with the package, so a visitor can draw before training anything. Each model that
    training hands over (after every epoch and at the end) replaces the recognizer's model,
    and the current drawing or upload is recognized again with it; so does a saved run
    loaded from the comparison table. Step 4 (evaluation, run comparison, export) is built
    when the visitor opens it, or by ``open_details()``.
    """

    model_description = traitlets.Unicode(
        _NO_MODEL, read_only=True, help="Which model the pad and the upload use now."
    )

    def __init__(
        self, data=None, store=None, trainer=None, recognizer=None, *, pretrained=True, **kwargs
    ):
        """Build and wire every component; ``pretrained=False`` starts with no model."""
        super().__init__(**kwargs)
        if data is None:
            from digitwidgets.mnist import load_mnist

            data = load_mnist()
        if trainer is None:
            from digitwidgets.runs import RunStore
            from digitwidgets.training import Trainer

            trainer = Trainer(store if store is not None else RunStore())
        self.data = data
        self.trainer = trainer
        self.recognizer = recognizer if recognizer is not None else Recognizer()

        self.controls = HyperparameterControls()
        self.training_panel = TrainingPanel(trainer, self.controls, data)
        self.chart = TrainingChart()
        self.chart.follow(trainer)
        self.pad = DrawingPad(self.recognizer)
        self.upload = ImageUpload(self.recognizer)
        self.prediction = PredictionView()
        widgets.dlink((self.pad, "value"), (self.prediction, "value"))
        widgets.dlink((self.upload, "value"), (self.prediction, "value"))
        self.handwriting = HandwritingPanel(self.recognizer, data)
        # The drawing first: the panel files each answer with the drawing it was given.
        widgets.dlink((self.pad, "drawing"), (self.handwriting, "drawing"))
        widgets.dlink((self.pad, "value"), (self.handwriting, "value"))
        self.handwriting.on_model_changed(self._on_fine_tuned)
        self.handwriting.on_use_pretrained(self._use_pretrained)
        # Step 4 is built when the visitor opens it: its widgets would otherwise be half of
        # what the page must fetch and render before it is usable (docs/benchmarks.md).
        self.evaluation = self.runs = self.export = None
        self._latest_run = None
        self._details = widgets.VBox([self._open_details_button()])
        self._details.add_class("dw-details")
        trainer.add_listener(self._on_training_event)
        shutdown = getattr(trainer, "shutdown", None)
        if shutdown is not None:
            # A run still going when the kernel exits is saved as interrupted, not lost.
            atexit.register(shutdown)

        if self.recognizer.model is not None:
            self._show_model(self.recognizer.model, "the model you passed in")
        elif pretrained:
            self._use_pretrained()
        self._model_label = _html("", "dw-model-label")
        traitlets.dlink(
            (self, "model_description"),
            (self._model_label, "value"),
            lambda text: f"<b>Model:</b> {text}",
        )
        self.children = [
            widgets.HTML(_CSS),
            _html("<h2>Handwritten digits with LeNet-5</h2>", "dw-title"),
            _html(
                "Choose how to train the network, watch it learn, then draw a digit and "
                "see what it thinks.",
                "dw-intro",
            ),
            _html(f"Training data: {self._describe_data()}", "dw-data-info"),
            widgets.HBox(
                [
                    _column([_html("1 · Choose settings", "dw-section"), self.controls], "430px"),
                    _column(
                        [
                            _html("2 · Train and watch", "dw-section"),
                            self.training_panel,
                            self.chart,
                        ],
                        "790px",
                    ),
                ],
                layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"),
            ),
            _html("3 · Draw a digit", "dw-section"),
            self._model_label,
            widgets.HBox(
                [
                    _column([self.pad, self.upload], "320px"),
                    _column([self.prediction, self.handwriting], "680px"),
                ],
                layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"),
            ),
            _html("4 · Look deeper", "dw-section"),
            self._details,
        ]
        self.add_class("dw-dashboard")

    def _open_details_button(self) -> widgets.Button:
        button = widgets.Button(
            description="Evaluate on test digits, compare saved runs, export",
            icon="table",
            tooltip="Confusion matrix and misread digits, your saved runs, downloads",
            layout=widgets.Layout(width="420px"),
        )
        button.add_class("dw-open-details")
        button.on_click(lambda _: self.open_details())
        return button

    def open_details(self) -> None:
        """Build step 4 (evaluation, run comparison, export) if it is not built yet."""
        if self.evaluation is not None:
            return
        self.evaluation = EvaluationPanel(self.data, self.recognizer.model)
        self.evaluation.follow(self.trainer)
        self.evaluation.on_image_selected(self._show_recognition)
        self.evaluation.observe(self._on_evaluated, "value")
        self.export = ExportPanel(run=self._latest_run)
        self.export.follow(self.trainer)
        self.runs = RunComparison(self.trainer.store)
        self.runs.follow(self.trainer)
        self.runs.on_load(self._on_run_loaded)
        self.runs.on_delete(self.export.forget)
        if self.evaluation.model is not None:
            # In the background: the tabs show at once and the matrix fills in after.
            self.evaluation.evaluate()
        self._details.children = [self._tabs()]

    def _tabs(self) -> widgets.Tab:
        tabs = widgets.Tab([self.evaluation, self.runs, self.export])
        for index, title in enumerate(("Evaluate", "Compare runs", "Export")):
            tabs.set_title(index, title)
        tabs.add_class("dw-tabs")
        # A preheated kernel builds the table before the page opens: read the runs folder
        # again when the visitor looks, so runs saved since (by another page) are listed.
        tabs.observe(self._on_tab_selected, "selected_index")
        return tabs

    def _on_tab_selected(self, change) -> None:
        if change["new"] is not None and change["owner"].children[change["new"]] is self.runs:
            self.runs.refresh()

    def _describe_data(self) -> str:
        info = getattr(self.data, "info", None)
        if info is not None:
            return info.describe()
        return f"{len(self.data[0][0]):,} training digits"

    def _use_pretrained(self) -> None:
        from digitwidgets.pretrained import load_pretrained

        model, info = load_pretrained()
        self._set_model(model, info["description"], test_accuracy=info["mnist_test_accuracy"])

    def _show_model(self, model, description: str, test_accuracy: float | None = None) -> None:
        # Every view that depends on the model, without recognizing anything again.
        self.recognizer.model = model
        self.prediction.model = model
        if self.evaluation is not None:
            self.evaluation.model = model
        self.handwriting.test_accuracy = test_accuracy
        self.set_trait("model_description", description)

    def _set_model(self, model, description: str, test_accuracy: float | None = None) -> None:
        self._show_model(model, description, test_accuracy)
        if self.upload.value is not None and self.prediction.value is self.upload.value:
            self.upload.recognize()
        else:
            self.pad.recognize()

    def _show_recognition(self, recognition) -> None:
        self.prediction.value = recognition

    def _on_evaluated(self, change) -> None:
        evaluation = change["new"]
        if evaluation is not None and self.evaluation.model is self.recognizer.model:
            self.handwriting.test_accuracy = evaluation.accuracy

    def _on_fine_tuned(self, model) -> None:
        self._set_model(model, f"{self.model_description} · fine-tuned on your drawings")

    def _on_run_loaded(self, model, record) -> None:
        self._set_model(model, f"saved run {record.run_id} ({record.status})")
        self.evaluation.evaluate_model(model, record.run_id)
        self.export.run = record

    def _on_training_event(self, event) -> None:
        # Training thread: hand the model over and set traits, nothing else.
        if event.run is not None:
            self._latest_run = event.run
        if event.kind not in _MODEL_EVENTS or event.model is None:
            return
        if event.kind == "epoch":
            description = (
                f"your run {event.run_id}, after epoch {event.epoch + 1} of {event.epochs}"
            )
        else:
            description = (
                f"your run {event.run_id} ({'finished' if event.kind == 'finish' else 'stopped'})"
            )
        self._set_model(event.model, description)
