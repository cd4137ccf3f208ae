"""The learning-rate range test on real digits: its rule, stopping it, no training meanwhile."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import digitwidgets.learning.lr_finder as lr_finder
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.lr_finder import (
    END_LEARNING_RATE,
    MINIMUM_RULE,
    START_LEARNING_RATE,
    STEEPEST_RULE,
    LearningRateRangeTest,
    find_learning_rate,
    format_rate,
    learning_rate_schedule,
    smooth_losses,
    suggest_learning_rate,
)
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import Trainer, TrainingInProgressError
from tests.support import sample_subset

HP = Hyperparameters(batch_size=32, dropout=0.0)


@pytest.fixture(scope="module")
def small_data(sample_arrays):
    return sample_subset(sample_arrays, 1000)


@pytest.fixture(scope="module")
def found(small_data):
    """One real range test of 150 batches on 1,000 real digits, with every snapshot it sent."""
    snapshots = []
    result = find_learning_rate(HP, small_data, batches=150, progress=snapshots.append)
    return result, snapshots


def test_the_schedule_rises_exponentially_from_start_to_end():
    rates = learning_rate_schedule(7, 1e-6, 1.0)
    assert rates[0] == pytest.approx(1e-6) and rates[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(rates[1:] / rates[:-1], 10.0)
    with pytest.raises(ValueError):
        learning_rate_schedule(1)


def test_a_range_test_on_real_digits_records_a_loss_per_rate_and_suggests_one(found):
    result, _ = found
    assert result.status in ("finished", "diverged")
    assert 20 <= len(result.losses) <= 150
    assert len(result.learning_rates) == len(result.losses) == len(result.smoothed)
    assert result.learning_rates[0] == pytest.approx(START_LEARNING_RATE)
    assert np.all(np.diff(result.learning_rates) > 0)
    assert np.all(np.isfinite(result.losses))
    # An untrained network guesses among ten digits: its first losses are near ln 10.
    assert result.losses[0] == pytest.approx(np.log(10), abs=0.5)
    # It learns somewhere on the way: the smoothed loss falls well below where it started.
    assert result.smoothed.min() < 0.85 * result.smoothed[0]
    assert START_LEARNING_RATE <= result.suggestion <= END_LEARNING_RATE
    assert result.rule in (STEEPEST_RULE, MINIMUM_RULE)
    assert format_rate(result.suggestion) in result.describe()


def test_progress_reports_the_points_so_far_while_running(found):
    result, snapshots = found
    assert len(snapshots) == len(result.losses)
    assert [len(s.losses) for s in snapshots] == list(range(1, len(result.losses) + 1))
    assert all(s.status == "running" and s.suggestion is None for s in snapshots)
    np.testing.assert_allclose(snapshots[-1].losses, result.losses)


def test_stop_ends_the_test_after_the_current_batch(small_data):
    stop = threading.Event()

    def stop_after_five(so_far):
        if len(so_far.losses) == 5:
            stop.set()

    result = find_learning_rate(HP, small_data, batches=200, progress=stop_after_five, stop=stop)
    assert result.status == "stopped"
    assert len(result.losses) == 5
    assert result.suggestion is not None  # made from what ran


def test_unusable_settings_are_refused_before_anything_runs(small_data):
    with pytest.raises(ValueError, match="batch_size"):
        find_learning_rate(HP.replace(batch_size=2000), small_data)


def test_smoothing_is_debiased():
    np.testing.assert_allclose(smooth_losses([2.0] * 20), 2.0)
    assert smooth_losses([2.0, 1.0])[1] < 2.0


def test_suggestion_is_the_steepest_descent_before_the_minimum():
    rates = learning_rate_schedule(61)
    log_rates = np.log10(rates)
    # Flat at 2.3, falling fastest around 1e-3, lowest near 1e-1, then blowing up.
    losses = 2.3 - 1.5 / (1 + np.exp(-(log_rates + 3) * 3)) + np.where(log_rates > -1, 5, 0)
    suggestion, rule = suggest_learning_rate(rates, losses)
    assert rule == STEEPEST_RULE
    assert suggestion == pytest.approx(1e-3, rel=0.3)


def test_without_a_descent_the_suggestion_is_a_tenth_of_the_minimum():
    rates = learning_rate_schedule(30)
    rising = np.linspace(2.0, 3.0, 30)
    suggestion, rule = suggest_learning_rate(rates, rising)
    assert rule == MINIMUM_RULE and suggestion == pytest.approx(START_LEARNING_RATE)
    assert suggest_learning_rate(rates[:1], rising[:1]) == (
        None,
        "Too few batches ran to suggest a learning rate.",
    )


def test_the_finder_refuses_while_a_training_runs(small_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    trainer.hold()
    trainer.start(HP.replace(epochs=1), small_data)
    try:
        assert trainer.wait_held(60)
        test = LearningRateRangeTest(trainer)
        with pytest.raises(TrainingInProgressError, match="training is running"):
            test.start(HP, small_data)
        assert not test.running
    finally:
        trainer.stop()
        assert trainer.wait(60)


def test_no_training_starts_while_the_finder_runs(small_data, tmp_path, monkeypatch):
    # The range test itself is held (its work is tested above): the trainer stays reserved.
    release = threading.Event()

    def held_find(*args, **kwargs):
        assert release.wait(60)
        return find_learning_rate(*args, **kwargs)

    monkeypatch.setattr(lr_finder, "find_learning_rate", held_find)
    trainer = Trainer(RunStore(tmp_path))
    test = LearningRateRangeTest(trainer)
    results = []
    test.add_listener(results.append)
    test.start(HP, small_data, batches=10)
    assert test.running
    with pytest.raises(TrainingInProgressError, match="learning-rate finder"):
        trainer.start(HP, small_data)
    with pytest.raises(RuntimeError, match="running already"):
        test.start(HP, small_data)
    release.set()
    assert test.wait(120)
    assert results[-1].done and results[-1].suggestion is not None
    # Nothing was saved: a range test is not a run. And training may start again.
    assert RunStore(tmp_path).list() == []
    trainer.hold()
    trainer.start(HP, small_data)
    trainer.stop()
    trainer.release()
    assert trainer.wait(60)
