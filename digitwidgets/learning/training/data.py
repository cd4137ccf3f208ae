"""The digits a run trains on: checked arrays, and the ``tf.data`` pipelines that feed fit."""

from __future__ import annotations

import numpy as np

from ..hyperparameters import Hyperparameters


def training_arrays(data) -> tuple[np.ndarray, np.ndarray]:
    """``(x_train, y_train)`` from an ``MnistData``; ``ValueError`` saying what is wrong."""
    try:
        (x_train, y_train), _ = data
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "data must be an MnistData, (x_train, y_train), (x_test, y_test)."
        ) from exc
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    if x_train.ndim != 3 or x_train.shape[1:] != (28, 28):
        raise ValueError(f"x_train must hold 28x28 images, not shape {x_train.shape}.")
    if len(y_train) != len(x_train):
        raise ValueError(f"x_train has {len(x_train)} images but y_train {len(y_train)} labels.")
    if len(x_train) == 0:
        raise ValueError("There are no training digits.")
    return x_train, y_train


def validation_size(hp: Hyperparameters, n_digits: int) -> int:
    """How many of ``n_digits`` are held out for validation; ``ValueError`` if too few are left.

    The validation digits are a fraction of all ``n_digits``, whatever ``hp.train_digits``:
    runs with fewer training digits are measured on the same held-out digits. The training
    digits used (``training_size``) must hold at least one batch of ``hp.batch_size``.
    """
    n_validation = round(n_digits * hp.validation_split)
    n_train = training_size(hp, n_digits, n_validation)
    if hp.batch_size > n_train:
        raise ValueError(
            f"batch_size must be at most the {n_train} training digits used, not {hp.batch_size}."
        )
    return n_validation


def training_size(hp: Hyperparameters, n_digits: int, n_validation: int) -> int:
    """How many digits a run trains on: ``hp.train_digits``, or all left after validation."""
    return min(hp.train_digits, n_digits - n_validation)


def datasets(hp: Hyperparameters, x_train: np.ndarray, y_train: np.ndarray, n_validation: int):
    """Training and validation ``tf.data`` pipelines that scale the uint8 digits per batch.

    The digits are shuffled with ``hp.seed``; the last ``n_validation`` are held out and the
    first ``training_size`` of the others are trained on, so a run with fewer training
    digits trains on a part of a larger run's and is measured on the same held-out digits.

    Only the uint8 digits are held whole (47 MB for 60,000): a float32 copy for ``fit`` would
    be four times that, and Keras's array adapter would copy it once more. Batches are
    gathered from shuffled indices, as that adapter does, so each epoch reshuffles.
    """
    import tensorflow as tf  # here: checking the arrays must not cost TensorFlow's import

    order = np.random.default_rng(hp.seed).permutation(len(x_train))
    x = tf.constant(x_train[order])
    y = tf.constant(y_train[order].astype("int32"))
    n_train = training_size(hp, len(x_train), n_validation)
    n_validation_start = len(x_train) - n_validation

    def scaled(indices):
        return tf.cast(tf.gather(x, indices), tf.float32) / 255.0, tf.gather(y, indices)

    # No autotuning model: its thread sleeps between optimizations for a period that doubles
    # up to seconds, and an iterator's end (each epoch's, the validation's) sometimes waits
    # out that sleep: one epoch of 18,000 digits took 6 s instead of 3.5, the end of fit
    # stalled with both processors idle. Without it, AUTOTUNE means one call per processor
    # and a prefetch buffer that grows as it is drained (docs/notes/benchmarks.md).
    options = tf.data.Options()
    options.autotune.enabled = False

    def batches(start: int, stop: int, shuffle: bool) -> tf.data.Dataset:
        indices = tf.data.Dataset.range(start, stop)
        if shuffle:
            indices = indices.shuffle(stop - start, seed=hp.seed, reshuffle_each_iteration=True)
        # batch before map: one gather per batch, not one per digit. Range, shuffle, batch and
        # map keep a known length, so Keras knows the steps per epoch.
        batched = indices.batch(hp.batch_size).map(scaled, num_parallel_calls=tf.data.AUTOTUNE)
        return batched.prefetch(tf.data.AUTOTUNE).with_options(options)

    validation = batches(n_validation_start, len(x_train), shuffle=False) if n_validation else None
    return batches(0, n_train, shuffle=True), validation


def fixed_batch(
    hp: Hyperparameters, x_train: np.ndarray, y_train: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``size`` training digits in the run's shuffled order, the same every epoch.

    Gradients taken on them at each epoch's end (``learning.distributions``) compare epochs
    on the same digits.
    """
    order = np.random.default_rng(hp.seed).permutation(len(x_train))[:size]
    return x_train[order], y_train[order]
