"""SweepPanel, SettingsLink and the runs table's sweep groups, driven from code."""

from __future__ import annotations

import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import Trainer
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from digitwidgets.widgets.run_comparison import RunComparison
from digitwidgets.widgets.settings_link import SettingsLink
from digitwidgets.widgets.sweep_panel import SweepPanel
from digitwidgets.widgets.training_panel import TrainingPanel
from tests.support import find_widget, sample_subset, widgets_with

TINY = Hyperparameters(epochs=1, batch_size=32, dropout=0.0)
TIMEOUT = 300


@pytest.fixture(scope="module")
def tiny_data(sample_arrays):
    return sample_subset(sample_arrays, 300, 100)


def _panel(tmp_path, data, hp=TINY):
    trainer = Trainer(RunStore(tmp_path))
    controls = HyperparameterControls(hp)
    return SweepPanel(trainer, controls, data), trainer, controls


def test_choosing_a_setting_suggests_values_and_says_what_will_train(tmp_path, tiny_data):
    panel, _, controls = _panel(tmp_path, tiny_data)
    setting, values = find_widget(panel, "dw-sweep-setting"), find_widget(panel, "dw-sweep-values")
    plan = find_widget(panel, "dw-sweep-plan")
    assert setting.value == "learning_rate" and values.value == "0.0001, 0.001, 0.01"
    assert plan.value == "3 runs of 1 epoch each, one after the other."
    setting.value = "optimizer"
    assert values.value == "adam, sgd, rmsprop, adagrad, nadam"
    controls.value = TINY.replace(epochs=4)
    assert panel.hyperparameters == TINY.replace(epochs=4)  # linked to the controls
    assert plan.value == "5 runs of 4 epochs each, one after the other."
    find_widget(panel, "dw-sweep-setting-2").value = "augmentation"
    assert find_widget(panel, "dw-sweep-values-2").value == "false, true"
    assert plan.value.startswith("10 runs")
    assert panel.values() == {
        "optimizer": ["adam", "sgd", "rmsprop", "adagrad", "nadam"],
        "augmentation": [False, True],
    }


def test_a_bad_value_is_named_beside_the_controls_and_nothing_trains(tmp_path, tiny_data):
    panel, trainer, _ = _panel(tmp_path, tiny_data)
    find_widget(panel, "dw-sweep-values").value = "0.001, 50"
    assert "Cannot sweep Learning rate over '50'" in panel.message
    assert "(0, 10]" in find_widget(panel, "dw-sweep-message").value
    find_widget(panel, "dw-sweep").click()
    assert not panel.running and not trainer.running and panel.value is None
    assert RunStore(tmp_path).list() == []
    find_widget(panel, "dw-sweep-values").value = "0.001, 0.01"
    assert panel.message == ""


def test_a_sweep_trains_shows_its_progress_charts_and_marks_the_best(tmp_path, tiny_data):
    panel, trainer, controls = _panel(tmp_path, tiny_data)
    training = TrainingPanel(trainer, controls, tiny_data)
    # As the dashboard wires them: Train is off for the whole sweep, even between its runs.
    import traitlets

    traitlets.dlink((panel, "running"), (training, "locked"))
    ended = []
    panel.on_end(ended.append)
    find_widget(panel, "dw-sweep-setting").value = "optimizer"
    find_widget(panel, "dw-sweep-values").value = "adam, sgd"
    trainer.hold()
    find_widget(panel, "dw-sweep").click()
    assert trainer.wait_held(TIMEOUT)
    assert panel.running and panel.progress == "Run 1 of 2: Optimizer adam"
    assert (
        find_widget(panel, "dw-sweep").disabled and not find_widget(panel, "dw-sweep-stop").disabled
    )
    assert find_widget(training, "dw-train").disabled
    training.train()
    assert training.status.startswith("Could not start: a sweep is training")
    trainer.release()
    assert panel.value.wait(TIMEOUT)
    assert ended == [panel.value] and not panel.running
    assert not find_widget(training, "dw-train").disabled
    assert panel.progress.startswith("All 2 runs done; best: Optimizer ")
    sweep = panel.value
    best = sweep.best
    assert panel.best.startswith(f"Best: Optimizer {best.values['optimizer']}, ")
    chart = find_widget(panel, "dw-sweep-chart")
    lines, best_mark, label = chart.marks
    # One series: bqplot keeps it as a flat row.
    assert list(np.atleast_2d(lines.x)[0]) == ["adam", "sgd"]
    accuracies = [result.val_accuracy for result in sweep.results]
    assert np.allclose(np.atleast_2d(lines.y)[0], accuracies)
    assert list(best_mark.x) == [best.values["optimizer"]]
    assert best_mark.y[0] == pytest.approx(max(accuracies))
    assert list(label.text) == ["best"]
    assert len(RunStore(tmp_path).list()) == 2


def test_a_learning_rate_sweep_gets_a_log_axis_and_a_choice_an_ordinal_one(tmp_path, tiny_data):
    import bqplot

    panel, trainer, _ = _panel(tmp_path, tiny_data)
    trainer.hold()
    find_widget(panel, "dw-sweep-values").value = "0.001, 0.01"
    panel.start()
    try:
        assert trainer.wait_held(TIMEOUT)
        lines = find_widget(panel, "dw-sweep-chart").marks[0]
        assert isinstance(lines.scales["x"], bqplot.LogScale)
        assert list(np.atleast_2d(lines.x)[0]) == [0.001, 0.01] and np.isnan(lines.y).all()
        find_widget(panel, "dw-sweep-stop").click()
        assert "stopping after this run" in panel.progress
    finally:
        trainer.release()
    assert panel.value.wait(TIMEOUT)
    assert panel.progress.startswith("Stopped after run 1")
    assert len(RunStore(tmp_path).list()) == 1


def test_the_sweep_button_is_off_while_the_trainer_runs_something_else(tmp_path, tiny_data):
    panel, trainer, _ = _panel(tmp_path, tiny_data)
    trainer.hold()
    trainer.start(TINY, tiny_data)
    try:
        assert trainer.wait_held(TIMEOUT)
        assert panel.training and find_widget(panel, "dw-sweep").disabled
    finally:
        trainer.release()
    assert trainer.wait(TIMEOUT)
    assert not panel.training and not find_widget(panel, "dw-sweep").disabled


def _save(store, run_id, hp, val_accuracy, started_at, sweep=None):
    return store.save(
        run_id=run_id,
        model=None,
        hyperparameters=hp,
        history={"accuracy": [0.9], "val_accuracy": [val_accuracy]},
        data={},
        started_at=started_at,
        duration=3.0,
        status="finished",
        sweep=sweep,
    )


def test_the_runs_table_groups_a_sweeps_runs_under_one_row_and_compares_them(tmp_path):
    store = RunStore(tmp_path)
    tag = {"id": "s1", "name": "learning_rate 0.001, 0.01", "settings": ["learning_rate"]}
    _save(store, "a-before", TINY, 0.8, "2026-01-01T10:00:00")
    _save(store, "b-sweep1", TINY, 0.91, "2026-01-01T10:01:00", {**tag, "index": 1, "count": 2})
    _save(store, "c-other", TINY, 0.7, "2026-01-01T10:02:00")
    _save(store, "d-sweep2", TINY, 0.85, "2026-01-01T10:03:00", {**tag, "index": 2, "count": 2})
    table = RunComparison(store)
    assert table.runs == ["b-sweep1", "d-sweep2", "c-other", "a-before"]
    (group,) = widgets_with(table, "dw-sweep-group")
    text = group.children[0].value
    assert "learning_rate 0.001, 0.01" in text and "2 of 2 runs" in text
    assert "best: run 1</b> (91.0% validation)" in text
    assert len(widgets_with(table, "dw-sweep-run")) == 2
    find_widget(table, "dw-compare-sweep").click()
    assert table.selected == ["b-sweep1", "d-sweep2"] and len(table.compared) == 2


def test_the_settings_link_follows_the_settings_and_a_link_opens_with_its_own():
    link = SettingsLink()
    html = find_widget(link, "dw-share-link")
    assert link.query == "" and "every setting is at its default" in html.value
    link.value = Hyperparameters(optimizer="sgd", learning_rate=0.1)
    assert link.query == "optimizer=sgd&learning_rate=0.1"
    assert "href='?optimizer=sgd&amp;learning_rate=0.1'" in html.value
    link.open_query("epochs=5&learning_rate=99&colour=red")
    assert link.value == Hyperparameters(epochs=5)
    message = find_widget(link, "dw-link-message").value
    assert "learning_rate=99" in message and "unknown setting &#x27;colour&#x27;" in message
    assert "<" not in link.message
    link.open_query("optimizer=<b>x</b>")
    assert "&lt;b&gt;" in find_widget(link, "dw-link-message").value


class _ScriptedTrainer:
    """Stands for a Trainer: runs start at once and end when the test says, with its score."""

    running = False

    def __init__(self):
        self.listeners = []
        self.started = []

    def add_listener(self, listener):
        self.listeners.append(listener)

    def remove_listener(self, listener):
        self.listeners.remove(listener)

    def start(self, hp, data, sweep=None):
        run_id = f"run{len(self.started) + 1}"
        self.started.append((run_id, hp, sweep))
        return run_id

    def finish(self, val_accuracy, model=None):
        """End the latest run with a final validation accuracy; return its model."""
        from pathlib import Path

        from digitwidgets.learning.runs import RunRecord
        from digitwidgets.learning.training import TrainingEvent

        run_id, hp, sweep = self.started[-1]
        record = RunRecord(
            run_id,
            Path(run_id),
            "finished",
            hp,
            history={"accuracy": [0.9], "val_accuracy": [val_accuracy]},
            sweep=sweep,
        )
        model = model if model is not None else object()
        event = TrainingEvent(
            "finish", run_id, epoch=0, epochs=1, batches=1, run=record, model=model
        )
        for listener in list(self.listeners):
            listener(event)
        return model


def _labels(axis):
    return list(axis.tick_labels.values())


def test_before_any_sweep_the_chart_waits_hidden_with_a_sentence_and_a_0_to_100_axis():
    panel = SweepPanel(_ScriptedTrainer(), TINY, data=None)
    chart = find_widget(panel, "dw-sweep-chart")
    assert chart.layout.display == "none"
    assert "No sweep yet" in find_widget(panel, "dw-sweep-empty").value
    x_axis, y_axis = chart.axes
    assert x_axis.label == "Learning rate (log scale)"
    assert y_axis.label == "Final validation accuracy"
    assert (y_axis.scale.min, y_axis.scale.max) == (0.0, 1.0)
    assert _labels(y_axis) == ["0%", "20%", "40%", "60%", "80%", "100%"]


@pytest.mark.parametrize("accuracies", [(0.8, 0.931, 0.799), (0.799, 0.85, 0.931)])
def test_a_rate_sweep_is_charted_at_its_own_values_with_round_percents(accuracies):
    trainer = _ScriptedTrainer()
    panel = SweepPanel(trainer, TINY, data=None)
    find_widget(panel, "dw-sweep-values").value = "0.0003, 0.003, 0.03"
    panel.start()
    chart = find_widget(panel, "dw-sweep-chart")
    x_axis, y_axis = chart.axes
    assert chart.layout.display is None
    assert find_widget(panel, "dw-sweep-empty").layout.display == "none"
    assert list(x_axis.tick_values) == [0.0003, 0.003, 0.03]
    assert x_axis.tick_labels == {"0.0003": "0.0003", "0.003": "0.003", "0.03": "0.03"}
    # The points stay off the plot's edges: the domain reaches past the outer rates.
    assert x_axis.scale.min < 0.0003 and x_axis.scale.max > 0.03
    for accuracy in accuracies:
        trainer.finish(accuracy)
    assert not panel.running
    labels = _labels(y_axis)
    assert labels == ["75%", "80%", "85%", "90%", "95%", "100%"]
    assert len(set(labels)) == len(labels) == len(y_axis.tick_values)
    assert y_axis.scale.min <= 0.799 and 0.931 <= y_axis.scale.max <= 1.0
    label = chart.marks[2]
    assert list(label.text) == ["best"] and list(label.x) == [
        0.003 if accuracies[1] > 0.9 else 0.03
    ]
    # The best point last: its label goes to its left, inside the figure.
    assert label.align == ("end" if accuracies[-1] > 0.9 else "start")
    assert (label.x_offset < 0) == (accuracies[-1] > 0.9)


def test_after_a_sweep_the_model_in_use_is_its_best_run_and_says_so():
    from digitwidgets.learning.current_model import CurrentModel

    trainer = _ScriptedTrainer()
    current = CurrentModel()
    current.follow(trainer)
    panel = SweepPanel(trainer, TINY, data=None)
    find_widget(panel, "dw-sweep-values").value = "0.003, 0.03, 0.0005"
    panel.start()
    best = trainer.finish(0.931)
    assert current.model is best and current.run_id == "run1"
    assert current.description == (
        "the best of your sweep so far (1 of 3 runs done): Learning rate 0.003 "
        "(93.1% validation accuracy), run run1"
    )
    trainer.finish(0.799)  # the last run is worse: the best stays in use
    last = trainer.finish(0.098)
    assert current.model is best and current.model is not last
    assert current.run_id == "run1" and current.run.run_id == "run1"
    assert current.description == (
        "the best of your sweep's 3 runs: Learning rate 0.003 (93.1% validation accuracy), run run1"
    )
    assert panel.best == "Best: Learning rate 0.003, 93.1% validation accuracy (run 1 of 3)."
    # In words, from FIELDS' labels, not the settings' code names.
    assert (
        panel.progress == "All 3 runs done; best: Learning rate 0.003, 93.1% validation accuracy."
    )


def test_a_two_setting_sweep_names_its_series_in_words_on_a_linear_axis_of_its_values():
    trainer = _ScriptedTrainer()
    panel = SweepPanel(trainer, TINY, data=None)
    find_widget(panel, "dw-sweep-setting").value = "dropout"
    find_widget(panel, "dw-sweep-values").value = "0, 0.2, 0.5"
    find_widget(panel, "dw-sweep-setting-2").value = "optimizer"
    find_widget(panel, "dw-sweep-values-2").value = "adam, sgd"
    panel.start()
    for accuracy in (0.95, 0.80, 0.956, 0.81, 0.94, 0.79):
        trainer.finish(accuracy)
    chart = find_widget(panel, "dw-sweep-chart")
    x_axis, y_axis = chart.axes
    assert x_axis.label == "Dropout"
    assert x_axis.tick_labels == {"0": "0.0", "0.2": "0.2", "0.5": "0.5"}
    assert x_axis.scale.min < 0 < 0.5 < x_axis.scale.max
    assert list(chart.marks[0].labels) == ["Optimizer adam", "Optimizer sgd"]
    labels = list(y_axis.tick_labels.values())
    assert len(labels) == len(set(labels)) and y_axis.scale.max <= 1.0
