"""The per-model cache of traced functions: built once, shared by all four readers, freed."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.reading import inference


class _Model:
    """Stands in for a Keras model where only the cache's bookkeeping is under test."""


def test_a_function_is_built_once_per_model_and_name():
    built = []
    first, second = _Model(), _Model()
    build = lambda model: built.append(model) or object()  # noqa: E731
    one = inference.traced(first, "f", build)
    assert inference.traced(first, "f", build) is one
    assert inference.traced(second, "f", build) is not one
    assert inference.traced(first, "g", build) is not one
    assert built == [first, second, first]
    assert inference.cached_names(first) == ("f", "g")


def test_threads_asking_at_once_share_one_build():
    model = _Model()
    started, release = threading.Event(), threading.Event()
    builds = []

    def slow_build(model):
        builds.append(model)
        started.set()
        assert release.wait(30)
        return object()

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(inference.traced(model, "f", slow_build)))
        for _ in range(4)
    ]
    threads[0].start()
    assert started.wait(30)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(builds) == 1
    assert len(results) == 4 and all(result is results[0] for result in results)


def test_a_failed_build_keeps_nothing_and_is_tried_again():
    model = _Model()

    def failing(model):
        raise ValueError("not this model")

    with pytest.raises(ValueError):
        inference.traced(model, "f", failing)
    assert inference.cached_names(model) == ()
    assert inference.traced(model, "f", lambda model: "built") == "built"


@pytest.fixture(scope="module")
def model():
    return build_lenet5(Hyperparameters(seed=5))


@pytest.fixture(scope="module")
def digits(sample_arrays):
    return sample_arrays["x_test"][:20], sample_arrays["y_test"][:20]


def test_recognition_saliency_evaluation_and_layer_probe_share_one_entry(model, digits):
    from digitwidgets.learning.evaluation import evaluate
    from digitwidgets.reading.inside.layers import layer_probe
    from digitwidgets.reading.recognition import Recognizer
    from digitwidgets.reading.saliency import saliency

    images, labels = digits
    probabilities = inference.probabilities(model)
    evaluation = evaluate(model, images, labels)
    recognition = Recognizer(model).recognize(images[0])
    saliency(model, recognition.image)
    probe = layer_probe(model)
    assert layer_probe(model) is probe
    assert set(inference.cached_names(model)) == {
        "architecture",
        "probabilities",
        "saliency",
        "layer probe",
    }
    assert inference.probabilities(model) is probabilities
    # The evaluation and the recognizer ran the same function on the same digits.
    batch = images.astype(np.float32) / 255.0
    np.testing.assert_allclose(evaluation.probabilities, probabilities(batch), atol=1e-6)
    np.testing.assert_allclose(probabilities(batch[:1])[0], model(batch[:1])[0], atol=1e-6)


def test_a_dropped_model_is_freed_with_its_functions(digits):
    from digitwidgets.reading.inside.layers import layer_probe
    from digitwidgets.reading.recognition import Recognizer
    from digitwidgets.reading.saliency import saliency

    images, _ = digits
    model = build_lenet5(Hyperparameters(seed=6))
    recognition = Recognizer(model).recognize(images[1])
    saliency(model, recognition.image)
    layer_probe(model).outputs(recognition.image)
    inference.probabilities(model)(recognition.image[None])
    assert len(inference.cached_names(model)) == 4
    dropped = weakref.ref(model)
    del model
    gc.collect()
    assert dropped() is None


def test_image_shape_follows_the_models_input():
    import keras

    inputs = keras.Input((28, 28, 1))
    channel_model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    assert inference.image_shape(channel_model) == (28, 28, 1)
    assert inference.image_shape(build_lenet5(Hyperparameters())) == (28, 28)
    out = inference.probabilities(channel_model)(np.zeros((3, 28, 28), np.float32))
    assert out.shape == (3, 10)


def test_building_one_function_does_not_hold_up_another_of_the_same_model():
    model = _Model()
    started, release = threading.Event(), threading.Event()

    def slow_build(model):
        started.set()
        assert release.wait(30)
        return "slow"

    slow = threading.Thread(target=inference.traced, args=(model, "slow", slow_build))
    slow.start()
    try:
        assert started.wait(30)
        # Built while the slow one is still being built.
        assert inference.traced(model, "quick", lambda model: "quick") == "quick"
    finally:
        release.set()
        slow.join(30)
    assert inference.traced(model, "slow", slow_build) == "slow"


def test_models_of_one_architecture_share_traces_and_read_with_their_own_weights(model, digits):
    """Each epoch's copy of a training is a new model: it must cost no new trace."""
    import keras

    from digitwidgets.reading.saliency import saliency

    images, _ = digits
    batch = images[:5].astype(np.float32) / 255.0
    other = keras.models.clone_model(model)
    other.set_weights([w * 0.7 for w in model.get_weights()])
    assert inference.architecture(model) is inference.architecture(other)
    # Alternating, so that each call has to copy its own model's weights in.
    for _ in range(2):
        for each in (model, other):
            np.testing.assert_allclose(inference.probabilities(each)(batch), each(batch), atol=1e-5)
    shared = inference.architecture(model)
    assert shared.function("probabilities", None) is shared.function("probabilities", None)
    one, two = saliency(model, batch[0]), saliency(other, batch[0])
    assert one.shape == two.shape == (28, 28) and not np.allclose(one, two)
    assert saliency(model, batch[0]) == pytest.approx(one)


def test_a_model_keras_cannot_describe_is_used_directly_and_still_freed():
    """A subclassed model has no config: it gets functions of its own, held weakly."""
    import keras

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(10, activation="softmax")

        def call(self, inputs):
            return self.dense(keras.ops.reshape(inputs, (-1, 784)))

    model = Subclassed()
    images = np.zeros((2, 28, 28), np.float32)
    model(images)
    assert inference.architecture_signature(model) is None
    assert not inference.architecture(model).described
    assert inference.probabilities(model)(images).shape == (2, 10)
    dropped = weakref.ref(model)
    del model
    gc.collect()
    assert dropped() is None


def test_assign_weights_copies_arrays_or_another_models_variables():
    source = build_lenet5(Hyperparameters(seed=1))
    target = build_lenet5(Hyperparameters(seed=2))
    inference.assign_weights(target, source.weights)
    for ours, theirs in zip(target.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # Variable to variable: the target keeps values, not a link to the source.
    source.weights[0].assign(np.zeros(source.weights[0].shape, dtype=np.float32))
    assert np.abs(target.get_weights()[0]).sum() > 0
    arrays = [np.full(w.shape, 0.5, dtype=np.float32) for w in target.get_weights()]
    inference.assign_weights(target, arrays)
    assert all(np.all(w == 0.5) for w in target.get_weights())


def test_assign_weights_refuses_another_architecture_and_changes_nothing():
    model = build_lenet5(Hyperparameters())
    before = model.get_weights()
    with pytest.raises(ValueError, match="weights of shapes"):
        inference.assign_weights(model, [np.zeros((3, 3), dtype=np.float32), *before[1:]])
    with pytest.raises(ValueError, match="weights of shapes"):
        inference.assign_weights(model, before[:-1])
    for now, then in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(now, then)
