"""Dashboard: builds on the embedded sample, carries every CSS class, wires its components."""

from __future__ import annotations

import os
import subprocess
import sys

import ipywidgets as widgets
import numpy as np
import pytest

from digitwidgets import background
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.training import TrainingEvent
from digitwidgets.widgets.dashboard import Dashboard
from digitwidgets.widgets.drawing_pad import MODEL_LOADING
from tests.support import CSS_HOOKS, css_classes, descendants, find_widget, widgets_with


class FakeTrainer:
    """Listeners and a way to emit events, as the training thread would."""

    def __init__(self, store):
        self.listeners = []
        self.model = None
        self.store = store

    def add_listener(self, listener):
        self.listeners.append(listener)

    def emit(self, event):
        for listener in self.listeners:
            listener(event)


@pytest.fixture
def fake_trainer(tmp_path):
    from digitwidgets.learning.runs import RunStore

    return FakeTrainer(RunStore(tmp_path / "runs"))


@pytest.fixture(scope="module")
def sample():
    return load_embedded_sample()


@pytest.fixture(scope="module")
def untrained_model():
    from digitwidgets.learning.model import build_lenet5

    return build_lenet5(Hyperparameters())


def _run_page(code: str, tmp_path, **env) -> str:
    """Run ``code`` (a page's kernel, its runs folder in argv[1]) in a new Python; its output.

    Not preheated unless ``env`` says ``VOILA_PREHEAT``.
    """
    environment = {name: value for name, value in os.environ.items() if name != "VOILA_PREHEAT"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**environment, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_builds_on_the_embedded_sample_with_every_css_class(sample):
    dashboard = Dashboard(data=sample)
    dashboard.wait_until_ready()
    classes = css_classes(dashboard)
    assert [name for name in CSS_HOOKS if name not in classes] == []
    texts = [w.value for w in descendants(dashboard) if isinstance(w, widgets.HTML)]
    assert any(sample.info.describe() in text for text in texts)
    assert [t for t in texts if " · " in t and len(t) < 40] == [
        "1 · Choose settings",
        "2 · Train and watch",
        "3 · Draw a digit",
        "4 · Look deeper",
    ]
    # A run still going at exit is saved as interrupted: the trainer ends before the threads.
    assert dashboard.trainer.shutdown in background.exit_steps()


def test_starts_with_the_pretrained_model_so_a_visitor_can_draw_at_once(sample, fake_trainer):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    assert dashboard.recognizer.model is not None
    assert "Pretrained LeNet-5" in dashboard.model_description
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    assert dashboard.prediction.value.digit == 1


def test_drawing_and_uploads_reach_the_prediction_view(sample, fake_trainer):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    assert dashboard.prediction.value is dashboard.pad.value is not None
    dashboard.upload.recognize_file(b"garbage", "x.png")
    assert dashboard.prediction.value is dashboard.pad.value


def test_a_model_from_training_re_recognizes_the_drawing(sample, untrained_model, fake_trainer):
    trainer = fake_trainer
    dashboard = Dashboard(data=sample, trainer=trainer, pretrained=False)
    assert dashboard.model_description.startswith("No model yet")
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    assert not dashboard.prediction.value.ok
    trainer.emit(TrainingEvent("batch", "run", epochs=1, batches=3, batch=1))
    assert dashboard.recognizer.model is None
    trainer.emit(TrainingEvent("epoch", "run", epochs=1, batches=3, model=untrained_model))
    assert dashboard.recognizer.model is untrained_model
    assert "after epoch 1 of 1" in dashboard.model_description
    assert dashboard.prediction.value.ok
    assert dashboard.prediction.children  # the view shows it
    digit = dashboard.prediction.value.digit
    (shown,) = widgets_with(dashboard, "dw-prediction")
    assert f">{digit}<" in shown.value


def test_a_new_model_reads_again_what_each_view_shows(sample, fake_trainer, untrained_model):
    import io

    from PIL import Image

    from digitwidgets.reading.recognition import read

    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    pretrained = dashboard.current.model
    picture = io.BytesIO()
    Image.fromarray(sample.x_test[0]).save(picture, format="PNG")
    dashboard.upload.recognize_file(picture.getvalue(), "digit.png")
    uploaded = dashboard.upload.value
    assert dashboard.prediction.value is uploaded
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    drawn = dashboard.pad.value
    assert dashboard.prediction.value is drawn
    fake_trainer.emit(TrainingEvent("epoch", "run", epochs=2, batches=3, model=untrained_model))
    # Each view read its own input again with the new model; the drawing stays on show.
    assert dashboard.pad.value is not drawn
    assert dashboard.pad.value.preprocessed is drawn.preprocessed
    assert dashboard.upload.value is not uploaded
    assert dashboard.upload.value.preprocessed is uploaded.preprocessed
    shown = dashboard.prediction.value
    assert shown.preprocessed is drawn.preprocessed
    expected = read(untrained_model, drawn.preprocessed).probabilities
    np.testing.assert_allclose(shown.probabilities, expected, rtol=1e-5)
    # Whatever is on show (here the upload, set as any code may) is read again.
    before = dashboard.prediction.value = dashboard.upload.value
    dashboard.current.set(pretrained, source="loaded", description="the pretrained one")
    assert dashboard.prediction.value is not before
    assert dashboard.prediction.value.preprocessed is uploaded.preprocessed
    np.testing.assert_allclose(
        dashboard.prediction.value.probabilities, uploaded.probabilities, rtol=1e-5
    )
    dashboard.pad.clear()  # a new input of the pad takes over
    assert dashboard.prediction.value is None


def test_each_view_of_a_new_model_computes_once(sample, fake_trainer, untrained_model, monkeypatch):
    """An epoch's model reaches the layers view and the explanation twice (the model, then
    the digit's new reading): each computes once, with both, and the digit is looked at once
    (its reading, saliency and layer outputs in one traced call)."""
    from digitwidgets.keras_import import keras
    from digitwidgets.reading import inference
    from digitwidgets.reading import saliency as saliency_module
    from digitwidgets.reading.inside.layers import layer_probe
    from digitwidgets.widgets.layer_view import LayerView
    from digitwidgets.widgets.number_explanation import NumberExplanation

    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    dashboard.open_layers()
    dashboard.layers.pick(1, 5, 5)
    computed = []
    for view in (LayerView, NumberExplanation):
        original = view._update
        monkeypatch.setattr(
            view, "_update", lambda self, original=original: computed.append(self) or original(self)
        )
    # One traced call reads the digit, makes its saliency and every layer's output. The model
    # is new to this test: a model's looks at a digit are remembered.
    model = keras.models.clone_model(untrained_model)
    functions = layer_probe(model)._functions
    looks, other_calls = [], []
    look = functions.look
    monkeypatch.setattr(
        functions, "look", lambda weights, image: looks.append(image) or look(weights, image)
    )
    monkeypatch.setattr(inference, "probabilities", lambda *args: other_calls.append(args))
    monkeypatch.setattr(saliency_module, "saliency", lambda *args: other_calls.append(args))
    fake_trainer.emit(TrainingEvent("epoch", "run", epochs=2, batches=3, model=model))
    assert computed == [dashboard.layers, dashboard.explanation]
    assert len(looks) == 1 and other_calls == []
    assert dashboard.layers.model is model
    assert dashboard.layers.value is dashboard.prediction.value
    assert dashboard.explanation.explanation is not None


def test_an_upload_clears_the_pad_and_shows_the_picture(sample, fake_trainer):
    import io

    from PIL import Image

    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    assert dashboard.pad.strokes
    picture = io.BytesIO()
    Image.fromarray(sample.x_test[0]).save(picture, format="PNG")
    dashboard.upload.recognize_file(picture.getvalue(), "digit.png")
    # The old stroke is gone: the pad no longer shows something the steps do not.
    assert dashboard.pad.strokes == [] and dashboard.pad.value is None
    assert dashboard.prediction.value is dashboard.upload.value is not None
    assert dashboard.handwriting.value is None  # nothing drawn to answer for


def test_handwriting_panel_follows_the_pad_and_can_bring_the_pretrained_model_back(
    sample, fake_trainer, untrained_model
):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    pretrained = dashboard.recognizer.model
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    assert dashboard.handwriting.value is dashboard.pad.value
    assert dashboard.handwriting.drawing is dashboard.pad.drawing
    dashboard.handwriting.confirm()
    assert dashboard.handwriting.handwriting_log.total == 1
    assert "1 of your 1 drawing" in dashboard.handwriting.score

    fake_trainer.emit(TrainingEvent("finish", "run", epochs=1, batches=3, model=untrained_model))
    assert dashboard.prediction.model is untrained_model
    assert "your run run (finished)" in dashboard.model_description
    (button,) = widgets_with(dashboard, "dw-use-pretrained")
    button.click()
    assert dashboard.recognizer.model is not untrained_model
    assert dashboard.recognizer.model is not pretrained  # a fresh copy, never a tuned one
    assert "Pretrained LeNet-5" in dashboard.model_description


def test_step_four_is_built_when_opened_and_evaluates_the_current_model(sample, fake_trainer):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    assert dashboard.evaluation is dashboard.runs is dashboard.export is None
    assert "dw-confusion" not in css_classes(dashboard)
    (button,) = widgets_with(dashboard, "dw-open-details")
    button.click()
    assert dashboard.evaluation.model is dashboard.recognizer.model
    assert dashboard.evaluation.wait(60)
    assert dashboard.evaluation.value.confusion.sum() == len(sample.y_test)
    classes = css_classes(dashboard)
    for name in ("dw-tabs", "dw-confusion", "dw-runs", "dw-export"):
        assert name in classes
    dashboard.open_details()  # a second call changes nothing
    assert "dw-open-details" not in css_classes(dashboard)


def test_every_view_takes_its_model_from_the_one_owner(sample, fake_trainer, untrained_model):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    dashboard.open_details()
    assert dashboard.evaluation.wait(60)
    pretrained_accuracy = dashboard.current.test_accuracy
    assert pretrained_accuracy > 0.9

    def views():
        return {
            "recognizer": dashboard.recognizer.model,
            "prediction": dashboard.prediction.model,
            "evaluation": dashboard.evaluation.model,
        }

    assert set(map(id, views().values())) == {id(dashboard.current.model)}
    fake_trainer.emit(TrainingEvent("epoch", "run", epochs=2, batches=3, model=untrained_model))
    assert views() == dict.fromkeys(views(), untrained_model)
    assert dashboard.current.source == "epoch" and dashboard.current.test_accuracy is None
    # Models handed over between epochs are not evaluated: the run's end is.
    assert dashboard.evaluation.wait(60) and dashboard.evaluation.value.run_id is None
    fake_trainer.emit(TrainingEvent("finish", "run", epoch=1, epochs=2, model=untrained_model))
    assert dashboard.evaluation.wait(60)
    assert dashboard.evaluation.value.run_id == "run"
    assert dashboard.current.test_accuracy == dashboard.evaluation.value.accuracy
    assert dashboard.handwriting.test_accuracy == dashboard.current.test_accuracy
    assert dashboard.model_description == dashboard.current.description


def test_a_page_is_built_without_tensorflow_and_reads_a_drawing_once_the_model_loads(tmp_path):
    """Building the dashboard imports no TensorFlow (seconds the visitor would wait for)."""
    code = """
import sys
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.runs import RunStore
from digitwidgets.widgets.dashboard import Dashboard
dashboard = Dashboard(data=load_embedded_sample(), store=RunStore(sys.argv[1]))
print("tensorflow" in sys.modules, dashboard.current.loading, dashboard.pad.message)
dashboard.pad._on_mouse_down(140, 40)
dashboard.pad._on_mouse_up(140, 240)
print(dashboard.prediction.value.ok)
assert dashboard.wait_until_ready(240)
print(dashboard.current.source, dashboard.prediction.value.digit, dashboard.pad.message)
"""
    built, drawn, loaded = _run_page(code, tmp_path).strip().splitlines()
    assert built == f"False True {MODEL_LOADING}"
    assert drawn == "False"  # drawn while loading: not read yet, and no error either
    assert loaded == "pretrained 1 Looks like a 1. Undo or Clear to draw again."


def test_the_views_inside_the_network_follow_the_owner_and_the_digit(sample, fake_trainer):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    assert dashboard.layers is None and "dw-layers" not in css_classes(dashboard)
    (button,) = widgets_with(dashboard, "dw-open-layers")
    button.click()
    assert dashboard.layers.model is dashboard.current.model
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    assert dashboard.layers.value is dashboard.prediction.value is not None
    # A click on a map's pixel is explained under the layers view (issue 34).
    dashboard.layers.select("c1")
    dashboard.layers.pick(0, 14, 14)
    explained = dashboard.explanation.explanation
    assert explained is not None and explained.value == pytest.approx(explained.output, abs=1e-5)

    dashboard.open_details()
    assert "dw-distributions" in dashboard.weights._dom_classes
    tabs = widgets_with(dashboard, "dw-tabs")[0]
    assert tabs.titles == (
        "Evaluate",
        "Map of digits",
        "Compare runs",
        "Sweeps",
        "Weights",
        "Export",
    )
    assert dashboard.digit_map.shown_model == ""  # nothing computed until the tab is opened
    tabs.selected_index = 1
    assert dashboard.digit_map.wait(240)
    assert "Pretrained LeNet-5" in dashboard.digit_map.shown_model
    assert dashboard.evaluation.wait(60)
    dashboard.evaluation.select_cell(7, 7)
    sevens = np.flatnonzero(sample.y_test == 7)
    assert set(dashboard.digit_map.highlighted) <= set(sevens.tolist())
    assert len(dashboard.digit_map.highlighted) > 0


def test_the_pretrained_model_loads_only_for_a_page_that_shows_the_dashboard(tmp_path):
    """A kernel whose page no browser displays never pays the ~5 s of processor time."""
    code = """
import sys
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.runs import RunStore
from digitwidgets.widgets.dashboard import Dashboard
dashboard = Dashboard(data=load_embedded_sample(), store=RunStore(sys.argv[1]))
# Until a browser shows the pad, no loader has started (nothing to wait for).
assert getattr(dashboard.current, "_loader", None) is None, "loading already"
print("tensorflow" in sys.modules, dashboard.current.loading, dashboard.current.model is None)
# What ipycanvas's front end sends once the pad's canvas is on a page.
dashboard.pad._canvas._handle_custom_msg({"event": "client_ready"}, [])
assert dashboard.wait_until_ready(240)
print(dashboard.current.source, dashboard.current.loading)
"""
    assert _run_page(code, tmp_path).split() == ["False", "True", "True", "pretrained", "False"]


def test_a_preheated_kernel_loads_the_pretrained_model_before_its_visitor_arrives(tmp_path):
    code = """
import sys
from digitwidgets.learning.mnist import load_embedded_sample
from digitwidgets.learning.runs import RunStore
from digitwidgets.widgets.dashboard import Dashboard
dashboard = Dashboard(data=load_embedded_sample(), store=RunStore(sys.argv[1]))
assert dashboard.current._loader is not None, "not loading"
assert dashboard.current._loader.wait(240)
print(dashboard.current.source)
"""
    assert _run_page(code, tmp_path, VOILA_PREHEAT="True").split() == ["pretrained"]


def test_a_link_sets_the_controls_and_the_share_link_follows_them(sample, fake_trainer):
    dashboard = Dashboard(data=sample, trainer=fake_trainer, pretrained=False)
    dashboard.open_link("optimizer=sgd&learning_rate=0.1&epochs=500")
    assert dashboard.controls.value == Hyperparameters(optimizer="sgd", learning_rate=0.1)
    message = find_widget(dashboard, "dw-link-message").value
    assert "epochs=500: epochs must be an integer in [1, 100]" in message
    dashboard.controls.value = Hyperparameters(dropout=0.5)
    assert "href='?dropout=0.5'" in find_widget(dashboard, "dw-share-link").value


def test_a_sweep_locks_train_and_its_end_overlays_its_runs(sample, fake_trainer):
    dashboard = Dashboard(data=sample, trainer=fake_trainer, pretrained=False)
    dashboard.open_details()
    assert find_widget(dashboard, "dw-sweep-chart") is not None
    dashboard.sweeps.set_trait("running", True)
    assert dashboard.training_panel.locked and find_widget(dashboard, "dw-train").disabled
    dashboard.sweeps.set_trait("running", False)
    assert not find_widget(dashboard, "dw-train").disabled


def test_a_test_digit_clicked_in_step_4_is_read_there_and_step_3_keeps_the_drawing(
    sample, fake_trainer
):
    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    dashboard.pad._on_mouse_down(140, 40)
    dashboard.pad._on_mouse_up(140, 240)
    drawn = dashboard.prediction.value
    assert drawn is dashboard.pad.value
    dashboard.open_details()
    dashboard.evaluation.evaluate_model(dashboard.current.model)
    assert dashboard.evaluation.wait(120)
    evaluation = dashboard.evaluation.value
    dashboard.evaluation.select_cell(1, 1)
    index = dashboard.evaluation.gallery_indices[0]
    dashboard.evaluation.select_image(index)
    # Read beside the gallery, as a test digit; step 3 and the question stay with the drawing.
    picked = find_widget(dashboard.evaluation, "dw-picked-digit")
    assert picked.value.digit == int(evaluation.predictions[index])
    assert picked.true_digit == 1 and picked.layout.display == "flex"
    assert dashboard.prediction.value is drawn
    assert dashboard.handwriting.value is dashboard.pad.value
    assert dashboard.digit_map.value is drawn  # the map's "your digit" is still yours


def test_export_offers_the_run_whose_model_is_in_use(sample, fake_trainer, untrained_model):
    from pathlib import Path

    from digitwidgets.learning.runs import RunRecord

    dashboard = Dashboard(data=sample, trainer=fake_trainer)
    dashboard.wait_until_ready()
    dashboard.open_details()

    def sweep_run(run_id, index, val_accuracy):
        tag = {"id": "s1", "name": "rates", "settings": ["learning_rate"], "index": index}
        record = RunRecord(
            run_id,
            Path(run_id),
            "finished",
            Hyperparameters(learning_rate=0.001 * index),
            history={"val_accuracy": [val_accuracy]},
            sweep={**tag, "count": 2},
        )
        fake_trainer.emit(
            TrainingEvent("finish", run_id, epochs=1, batches=3, model=untrained_model, run=record)
        )
        return record

    best = sweep_run("best", 1, 0.93)
    sweep_run("worse", 2, 0.10)  # the sweep's last run, not its best
    assert dashboard.current.run is best
    # Its tab closed, the export panel makes no links (they carry the model) until opened.
    assert dashboard.export.run is best and "run best" not in dashboard.export.status
    tabs = dashboard._details.children[0]
    tabs.selected_index = tabs.children.index(dashboard.export)
    assert "run best" in dashboard.export.status
    loaded = RunRecord("loaded", Path("loaded"), "stopped", Hyperparameters())
    dashboard._on_run_loaded(untrained_model, loaded)  # Load in the runs table
    assert dashboard.current.run is loaded and dashboard.export.run is loaded
