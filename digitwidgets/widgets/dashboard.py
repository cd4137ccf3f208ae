"""Dashboard: the whole app on one page: choose settings, train and watch, draw, look deeper."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import traitlets

from digitwidgets.learning.current_model import NO_MODEL, CurrentModel
from digitwidgets.page_query import preheated
from digitwidgets.reading.recognition import Recognizer
from digitwidgets.widgets.digit_map import DigitMap
from digitwidgets.widgets.drawing_pad import DrawingPad
from digitwidgets.widgets.evaluation_panel import EvaluationPanel
from digitwidgets.widgets.export_panel import ExportPanel
from digitwidgets.widgets.handwriting_panel import HandwritingPanel
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from digitwidgets.widgets.image_upload import ImageUpload
from digitwidgets.widgets.layer_view import LayerView
from digitwidgets.widgets.learning_rate_finder import LearningRateFinder
from digitwidgets.widgets.number_explanation import NumberExplanation
from digitwidgets.widgets.prediction_view import PredictionView
from digitwidgets.widgets.run_comparison import RunComparison
from digitwidgets.widgets.settings_link import SettingsLink
from digitwidgets.widgets.support import InView, send_state_again, show_new_inputs
from digitwidgets.widgets.sweep_panel import SweepPanel
from digitwidgets.widgets.training_chart import TrainingChart
from digitwidgets.widgets.training_panel import TrainingPanel
from digitwidgets.widgets.weight_distributions import WeightDistributions

# Scoped to the components' own classes so the page around the dashboard is untouched; the
# file ships inside the package (hatchling puts every file of the package in the wheel).
_CSS_FILE = Path(__file__).with_name("dashboard.css")
_CSS = f"<style>\n{_CSS_FILE.read_text(encoding='utf-8')}</style>"


def _html(text: str, css_class: str) -> widgets.HTML:
    html = widgets.HTML(text)
    html.add_class(css_class)
    return html


def _opening_button(description, icon, tooltip, css_class, action) -> widgets.Button:
    """A wide button that builds a part of the page the visitor asks for (``action()``)."""
    button = widgets.Button(
        description=description,
        icon=icon,
        tooltip=tooltip,
        layout=widgets.Layout(width="420px", max_width="100%"),
    )
    button.add_class(css_class)
    button.on_click(lambda _: action())
    return button


def _load_data():
    """MNIST for the page: never waits for a download, and warns nobody on the page.

    A download is left to run in the background for the next visitor; a damaged cache's
    warning would be shown to the visitor by Voila, and the data line already says which
    digits the page trains on.
    """
    import warnings

    from digitwidgets.learning.mnist import load_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_mnist(wait=False)


def _column(children, width: str) -> widgets.VBox:
    column = widgets.VBox(children, layout=widgets.Layout(width=width, min_width="300px"))
    column.add_class("dw-column")
    return column


class Dashboard(widgets.VBox):
    """Train LeNet-5 on MNIST, watch it learn, then try it on your own handwriting.

    Every argument is optional: ``data`` defaults to ``load_mnist()`` (the embedded sample
    when nothing better is found), ``store`` to the default RunStore, ``trainer`` to a
    Trainer saving there and ``recognizer`` to one holding the pretrained LeNet-5 shipped
    with the package, so a visitor can draw before training anything.

    ``current`` (a ``CurrentModel``) owns the model in use: training (after every epoch and
    at the end), a saved run loaded from the comparison table, fine-tuning and "Use the
    pretrained model" set it, and every view links to it (``recognizer`` too); when it
    changes, each view reads its own input again (the pad its drawing, the upload its
    picture, the prediction view whatever it shows). Step 4 (evaluation, run comparison,
    export) is built when the visitor opens it, or by ``open_details()``.
    """

    model_description = traitlets.Unicode(
        NO_MODEL, read_only=True, help="Which model the pad and the upload use now."
    )

    def __init__(
        self, data=None, store=None, trainer=None, recognizer=None, *, pretrained=True, **kwargs
    ):
        """Build and wire every component; ``pretrained=False`` starts with no model."""
        super().__init__(**kwargs)
        if data is None:
            data = _load_data()
        if trainer is None:
            from digitwidgets.learning.runs import RunStore
            from digitwidgets.learning.training import Trainer

            trainer = Trainer(store if store is not None else RunStore())
        self.data = data
        self.trainer = trainer
        self.recognizer = recognizer if recognizer is not None else Recognizer()
        self.current = CurrentModel()
        if self.recognizer.model is not None:
            self.current.set(
                self.recognizer.model, source="given", description="the model you passed in"
            )
        self.current.follow(trainer)

        self.controls = HyperparameterControls()
        # The link to the settings on show, and what a link the page was opened with ignored.
        self.settings_link = SettingsLink(self.controls.value)
        traitlets.link((self.controls, "value"), (self.settings_link, "value"))
        # The finder reads the settings and its "Use ..." button writes their learning rate.
        self.lr_finder = LearningRateFinder(data, self.controls.value, trainer)
        traitlets.link((self.controls, "value"), (self.lr_finder, "hyperparameters"))
        self.training_panel = TrainingPanel(trainer, self.controls, data)
        self.chart = TrainingChart()
        self.chart.follow(trainer)
        self.pad = DrawingPad()
        self.pad.focus_previous = self.training_panel  # Shift+Tab leaves the pad backwards
        self.upload = ImageUpload()
        self.prediction = PredictionView()
        # A new drawing or upload shows; a new model's reading of them does not switch the
        # view to them: the view reads again what it shows itself.
        show_new_inputs(self.pad, self.prediction)
        # A new picture takes the pad's place: its old strokes go (registered first, so the
        # picture is shown after the cleared pad's empty reading).
        self.upload.observe(self._on_new_upload, "value")
        show_new_inputs(self.upload, self.prediction)
        self.handwriting = HandwritingPanel(self.current, data)
        # The drawing first: the panel files each answer with the drawing it was given.
        widgets.dlink((self.pad, "drawing"), (self.handwriting, "drawing"))
        widgets.dlink((self.pad, "value"), (self.handwriting, "value"))
        # Step 4 is built when the visitor opens it: its widgets would otherwise be half of
        # what the page must fetch and render before it is usable (docs/benchmarks.md).
        self.evaluation = self.runs = self.export = self.digit_map = self.sweeps = None
        self.weights = None
        self._latest_run = None
        self._details = widgets.VBox([self._open_details_button()])
        self._details.add_class("dw-details")
        # The layers view too: built when asked for, and then it follows every drawing.
        self.layers = self.explanation = None
        self._inside = widgets.VBox([self._open_layers_button()])
        self._inside.add_class("dw-inside")
        trainer.add_listener(self._on_training_event)
        # Every view of the current model: one line each. Each reads its own input again
        # when the model changes.
        traitlets.dlink((self.current, "model"), (self.recognizer, "model"))
        traitlets.dlink((self.current, "model"), (self.pad, "model"))
        traitlets.dlink((self.current, "model"), (self.upload, "model"))
        traitlets.dlink((self.current, "model"), (self.prediction, "model"))
        self.current.observe(self._on_description_change, "description")
        self.set_trait("model_description", self.current.description)

        # The page's template clicks this hidden button once it has shown the dashboard, that
        # is once every widget in it exists on the page: what other threads changed while the
        # page built them is then sent again (``send_state_again``).
        self._page_built = widgets.Button(layout=widgets.Layout(display="none"))
        self._page_built.add_class("dw-page-built")
        self._page_built.on_click(lambda _: self._on_page_built())
        if self.current.model is None and pretrained:
            # In the background: importing TensorFlow takes seconds, and the settings, Train
            # and the pad are usable meanwhile (a drawing is read once the model is there).
            traitlets.dlink((self.current, "loading"), (self.pad, "model_loading"))
            self.current.expect_pretrained()
            if preheated():
                # A kernel Voila runs ahead of its visitor: have everything ready.
                self.current.load_pretrained_in_background()
            else:
                # Loading costs about 5 s of processor time, 80 % of a kernel's start: only a
                # page that shows the dashboard pays it, never a page load that no browser
                # displays (a crawler, a link preview, a burst of reloads).
                self.pad.on_shown(self.current.load_pretrained_in_background)
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
                    _column(
                        [
                            _html("1 · Choose settings", "dw-section"),
                            self.controls,
                            self.lr_finder,
                            self.settings_link,
                        ],
                        "430px",
                    ),
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
            self._inside,
            _html("4 · Look deeper", "dw-section"),
            self._details,
            self._page_built,
        ]
        self.add_class("dw-dashboard")

    def _on_new_upload(self, change) -> None:
        old, new = change["old"], change["new"]
        if new is not None and (old is None or new.preprocessed is not old.preprocessed):
            self.pad.clear()

    def _on_page_built(self) -> None:
        # The pretrained model's loader changes the model line and the pad's message; a link's
        # query (a preheated kernel receives it on a thread as its visitor arrives) changes
        # the settings.
        send_state_again(self._model_label, self.pad, self.controls, self.settings_link)

    def wait_until_ready(self, timeout: float | None = 120.0) -> bool:
        """Wait until the pretrained model has loaded (scripts and tests; a page need not)."""
        return self.current.wait_loaded(timeout)

    def open_link(self, query: str) -> None:
        """Take the settings a page's query string asks for ("optimizer=sgd&epochs=5").

        What the query asks for that is unknown or out of range is named beside the
        controls, and the default is kept for it (``digitwidgets.learning.settings_query``).
        """
        self.settings_link.open_query(query)

    def _open_details_button(self) -> widgets.Button:
        return _opening_button(
            "Evaluate on test digits, compare saved runs, sweep a setting, export",
            "table",
            "Confusion matrix and misread digits, your saved runs, downloads",
            "dw-open-details",
            self.open_details,
        )

    def _open_layers_button(self) -> widgets.Button:
        return _opening_button(
            "See inside the network: every layer for your digit",
            "eye",
            "Each layer's feature maps for your drawing, and the filters it learned",
            "dw-open-layers",
            self.open_layers,
        )

    def open_layers(self) -> None:
        """Build the layers view (every layer's maps for the digit on show) if not built yet."""
        if self.layers is not None:
            return
        self.layers = LayerView(self.current.model, self.prediction.value)
        traitlets.dlink((self.current, "model"), (self.layers, "model"))
        # Drawings, uploads and gallery picks alike: whatever the prediction view shows.
        traitlets.dlink((self.prediction, "value"), (self.layers, "value"))
        # Where one number comes from: a pixel clicked in the layers view's maps.
        self.explanation = NumberExplanation()
        self.explanation.follow(self.layers)
        self._inside.children = [self.layers, self.explanation]

    def open_details(self) -> None:
        """Build step 4 (evaluation, run comparison, export) if it is not built yet."""
        if self.evaluation is not None:
            return
        # A test digit clicked in the gallery or on the map is read there, beside the click:
        # step 3 and the handwriting panel stay with the visitor's own drawing or picture.
        self.evaluation = EvaluationPanel(self.data)
        # Export offers the run whose model is in use (after a sweep its best run, a loaded
        # run once loaded), not whichever run the trainer ended last.
        self.export = ExportPanel(run=self.current.run)
        traitlets.dlink((self.current, "run"), (self.export, "run"))
        self.runs = RunComparison(self.trainer.store)
        self.runs.follow(self.trainer)
        self.runs.on_load(self._on_run_loaded)
        self.runs.on_delete(self.export.forget)
        # Evaluates the current model now, in the background (the tabs show at once and the
        # matrix fills in after), and each model the app settles on from now on.
        self.evaluation.follow(self.current)
        if self.current.settled:
            self.evaluation.evaluate_model(self.current.model, self.current.run_id)
        # The map is computed when its tab is first opened (t-SNE takes both cores for
        # seconds), and again for a later model only on request: not at every epoch.
        self.digit_map = DigitMap(self.data)
        traitlets.dlink((self.current, "description"), (self.digit_map, "model_description"))
        traitlets.dlink((self.current, "model"), (self.digit_map, "model"))
        traitlets.dlink((self.prediction, "value"), (self.digit_map, "value"))
        self.evaluation.observe(self._on_cell_selected, "cell")
        self.sweeps = SweepPanel(self.trainer, self.controls, self.data)
        traitlets.dlink((self.sweeps, "running"), (self.training_panel, "locked"))
        self.sweeps.on_end(self._on_sweep_end)
        # How the weights move: the latest run's, then each run's live.
        latest = self._latest_run.distributions if self._latest_run is not None else None
        self.weights = WeightDistributions(latest)
        self.weights.follow(self.trainer)
        self._details.children = [self._tabs()]

    def _tabs(self) -> widgets.Tab:
        tabs = widgets.Tab(
            [self.evaluation, self.digit_map, self.runs, self.sweeps, self.weights, self.export]
        )
        titles = ("Evaluate", "Map of digits", "Compare runs", "Sweeps", "Weights", "Export")
        for index, title in enumerate(titles):
            tabs.set_title(index, title)
        tabs.add_class("dw-tabs")
        # Only the open tab draws (the others keep their data and draw once opened); the
        # comparison reads the runs folder again each time it is opened, so runs saved since
        # (by another page) are listed.
        tabs.observe(self._on_tab_selected, "selected_index")
        self._on_tab_selected({"owner": tabs, "new": tabs.selected_index})
        return tabs

    def _on_tab_selected(self, change) -> None:
        if change["new"] is None:
            return
        tabs = change["owner"]
        shown = tabs.children[change["new"]]
        for view in tabs.children:
            if isinstance(view, InView) and view is not shown:
                view.in_view = False
        if isinstance(shown, InView):
            shown.in_view = True
        if shown is self.digit_map and not self.digit_map.shown_model:
            self.digit_map.recompute()

    def _on_sweep_end(self, sweep) -> None:
        # The event worker: list the sweep's runs and overlay their validation curves.
        self.runs.refresh()
        self.runs.selected = [record.run_id for record in sweep.records]

    def _on_cell_selected(self, change) -> None:
        if change["new"]:
            self.digit_map.highlight_cell(*change["new"])
        else:
            self.digit_map.highlight(())

    def _describe_data(self) -> str:
        info = getattr(self.data, "info", None)
        if info is not None:
            return info.describe()
        return f"{len(self.data[0][0]):,} training digits"

    def _on_description_change(self, change) -> None:
        self.set_trait("model_description", change["new"])

    def _on_run_loaded(self, model, record) -> None:
        self.current.set(
            model,
            source="loaded",
            run_id=record.run_id,
            description=f"saved run {record.run_id} ({record.status})",
            run=record,
        )
        if record.distributions is not None:
            self.weights.value = record.distributions

    def _on_training_event(self, event) -> None:
        # The Trainer's event worker: remember the latest saved run for the export tab.
        if event.run is not None:
            self._latest_run = event.run
