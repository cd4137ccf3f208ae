"""ExportPanel: download links carry the run's model, history CSV and script in data: URLs."""

from __future__ import annotations

import base64
import csv
import io
import re

import keras
import numpy as np
import pytest

from digitwidgets.learning.export import reproduction_script
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import MODEL_FILE, RunStore
from digitwidgets.learning.training import TrainingEvent
from digitwidgets.widgets.export_panel import ExportPanel
from tests.support import widgets_with

HP = Hyperparameters(optimizer="sgd", learning_rate=0.05, epochs=2)


@pytest.fixture(scope="module")
def model(sample_arrays):
    """LeNet-5 trained for one epoch on 500 real digits."""
    model = build_lenet5(HP)
    x, y = sample_arrays["x_train"][:500], sample_arrays["y_train"][:500]
    model.fit(x.astype("float32") / 255.0, y, batch_size=64, epochs=1, verbose=0)
    return model


@pytest.fixture
def record(tmp_path, model):
    return RunStore(tmp_path / "runs").save(
        run_id="20260101-120000-abcdef",
        model=model,
        hyperparameters=HP,
        history={"loss": [0.9, 0.5], "accuracy": [0.7, 0.85], "val_accuracy": [0.8, 0.9]},
        data={"source": "embedded-sample", "n_train": 500},
        started_at="2026-01-01T12:00:00+00:00",
        duration=3.0,
        status="finished",
    )


def _link(panel, css_class) -> tuple[str, bytes] | None:
    """The (download filename, bytes) of the link in the child with ``css_class``."""
    (html,) = [c.value for c in widgets_with(panel, css_class)]
    match = re.search(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', html)
    return (match.group(1), base64.b64decode(match.group(2))) if match else None


def test_model_link_downloads_a_loadable_keras_file(record, model, tmp_path, digit_images):
    panel = ExportPanel(record)
    name, data = _link(panel, "dw-download-model")
    assert name == "lenet5-20260101-120000-abcdef.keras"
    assert data == (record.path / MODEL_FILE).read_bytes()
    path = tmp_path / name
    path.write_bytes(data)
    loaded = keras.models.load_model(path)
    x = np.stack(list(digit_images.values())).astype("float32") / 255.0
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert "Download run 20260101-120000-abcdef (finished)" in panel.status


def test_history_link_is_a_csv_of_the_epochs(record):
    name, data = _link(ExportPanel(record), "dw-download-history")
    assert name.endswith("-history.csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [(r["epoch"], r["val_accuracy"], r["val_loss"]) for r in rows] == [
        ("1", "0.8", ""),
        ("2", "0.9", ""),
    ]


def test_script_link_is_the_reproduction_script(record):
    name, data = _link(ExportPanel(record), "dw-download-script")
    assert name == "lenet5-20260101-120000-abcdef.py"
    assert data.decode() == reproduction_script(HP, run_id=record.run_id)


def test_no_run_means_no_links():
    panel = ExportPanel()
    for hook in ("dw-download-model", "dw-download-history", "dw-download-script"):
        assert _link(panel, hook) is None
    assert "Train a model" in panel.status


def test_a_run_without_its_model_file_still_offers_the_rest(record):
    (record.path / MODEL_FILE).unlink()
    panel = ExportPanel(record)
    assert _link(panel, "dw-download-model") is None
    assert _link(panel, "dw-download-history") is not None
    assert "no saved model" in panel.status


def test_changing_the_run_replaces_the_links(record):
    panel = ExportPanel(record)
    panel.run = None
    assert _link(panel, "dw-download-script") is None
    panel.run = record
    assert _link(panel, "dw-download-script") is not None


def test_forgetting_a_deleted_run_removes_its_links(record):
    panel = ExportPanel(record)
    panel.forget("another-run")
    assert panel.run is record
    panel.forget(record.run_id)
    assert panel.run is None and _link(panel, "dw-download-model") is None


def test_follow_offers_each_saved_run(record):
    class FakeTrainer:
        def __init__(self):
            self.listeners = []

        def add_listener(self, listener):
            self.listeners.append(listener)

    trainer, panel = FakeTrainer(), ExportPanel()
    panel.follow(trainer)
    (listener,) = trainer.listeners
    listener(TrainingEvent("failed", record.run_id, run=record))
    assert panel.run is None
    listener(TrainingEvent("finish", record.run_id, run=record))
    assert panel.run is record


def test_links_look_like_links():
    from digitwidgets.widgets.export_panel import download_link

    link = download_link(b"x", "a.csv", "text/csv", "History (CSV)")
    assert "text-decoration:underline" in link and "color:#1a5fb4" in link
