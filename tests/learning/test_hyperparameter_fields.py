"""Every field of FIELDS reaches every place that shows or uses a setting, with nothing by name.

Walks ``FIELDS``: for each setting, the controls, ``describe_changes``, the run table's row and
the reproduction script must cover it. A new hyperparameter added to ``hyperparameters.py``
(and the model code) is checked here without editing this file.
"""

from __future__ import annotations

import pytest

from digitwidgets.learning.export import reproduction_script
from digitwidgets.learning.hyperparameters import FIELDS, FieldSpec, Hyperparameters
from digitwidgets.learning.model import build_lenet5, model_settings
from digitwidgets.learning.runs import RunStore
from digitwidgets.widgets.hyperparameter_controls import HyperparameterControls
from tests.support import widgets_with

DEFAULTS = Hyperparameters()


def _another_value(name: str, spec: FieldSpec):
    """A valid value of the field other than its default."""
    default = getattr(DEFAULTS, name)
    if spec.kind == "choice":
        return next(choice for choice in spec.choices if choice != default)
    if spec.kind == "bool":
        return not default
    value = spec.max if default != spec.max else spec.min + spec.step
    return int(value) if spec.kind == "int" else float(value)


def _out_of_range(spec: FieldSpec):
    value = spec.max + (spec.step or 1)
    return int(value) if spec.kind == "int" else float(value)


def _changed(name: str) -> Hyperparameters:
    return DEFAULTS.replace(**{name: _another_value(name, FIELDS[name])})


def _control(controls, name):
    found = widgets_with(controls, "dw-" + name.replace("_", "-"))
    assert len(found) == 1, name
    return found[0]


@pytest.mark.parametrize("name", list(FIELDS))
def test_the_controls_have_the_field_with_its_label_and_range(name):
    spec = FIELDS[name]
    controls = HyperparameterControls()
    control = _control(controls, name)
    assert control.description == spec.label
    assert control.tooltip.startswith(spec.help)
    assert control.value == getattr(DEFAULTS, name)
    if spec.kind == "choice":
        assert list(control.options) == list(spec.choices)
    control.value = _another_value(name, spec)
    assert getattr(controls.value, name) == _another_value(name, spec)
    assert controls.message == ""
    if spec.kind in ("int", "float"):
        assert spec.describe_range() in control.tooltip
        kept = controls.value
        control.value = _out_of_range(spec)
        assert f"{name} must be {spec.describe_range()}" in controls.message
        assert controls.value == kept


@pytest.mark.parametrize("name", list(FIELDS))
def test_describe_changes_names_the_field(name):
    spec = FIELDS[name]
    hp = _changed(name)
    label = hp.describe_changes()
    assert label == spec.describe_value(getattr(hp, name))
    assert label and label != "defaults"
    # Changed back, the field is not named: the label is about what differs.
    assert DEFAULTS.describe_changes(hp) == spec.describe_value(getattr(DEFAULTS, name))


@pytest.fixture(scope="module")
def runs_per_field(tmp_path_factory):
    """One saved run per field, that field changed from its default."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    model = build_lenet5(DEFAULTS)
    for index, name in enumerate(FIELDS):
        store.save(
            run_id=f"run-{index:02d}-{name}",
            model=model,
            hyperparameters=_changed(name),
            history={"loss": [0.5], "accuracy": [0.9], "val_loss": [0.4], "val_accuracy": [0.9]},
            data={"source": "embedded-sample", "n_train": 8500},
            started_at=f"2026-01-01T10:{index:02d}:00+00:00",
            duration=10.0,
            status="finished",
        )
    return store


def test_the_run_table_row_names_each_field(runs_per_field):
    from digitwidgets.widgets.run_comparison import RunComparison

    panel = RunComparison(runs_per_field)
    rows = widgets_with(panel, "dw-run-row")
    assert len(rows) == len(FIELDS)
    for index, name in enumerate(FIELDS):
        row = rows[panel.runs.index(f"run-{index:02d}-{name}")]
        text = " ".join(
            child.value for child in row.children if isinstance(getattr(child, "value", None), str)
        )
        assert FIELDS[name].describe_value(getattr(_changed(name), name)) in text, name


@pytest.mark.parametrize("name", list(FIELDS))
def test_the_script_sets_and_uses_the_field(name):
    hp = _changed(name)
    script = reproduction_script(hp)
    constant = name.upper()
    assert f"\n{constant} = {getattr(hp, name)!r}\n" in script
    uses = script.count(constant) - 1
    if name in model_settings(hp):
        assert f"{name}={constant}," in script
    else:
        assert uses >= 1, f"{constant} is set but never used by the script"
