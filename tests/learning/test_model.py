"""LeNet-5 in both forms: layer structure, parameter counts, compiling and a forward pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5, model_settings

# LeNet-5 with a full C3 table: C1 156 + C3 2,416 + F5 48,120 + F6 10,164 + output 850.
LENET5_PARAMETERS = 61_706


@pytest.fixture(scope="module")
def digits(sample_arrays):
    return sample_arrays["x_test"][:8].astype("float32") / 255.0


def _layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_modern_form_uses_max_pooling_on_28x28(digits):
    model = build_lenet5(Hyperparameters())
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert model.count_params() == LENET5_PARAMETERS
    types = _layer_types(model)
    assert types.count("MaxPooling2D") == 2
    assert "ZeroPadding2D" not in types
    assert model.get_layer("c1").output.shape[1:] == (28, 28, 6)
    assert model.get_layer("s4").output.shape[1:] == (5, 5, 16)


def test_classic_form_pads_to_32x32_and_averages(digits):
    model = build_lenet5(Hyperparameters(architecture="classic", activation="tanh"))
    assert model.input_shape == (None, 28, 28)
    assert model.count_params() == LENET5_PARAMETERS
    types = _layer_types(model)
    assert types.count("AveragePooling2D") == 2
    assert model.get_layer("pad32").output.shape[1:] == (32, 32, 1)
    assert model.get_layer("c1").output.shape[1:] == (28, 28, 6)
    assert model.get_layer("c1").activation.__name__ == "tanh"


@pytest.mark.parametrize("architecture", ["modern", "classic"])
def test_forward_pass_gives_probabilities(architecture, digits):
    model = build_lenet5(Hyperparameters(architecture=architecture))
    probabilities = np.asarray(model(digits))
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities >= 0).all()


def test_compiled_with_the_chosen_optimizer_and_learning_rate():
    model = build_lenet5(Hyperparameters(optimizer="rmsprop", learning_rate=0.02))
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)
    assert model.loss == "sparse_categorical_crossentropy"


def test_dropout_layer_only_when_asked():
    assert "Dropout" not in _layer_types(build_lenet5(Hyperparameters(dropout=0.0)))
    model = build_lenet5(Hyperparameters(dropout=0.3))
    assert model.get_layer("dropout").rate == pytest.approx(0.3)


def test_same_seed_same_initial_weights():
    first = build_lenet5(Hyperparameters(seed=3)).get_weights()
    again = build_lenet5(Hyperparameters(seed=3)).get_weights()
    other = build_lenet5(Hyperparameters(seed=4)).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_the_apps_seeding_trains_as_keras_own_seeding_does(sample_arrays):
    """``build_lenet5`` seeds TensorFlow without emptying its function cache; the shuffle,
    the augmentation and the dropout of a run draw what ``keras.utils.set_random_seed``
    makes them draw, after a model built with another seed."""
    from digitwidgets.learning.model import lenet5
    from digitwidgets.learning.training.data import datasets

    hp = Hyperparameters(batch_size=64, dropout=0.3, augmentation=True, seed=5)
    x, y = sample_arrays["x_train"][:640], sample_arrays["y_train"][:640]

    def trained(build) -> list:
        lenet5(**model_settings(hp.replace(seed=9)))  # TensorFlow seeded otherwise first
        model = build()
        train, _ = datasets(hp, x, y, 64)
        model.fit(train, epochs=1, shuffle=False, verbose=0)
        return model.get_weights()

    ours = trained(lambda: build_lenet5(hp))
    keras_own = trained(lambda: lenet5(**model_settings(hp)))
    assert all(np.array_equal(a, b) for a, b in zip(ours, keras_own, strict=True))


def test_augmentation_is_inactive_when_predicting(digits):
    assert "shift" not in {layer.name for layer in build_lenet5(Hyperparameters()).layers}
    model = build_lenet5(Hyperparameters(augmentation=True))
    assert {"shift", "rotate", "zoom"} <= {layer.name for layer in model.layers}
    np.testing.assert_array_equal(np.asarray(model(digits)), np.asarray(model(digits)))
    trained_view = np.asarray(model(digits, training=True))
    assert not np.allclose(trained_view, np.asarray(model(digits)))


def test_every_setting_is_the_models_or_fits():
    from digitwidgets.learning.hyperparameters import FIELDS

    model_fields = set(model_settings(Hyperparameters()))
    # What the model does not take, fit does (see the reproduction script's main()).
    fit_fields = {"epochs", "batch_size", "validation_split", "seed", "train_digits"}
    assert model_fields | fit_fields == set(FIELDS)
