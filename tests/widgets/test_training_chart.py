"""TrainingChart: the marks hold exactly the numbers that training events carried."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.training import TrainingEvent
from digitwidgets.widgets.training_chart import TrainingChart


def _events(run_id="run-a"):
    """Two epochs of three batches each, with made-up but plausible numbers."""
    yield TrainingEvent("start", run_id, epochs=2, batches=3)
    step = 0
    for epoch in range(2):
        for batch in range(1, 4):
            step += 1
            logs = {"loss": 2.0 / step, "accuracy": 0.1 * step}
            yield TrainingEvent(
                "batch", run_id, epoch=epoch, epochs=2, batch=batch, batches=3, step=step, logs=logs
            )
        logs = {
            "loss": 1.0 / (epoch + 1),
            "accuracy": 0.5 + 0.2 * epoch,
            "val_loss": 1.5 / (epoch + 1),
            "val_accuracy": 0.4 + 0.2 * epoch,
        }
        yield TrainingEvent("epoch", run_id, epoch=epoch, epochs=2, batches=3, logs=logs)


def _marks(chart):
    figures = chart.children[0].children
    return {fig.title: fig.marks for fig in figures}


def test_marks_hold_the_numbers_sent():
    chart = TrainingChart()
    for event in _events():
        chart.handle_event(event)
    loss_marks, accuracy_marks = _marks(chart)["Loss"], _marks(chart)["Accuracy"]
    batch_x = [1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0]
    np.testing.assert_allclose(loss_marks[0].x, batch_x)
    np.testing.assert_allclose(loss_marks[0].y, [2.0 / s for s in range(1, 7)])
    np.testing.assert_allclose(accuracy_marks[0].y, [0.1 * s for s in range(1, 7)])
    np.testing.assert_allclose(loss_marks[1].x, [1.0, 2.0])
    np.testing.assert_allclose(loss_marks[1].y, [1.0, 0.5])
    np.testing.assert_allclose(loss_marks[2].y, [1.5, 0.75])
    np.testing.assert_allclose(accuracy_marks[1].y, [0.5, 0.7])
    np.testing.assert_allclose(accuracy_marks[2].y, [0.4, 0.6])
    assert chart.history["val_accuracy"] == pytest.approx([0.4, 0.6])
    assert chart.history["batch_epoch"] == pytest.approx(batch_x)
    assert chart.run_id == "run-a"


def test_every_event_shows_at_once():
    # The Trainer thins batch events before they reach the chart: none waits here.
    chart = TrainingChart()
    events = list(_events())
    for count, event in enumerate(events[1:4], start=1):
        chart.handle_event(event)
        assert len(chart.history["batch_loss"]) == count
        assert len(_marks(chart)["Loss"][0].y) == count
    chart.handle_event(events[4])  # epoch end
    assert chart.history["epoch"] == [1.0] and len(_marks(chart)["Loss"][1].y) == 1


def test_a_new_run_clears_the_chart():
    chart = TrainingChart()
    for event in _events("run-a"):
        chart.handle_event(event)
    chart.handle_event(TrainingEvent("start", "run-b", epochs=1, batches=3))
    assert chart.run_id == "run-b"
    assert all(values == [] for values in chart.history.values())
    assert all(len(mark.y) == 0 for marks in _marks(chart).values() for mark in marks)


def test_figures_have_labelled_axes_legends_and_titles():
    chart = TrainingChart()
    assert "dw-chart" in chart._dom_classes
    for title, marks in _marks(chart).items():
        assert title in ("Loss", "Accuracy")
        # The legend is one HTML line under both figures, not bqplot's (drawn over curves).
        assert not any(mark.display_legend for mark in marks)
        assert all(mark.labels for mark in marks)
    for figure in chart.children[0].children:
        assert {axis.label for axis in figure.axes} >= {"epoch"}
    legend = [c for c in chart.children if "dw-chart-legend" in c._dom_classes]
    assert len(legend) == 1
    for text in ("train, each batch", "train, each epoch", "validation, each epoch"):
        assert text in legend[0].value


def test_the_two_figures_fit_in_780_pixels():
    chart = TrainingChart()
    widths = [int(figure.layout.width.removesuffix("px")) for figure in chart.children[0].children]
    assert len(widths) == 2 and sum(widths) <= 780
