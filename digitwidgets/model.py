"""LeNet-5 for 28x28 MNIST digits, in two forms chosen by ``Hyperparameters.architecture``.

``"modern"`` is the default: 'same'-padded first convolution on the 28x28 image, ReLU, max
pooling and Adam. With the default 20 epochs and dropout 0.2 it reaches about 98% on the
embedded sample's test digits in under half a minute on a laptop CPU; the 1998 form learns
more slowly with tanh and average pooling, and a first-time user should see a good model.

``"classic"`` follows LeCun et al. (1998): the image is zero-padded to 32x32, 'valid'
convolutions, average pooling, and usually tanh. It is kept to compare with.

Both take float32 images in [0, 1] (ink high, as MNIST) and return 10 softmax
probabilities; both are compiled with sparse categorical cross-entropy and "accuracy".
"""

from __future__ import annotations

import keras
from keras import layers

from . import augmentation
from .hyperparameters import Hyperparameters

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10

_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adagrad": keras.optimizers.Adagrad,
    "nadam": keras.optimizers.Nadam,
}


def build_lenet5(hp: Hyperparameters) -> keras.Model:
    """A compiled LeNet-5 for ``hp``: input (28, 28) float32 in [0, 1], output 10 probabilities."""
    keras.utils.set_random_seed(hp.seed)
    inputs = keras.Input(shape=INPUT_SHAPE, dtype="float32", name="digit")
    x = layers.Reshape((*INPUT_SHAPE, 1), name="channel")(inputs)
    for layer in augmentation_layers(hp):
        x = layer(x)
    if hp.architecture == "classic":
        x = _classic_features(x, hp.activation)
    else:
        x = _modern_features(x, hp.activation)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=hp.activation, name="f5")(x)
    x = layers.Dense(84, activation=hp.activation, name="f6")(x)
    if hp.dropout > 0:
        x = layers.Dropout(hp.dropout, seed=hp.seed, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"lenet5_{hp.architecture}")
    model.compile(
        optimizer=_OPTIMIZERS[hp.optimizer](learning_rate=hp.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def augmentation_layers(hp: Hyperparameters) -> list[keras.layers.Layer]:
    """``digitwidgets.augmentation``'s layers if ``hp.augmentation``; active only in training."""
    return augmentation.augmentation_layers(hp.seed) if hp.augmentation else []


def _modern_features(x, activation: str):
    x = layers.Conv2D(6, 5, padding="same", activation=activation, name="c1")(x)
    x = layers.MaxPooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    return layers.MaxPooling2D(2, name="s4")(x)


def _classic_features(x, activation: str):
    x = layers.ZeroPadding2D(2, name="pad32")(x)
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    return layers.AveragePooling2D(2, name="s4")(x)
