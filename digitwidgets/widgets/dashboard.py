"""Dashboard: the whole app on one page: choose settings, train and watch, then draw a digit."""

from __future__ import annotations

import atexit

import ipywidgets as widgets

from digitwidgets.recognition import Recognizer
from digitwidgets.widgets.chart import TrainingChart
from digitwidgets.widgets.controls import HyperparameterControls
from digitwidgets.widgets.drawing_pad import DrawingPad
from digitwidgets.widgets.prediction import PredictionView
from digitwidgets.widgets.training_panel import TrainingPanel
from digitwidgets.widgets.upload import ImageUpload

_MODEL_EVENTS = ("epoch", "finish", "stopped")

# Scoped to the components' own classes so the page around the dashboard is untouched.
_CSS = """
<style>
.dw-dashboard { max-width: 960px; font-size: 14px; }
.dw-dashboard .dw-section { margin: 18px 0 6px 0; font-size: 18px; font-weight: 600; }
.dw-dashboard .dw-intro { color: #555; }
.dw-dashboard .dw-data-info { color: #333; font-style: italic; }
.dw-prediction { font-size: 72px; font-weight: 700; line-height: 1.1; min-width: 90px;
                 text-align: center; color: #08519c; }
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


class Dashboard(widgets.VBox):
    """Train LeNet-5 on MNIST, watch it learn, then try it on your own handwriting.

    Every argument is optional: ``data`` defaults to ``load_mnist()`` (the embedded sample
    when nothing better is found), ``store`` to the default RunStore, ``trainer`` to a
    Trainer saving there and ``recognizer`` to an empty Recognizer. Each model training
    hands over (after every epoch and at the end) replaces the recognizer's model, and the
    current drawing or upload is recognized again with it.
    """

    def __init__(self, data=None, store=None, trainer=None, recognizer=None, **kwargs):
        """Build and wire every component."""
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
        if self.recognizer.model is None and getattr(trainer, "model", None) is not None:
            self.recognizer.model = trainer.model

        self.controls = HyperparameterControls()
        self.training_panel = TrainingPanel(trainer, self.controls, data)
        self.chart = TrainingChart()
        self.chart.follow(trainer)
        self.pad = DrawingPad(self.recognizer)
        self.upload = ImageUpload(self.recognizer)
        self.prediction = PredictionView()
        widgets.dlink((self.pad, "value"), (self.prediction, "value"))
        widgets.dlink((self.upload, "value"), (self.prediction, "value"))
        trainer.add_listener(self._on_training_event)
        shutdown = getattr(trainer, "shutdown", None)
        if shutdown is not None:
            # A run still going when the kernel exits is saved as interrupted, not lost.
            atexit.register(shutdown)

        info = getattr(data, "info", None)
        data_line = info.describe() if info is not None else f"{len(data[0][0]):,} training digits"
        self.children = [
            widgets.HTML(_CSS),
            _html("<h2>Handwritten digits with LeNet-5</h2>", "dw-title"),
            _html(
                "Choose how to train the network, watch it learn, then draw a digit and "
                "see what it thinks.",
                "dw-intro",
            ),
            _html(f"Training data: {data_line}", "dw-data-info"),
            _html("1 · Choose settings", "dw-section"),
            self.controls,
            _html("2 · Train and watch", "dw-section"),
            self.training_panel,
            self.chart,
            _html("3 · Draw a digit", "dw-section"),
            widgets.HBox(
                [
                    widgets.VBox([self.pad, self.upload], layout=widgets.Layout(width="320px")),
                    self.prediction,
                ],
                layout=widgets.Layout(align_items="flex-start", grid_gap="24px"),
            ),
        ]
        self.add_class("dw-dashboard")

    def _on_training_event(self, event) -> None:
        # Training thread: hand the model over and set traits, nothing else.
        if event.kind not in _MODEL_EVENTS or event.model is None:
            return
        self.recognizer.model = event.model
        if self.upload.value is not None and self.prediction.value is self.upload.value:
            self.upload.recognize()
        else:
            self.pad.recognize()
