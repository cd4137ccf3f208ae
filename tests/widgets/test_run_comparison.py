"""RunComparison: saved runs in a table, overlaid validation curves, load and confirmed delete."""

from __future__ import annotations

import re

import ipywidgets as widgets
import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import RunStore, curve_labels, local_time
from digitwidgets.learning.training import TrainingEvent
from digitwidgets.widgets.run_comparison import RunComparison
from tests.support import widgets_with

SGD = Hyperparameters(optimizer="sgd", learning_rate=0.1, epochs=3)
ADAM = Hyperparameters(epochs=2)
RMSPROP = Hyperparameters(optimizer="rmsprop", learning_rate=0.01, epochs=3)


@pytest.fixture(scope="module")
def model(sample_arrays):
    """LeNet-5 trained for one epoch on 1,000 real digits."""
    model = build_lenet5(Hyperparameters(epochs=1, seed=2))
    x, y = sample_arrays["x_train"][:1000], sample_arrays["y_train"][:1000]
    model.fit(x.astype("float32") / 255.0, y, batch_size=64, epochs=1, verbose=0)
    return model


def _save(store, model, run_id, hp, val_accuracy, started_at, status="finished"):
    epochs = len(val_accuracy)
    return store.save(
        run_id=run_id,
        model=model,
        hyperparameters=hp,
        history={
            "loss": list(np.linspace(1.0, 0.3, epochs)),
            "accuracy": list(np.linspace(0.7, 0.95, epochs)),
            "val_loss": list(np.linspace(0.8, 0.35, epochs)),
            "val_accuracy": val_accuracy,
        },
        data={"source": "embedded-sample", "n_train": 8500},
        started_at=started_at,
        duration=65.0,
        status=status,
    )


@pytest.fixture
def store(tmp_path, model):
    store = RunStore(tmp_path / "runs")
    _save(store, model, "run-sgd", SGD, [0.80, 0.88, 0.91], "2026-01-01T10:00:00+00:00")
    _save(store, model, "run-adam", ADAM, [0.90, 0.95], "2026-01-01T11:00:00+00:00", "stopped")
    _save(store, model, "run-rms", RMSPROP, [0.7, 0.8, 0.85], "2026-01-01T12:00:00+00:00")
    return store


def _row(panel, run_id):
    index = panel.runs.index(run_id)
    return widgets_with(panel, "dw-run-row")[index]


def _text(row) -> str:
    return " ".join(
        child.value for child in row.children if isinstance(getattr(child, "value", None), str)
    )


def test_table_lists_the_saved_runs_newest_first(store):
    panel = RunComparison(store)
    assert panel.runs == ["run-rms", "run-adam", "run-sgd"]
    rows = widgets_with(panel, "dw-run-row")
    assert len(rows) == 3
    adam = _text(_row(panel, "run-adam"))
    assert "stopped" in adam and "95.0%" in adam and "sample, 8,500" in adam and "1:05" in adam
    assert "sgd, lr 0.1" in _text(_row(panel, "run-sgd"))


def test_runs_survive_a_restart(store, model):
    RunComparison(store)
    again = RunComparison(RunStore(store.root))
    assert again.runs == ["run-rms", "run-adam", "run-sgd"]


def test_overlay_has_one_line_per_ticked_run_labelled_by_what_differs(store):
    panel = RunComparison(store)
    _row(panel, "run-sgd").children[0].value = True
    _row(panel, "run-adam").children[0].value = True
    assert panel.selected == ["run-adam", "run-sgd"]
    lines = panel._lines
    assert lines.y.shape == (2, 3)
    np.testing.assert_allclose(lines.y[0, :2], [0.90, 0.95])
    # The shorter run ends on its last point (drawn again there), not on NaN, whose marker
    # bqplot draws in the plot's corner.
    assert lines.y[0, 2] == pytest.approx(0.95) and lines.x[0, 2] == 2.0
    assert np.isfinite(lines.x).all() and np.isfinite(lines.y).all()
    np.testing.assert_allclose(lines.y[1], [0.80, 0.88, 0.91])
    assert list(lines.labels) == ["adam, lr 0.001, epochs 2", "sgd, lr 0.1, epochs 3"]
    assert panel.compared == list(lines.labels)


def test_three_runs_get_three_distinct_labels(store):
    panel = RunComparison(store)
    panel.selected = ["run-rms", "run-adam", "run-sgd"]
    assert panel._lines.y.shape[0] == 3
    assert len(set(panel.compared)) == 3
    assert panel.compared[0].startswith("rmsprop, lr 0.01")
    # Setting the trait ticks the boxes, unticking removes the line.
    assert all(_row(panel, run_id).children[0].value for run_id in panel.runs)
    _row(panel, "run-rms").children[0].value = False
    assert panel._lines.y.shape[0] == 2


def test_runs_with_the_same_settings_are_told_apart(store, model):
    _save(store, model, "run-sgd-again", SGD, [0.8, 0.9, 0.92], "2026-01-02T10:00:00+00:00")
    records = [store.get("run-sgd"), store.get("run-sgd-again")]
    labels = curve_labels(records)
    assert labels[0] != labels[1]
    assert all(label.startswith("sgd, lr 0.1, epochs 3") for label in labels)
    # Each says when it ran, the last one too: a label without it reads like another setting.
    for label, record in zip(labels, records, strict=True):
        assert label.endswith(f"({local_time(record.started_at)}, {record.run_id[-6:]})"), label


def test_delete_asks_for_confirmation_first(store):
    panel = RunComparison(store)
    deleted = []
    panel.on_delete(deleted.append)
    widgets_with(_row(panel, "run-adam"), "dw-delete-run")[0].click()
    assert "run-adam" in [record.run_id for record in store.list()]
    (confirm,) = widgets_with(panel, "dw-confirm-delete")
    assert confirm.description == "Really delete run run-adam?"
    assert panel._confirmation.layout.display == "flex"
    widgets_with(panel, "dw-cancel-delete")[0].click()
    assert panel._confirmation.layout.display == "none"
    confirm.click()
    assert "run-adam" in panel.runs and deleted == []

    widgets_with(_row(panel, "run-adam"), "dw-delete-run")[0].click()
    confirm.click()
    assert [record.run_id for record in store.list()] == ["run-rms", "run-sgd"]
    assert panel.runs == ["run-rms", "run-sgd"]
    assert "Deleted run run-adam" in panel.status
    assert deleted == ["run-adam"]


def test_deleting_a_compared_run_removes_its_line(store):
    panel = RunComparison(store)
    panel.selected = ["run-adam", "run-sgd"]
    panel.ask_delete("run-sgd")
    panel.confirm_delete()
    assert (
        panel.selected == ["run-adam"] and np.atleast_2d(panel._lines.y).shape[0] == 1
    )  # bqplot squeezes one row


def test_load_hands_over_the_runs_model_and_record(store, model, digit_images):
    panel = RunComparison(store)
    received = []
    panel.on_load(lambda loaded, record: received.append((loaded, record)))
    widgets_with(_row(panel, "run-sgd"), "dw-load-run")[0].click()
    ((loaded, record),) = received
    assert record.run_id == "run-sgd" and record.hyperparameters == SGD
    x = np.stack(list(digit_images.values())).astype("float32") / 255.0
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_a_damaged_run_is_listed_but_cannot_be_loaded_or_compared(store):
    (store.root / "run-broken").mkdir()
    panel = RunComparison(store)
    row = _row(panel, "run-broken")
    assert "damaged" in _text(row)
    assert row.children[0].disabled and widgets_with(row, "dw-load-run")[0].disabled
    received = []
    panel.on_load(lambda *args: received.append(args))
    panel.load("run-broken")
    assert received == [] and "damaged" in panel.status


def test_refresh_shows_new_runs_and_keeps_the_ticks(tmp_path, model):
    store = RunStore(tmp_path / "fresh")
    panel = RunComparison(store)
    assert panel.runs == [] and "No saved runs" in panel._table.children[-1].value
    _save(store, model, "run-1", SGD, [0.8, 0.9, 0.91], "2026-01-01T10:00:00+00:00")
    panel.refresh()
    panel.selected = ["run-1"]
    _save(store, model, "run-2", ADAM, [0.9, 0.95], "2026-01-01T11:00:00+00:00")
    panel.refresh()
    assert panel.runs == ["run-2", "run-1"] and panel.selected == ["run-1"]
    assert _row(panel, "run-1").children[0].value


def test_a_tick_or_a_click_sent_while_the_table_is_rebuilt_is_kept(tmp_path, model):
    store = RunStore(tmp_path / "ticks")
    _save(store, model, "run-1", SGD, [0.8, 0.9, 0.91], "2026-01-01T10:00:00+00:00")
    panel = RunComparison(store)
    row_seen_by_the_page = _row(panel, "run-1")
    box_seen_by_the_page = row_seen_by_the_page.children[0]
    delete_seen_by_the_page = row_seen_by_the_page.children[-1]
    _save(store, model, "run-2", ADAM, [0.9, 0.95], "2026-01-01T11:00:00+00:00")
    panel.refresh()  # a run ended: the table is rebuilt
    panel.refresh()  # and again, with nothing new
    # The visitor's tick and click were on their way for what the page showed before.
    box_seen_by_the_page.value = True
    assert panel.selected == ["run-1"] and panel.compared
    assert _row(panel, "run-1") is row_seen_by_the_page
    delete_seen_by_the_page.click()
    (confirm,) = widgets_with(panel, "dw-confirm-delete")
    assert confirm.description == "Really delete run run-1?"
    assert panel._confirmation.layout.display == "flex"
    store.delete("run-1")
    panel.refresh()
    assert panel.runs == ["run-2"] and panel.selected == []
    assert box_seen_by_the_page.comm is None, "a deleted run's box is closed"


def test_a_new_run_adds_only_its_own_row_s_widgets(tmp_path, model):
    # Every widget made is a message to the page and a model it keeps: a run's end (the
    # table rebuilt) makes the new run's row and nothing else, the header included.
    from ipywidgets.widgets.widget import _instances

    store = RunStore(tmp_path / "rows")
    _save(store, model, "run-1", SGD, [0.8, 0.9, 0.91], "2026-01-01T10:00:00+00:00")
    panel = RunComparison(store)
    header = panel._table.children[0]
    _save(store, model, "run-2", ADAM, [0.9, 0.95], "2026-01-01T11:00:00+00:00")
    before = set(_instances)
    panel.refresh()
    made = [_instances[key] for key in set(_instances) - before]
    row = _row(panel, "run-2")
    in_row = {id(w) for w in [row, *row.children]}
    assert [w for w in made if isinstance(w, widgets.DOMWidget) and id(w) not in in_row] == []
    assert panel._table.children[0] is header and header.comm is not None


class FakeTrainer:
    def __init__(self):
        self.listeners = []

    def add_listener(self, listener):
        self.listeners.append(listener)


def test_follow_refreshes_when_a_run_ends(tmp_path, model):
    store, trainer = RunStore(tmp_path / "followed"), FakeTrainer()
    panel = RunComparison(store)
    panel.follow(trainer)
    _save(store, model, "run-1", ADAM, [0.9, 0.95], "2026-01-01T11:00:00+00:00")
    (listener,) = trainer.listeners
    listener(TrainingEvent("epoch", "run-1"))
    assert panel.runs == []
    listener(TrainingEvent("finish", "run-1"))
    assert panel.runs == ["run-1"]


def test_one_epoch_runs_stay_separate_lines(tmp_path, model):
    store = RunStore(tmp_path / "short")
    _save(store, model, "run-1", SGD.replace(epochs=1), [0.3], "2026-01-01T10:00:00+00:00")
    _save(store, model, "run-2", ADAM.replace(epochs=1), [0.6], "2026-01-01T11:00:00+00:00")
    panel = RunComparison(store)
    panel.selected = ["run-2", "run-1"]
    # bqplot would read a (2, 1) array as one line through both runs' points.
    assert panel._lines.y.shape == (2, 2)
    np.testing.assert_allclose(panel._lines.y[:, 0], [0.6, 0.3])
    assert panel.compared == ["adam, lr 0.001", "sgd, lr 0.1"]


def _axes(panel):
    (chart,) = widgets_with(panel, "dw-compare-chart")
    return chart.axes


def test_the_accuracy_axis_has_round_unique_ticks_each_labelled_with_its_value(tmp_path, model):
    store = RunStore(tmp_path / "close")
    _save(store, model, "run-a", SGD, [0.912, 0.94, 0.956], "2026-01-01T10:00:00+00:00")
    _save(store, model, "run-b", RMSPROP, [0.915, 0.93, 0.951], "2026-01-01T11:00:00+00:00")
    panel = RunComparison(store)
    panel.selected = ["run-b", "run-a"]
    _, accuracy = _axes(panel)
    values, labels = list(accuracy.tick_values), list(accuracy.tick_labels.values())
    assert len(labels) == len(set(labels)) == len(values) <= 6
    for value, label in zip(values, labels, strict=True):
        assert float(label.removesuffix("%")) == pytest.approx(value * 100)
    # Every point within the axis, the axis within 0-100%.
    assert 0.0 <= accuracy.scale.min <= 0.912 and 0.956 <= accuracy.scale.max <= 1.0
    assert accuracy.label == "Validation accuracy"


def test_one_epoch_runs_sit_mid_axis_on_a_whole_epoch_tick(tmp_path, model):
    store = RunStore(tmp_path / "one")
    _save(store, model, "run-1", SGD.replace(epochs=1), [0.3], "2026-01-01T10:00:00+00:00")
    panel = RunComparison(store)
    panel.selected = ["run-1"]
    epoch, _ = _axes(panel)
    assert list(epoch.tick_values) == [1.0] and epoch.tick_labels == {"1": "1"}
    assert (epoch.scale.min, epoch.scale.max) == (0.5, 1.5)
    assert epoch.label == "Epoch"
    panel.selected = []  # nothing ticked: still whole epochs, and 0-100%
    epoch, accuracy = _axes(panel)
    assert list(epoch.tick_values) == [1.0] and accuracy.scale.max == 1.0


def test_a_run_cut_short_is_labelled_with_the_epochs_it_ran(tmp_path, model):
    store = RunStore(tmp_path / "cut")
    _save(
        store,
        model,
        "run-cut",
        ADAM.replace(epochs=20),
        [0.9, 0.92, 0.93],
        "2026-01-01T10:00:00+00:00",
        "stopped",
    )
    _save(
        store,
        model,
        "run-full",
        ADAM.replace(epochs=3),
        [0.9, 0.94, 0.95],
        "2026-01-01T11:00:00+00:00",
    )
    panel = RunComparison(store)
    panel.selected = ["run-full", "run-cut"]
    assert panel.compared == ["epochs 3", "epochs 3 of 20, stopped"]
    # The legend is HTML under the chart, one coloured entry per curve.
    (legend,) = widgets_with(panel, "dw-compare-legend")
    assert legend.value.count("class='dw-compare-curve'") == 2
    assert "<span class='dw-compare-label'>epochs 3 of 20, stopped</span>" in legend.value
    epoch, _ = _axes(panel)
    assert list(epoch.tick_values) == [1.0, 2.0, 3.0]


def test_a_long_list_of_runs_is_shown_a_page_at_a_time(tmp_path, model):
    # A class's shared runs folder holds hundreds of runs: the page gets one page's rows.
    from digitwidgets.widgets.run_comparison import PAGE_SIZE

    store = RunStore(tmp_path / "many")
    count = 2 * PAGE_SIZE + 3
    for index in range(count):
        started = f"2026-01-01T10:{index:02d}:00+00:00"
        _save(store, model, f"run-{index:02d}", ADAM, [0.9, 0.95], started)
    panel = RunComparison(store)
    (pager,) = widgets_with(panel, "dw-runs-pager")
    (newer,), (older,) = widgets_with(panel, "dw-runs-newer"), widgets_with(panel, "dw-runs-older")
    (where,) = widgets_with(panel, "dw-runs-page")

    def listed():
        # Each row's text says its run id when the pointer rests on it (its title).
        return [re.search(r"title='([^']+)'", _text(row))[1] for row in rows()]

    def rows():
        return widgets_with(panel, "dw-run-row")

    assert len(panel.runs) == count and listed() == panel.runs[:PAGE_SIZE]
    assert pager.layout.display == "flex" and newer.disabled and not older.disabled
    assert where.value == f"Runs 1\u2013{PAGE_SIZE} of {count}, newest first"
    _row(panel, "run-42").children[0].value = True
    reads = []
    listing = store.list
    store.list = lambda: reads.append(1) or listing()
    older.click()
    older.click()
    assert reads == [], "turning a page read the runs folder again"
    store.list = listing
    assert panel.page == 2 and older.disabled and not newer.disabled
    assert listed() == panel.runs[2 * PAGE_SIZE :] and len(rows()) == 3
    assert where.value == f"Runs {2 * PAGE_SIZE + 1}\u2013{count} of {count}, newest first"
    # A tick on another page still draws its curve.
    assert panel.selected == ["run-42"] and panel.compared
    newer.click()
    assert panel.page == 1 and listed() == panel.runs[PAGE_SIZE : 2 * PAGE_SIZE]
    # The last page emptied: the table shows the page before it.
    panel.page = 2
    for run_id in panel.runs[2 * PAGE_SIZE :]:
        store.delete(run_id)
    panel.refresh()
    assert panel.page == 1 and listed() == panel.runs[PAGE_SIZE:] and older.disabled
    panel.page = 99  # out of range: the last page
    assert panel.page == 1


def test_one_page_of_runs_has_no_pager(store):
    panel = RunComparison(store)
    (pager,) = widgets_with(panel, "dw-runs-pager")
    assert pager.layout.display == "none"


def test_each_row_s_box_and_buttons_name_their_run(store):
    # A screen reader reads the box and the buttons on their own: each says which run.
    panel = RunComparison(store)
    row = _row(panel, "run-sgd")
    run = f"the run of {local_time(store.get('run-sgd').started_at)} (sgd, lr 0.1, epochs 3)"
    assert row.children[0].description == f"Compare {run}"
    assert run in widgets_with(row, "dw-load-run")[0].tooltip
    assert widgets_with(row, "dw-delete-run")[0].tooltip == f"Delete {run}"
