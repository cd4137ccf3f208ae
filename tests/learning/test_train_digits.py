"""train_digits: how many digits a run learns from, described once and honoured everywhere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from digitwidgets.learning.export import reproduction_script
from digitwidgets.learning.hyperparameters import ALL_TRAINING_DIGITS, FIELDS, Hyperparameters
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.settings_query import parse_settings_query, settings_query
from digitwidgets.learning.sweeps import plan_sweep, suggested_values
from digitwidgets.learning.training import EventKind, Trainer
from digitwidgets.learning.training.data import datasets, training_size, validation_size
from tests.support import sample_subset


def test_it_is_described_once_in_fields_with_a_log_scale():
    spec = FIELDS["train_digits"]
    assert spec.kind == "int" and spec.log_scale
    assert (spec.min, spec.max) == (100, ALL_TRAINING_DIGITS)
    assert Hyperparameters().train_digits == ALL_TRAINING_DIGITS  # all of them by default
    assert Hyperparameters(train_digits=500).describe_changes() == "digits 500"
    with pytest.raises(ValueError, match=r"train_digits must be an integer in \[100, 60000\]"):
        Hyperparameters(train_digits=99)


def test_links_carry_it_both_ways():
    parsed = parse_settings_query("?train_digits=500")
    assert parsed.hyperparameters.train_digits == 500
    assert settings_query(Hyperparameters(train_digits=500)) == "train_digits=500"
    refused = parse_settings_query("?train_digits=5")
    assert refused.hyperparameters.train_digits == ALL_TRAINING_DIGITS
    assert "train_digits" in refused.message


def test_the_controls_have_it_under_its_css_hook():
    from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls

    controls = HyperparameterControls()
    found = [c for c in controls._controls.values() if "dw-train-digits" in c._dom_classes]
    assert len(found) == 1
    found[0].value = 300
    assert controls.value.train_digits == 300


def test_a_sweep_over_it_plans_one_run_per_count_and_its_chart_is_logarithmic():
    import bqplot

    from digitwidgets.widgets.sweep_panel import _x_scale

    runs = plan_sweep(Hyperparameters(epochs=1), {"train_digits": [100, 1000]})
    assert [hp.train_digits for hp in runs] == [100, 1000]
    assert suggested_values("train_digits")
    assert isinstance(_x_scale("train_digits"), bqplot.LogScale)


def test_fewer_digits_train_on_a_part_and_are_measured_on_the_same_held_out_digits(
    sample_arrays,
):
    data = sample_subset(sample_arrays, 1000)
    x, y = data.x_train, data.y_train
    full = Hyperparameters(batch_size=50)
    few = full.replace(train_digits=200)
    n_validation = validation_size(few, len(x))
    assert n_validation == validation_size(full, len(x)) == 100
    assert training_size(few, len(x), n_validation) == 200
    assert training_size(full, len(x), n_validation) == 900
    train_few, validation_few = datasets(few, x, y, n_validation)
    train_full, validation_full = datasets(full, x, y, n_validation)
    labels = [np.concatenate([b[1].numpy() for b in ds]) for ds in (train_few, train_full)]
    assert [len(part) for part in labels] == [200, 900]
    held_out = [
        np.concatenate([b[1].numpy() for b in ds]) for ds in (validation_few, validation_full)
    ]
    np.testing.assert_array_equal(held_out[0], held_out[1])


def test_a_batch_larger_than_the_digits_used_is_refused():
    with pytest.raises(ValueError, match="at most the 100 training digits used"):
        validation_size(Hyperparameters(train_digits=100, batch_size=128), 1000)


def test_a_run_trains_on_that_many_digits(sample_arrays, tmp_path):
    data = sample_subset(sample_arrays, 600)
    hp = Hyperparameters(epochs=1, batch_size=25, train_digits=100, dropout=0.0)
    trainer = Trainer(RunStore(tmp_path))
    events = []
    trainer.add_listener(events.append)
    trainer.start(hp, data)
    assert trainer.wait(120)
    assert events[0].kind is EventKind.START
    assert events[0].batches == math.ceil(100 / 25)
    assert events[-1].kind is EventKind.FINISH
    assert events[-1].run.hyperparameters.train_digits == 100


def test_the_reproduction_script_honours_it(tmp_path):
    script = reproduction_script(Hyperparameters(train_digits=500))
    assert "\nTRAIN_DIGITS = 500\n" in script
    namespace: dict = {}
    # The split of the script, run on made-up digits: 500 trained on, the tail held out.
    start = script.index("    order = np.random")
    stop = script.index("    model = build_model()")
    split = "\n".join(line[4:] for line in script[start:stop].splitlines())
    exec(  # noqa: S102 - the script's own lines, nothing else
        "import numpy as np\nTRAIN_DIGITS = 500\nSEED = 0\nVALIDATION_SPLIT = 0.1\n"
        "x_train = np.zeros((1000, 28, 28), np.uint8)\ny_train = np.arange(1000) % 10\n" + split,
        namespace,
    )
    assert namespace["n_train"] == 500
    assert len(namespace["validation"][0]) == 100


def test_a_sweep_over_it_draws_the_learning_curve_on_a_log_axis(sample_arrays, tmp_path):
    import bqplot

    from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
    from digitwidgets.widgets.sweep_panel import SweepPanel
    from tests.support import find_widget

    data = sample_subset(sample_arrays, 600, 100)
    controls = HyperparameterControls(Hyperparameters(epochs=1, batch_size=50, dropout=0.0))
    panel = SweepPanel(Trainer(RunStore(tmp_path)), controls, data)
    find_widget(panel, "dw-sweep-setting").value = "train_digits"
    find_widget(panel, "dw-sweep-values").value = "100, 500"
    panel.start()
    assert panel.value.wait(300)
    lines = find_widget(panel, "dw-sweep-chart").marks[0]
    assert isinstance(lines.scales["x"], bqplot.LogScale)
    assert list(np.atleast_2d(lines.x)[0]) == [100, 500]
    accuracies = [result.val_accuracy for result in panel.value.results]
    assert None not in accuracies
    assert np.allclose(np.atleast_2d(lines.y)[0], accuracies)
    axis = find_widget(panel, "dw-sweep-chart").axes[0]
    assert axis.label == "Training digits (log scale)"
