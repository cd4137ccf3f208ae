"""What a run can be taken away as: its model file, its history as CSV, a script to redo it.

Everything is produced in memory from a ``RunRecord``, so a web page can hand the bytes to
the browser without ever naming a path on the server.
"""

from __future__ import annotations

import csv
import io
import math

from .hyperparameters import Hyperparameters
from .runs import MODEL_FILE, RunRecord

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


class ExportError(RuntimeError):
    """A run cannot be exported; the message says why, fit for a status line."""


def model_bytes(record: RunRecord) -> bytes:
    """The run's saved ``.keras`` file; raises ``ExportError`` if it has none."""
    path = record.path / MODEL_FILE
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExportError(f"Run {record.run_id} has no saved model to download.") from exc


def history_csv(history: dict[str, list[float]]) -> str:
    """The per-epoch history as CSV: epoch (from 1), loss, accuracy, val_loss, val_accuracy,
    learning_rate (the rate at the epoch's end).

    A metric that was not measured (no validation split, a run saved before the learning
    rate was recorded) or became NaN is an empty field.
    """
    epochs = max((len(values) for values in history.values()), default=0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for epoch in range(epochs):
        row = [epoch + 1]
        for name in HISTORY_COLUMNS[1:]:
            values = history.get(name) or []
            value = values[epoch] if epoch < len(values) else None
            row.append("" if value is None or not math.isfinite(value) else repr(float(value)))
        writer.writerow(row)
    return buffer.getvalue()


def reproduction_script(hp: Hyperparameters, *, run_id: str | None = None) -> str:
    """A standalone Python script that trains the same LeNet-5 with plain Keras and saves it.

    It builds the architecture of ``digitwidgets.model.build_lenet5`` layer for layer, with
    the same hyperparameters, seed, shuffling and validation split as ``Trainer``. It loads
    MNIST through ``keras.datasets`` unless ``--data`` names an ``.npz`` file with
    ``x_train``, ``y_train``, ``x_test``, ``y_test``. Run ``python script.py --help``.
    """
    origin = f"run {run_id} of digitwidgets" if run_id else "a digitwidgets run"
    stem = f"lenet5-{run_id}" if run_id else "lenet5"
    return _SCRIPT.format(
        origin=origin,
        architecture=hp.architecture,
        activation=hp.activation,
        optimizer=_OPTIMIZER_CLASSES[hp.optimizer],
        learning_rate=hp.learning_rate,
        epochs=hp.epochs,
        batch_size=hp.batch_size,
        dropout=hp.dropout,
        validation_split=hp.validation_split,
        augmentation=hp.augmentation,
        seed=hp.seed,
        output=f"{stem}.keras",
        script=f"{stem}.py",
    )


_OPTIMIZER_CLASSES = {
    "adam": "Adam",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "nadam": "Nadam",
}

# Doubled braces are literal braces once str.format has filled in the settings.
_SCRIPT = '''\
"""Train LeNet-5 on MNIST with plain Keras, as {origin} did.

Usage: python {script} [--epochs N] [--data mnist.npz]
                [--output model.keras]
"""

import argparse

import keras
import numpy as np
from keras import layers

ARCHITECTURE = "{architecture}"  # "modern": 28x28, max pooling; "classic": padded 32x32, average
ACTIVATION = "{activation}"
LEARNING_RATE = {learning_rate!r}
EPOCHS = {epochs!r}
BATCH_SIZE = {batch_size!r}
DROPOUT = {dropout!r}
VALIDATION_SPLIT = {validation_split!r}
AUGMENTATION = {augmentation!r}
SEED = {seed!r}
OUTPUT = "{output}"


def load_data(path):
    """MNIST's training digits from an .npz file, or through keras.datasets."""
    if path:
        with np.load(path) as data:
            return data["x_train"], data["y_train"]
    try:
        (x_train, y_train), _ = keras.datasets.mnist.load_data()
    except Exception as error:
        raise SystemExit(
            f"Could not download MNIST ({{error}}). Pass --data with an .npz file holding "
            "x_train and y_train."
        ) from error
    return x_train, y_train


def build_model():
    """LeNet-5: input (28, 28) float32 in [0, 1], output 10 probabilities."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(28, 28), dtype="float32", name="digit")
    x = layers.Reshape((28, 28, 1), name="channel")(inputs)
    if AUGMENTATION:
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=SEED, name="shift")(x)
        x = layers.RandomRotation(0.04, fill_mode="constant", seed=SEED, name="rotate")(x)
        x = layers.RandomZoom(0.1, fill_mode="constant", seed=SEED, name="zoom")(x)
    if ARCHITECTURE == "classic":
        x = layers.ZeroPadding2D(2, name="pad32")(x)
        x = layers.Conv2D(6, 5, activation=ACTIVATION, name="c1")(x)
        x = layers.AveragePooling2D(2, name="s2")(x)
        x = layers.Conv2D(16, 5, activation=ACTIVATION, name="c3")(x)
        x = layers.AveragePooling2D(2, name="s4")(x)
    else:
        x = layers.Conv2D(6, 5, padding="same", activation=ACTIVATION, name="c1")(x)
        x = layers.MaxPooling2D(2, name="s2")(x)
        x = layers.Conv2D(16, 5, activation=ACTIVATION, name="c3")(x)
        x = layers.MaxPooling2D(2, name="s4")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=ACTIVATION, name="f5")(x)
    x = layers.Dense(84, activation=ACTIVATION, name="f6")(x)
    if DROPOUT > 0:
        x = layers.Dropout(DROPOUT, seed=SEED, name="dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"lenet5_{{ARCHITECTURE}}")
    model.compile(
        optimizer=keras.optimizers.{optimizer}(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--data", help="an .npz file with x_train and y_train (uint8 28x28)")
    parser.add_argument("--output", default=OUTPUT, help="where to save the model")
    args = parser.parse_args()

    x_train, y_train = load_data(args.data)
    # The same shuffle and held-out tail as the app, so the same seed gives the same split.
    order = np.random.default_rng(SEED).permutation(len(x_train))
    x = x_train[order].astype("float32") / 255.0
    y = y_train[order].astype("int32")
    n_validation = round(len(x) * VALIDATION_SPLIT)
    n_train = len(x) - n_validation
    validation = (x[n_train:], y[n_train:]) if n_validation else None

    model = build_model()
    model.fit(
        x[:n_train],
        y[:n_train],
        batch_size=BATCH_SIZE,
        epochs=args.epochs,
        validation_data=validation,
        verbose=2,
    )
    model.save(args.output)
    print(f"Saved the model to {{args.output}}")


if __name__ == "__main__":
    main()
'''
