"""LearningRateFinder: a real range test drawn live, its suggestion applied to the settings."""

from __future__ import annotations

import pytest
import traitlets

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.lr_finder import format_rate
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import Trainer
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from digitwidgets.widgets.learning_rate_finder import LearningRateFinder
from tests.support import find_widget, sample_subset

HP = Hyperparameters(batch_size=32, dropout=0.0, optimizer="sgd", learning_rate=0.05)


@pytest.fixture(scope="module")
def small_data(sample_arrays):
    return sample_subset(sample_arrays, 1000)


@pytest.fixture(scope="module")
def finished(small_data):
    """A finder linked to settings controls, after one real 60-batch test."""
    controls = HyperparameterControls(HP)
    finder = LearningRateFinder(small_data, controls.value)
    traitlets.link((controls, "value"), (finder, "hyperparameters"))
    statuses = []
    finder.observe(lambda change: statuses.append(change["new"]), "status")
    find_widget(finder, "dw-lr-finder").click()
    assert finder.running
    assert finder.wait(180)
    return finder, controls, statuses


def test_the_chart_shows_every_point_and_marks_the_suggestion(finished):
    finder, _, statuses = finished
    result = finder.value
    assert result.done and not finder.running
    assert finder.suggestion == result.suggestion and 1e-6 <= finder.suggestion <= 1
    figure = find_widget(finder, "dw-lr-finder-chart")
    assert figure.layout.display is None  # shown once a test has run
    assert list(finder._smoothed_line.x) == list(result.learning_rates)
    assert len(finder._loss_line.y) == len(result.losses) > 10
    assert figure.axes[0].scale.__class__.__name__ == "LogScale"
    assert list(finder._marker.x) == [finder.suggestion] * 2 and finder._marker.visible
    assert finder._marker_label.text == [format_rate(finder.suggestion)]
    assert any(status.startswith("Finding a learning rate: batch") for status in statuses)
    assert statuses[-1].startswith(f"Suggested learning rate {format_rate(finder.suggestion)}")


def test_use_puts_the_suggestion_into_the_linked_settings(finished):
    finder, controls, _ = finished
    apply = find_widget(finder, "dw-lr-suggestion")
    assert apply.layout.display is None
    assert apply.description == f"Use {format_rate(finder.suggestion)}"
    applied = []
    finder.on_apply(applied.append)
    apply.click()
    assert controls.value.learning_rate == finder.suggestion
    assert controls.value == HP.replace(learning_rate=finder.suggestion)  # nothing else moved
    assert applied == [finder.suggestion]


def test_the_chart_is_built_by_the_first_test_only(small_data):
    finder = LearningRateFinder(small_data, HP)
    assert find_widget(finder, "dw-lr-finder-chart") is None  # nothing for a page to render
    finder.find(batches=5)
    figure = find_widget(finder, "dw-lr-finder-chart")
    assert figure is not None and figure.layout.display is None
    assert finder.wait(120)
    finder.find(batches=5)
    assert finder.wait(120)
    assert find_widget(finder, "dw-lr-finder-chart") is figure  # one chart, kept


def test_stop_ends_the_test_and_says_so(small_data):
    finder = LearningRateFinder(small_data, HP)
    finder.find(batches=5000)
    assert not find_widget(finder, "dw-lr-finder-stop").disabled
    find_widget(finder, "dw-lr-finder-stop").click()
    assert finder.wait(120)
    assert finder.value.status == "stopped" and len(finder.value.losses) < 5000
    assert not finder.running and not find_widget(finder, "dw-lr-finder").disabled


def test_the_finder_refuses_while_a_model_trains(small_data, tmp_path):
    trainer = Trainer(RunStore(tmp_path))
    finder = LearningRateFinder(small_data, HP, trainer)
    trainer.hold()
    trainer.start(HP.replace(epochs=1), small_data)
    try:
        assert trainer.wait_held(60)
        assert find_widget(finder, "dw-lr-finder").disabled  # the button says so first
        finder.find()
        assert finder.status.startswith("Could not start: A training is running")
        assert not finder.running and finder.value is None
    finally:
        trainer.stop()
        trainer.release()
        assert trainer.wait(60)
    assert not find_widget(finder, "dw-lr-finder").disabled


def test_bad_settings_are_explained_and_nothing_runs(small_data):
    finder = LearningRateFinder(small_data, HP.replace(batch_size=2048))
    finder.find()
    assert finder.status.startswith("Could not start: batch_size must be at most")
    assert not finder.running and finder.value is None


def test_the_chart_reads_in_decades_with_round_losses_and_a_legend(finished):
    finder, _, _ = finished
    figure = find_widget(finder, "dw-lr-finder-chart")
    rate, loss = figure.axes
    assert rate.label == "Learning rate (log scale)" and loss.label == "Loss"
    assert list(rate.tick_values) == pytest.approx([10.0**p for p in range(-6, 1)])
    assert list(rate.tick_labels.values()) == [
        "1e-6",
        "1e-5",
        "0.0001",
        "0.001",
        "0.01",
        "0.1",
        "1",
    ]
    # The first decade stands off the loss axis, whose labels sit at the corner, and the last
    # inside the figure, clear of the axis's end tick.
    assert rate.scale.min < 1e-6 and rate.scale.max > 1.0
    labels = list(loss.tick_labels.values())
    assert loss.scale.min == 0.0 and len(labels) == len(set(labels)) <= 6
    assert loss.scale.max >= max(finder._smoothed_line.y[:1]) and labels[0] == "0"
    legend = find_widget(finder, "dw-lr-finder-legend")
    assert legend.layout.display is None
    assert "loss of each batch" in legend.value and "smoothed" in legend.value
