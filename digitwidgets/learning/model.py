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

import contextlib
import inspect
import random
import threading
from collections.abc import Iterator

from ..keras_import import keras
from .augmentation import augmentation_layers
from .hyperparameters import Hyperparameters

layers = keras.layers

INPUT_SHAPE = (28, 28)
NUM_CLASSES = 10

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adagrad": keras.optimizers.Adagrad,
    "nadam": keras.optimizers.Nadam,
}


def build_lenet5(hp: Hyperparameters) -> keras.Model:
    """A compiled LeNet-5 for ``hp``: input (28, 28) float32 in [0, 1], output 10 probabilities."""
    with seeding_keeps_functions():
        return lenet5(**model_settings(hp))


@contextlib.contextmanager
def seeding_keeps_functions() -> Iterator[None]:
    """Inside, seeding TensorFlow (``keras.utils.set_random_seed``) leaves its functions ready.

    ``tf.random.set_seed`` sets the seed and then empties TensorFlow's cache of instantiated
    functions, to restart the streams of stateful random kernels. Keras 3 draws its random
    numbers with stateless operations, so nothing of a run needs that; what it costs is
    every long-lived traced function (the pad's look, the weights recorder's gradient, the
    evaluation) instantiated again at each run's start, 20-30 ms each. Inside (on this
    thread), the seed is set as ``tf.random.set_seed`` sets it (the same operation seeds
    follow: a run is reproduced as before) and the cache is kept; elsewhere, and with a
    TensorFlow without the method this wraps, seeding is TensorFlow's own.
    """
    from tensorflow.python.eager import context as eager

    state = eager.context()
    original = getattr(type(state), "_set_global_seed", None)
    if callable(original):
        _wrap_seeding(state, original)
    was, _seeding.keep = getattr(_seeding, "keep", False), True
    try:
        yield
    finally:
        _seeding.keep = was


def _wrap_seeding(state, original) -> None:
    """Once per process: ``state``'s seeding keeps the cache where ``_seeding.keep`` says."""
    with _wrapping:
        if "_set_global_seed" in vars(state):
            return

        def set_global_seed(seed) -> None:
            if not getattr(_seeding, "keep", False):
                original(state, seed)
                return
            state._seed = seed
            state._rng = random.Random(int(seed))

        state._set_global_seed = set_global_seed


_seeding = threading.local()
_wrapping = threading.Lock()


def model_settings(hp: Hyperparameters) -> dict:
    """The settings of ``hp`` that ``lenet5`` takes, by name (the others are ``fit``'s)."""
    return {name: getattr(hp, name) for name in inspect.signature(lenet5).parameters}


# Below this line: plain Keras, nothing of digitwidgets but the augmentation layers. The
# reproduction script (``digitwidgets.learning.export``) carries this source as it is, so what a
# downloaded script builds is this very code.


def lenet5(
    *,
    architecture: str,
    activation: str,
    optimizer: str,
    learning_rate: float,
    dropout: float,
    augmentation: bool,
    seed: int,
) -> keras.Model:
    """A compiled LeNet-5: input (28, 28) float32 in [0, 1], output 10 probabilities.

    ``architecture`` is "modern" or "classic", ``optimizer`` a key of ``OPTIMIZERS``; with
    ``augmentation`` the digits are shifted, turned, zoomed and thickened at random in
    training only. The same ``seed`` gives the same initial weights.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=INPUT_SHAPE, dtype="float32", name="digit")
    x = layers.Reshape((*INPUT_SHAPE, 1), name="channel")(inputs)
    for layer in augmentation_layers(seed) if augmentation else []:
        x = layer(x)
    if architecture == "classic":
        x = _classic_features(x, activation)
    else:
        x = _modern_features(x, activation)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation=activation, name="f5")(x)
    x = layers.Dense(84, activation=activation, name="f6")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name=f"lenet5_{architecture}")
    model.compile(
        optimizer=OPTIMIZERS[optimizer](learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _modern_features(x, activation: str):
    """C1 'same' on 28x28, max pooling, C3, max pooling."""
    x = layers.Conv2D(6, 5, padding="same", activation=activation, name="c1")(x)
    x = layers.MaxPooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    return layers.MaxPooling2D(2, name="s4")(x)


def _classic_features(x, activation: str):
    """Padded to 32x32, C1 'valid', average pooling, C3, average pooling (LeCun 1998)."""
    x = layers.ZeroPadding2D(2, name="pad32")(x)
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    return layers.AveragePooling2D(2, name="s4")(x)
