"""Export: a run's model bytes, its history as CSV, and a standalone script that trains again."""

from __future__ import annotations

import csv
import io
import math
import runpy
import subprocess
import sys

import keras
import numpy as np
import pytest

from digitwidgets.export import (
    HISTORY_COLUMNS,
    ExportError,
    history_csv,
    model_bytes,
    reproduction_script,
)
from digitwidgets.hyperparameters import Hyperparameters
from digitwidgets.model import build_lenet5
from digitwidgets.runs import MODEL_FILE, RunStore

HISTORY = {
    "loss": [0.9, 0.4, math.nan],
    "accuracy": [0.7, 0.88, 0.91],
    "val_loss": [0.5, 0.35, 0.3],
    "val_accuracy": [0.85, 0.9, 0.92],
}


@pytest.fixture
def saved_run(tmp_path):
    hp = Hyperparameters(epochs=3, optimizer="sgd", learning_rate=0.1)
    store = RunStore(tmp_path / "runs")
    record = store.save(
        run_id="20260101-120000-abcdef",
        model=build_lenet5(hp),
        hyperparameters=hp,
        history=HISTORY,
        data={"source": "embedded-sample", "n_train": 8500},
        started_at="2026-01-01T12:00:00+00:00",
        duration=12.0,
        status="finished",
    )
    return store, record


def test_history_csv_has_one_row_per_epoch():
    rows = list(csv.DictReader(io.StringIO(history_csv(HISTORY))))
    assert list(rows[0]) == list(HISTORY_COLUMNS)
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert float(rows[1]["val_accuracy"]) == 0.9
    assert float(rows[0]["loss"]) == 0.9
    # A NaN loss (a diverged epoch) is an empty field, not the text "nan".
    assert rows[2]["loss"] == ""


def test_history_csv_without_validation_leaves_those_fields_empty():
    rows = list(csv.DictReader(io.StringIO(history_csv({"loss": [1.0], "accuracy": [0.5]}))))
    # A run saved before the learning rate was recorded has none either: an empty field too.
    assert rows == [
        {
            "epoch": "1",
            "loss": "1.0",
            "accuracy": "0.5",
            "val_loss": "",
            "val_accuracy": "",
            "learning_rate": "",
        }
    ]
    assert history_csv({}).strip() == ",".join(HISTORY_COLUMNS)


def test_model_bytes_load_back_as_the_same_model(saved_run, tmp_path, digit_images):
    store, record = saved_run
    data = model_bytes(record)
    assert data == (record.path / MODEL_FILE).read_bytes()
    copy = tmp_path / "downloaded.keras"
    copy.write_bytes(data)
    loaded = keras.models.load_model(copy)
    x = np.stack(list(digit_images.values())).astype("float32") / 255.0
    np.testing.assert_allclose(
        np.asarray(loaded(x)), np.asarray(store.load_model(record.run_id)(x)), atol=1e-6
    )


def test_a_run_without_model_cannot_be_downloaded(saved_run):
    _, record = saved_run
    (record.path / MODEL_FILE).unlink()
    with pytest.raises(ExportError, match=record.run_id):
        model_bytes(record)


@pytest.mark.parametrize(
    "hp",
    [
        Hyperparameters(optimizer="sgd", learning_rate=0.1, dropout=0.3, seed=7),
        Hyperparameters(architecture="classic", activation="tanh", augmentation=True, seed=3),
    ],
    ids=["modern-sgd-dropout", "classic-augmented"],
)
def test_script_builds_the_apps_model_with_the_same_initial_weights(hp, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(reproduction_script(hp, run_id="r1"))
    # Imported, not run: main() is behind the __main__ guard.
    namespace = runpy.run_path(str(script), run_name="reproduce")
    theirs = namespace["build_model"]()
    ours = build_lenet5(hp)
    # Augmentation has no weights; the standalone script uses Keras's own random layers.
    assert _weighted_layers(theirs) == _weighted_layers(ours)
    assert type(theirs.optimizer) is type(ours.optimizer)
    assert float(theirs.optimizer.learning_rate) == pytest.approx(hp.learning_rate)
    assert theirs.count_params() == ours.count_params()
    for name in _weighted_layers(ours):
        for mine, app in zip(
            theirs.get_layer(name[0]).get_weights(),
            ours.get_layer(name[0]).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(mine, app)


def _weighted_layers(model) -> list[tuple[str, str, tuple]]:
    return [
        (layer.name, type(layer).__name__, tuple(w.shape for w in layer.weights))
        for layer in model.layers
        if not layer.name.startswith(("shift", "rotate", "zoom", "stroke", "augment"))
    ]


def test_script_names_its_settings_and_does_not_need_digitwidgets():
    hp = Hyperparameters(epochs=7, batch_size=32, seed=42, validation_split=0.2)
    script = reproduction_script(hp, run_id="r9")
    assert "digitwidgets import" not in script and "import digitwidgets" not in script
    for line in ("EPOCHS = 7", "BATCH_SIZE = 32", "SEED = 42", "VALIDATION_SPLIT = 0.2"):
        assert line in script
    compile(script, "script.py", "exec")


def test_script_runs_as_it_is_and_saves_a_loadable_model(tmp_path, sample_arrays):
    hp = Hyperparameters(epochs=5, optimizer="sgd", learning_rate=0.05, dropout=0.2)
    script = tmp_path / "lenet5.py"
    script.write_text(reproduction_script(hp, run_id="r2"))
    data = tmp_path / "sample.npz"
    np.savez(data, x_train=sample_arrays["x_train"][:800], y_train=sample_arrays["y_train"][:800])
    output = tmp_path / "trained.keras"
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "--epochs",
            "1",
            "--data",
            str(data),
            "--output",
            str(output),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "val_accuracy" in done.stdout and "Saved the model" in done.stdout
    model = keras.models.load_model(output)
    assert model.count_params() == build_lenet5(hp).count_params()
    assert tuple(model.outputs[0].shape[1:]) == (10,)
