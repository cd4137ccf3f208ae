"""Steering in the page's components: the control beside Stop, the chart's marker, the runs
table's "steered" and the export's script call."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from ipywidgets import HTML

import digitwidgets.widgets.export_panel as export_widget
from digitwidgets.learning.export import reproduction_script
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import Trainer, TrainingEvent
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from digitwidgets.widgets.run_comparison import RunComparison
from digitwidgets.widgets.training_chart import TrainingChart
from digitwidgets.widgets.training_panel import TrainingPanel
from tests.support import find_widget, hold_after_first_batch, sample_subset, widgets_with

HP = Hyperparameters(epochs=2, batch_size=32, dropout=0.0)


@pytest.fixture(scope="module")
def tiny_data(sample_arrays):
    return sample_subset(sample_arrays, 300)


@pytest.fixture(scope="module")
def steered_in_the_panel(tiny_data, tmp_path_factory):
    """A real run held after its first batch, steered through the panel's field."""
    trainer = Trainer(RunStore(tmp_path_factory.mktemp("runs")), batch_interval=0)
    panel = TrainingPanel(trainer, HyperparameterControls(HP), tiny_data)
    chart = TrainingChart()
    chart.follow(trainer)
    steer = find_widget(panel, "dw-steer-lr")
    assert steer.disabled  # nothing trains yet
    events = hold_after_first_batch(trainer, panel.train)
    seen = {"enabled": not steer.disabled, "shown": steer.value}
    steer.value = 20.0  # out of range: explained, nothing changes
    seen["refusal"] = panel.steer_message
    seen["after_refusal"] = steer.value
    steer.value = 0.01
    seen["accepted"] = panel.steer_message
    trainer.release()
    assert trainer.wait(120)
    return panel, chart, events, seen, trainer


def test_the_control_beside_stop_is_enabled_only_while_training(steered_in_the_panel):
    panel, _, _, seen, _ = steered_in_the_panel
    assert seen["enabled"] and seen["shown"] == HP.learning_rate
    assert find_widget(panel, "dw-steer-lr").disabled  # the run has ended
    assert find_widget(panel, "dw-steer-lr").description == "Learning rate now"


def test_an_out_of_range_rate_is_explained_and_the_field_goes_back(steered_in_the_panel):
    _, _, events, seen, _ = steered_in_the_panel
    assert "learning_rate must be" in seen["refusal"] and "stays as it was" in seen["refusal"]
    assert seen["after_refusal"] == HP.learning_rate
    changes = [e for e in events if e.kind == "learning_rate"]
    assert [e.learning_rate for e in changes] == [0.01]  # only the accepted one


def test_an_accepted_rate_is_used_from_the_next_batch_and_shown(steered_in_the_panel):
    panel, _, events, seen, _ = steered_in_the_panel
    assert seen["accepted"] == "Learning rate 0.01 from the next batch."
    assert panel.steer_message == "Learning rate 0.01 from epoch 1, batch 2."
    assert panel.learning_rate is None  # the run has ended: the settings' rate is shown again
    assert events[-1].run.lr_changes == [{"epoch": 0, "batch": 1, "learning_rate": 0.01}]


def test_the_chart_marks_where_the_rate_changed(steered_in_the_panel):
    _, chart, events, _, _ = steered_in_the_panel
    batches = events[0].batches
    assert chart.history["change_epoch"] == [pytest.approx(1 / batches)]
    assert chart.history["change_learning_rate"] == [0.01]
    loss = chart._loss
    # One vertical line (bqplot keeps a single line as one row of two points).
    lines = np.asarray(loss.changes.x).reshape(-1, 2)
    assert lines.tolist() == [[pytest.approx(1 / batches)] * 2]
    assert np.asarray(loss.changes.y).reshape(-1, 2).tolist() == [[0.0, 1.0]]
    assert loss.change_labels.text == ["rate 0.01"]
    assert "Learning rate set to 0.01 during epoch 1." in chart.summary


def test_a_new_run_clears_the_markers():
    chart = TrainingChart()
    chart.handle_event(
        TrainingEvent("learning_rate", "a", epoch=1, batch=5, batches=10, learning_rate=0.1)
    )
    assert chart.history["change_epoch"] == [1.5]
    chart.handle_event(TrainingEvent("start", "b", epochs=2, batches=10, learning_rate=1e-3))
    assert chart.history["change_epoch"] == [] and len(chart._loss.change_labels.x) == 0


def test_the_runs_table_marks_a_steered_run(steered_in_the_panel):
    *_, trainer = steered_in_the_panel
    table = RunComparison(trainer.store)
    rows = widgets_with(table, "dw-run-row")
    assert len(rows) == 1
    texts = " ".join(cell.value for cell in rows[0].children if isinstance(cell, HTML))
    assert "steered" in texts


def test_the_export_passes_the_schedule_where_the_script_takes_it(
    steered_in_the_panel, monkeypatch
):
    *_, trainer = steered_in_the_panel
    record = trainer.store.list()[0]
    calls = []

    def script_with_schedule(hp, *, run_id=None, lr_changes=()):
        calls.append((hp, run_id, lr_changes))
        return "script"

    monkeypatch.setattr(export_widget, "reproduction_script", script_with_schedule)
    assert export_widget.script_for(record) == "script"
    assert calls == [(record.hyperparameters, record.run_id, record.lr_changes)]

    def older_script(hp, *, run_id=None):
        return f"older {run_id}"

    monkeypatch.setattr(export_widget, "reproduction_script", older_script)
    assert export_widget.script_for(record) == f"older {record.run_id}"


def test_a_steered_runs_script_follows_its_schedule(steered_in_the_panel):
    if "lr_changes" not in inspect.signature(reproduction_script).parameters:
        pytest.skip(
            "export.reproduction_script does not take lr_changes yet: the script's schedule "
            "is being added by the rewrite of reproduction_script (issue 11)."
        )
    *_, trainer = steered_in_the_panel
    record = trainer.store.list()[0]
    script = export_widget.script_for(record)
    unsteered = reproduction_script(record.hyperparameters, run_id=record.run_id, lr_changes=[])
    assert script != unsteered  # the schedule is in it
    assert "0.01" in script and "0.01" not in unsteered
