"""Random changes to training digits, made on the fly inside the model and only while training.

A digit drawn on a pad differs from MNIST's in ways that preprocessing cannot undo: a
rounder or more slanted hand, a thicker or thinner pen, a digit a little off its box. These
layers show the model such variations while it trains: small shifts, turns and zooms, and
strokes made thicker or thinner. They sit at the front of the model, so each batch is
changed afresh on every epoch without a copy of the data set, and Keras switches them off
outside training: ``model(x)`` and ``model.predict(x)`` see the digit as given.
"""

from __future__ import annotations

import numpy as np

from ..keras_import import keras

layers, ops = keras.layers, keras.ops

# About +-3 pixels, +-12 degrees and +-12% on a 28x28 digit: what is left of a person's
# variation once MNIST-style preprocessing has cropped, scaled and centred the drawing.
SHIFT = 0.1
ROTATION = 12 / 360
ZOOM = 0.12


# Keras's random image layers default to training=True when a model is called directly
# (``model(x)``); these default to False, so only ``fit`` (or an explicit training=True)
# augments. Names and package match what saved runs already refer to.
@keras.saving.register_keras_serializable(package="digitwidgets")
class TrainingOnlyTranslation(layers.RandomTranslation):
    """``RandomTranslation`` that shifts only while training."""

    def call(self, inputs, training=False):
        """Shift ``inputs`` at random if ``training``, else return them unchanged."""
        return super().call(inputs, training=training)


@keras.saving.register_keras_serializable(package="digitwidgets")
class TrainingOnlyRotation(layers.RandomRotation):
    """``RandomRotation`` that rotates only while training."""

    def call(self, inputs, training=False):
        """Rotate ``inputs`` at random if ``training``, else return them unchanged."""
        return super().call(inputs, training=training)


@keras.saving.register_keras_serializable(package="digitwidgets")
class TrainingOnlyZoom(layers.RandomZoom):
    """``RandomZoom`` that zooms only while training."""

    def call(self, inputs, training=False):
        """Zoom ``inputs`` at random if ``training``, else return them unchanged."""
        return super().call(inputs, training=training)


@keras.saving.register_keras_serializable(package="digitwidgets")
class RandomStrokeWidth(layers.Layer):
    """Make each digit's strokes thicker or thinner by a random amount, in training only.

    A 3x3 grey dilation (max pooling with stride 1) thickens a stroke by about a pixel on
    each side, a grey erosion (minus the max pooling of minus the image) thins it. Each
    digit gets its own amount ``t`` drawn from ``[-thinning, thickening]`` and becomes
    ``x + t * (dilated - x)`` for ``t > 0`` or ``x + |t| * (eroded - x)`` for ``t < 0``, so
    thicknesses between the three are reached too. Input (batch, height, width, channels).
    """

    def __init__(self, thinning: float = 0.5, thickening: float = 1.0, seed=None, **kwargs):
        """Draw amounts from ``[-thinning, thickening]``; both in [0, 1]."""
        super().__init__(**kwargs)
        if not (0.0 <= thinning <= 1.0 and 0.0 <= thickening <= 1.0):
            raise ValueError(
                f"thinning and thickening must be in [0, 1], not {thinning!r}, {thickening!r}."
            )
        self.thinning = float(thinning)
        self.thickening = float(thickening)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        """The inputs unchanged outside training; otherwise thickened or thinned per digit."""
        if not training:
            return inputs
        dilated = ops.max_pool(inputs, pool_size=3, strides=1, padding="same")
        eroded = -ops.max_pool(-inputs, pool_size=3, strides=1, padding="same")
        amount = keras.random.uniform(
            (ops.shape(inputs)[0], 1, 1, 1),
            minval=-self.thinning,
            maxval=self.thickening,
            seed=self.seed_generator,
            dtype=inputs.dtype,
        )
        thicker = inputs + ops.maximum(amount, 0.0) * (dilated - inputs)
        return thicker + ops.maximum(-amount, 0.0) * (eroded - inputs)

    def compute_output_shape(self, input_shape):
        """The input's shape."""
        return input_shape

    def get_config(self):
        """The constructor's arguments, for saving."""
        config = super().get_config()
        config.update(thinning=self.thinning, thickening=self.thickening, seed=self.seed)
        return config


TRAINING_ONLY_LAYERS = (
    TrainingOnlyTranslation,
    TrainingOnlyRotation,
    TrainingOnlyZoom,
    RandomStrokeWidth,
)


def augmentation_layers(seed: int = 0) -> list[keras.layers.Layer]:
    """Fresh shift, rotation, zoom and stroke-width layers, for (batch, 28, 28, 1) digits.

    Apply them in order right after the input's channel axis is added. They change digits
    only in training; the background they reveal is filled with 0 (no ink).
    """
    return [
        TrainingOnlyTranslation(
            SHIFT, SHIFT, fill_mode="constant", seed=_seed(seed, 0), name="shift"
        ),
        TrainingOnlyRotation(ROTATION, fill_mode="constant", seed=_seed(seed, 1), name="rotate"),
        TrainingOnlyZoom(ZOOM, fill_mode="constant", seed=_seed(seed, 2), name="zoom"),
        RandomStrokeWidth(seed=_seed(seed, 3), name="stroke_width"),
    ]


def _seed(seed: int, layer: int) -> int:
    """A different seed per layer, so their random draws are not the same numbers."""
    return (seed * 4 + layer) % 2**31


def augment(images, seed: int = 0):
    """Apply the augmentation layers in training mode to (N, 28, 28) images; for looking at them.

    Returns a NumPy (N, 28, 28) float32 array clipped to [0, 1].
    """
    batch = ops.convert_to_tensor(images, dtype="float32")[..., None]
    for layer in augmentation_layers(seed):
        batch = layer(batch, training=True)
    return ops.convert_to_numpy(ops.clip(batch[..., 0], 0.0, 1.0))


def with_augmentation(model, seed: int = 0):
    """A model for training ``model`` with augmentation: the same weights, augmenting first.

    Fitting the returned model trains ``model`` itself (the layers are shared), while
    ``model`` stays free of augmentation layers, so it saves and loads as plain Keras. The
    returned model is compiled with a fresh optimizer of ``model``'s kind and settings.
    """
    inputs = keras.Input(shape=model.inputs[0].shape[1:], dtype="float32", name="digit")
    x = layers.Reshape((*inputs.shape[1:3], 1), name="channel")(inputs)
    for layer in augmentation_layers(seed):
        x = layer(x)
    x = layers.Reshape(tuple(inputs.shape[1:]), name="unchannel")(x)
    training_model = keras.Model(inputs, model(x), name=f"{model.name}_augmented")
    optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
    training_model.compile(optimizer=optimizer, loss=model.loss, metrics=["accuracy"])
    return training_model


def distort(
    images,
    seed: int = 0,
    *,
    elastic: float = 1.2,
    smoothness: float = 4.0,
    slant: float = 0.3,
):
    """Elastically distorted and slanted copies of (N, H, W) digits; NumPy, for building data.

    Each digit gets its own random smooth displacement field (uniform noise blurred by a
    Gaussian of ``smoothness`` pixels, scaled so its typical size is ``elastic`` pixels; the
    elastic distortion of Simard et al., 2003) and its own horizontal shear up to ``slant``
    (0.3 is about 17 degrees, a slanted hand), both about the image's centre. Sampling is
    bilinear; what comes from outside the image is 0 (no ink). Returns float32 in [0, 1]
    for input in [0, 1]. Unlike the layers above this makes copies, so it suits a training
    set built once (``scripts/train_pretrained.py``), not the on-the-fly augmentation.
    """
    images = np.asarray(images, dtype=np.float32)
    count, height, width = images.shape
    rng = np.random.default_rng(seed)
    field = rng.uniform(-1, 1, size=(count, 2, height, width))
    field = _blur(_blur(field, smoothness, axis=2), smoothness, axis=3)
    field *= elastic / (field.std(axis=(1, 2, 3), keepdims=True) + 1e-12)
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    shear = rng.uniform(-slant, slant, size=(count, 1, 1))
    source_rows = rows[None] + field[:, 0]
    source_cols = cols[None] + field[:, 1] + shear * (rows[None] - (height - 1) / 2)
    return _sample(images, source_rows, source_cols)


def _blur(values: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    """Gaussian blur along one axis, edges extended."""
    radius = max(1, int(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    padded = np.moveaxis(values, axis, -1)
    padded = np.pad(padded, [(0, 0)] * (padded.ndim - 1) + [(radius, radius)], mode="edge")
    length = values.shape[axis]
    blurred = sum(weight * padded[..., i : i + length] for i, weight in enumerate(kernel))
    return np.moveaxis(blurred, -1, axis)


def _sample(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of each image at (rows, cols), 0 outside."""
    count, height, width = images.shape
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    rows = np.clip(rows + 1, 0, height + 1 - 1e-6)
    cols = np.clip(cols + 1, 0, width + 1 - 1e-6)
    top, left = np.floor(rows).astype(int), np.floor(cols).astype(int)
    bottom, right = np.minimum(top + 1, height + 1), np.minimum(left + 1, width + 1)
    down, across = rows - top, cols - left
    index = np.arange(count)[:, None, None]
    result = (
        padded[index, top, left] * (1 - down) * (1 - across)
        + padded[index, top, right] * (1 - down) * across
        + padded[index, bottom, left] * down * (1 - across)
        + padded[index, bottom, right] * down * across
    )
    return np.clip(result, 0.0, 1.0).astype(np.float32)
