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

from digitwidgets.learning.export import (
    HISTORY_COLUMNS,
    ExportError,
    history_csv,
    model_bytes,
    reproduction_script,
)
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import MODEL_FILE, RunStore

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


@pytest.fixture
def script_namespace(tmp_path):
    """Load a generated script as a module (``main()`` not run), then forget its classes.

    The script registers its augmentation layers under the same Keras names as
    ``digitwidgets.learning.augmentation``; the registry is put back so that models loaded by later
    tests get the package's classes.
    """
    registry = keras.saving.get_custom_objects()
    saved = dict(registry)

    def load(script: str) -> dict:
        path = tmp_path / "script.py"
        path.write_text(script)
        return runpy.run_path(str(path), run_name="reproduce")

    yield load
    registry.clear()
    registry.update(saved)


@pytest.mark.parametrize(
    "hp",
    [
        Hyperparameters(optimizer="sgd", learning_rate=0.1, dropout=0.3, seed=7),
        Hyperparameters(architecture="classic", activation="tanh", augmentation=True, seed=3),
        Hyperparameters(optimizer="nadam", dropout=0.0, augmentation=True, seed=11),
    ],
    ids=["modern-sgd-dropout", "classic-augmented", "nadam-no-dropout-augmented"],
)
def test_script_builds_the_apps_model_with_the_same_initial_weights(hp, script_namespace):
    theirs = script_namespace(reproduction_script(hp, run_id="r1"))["build_model"]()
    ours = build_lenet5(hp)
    # Layer for layer the same configuration, augmentation layers included.
    assert _layer_configs(theirs) == _layer_configs(ours)
    assert type(theirs.optimizer) is type(ours.optimizer)
    assert _unnamed(theirs.optimizer.get_config()) == _unnamed(ours.optimizer.get_config())
    assert theirs.count_params() == ours.count_params()
    for mine, app in zip(theirs.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, app)


def _layer_configs(model) -> list[tuple[str, dict]]:
    return [(type(layer).__name__, layer.get_config()) for layer in model.layers]


def _unnamed(config: dict) -> dict:
    # Keras numbers optimizers' names per process ("sgd_2", "sgd_3").
    return {key: value for key, value in config.items() if key != "name"}


def test_script_carries_the_model_code_instead_of_a_copy():
    import inspect

    from digitwidgets.learning import augmentation, model

    script = reproduction_script(Hyperparameters())
    carried = (model.lenet5, augmentation.augmentation_layers, augmentation.RandomStrokeWidth)
    for function in carried:
        assert inspect.getsource(function) in script


def test_a_steered_run_gives_a_script_that_changes_the_rate_at_the_same_batches(
    script_namespace,
):
    hp = Hyperparameters(optimizer="sgd", learning_rate=0.1)
    changes = [
        {"epoch": 1, "batch": 2, "learning_rate": 0.01},
        {"epoch": 0, "batch": 3, "learning_rate": 0.05},
    ]
    script = reproduction_script(hp, run_id="r3", lr_changes=changes)
    assert "steered" in script.split('"""')[1]
    assert "steered" not in reproduction_script(hp, run_id="r3").split('"""')[1]
    namespace = script_namespace(script)
    assert namespace["LR_CHANGES"] == sorted(changes, key=lambda c: (c["epoch"], c["batch"]))

    # The script's callback, in a real fit: 2 epochs of 5 batches, the rate read per batch.
    model = namespace["build_model"]()
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    x = np.zeros((40, 28, 28), "float32")
    y = np.zeros(40, "int32")
    steering = namespace["LearningRateChanges"](namespace["LR_CHANGES"])
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[steering, Recorder()], verbose=0)
    expected = [0.1, 0.1, 0.1, 0.05, 0.05] + [0.05, 0.05, 0.01, 0.01, 0.01]
    assert seen == pytest.approx(expected)


@pytest.mark.parametrize(
    "change",
    [
        {"epoch": -1, "batch": 0, "learning_rate": 0.1},
        {"epoch": 0, "batch": 1.5, "learning_rate": 0.1},
        {"epoch": 0, "batch": 0, "learning_rate": 0.0},
        {"epoch": 0, "batch": 0, "learning_rate": float("nan")},
        {"epoch": 0, "batch": 0},
        "epoch 0",
    ],
)
def test_bad_learning_rate_changes_are_refused_with_a_reason(change):
    with pytest.raises(ValueError, match="Learning-rate change 1"):
        reproduction_script(Hyperparameters(), lr_changes=[change])


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
    steered = [{"epoch": 0, "batch": 1, "learning_rate": 0.01}]
    script.write_text(reproduction_script(hp, run_id="r2", lr_changes=steered))
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
