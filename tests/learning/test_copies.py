"""Each epoch's inference copy: a new model every time, on layers used again only when free."""

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def trained(sample_arrays):
    """A model and three sets of its weights, as three epochs would leave them."""
    from digitwidgets.learning.model import build_lenet5

    model = build_lenet5(Hyperparameters(augmentation=True, seed=5))
    rng = np.random.default_rng(5)
    epochs = [
        [w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()]
        for _ in range(3)
    ]
    images = sample_arrays["x_test"][:16].astype(np.float32) / 255.0
    return model, epochs, images


def _reads(model, weights, images):
    """What ``model``'s architecture with ``weights`` makes of ``images``."""
    model.set_weights(weights)
    return np.asarray(model(images, training=False))


def test_a_held_copy_keeps_its_weights_and_each_copy_is_a_new_model(trained):
    from digitwidgets.learning.training import inference_copy

    model, epochs, images = trained
    first = inference_copy(model, epochs[0])
    second = inference_copy(model, epochs[1])
    assert first is not second
    assert first.layers[2] is not second.layers[2]  # first is held: its layers are its own
    for copy, weights in ((first, epochs[0]), (second, epochs[1])):
        for mine, expected in zip(copy.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(mine, expected)


def test_a_copy_nobody_holds_lends_its_layers_to_the_next_and_reads_right(trained):
    from digitwidgets.learning.training import inference_copy
    from digitwidgets.reading.inference import probabilities

    model, epochs, images = trained
    original = model.get_weights()
    copy = inference_copy(model, epochs[0])
    np.testing.assert_allclose(
        probabilities(copy)(images), _reads(model, epochs[0], images), atol=1e-5
    )
    layer = copy.layers[2]
    del copy
    again = inference_copy(model, epochs[1])
    assert again.layers[2] is layer  # the slot was free: no new layers were built
    # Readings are of the new weights, not remembered from the copy before.
    np.testing.assert_allclose(
        probabilities(again)(images), _reads(model, epochs[1], images), atol=1e-5
    )
    model.set_weights(original)


def test_a_copy_still_in_use_elsewhere_is_not_reused(trained):
    from digitwidgets.learning.training import inference_copy

    model, epochs, images = trained
    kept = {"on show": inference_copy(model, epochs[0])}
    before = [np.array(w) for w in kept["on show"].get_weights()]
    for weights in epochs[1:] * 4:  # more copies than there are slots
        inference_copy(model, weights)
    for mine, expected in zip(kept["on show"].get_weights(), before, strict=True):
        np.testing.assert_array_equal(mine, expected)


def test_a_copy_saves_and_loads_with_plain_keras(trained, tmp_path):
    from digitwidgets.keras_import import keras
    from digitwidgets.learning.training import inference_copy

    model, epochs, images = trained
    dropped = inference_copy(model, epochs[2]).layers[2]  # the copy itself is let go
    copy = inference_copy(model, epochs[2])
    assert copy.layers[2] is dropped  # a model handed out on a slot's layers used again
    copy.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(images), copy(images), atol=1e-6)


def test_runs_with_the_same_settings_share_the_slots(trained):
    from digitwidgets.learning.model import build_lenet5
    from digitwidgets.learning.training import inference_copy

    model, epochs, images = trained
    dropped = inference_copy(model, epochs[0]).layers[2]
    next_run = build_lenet5(Hyperparameters(augmentation=True, seed=5))
    assert inference_copy(next_run).layers[2] is dropped
    other_settings = build_lenet5(
        Hyperparameters(augmentation=True, seed=5, architecture="classic")
    )
    assert inference_copy(other_settings).layers[2] is not dropped
