"""TrainingChart: the marks hold exactly the numbers that training events carried."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.training import TrainingEvent
from digitwidgets.widgets.training_chart import MAX_BATCH_POINTS, TrainingChart, summarize


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
        assert [axis.label for axis in figure.axes][0] == "Epoch"
    legend = [c for c in chart.children if "dw-chart-legend" in c._dom_classes]
    assert len(legend) == 1
    for text in ("train, each batch", "train, each epoch", "validation, each epoch"):
        assert text in legend[0].value


def test_the_two_figures_fit_in_780_pixels():
    chart = TrainingChart()
    widths = [int(figure.layout.width.removesuffix("px")) for figure in chart.children[0].children]
    assert len(widths) == 2 and sum(widths) <= 780


def _axes(chart, title):
    (figure,) = [fig for fig in chart.children[0].children if fig.title == title]
    return figure.axes


def test_the_empty_chart_counts_whole_epochs_and_accuracy_in_percent():
    chart = TrainingChart()
    epoch, accuracy = _axes(chart, "Accuracy")
    assert list(epoch.tick_values) == [0.0, 1.0]
    assert (epoch.scale.min, epoch.scale.max) == (0.0, 1.0)
    assert set(epoch.tick_labels.values()) == {"0", "1"}
    assert accuracy.label == "Accuracy"
    assert (accuracy.scale.min, accuracy.scale.max) == (0.0, 1.0)
    assert list(accuracy.tick_labels.values()) == ["0%", "20%", "40%", "60%", "80%", "100%"]
    assert _axes(chart, "Loss")[1].label == "Cross-entropy loss"


def test_ticks_follow_the_run_round_unique_and_within_what_it_can_be():
    chart = TrainingChart()
    for event in _events():
        chart.handle_event(event)
    epoch, accuracy = _axes(chart, "Accuracy")
    assert list(epoch.tick_values) == [0.0, 1.0, 2.0] and epoch.scale.max == 2.0
    labels = list(accuracy.tick_labels.values())
    assert len(labels) == len(set(labels)) == len(accuracy.tick_values) <= 6
    # Batch accuracies 0.1 ... 0.6 and epochs' 0.4 ... 0.7, with a margin, in 0-100%.
    assert accuracy.scale.min == pytest.approx(0.0) and accuracy.scale.max == pytest.approx(0.8)
    assert all(label.endswith("%") for label in labels)
    loss = _axes(chart, "Loss")[1]
    assert loss.scale.min == 0.0 and loss.scale.max >= 2.0
    assert list(loss.tick_labels.values()) == ["0.0", "0.5", "1.0", "1.5", "2.0"]


def test_every_batch_a_thinned_event_stands_for_is_drawn():
    # Four batches, one event: the chart draws all four from its batch points.
    chart = TrainingChart()
    chart.handle_event(TrainingEvent("start", "r", epochs=1, batches=4))
    points = tuple((b / 4, 2.0 - 0.1 * b, 0.1 * b) for b in range(1, 5))
    logs = {"loss": 1.6, "accuracy": 0.4}
    chart.handle_event(
        TrainingEvent("batch", "r", epochs=1, batch=4, batches=4, logs=logs, batch_points=points)
    )
    np.testing.assert_allclose(_marks(chart)["Loss"][0].x, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(_marks(chart)["Accuracy"][0].y, [0.1, 0.2, 0.3, 0.4])


def test_a_long_run_keeps_an_evenly_sampled_batch_curve():
    chart = TrainingChart()
    batches = 1000
    chart.handle_event(TrainingEvent("start", "r", epochs=3, batches=batches))
    for epoch in range(3):
        points = tuple((epoch + b / batches, 1.0 / (epoch + 1), 0.5) for b in range(1, batches + 1))
        chart.handle_event(
            TrainingEvent("epoch", "r", epoch=epoch, epochs=3, batches=batches, batch_points=points)
        )
    x = np.asarray(chart.history["batch_epoch"])
    assert MAX_BATCH_POINTS // 2 <= len(x) <= MAX_BATCH_POINTS
    gaps = np.diff(x)
    assert gaps.min() == pytest.approx(gaps.max())  # evenly spaced, whatever was dropped
    assert x[0] == pytest.approx(1 / batches) and x[-1] > 2.99


def test_a_steered_rate_is_said_in_words_and_its_label_kept_off_the_accuracy_curves():
    chart = TrainingChart()
    chart.handle_event(TrainingEvent("start", "r", epochs=3, batches=10))
    chart.handle_event(
        TrainingEvent(
            "learning_rate", "r", epoch=1, epochs=3, batch=0, batches=10, learning_rate=0.0002
        )
    )
    chart.handle_event(
        TrainingEvent(
            "learning_rate", "r", epoch=1, epochs=3, batch=4, batches=10, learning_rate=0.001
        )
    )
    assert summarize(chart.history).endswith(
        " Learning rate set to 0.0002 after epoch 1. Learning rate set to 0.001 during epoch 2."
    )
    labels = _marks(chart)["Accuracy"][4]
    assert list(labels.text) == ["rate 0.0002", "rate 0.001"]
    # Accuracy rises to the top of its chart: its labels sit at the bottom; loss falls.
    assert max(labels.y) < 0.1 and min(_marks(chart)["Loss"][4].y) > 0.9


class _NoWeights:
    """Stands for a model where only its weights are taken (an epoch's snapshot)."""

    def get_weights(self):
        return []


def test_a_run_thinned_to_a_few_events_still_draws_every_batch():
    # RunProgress sends one batch event here (the interval is long), then the epoch's: the
    # batches in between travel in their batch_points, and the chart draws all twelve.
    from digitwidgets.learning.training import RunProgress

    chart = TrainingChart()
    sent = []

    def send(event, _snapshot):
        sent.append(event)
        chart.handle_event(event)

    progress = RunProgress("thin", 1, 12, 0.0, send, batch_interval=3600.0)
    chart.handle_event(TrainingEvent("start", "thin", epochs=1, batches=12))
    progress.epoch_begun(0)
    for batch in range(1, 13):
        assert progress.batch_ended({"loss": 2.0 - 0.1 * batch, "accuracy": 0.05 * batch})
    assert progress.epoch_ended({"loss": 0.8, "accuracy": 0.6}, _NoWeights())
    assert [event.kind for event in sent] == ["batch", "epoch"]
    np.testing.assert_allclose(chart.history["batch_epoch"], [b / 12 for b in range(1, 13)])
    np.testing.assert_allclose(chart.history["batch_accuracy"], [0.05 * b for b in range(1, 13)])


def test_a_batch_event_sends_the_batch_curve_only():
    """The epoch curves and the rate marks go to the page only when they change."""
    chart = TrainingChart()
    events = list(_events())
    for event in events[:5]:  # start, three batches, the first epoch
        chart.handle_event(event)
    loss_marks = _marks(chart)["Loss"]
    sent = {index: mark.x for index, mark in enumerate(loss_marks)}
    chart.handle_event(events[5])  # a batch of the second epoch
    assert loss_marks[0].x is not sent[0] and len(loss_marks[0].x) == 4
    assert all(loss_marks[index].x is sent[index] for index in range(1, len(loss_marks)))
    chart.handle_event(events[-1])  # its end: the epoch curves move
    assert loss_marks[1].x is not sent[1] and len(loss_marks[1].x) == 2
