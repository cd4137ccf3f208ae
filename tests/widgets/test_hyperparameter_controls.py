"""HyperparameterControls: controls build valid Hyperparameters and explain invalid input."""

from __future__ import annotations

import pytest

from digitwidgets.learning.hyperparameters import FIELDS, Hyperparameters
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from tests.support import descendants, widgets_with


def _control(controls, css_class):
    found = widgets_with(controls, css_class)
    assert len(found) == 1, css_class
    return found[0]


def test_starts_from_defaults_with_a_control_per_field():
    controls = HyperparameterControls()
    assert controls.value == Hyperparameters()
    for name in FIELDS:
        control = _control(controls, "dw-" + name.replace("_", "-"))
        assert control.value == getattr(Hyperparameters(), name)
        assert control.description == FIELDS[name].label
        assert control.tooltip.startswith(FIELDS[name].help)


@pytest.mark.parametrize(
    ("css_class", "new", "field"),
    [
        ("dw-optimizer", "sgd", "optimizer"),
        ("dw-activation", "tanh", "activation"),
        ("dw-architecture", "classic", "architecture"),
        ("dw-learning-rate", 0.1, "learning_rate"),
        ("dw-epochs", 3, "epochs"),
        ("dw-batch-size", 128, "batch_size"),
        ("dw-dropout", 0.25, "dropout"),
        ("dw-validation-split", 0.2, "validation_split"),
        ("dw-augmentation", True, "augmentation"),
        ("dw-seed", 42, "seed"),
    ],
)
def test_editing_a_control_changes_value(css_class, new, field):
    controls = HyperparameterControls()
    _control(controls, css_class).value = new
    assert getattr(controls.value, field) == pytest.approx(new)
    others = {name: getattr(controls.value, name) for name in FIELDS if name != field}
    defaults = {name: getattr(Hyperparameters(), name) for name in FIELDS if name != field}
    assert others == defaults


def test_setting_value_moves_the_controls():
    hp = Hyperparameters(optimizer="rmsprop", epochs=7, seed=9, augmentation=True)
    controls = HyperparameterControls()
    controls.value = hp
    assert _control(controls, "dw-optimizer").value == "rmsprop"
    assert _control(controls, "dw-epochs").value == 7
    assert _control(controls, "dw-seed").value == 9
    assert _control(controls, "dw-augmentation").value is True
    assert controls.value == hp
    assert HyperparameterControls(hp).value == hp


def test_invalid_input_is_explained_and_value_keeps_last_valid():
    controls = HyperparameterControls()
    _control(controls, "dw-epochs").value = 4
    _control(controls, "dw-seed").value = -1
    assert controls.value == Hyperparameters(epochs=4)
    assert "seed" in controls.message
    message = _control(controls, "dw-controls-message")
    assert "seed" in message.value and "last valid" in message.value
    _control(controls, "dw-seed").value = 5
    assert controls.value == Hyperparameters(epochs=4, seed=5)
    assert controls.message == ""
    assert message.value == ""


def test_disabled_locks_every_control():
    controls = HyperparameterControls()
    controls.disabled = True
    assert all(_control(controls, "dw-" + n.replace("_", "-")).disabled for n in FIELDS)
    controls.disabled = False
    assert not any(_control(controls, "dw-" + n.replace("_", "-")).disabled for n in FIELDS)


def test_controls_sit_in_a_two_column_grid():
    import ipywidgets as widgets

    controls = HyperparameterControls()
    grid = [c for c in descendants(controls) if isinstance(c, widgets.GridBox)]
    assert len(grid) == 1
    # auto-fit columns of at least 250 px in at most 700 px: two where the box allows.
    assert grid[0].layout.grid_template_columns == "repeat(auto-fit, minmax(250px, 1fr))"
    assert grid[0].layout.max_width == "700px"
    assert len(grid[0].children) == len(FIELDS)
    assert {_control(controls, "dw-" + name.replace("_", "-")) for name in FIELDS} == set(
        grid[0].children
    )
