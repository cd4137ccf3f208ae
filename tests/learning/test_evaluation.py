"""evaluate(): confusion counts, per-class accuracy and per-image answers of a real small model."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.evaluation import Evaluation, evaluate
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5


@pytest.fixture(scope="module")
def model(sample_arrays):
    """LeNet-5 trained for one epoch on 2,000 real training digits."""
    model = build_lenet5(Hyperparameters(epochs=1, seed=1))
    x, y = sample_arrays["x_train"][:2000], sample_arrays["y_train"][:2000]
    model.fit(x.astype("float32") / 255.0, y, batch_size=64, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def evaluation(model, sample_arrays) -> Evaluation:
    return evaluate(model, sample_arrays["x_test"], sample_arrays["y_test"], run_id="run-1")


def test_confusion_counts_add_up_to_the_test_digits(evaluation, sample_arrays):
    y_test = sample_arrays["y_test"]
    assert evaluation.size == len(y_test) == 1500
    assert evaluation.confusion.shape == (10, 10)
    assert evaluation.confusion.sum() == len(y_test)
    # Rows are the true digits: each row holds exactly that digit's test images.
    assert evaluation.confusion.sum(axis=1).tolist() == np.bincount(y_test, minlength=10).tolist()
    assert (
        evaluation.confusion.sum(axis=0).tolist()
        == np.bincount(evaluation.predictions, minlength=10).tolist()
    )
    assert evaluation.run_id == "run-1"


def test_predictions_are_the_models_answers(evaluation, model, sample_arrays):
    x = sample_arrays["x_test"][:64].astype("float32") / 255.0
    expected = np.asarray(model(x, training=False))
    np.testing.assert_allclose(evaluation.probabilities[:64], expected, atol=1e-5)
    assert evaluation.predictions[:64].tolist() == expected.argmax(axis=1).tolist()


def test_the_trained_model_is_mostly_right(evaluation, sample_arrays):
    right = evaluation.predictions == sample_arrays["y_test"]
    assert evaluation.accuracy == pytest.approx(right.mean())
    assert evaluation.accuracy > 0.6


def test_per_class_accuracy_is_the_diagonal_over_the_row(evaluation, sample_arrays):
    y = sample_arrays["y_test"]
    for digit in range(10):
        mine = y == digit
        expected = (evaluation.predictions[mine] == digit).mean()
        assert evaluation.per_class_accuracy[digit] == pytest.approx(expected)


def test_cells_partition_the_test_digits(evaluation, sample_arrays):
    y = sample_arrays["y_test"]
    seen = []
    for true in range(10):
        for predicted in range(10):
            indices = evaluation.cell(true, predicted)
            assert len(indices) == evaluation.confusion[true, predicted]
            assert (y[indices] == true).all()
            assert (evaluation.predictions[indices] == predicted).all()
            seen.extend(indices.tolist())
    assert sorted(seen) == list(range(len(y)))


def test_batch_size_does_not_change_the_answers(model, evaluation, sample_arrays):
    x, y = sample_arrays["x_test"][:50], sample_arrays["y_test"][:50]
    small = evaluate(model, x, y, batch_size=7)
    np.testing.assert_allclose(small.probabilities, evaluation.probabilities[:50], atol=1e-5)


def test_a_digit_missing_from_the_test_set_has_no_accuracy(model, sample_arrays):
    x, y = sample_arrays["x_test"], sample_arrays["y_test"]
    without_nines = evaluate(model, x[y != 9], y[y != 9])
    assert np.isnan(without_nines.per_class_accuracy[9])
    assert not np.isnan(without_nines.per_class_accuracy[:9]).any()
    assert without_nines.confusion[9].sum() == 0


def test_no_test_digits_gives_empty_counts(model):
    empty = evaluate(model, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    assert empty.confusion.sum() == 0
    assert np.isnan(empty.accuracy)


def test_recognition_of_a_test_digit_carries_its_probabilities(evaluation, sample_arrays):
    index = int(evaluation.cell(3, 3)[0])
    recognition = evaluation.recognition(index)
    assert recognition.ok and recognition.digit == 3
    np.testing.assert_array_equal(recognition.probabilities, evaluation.probabilities[index])
    assert recognition.confidence == pytest.approx(evaluation.confidence(index))
    np.testing.assert_allclose(recognition.image, sample_arrays["x_test"][index] / 255.0)


def test_mismatched_or_misshapen_inputs_are_refused(model, sample_arrays):
    x, y = sample_arrays["x_test"], sample_arrays["y_test"]
    with pytest.raises(ValueError, match="labels"):
        evaluate(model, x[:10], y[:9])
    with pytest.raises(ValueError, match="28x28"):
        evaluate(model, x[:10].reshape(10, 784), y[:10])
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, x[:10], y[:10], batch_size=0)
