"""What a run can be taken away as: its model file, its history as CSV, a script to redo it.

Everything is produced in memory from a ``RunRecord``, so a web page can hand the bytes to
the browser without ever naming a path on the server.
"""

from __future__ import annotations

import csv
import inspect
import io
import math
import numbers
import textwrap
from collections.abc import Iterable, Mapping

from .hyperparameters import FIELDS, Hyperparameters
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


def reproduction_script(
    hp: Hyperparameters,
    *,
    run_id: str | None = None,
    lr_changes: Iterable[Mapping] = (),
) -> str:
    """A standalone Python script that trains the same LeNet-5 with plain Keras and saves it.

    The script carries the source of the code that builds the app's model
    (``digitwidgets.learning.model.lenet5`` and the augmentation layers of
    ``digitwidgets.learning.augmentation``),
    so it builds the very same model, with the same hyperparameters, seed, shuffling and
    validation split as ``Trainer``; it needs only Keras and NumPy. It loads MNIST through
    ``keras.datasets`` unless ``--data`` names an ``.npz`` file with ``x_train`` and
    ``y_train``. Run ``python script.py --help``.

    Args:
        hp: the run's settings; each field of ``FIELDS`` becomes a constant of the script.
        run_id: the run's id, named in the docstring and the default file names.
        lr_changes: where the run was steered: ``{"epoch": int, "batch": int,
            "learning_rate": float}`` each, epoch and batch counted from 0, the batch being
            the first one trained at the new rate. The script sets the same rates at the same
            batches with a small Keras callback.

    Raises:
        ValueError: if a learning-rate change is not such a mapping or its values are out of
            range.
    """
    from . import model

    changes = _checked_changes(lr_changes)
    origin = f"run {run_id} of digitwidgets" if run_id else "a digitwidgets run"
    stem = f"lenet5-{run_id}" if run_id else "lenet5"
    settings = "\n".join(
        textwrap.fill(spec.help, 88, initial_indent="# ", subsequent_indent="# ")
        + f"\n{name.upper()} = {getattr(hp, name)!r}"
        for name, spec in FIELDS.items()
    )
    model_arguments = "".join(
        f"\n        {name}={name.upper()}," for name in model.model_settings(hp)
    )
    return _SCRIPT.format(
        origin=origin,
        steered=_STEERED_NOTE if changes else "",
        script=f"{stem}.py",
        settings=settings,
        lr_changes=f"\nLR_CHANGES = {changes!r}\n" if changes else "",
        output=f"{stem}.keras",
        model_source=_model_source(),
        model_arguments=model_arguments,
        callback=_CALLBACK if changes else "",
        callbacks="[LearningRateChanges(LR_CHANGES)]" if changes else "[]",
    )


def _checked_changes(lr_changes: Iterable[Mapping]) -> list[dict]:
    """The learning-rate changes as plain dicts in the order they happen; ``ValueError`` if bad."""
    changes = []
    for index, change in enumerate(lr_changes):
        where = f"Learning-rate change {index + 1}"
        if not isinstance(change, Mapping) or set(change) != {"epoch", "batch", "learning_rate"}:
            raise ValueError(
                f"{where} must have exactly epoch, batch and learning_rate, not {change!r}."
            )
        for key in ("epoch", "batch"):
            value = change[key]
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{where}: {key} must be an integer from 0, not {value!r}.")
        try:
            rate = FIELDS["learning_rate"].check("learning_rate", change["learning_rate"])
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        changes.append(
            {"epoch": int(change["epoch"]), "batch": int(change["batch"]), "learning_rate": rate}
        )
    return sorted(changes, key=lambda change: (change["epoch"], change["batch"]))


def _model_source() -> str:
    """The source of the code that builds the app's model, to run without digitwidgets."""
    from . import augmentation, model

    constants = {
        "SHIFT": augmentation.SHIFT,
        "ROTATION": augmentation.ROTATION,
        "ZOOM": augmentation.ZOOM,
        "INPUT_SHAPE": model.INPUT_SHAPE,
        "NUM_CLASSES": model.NUM_CLASSES,
    }
    parts = ["\n".join(f"{name} = {value!r}" for name, value in constants.items())]
    optimizers = "".join(
        f"\n    {name!r}: keras.optimizers.{optimizer.__name__},"
        for name, optimizer in model.OPTIMIZERS.items()
    )
    parts.append(f"OPTIMIZERS = {{{optimizers}\n}}")
    functions = (
        augmentation.TrainingOnlyTranslation,
        augmentation.TrainingOnlyRotation,
        augmentation.TrainingOnlyZoom,
        augmentation.RandomStrokeWidth,
        augmentation.augmentation_layers,
        augmentation._seed,
        model.lenet5,
        model._modern_features,
        model._classic_features,
    )
    parts.extend(inspect.getsource(function).rstrip() for function in functions)
    return "\n\n\n".join(parts)


_STEERED_NOTE = """
The run was steered: its learning rate was changed by hand while it trained. LR_CHANGES
sets the same rates at the same epochs and batches (counted from 0).
"""

_CALLBACK = '''

class LearningRateChanges(keras.callbacks.Callback):
    """Set the optimizer's learning rate at the epochs and batches where the run was steered."""

    def __init__(self, changes):
        super().__init__()
        self.changes = {(c["epoch"], c["batch"]): c["learning_rate"] for c in changes}
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        rate = self.changes.get((self.epoch, batch))
        if rate is not None:
            self.model.optimizer.learning_rate = rate
'''

# Doubled braces are literal braces once str.format has filled in the settings and sources.
_SCRIPT = '''\
"""Train LeNet-5 on MNIST with plain Keras, as {origin} did.
{steered}
Usage: python {script} [--epochs N] [--data mnist.npz]
                [--output model.keras]
"""

import argparse

import keras
import numpy as np
from keras import layers, ops

{settings}
{lr_changes}
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


# The model, as digitwidgets builds it (digitwidgets/learning/augmentation.py,
# digitwidgets/learning/model.py).

{model_source}


def build_model():
    """LeNet-5 with this run's settings: input (28, 28) float32 in [0, 1], 10 probabilities."""
    return lenet5({model_arguments}
    )
{callback}

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--data", help="an .npz file with x_train and y_train (uint8 28x28)")
    parser.add_argument("--output", default=OUTPUT, help="where to save the model")
    args = parser.parse_args()

    x_train, y_train = load_data(args.data)
    # The same shuffle and held-out tail as the app, so the same seed gives the same split;
    # the first TRAIN_DIGITS of the others are trained on.
    order = np.random.default_rng(SEED).permutation(len(x_train))
    x = x_train[order].astype("float32") / 255.0
    y = y_train[order].astype("int32")
    n_validation = round(len(x) * VALIDATION_SPLIT)
    held_out = len(x) - n_validation
    n_train = min(TRAIN_DIGITS, held_out)
    validation = (x[held_out:], y[held_out:]) if n_validation else None

    model = build_model()
    model.fit(
        x[:n_train],
        y[:n_train],
        batch_size=BATCH_SIZE,
        epochs=args.epochs,
        validation_data=validation,
        callbacks={callbacks},
        verbose=2,
    )
    model.save(args.output)
    print(f"Saved the model to {{args.output}}")


if __name__ == "__main__":
    main()
'''
