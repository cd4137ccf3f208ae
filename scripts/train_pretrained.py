"""Train the LeNet-5 shipped in digitwidgets/assets and record what it scores.

Trains the default modern LeNet-5 with augmentation on the embedded MNIST sample's 8,500
training digits (all of them: the sample's 1,500 test digits and the drawn-digit sets are
kept for measuring) and ``--copies`` changed copies of them (``augmented_copies``: elastic
distortion, slant, proportions, stroke width, flagged and based 1s, crossed 7s) and ``--drawn``
1s and 7s drawn as strokes through the pad's path (``drawn_ones_and_sevens``), then writes
``digitwidgets/assets/pretrained_lenet5.keras`` without the augmentation layers (plain Keras,
loads anywhere) and ``pretrained_lenet5.json``. TensorFlow uses one CPU thread (``--threads``):
the result is the same for the same seed, and the machine stays usable.

    .venv/bin/python scripts/train_pretrained.py [--copies 4] [--drawn 6000] [--epochs 20] \
        [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from digitwidgets.learning.augmentation import with_augmentation  # noqa: E402
from digitwidgets.learning.hyperparameters import Hyperparameters  # noqa: E402
from digitwidgets.learning.mnist import load_embedded_sample, load_mnist  # noqa: E402
from digitwidgets.learning.model import build_lenet5  # noqa: E402
from digitwidgets.learning.pretrained import ASSETS  # noqa: E402
from digitwidgets.reading.preprocessing import preprocess_drawing  # noqa: E402
from tools.augmented_copies import training_copies  # noqa: E402
from tools.drawn_digits import (  # noqa: E402
    DEFAULT_PER_CLASS,
    DEFAULT_SEED,
    make_drawn_digits,
    predicted_accuracy,
)
from tools.drawn_ones_and_sevens import drawn_ones_and_sevens  # noqa: E402
from tools.drawn_variations import VARIATIONS, make_varied_drawn_digits  # noqa: E402

# What ``training_copies`` can change besides elastic distortion and slant.
CHANGES = ("styles", "proportions", "width")


def main() -> None:
    """Train, measure and write the model and its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--copies", type=int, default=4, help="changed copies of each training digit"
    )
    parser.add_argument(
        "--drawn",
        type=int,
        default=0,
        help="this many 1s and as many 7s drawn as strokes through the pad's path",
    )
    parser.add_argument(
        "--changes",
        default="styles,width",
        help=f"which of {','.join(CHANGES)} the copies get, besides elastic distortion and slant",
    )
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow's CPU threads")
    parser.add_argument("--out", type=Path, default=ASSETS)
    parser.add_argument(
        "--mnist",
        type=Path,
        help="full MNIST as Keras's mnist.npz (scripts/fetch_mnist.py makes it); "
        "default: the embedded sample",
    )
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    sample = load_embedded_sample()
    x_test = sample.x_test.astype("float32") / 255.0
    if args.mnist:
        full = load_mnist(args.mnist)
        # The app measures models on the sample's test digits, which MNIST's training set
        # holds: they are left out, so that figure stays one on digits never trained on.
        kept = without(full.x_train, sample.x_test)
        x_train, y_train, data = full.x_train[kept], full.y_train[kept], full.info.describe()
    else:
        x_train, y_train, data = sample.x_train, sample.y_train, sample.info.describe()
    x_train = x_train.astype("float32") / 255.0
    # Changes of shape are made once, as copies (NumPy, not Keras layers); the layers of
    # with_augmentation then shift, turn, zoom and re-thicken every batch afresh.
    changes = {change: change in args.changes.split(",") for change in CHANGES}
    x_fit, y_fit = training_copies(x_train, y_train, args.copies, seed=args.seed, **changes)
    # Flagged 1s and 7s as the pad's path draws them: the flag's fall, not the raster's look,
    # is what tells a long-flagged 1 from a 7.
    x_drawn, y_drawn = drawn_ones_and_sevens(args.drawn, seed=args.seed)
    x_fit, y_fit = np.concatenate([x_fit, x_drawn]), np.concatenate([y_fit, y_drawn])
    # Augmentation is wrapped around the plain model rather than built into it, so the file
    # shipped holds no augmentation layers; training is the same as build_lenet5 with
    # augmentation=True.
    hp = Hyperparameters(
        augmentation=True, epochs=args.epochs, validation_split=0.0, seed=args.seed
    )
    model = build_lenet5(hp.replace(augmentation=False))
    keras.utils.set_random_seed(args.seed)
    trainer = with_augmentation(model, seed=args.seed)
    if args.schedule == "cosine":
        # The learning rate falls to nothing by the end, so the weights shipped are a settled
        # point rather than wherever the last steps left them (which moved single digits' rates
        # by 5-10 points from one seed to the next at a constant rate).
        steps = hp.epochs * -(-len(x_fit) // hp.batch_size)
        rate = keras.optimizers.schedules.CosineDecay(hp.learning_rate, decay_steps=steps)
        trainer.compile(
            optimizer=keras.optimizers.Adam(learning_rate=rate),
            loss=model.loss,
            metrics=["accuracy"],
        )
    started = time.perf_counter()
    trainer.fit(x_fit, y_fit, epochs=hp.epochs, batch_size=hp.batch_size, shuffle=True, verbose=2)
    duration = time.perf_counter() - started

    drawn = make_drawn_digits()
    # The broader set through the pad's own path: strokes drawn again at MNIST's scale.
    broad = make_varied_drawn_digits()
    broad_images = np.array([preprocess_drawing(drawing).image for drawing in broad.drawings])
    info = {
        "hyperparameters": hp.to_dict(),
        "train_digits": int(len(x_train)),
        "data": data,
        "changed_copies": args.copies,
        "copy_changes": [change for change in CHANGES if changes[change]],
        "drawn_ones_and_sevens": args.drawn,
        "learning_rate_schedule": args.schedule,
        "training_seconds": round(duration, 1),
        "parameters": int(model.count_params()),
        "mnist_test_accuracy": round(predicted_accuracy(model, x_test, sample.y_test), 4),
        "mnist_test_digits": int(len(x_test)),
        "drawn_digits_accuracy": {
            kind: round(drawn.accuracy(model, kind), 4) for kind in ("mnist", "plain")
        },
        "drawn_digits": {"count": len(drawn), "per_class": DEFAULT_PER_CLASS, "seed": DEFAULT_SEED},
        "broad_drawn_accuracy": round(predicted_accuracy(model, broad_images, broad.labels), 4),
        "broad_drawn_digits": {"count": len(broad), "variations": len(VARIATIONS)},
        "keras_version": keras.__version__,
        "trained_by": "scripts/train_pretrained.py",
    }
    if args.mnist:  # MNIST's own 10,000 test digits, the figure published models give
        official = predicted_accuracy(model, full.x_test.astype("float32") / 255.0, full.y_test)
        info["mnist_official_test_accuracy"] = round(official, 4)
        info["mnist_official_test_digits"] = int(len(full.x_test))
    # The wrapper's optimizer did the training; give the shipped model a fresh one with its
    # variables built, so that loading it compiled finds the variables it expects.
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hp.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.optimizer.build(model.trainable_variables)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "pretrained_lenet5.keras")
    (args.out / "pretrained_lenet5.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


def without(images: np.ndarray, left_out: np.ndarray) -> np.ndarray:
    """Which of ``images`` are none of ``left_out`` (a boolean mask; equal pixels, same digit)."""
    out = {digit.tobytes() for digit in left_out}
    return np.array([digit.tobytes() not in out for digit in images])


if __name__ == "__main__":
    main()
