"""Hyperparameters: validation with messages that name the field, JSON round trip, labels."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitwidgets.learning.hyperparameters import CONTROLS, FIELDS, FieldSpec, Hyperparameters


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("architecture", "alexnet", "modern"),
        ("activation", "softmax", "relu"),
        ("optimizer", "lbfgs", "adam"),
        ("optimizer", None, "adam"),
        ("learning_rate", math.nan, "(0, 10]"),
        ("learning_rate", math.inf, "(0, 10]"),
        ("learning_rate", -0.1, "(0, 10]"),
        ("learning_rate", 0.0, "(0, 10]"),
        ("learning_rate", 10.5, "(0, 10]"),
        ("learning_rate", "0.1", "(0, 10]"),
        ("epochs", 0, "[1, 100]"),
        ("epochs", 101, "[1, 100]"),
        ("epochs", True, "integer"),
        ("epochs", 2.5, "integer"),
        ("batch_size", 0, "[1, 2048]"),
        ("batch_size", 4096, "[1, 2048]"),
        ("dropout", 0.95, "[0, 0.9]"),
        ("dropout", -0.1, "[0, 0.9]"),
        ("validation_split", 0.6, "[0, 0.5]"),
        ("augmentation", 1, "True or False"),
        ("seed", -1, "2147483647"),
        ("seed", 2**31, "2147483647"),
    ],
)
def test_invalid_values_are_refused_with_the_field_and_its_range(name, value, words):
    with pytest.raises(ValueError) as caught:
        Hyperparameters(**{name: value})
    assert name in str(caught.value)
    assert words in str(caught.value)


def test_edges_of_each_range_are_accepted():
    hp = Hyperparameters(
        learning_rate=10,
        epochs=100,
        batch_size=1,
        dropout=0.9,
        validation_split=0.0,
        seed=2**31 - 1,
    )
    assert hp.learning_rate == 10.0 and isinstance(hp.learning_rate, float)
    assert hp.epochs == 100


def test_whole_float_counts_become_ints():
    assert Hyperparameters(epochs=3.0).epochs == 3
    assert isinstance(Hyperparameters(epochs=3.0).epochs, int)


def test_round_trip_through_json():
    hp = Hyperparameters(
        architecture="classic", activation="tanh", optimizer="sgd", learning_rate=0.05,
        epochs=3, batch_size=128, dropout=0.25, validation_split=0.2, augmentation=True, seed=7,
    )  # fmt: skip
    assert Hyperparameters.from_dict(json.loads(json.dumps(hp.to_dict()))) == hp


def test_from_dict_fills_missing_keys_with_defaults():
    assert Hyperparameters.from_dict({"epochs": 3}) == Hyperparameters(epochs=3)


def test_from_dict_refuses_unknown_keys_by_name():
    with pytest.raises(ValueError, match="momentum"):
        Hyperparameters.from_dict({"epochs": 3, "momentum": 0.9})


def test_replace_validates_again():
    hp = Hyperparameters()
    assert hp.replace(epochs=4).epochs == 4
    assert hp.epochs != 4
    with pytest.raises(ValueError, match="epochs"):
        hp.replace(epochs=0)


def test_describe_changes_names_only_what_differs():
    base = Hyperparameters()
    assert base.replace(optimizer="sgd", learning_rate=0.1).describe_changes(base) == "sgd, lr 0.1"
    assert (
        base.replace(batch_size=32, dropout=0.5).describe_changes(base) == "batch 32, dropout 0.5"
    )
    assert base.describe_changes(base) == "defaults"


def test_fields_describe_every_hyperparameter_with_its_limits():
    assert list(FIELDS) == list(Hyperparameters.__dataclass_fields__)
    defaults = Hyperparameters()
    for name, spec in FIELDS.items():
        assert spec.label and spec.help
        default = getattr(defaults, name)
        if spec.kind == "choice":
            assert default in spec.choices
            for choice in spec.choices:
                Hyperparameters(**{name: choice})
        elif spec.kind in ("int", "float"):
            assert spec.min <= default <= spec.max
            Hyperparameters(**{name: spec.max})
            with pytest.raises(ValueError):
                Hyperparameters(**{name: spec.max + (spec.step or 1)})


def test_fields_are_the_dataclass_fields_own_description():
    import dataclasses

    for field in dataclasses.fields(Hyperparameters):
        assert FIELDS[field.name] is field.metadata["spec"]
        assert FIELDS[field.name].control in CONTROLS.values()


def test_a_field_says_its_value_in_run_names():
    assert FIELDS["optimizer"].describe_value("sgd") == "sgd"
    assert FIELDS["learning_rate"].describe_value(0.1) == "lr 0.1"
    assert FIELDS["batch_size"].describe_value(32) == "batch 32"
    assert FIELDS["augmentation"].describe_value(True) == "augmented"
    assert FIELDS["augmentation"].describe_value(False) == "no augmentation"


def test_a_field_of_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        FieldSpec("Momentum", "How much of the last step is kept.", "fraction")
    assert FieldSpec("Momentum", "Kept step.", "float", min=0.0, max=1.0).control == "float_text"


@given(
    learning_rate=st.floats(min_value=1e-6, max_value=10),
    epochs=st.integers(1, 100),
    batch_size=st.integers(1, 2048),
    dropout=st.floats(0, 0.9),
    seed=st.integers(0, 2**31 - 1),
)
def test_any_valid_settings_survive_json(learning_rate, epochs, batch_size, dropout, seed):
    hp = Hyperparameters(
        learning_rate=learning_rate, epochs=epochs, batch_size=batch_size, dropout=dropout,
        seed=seed,
    )  # fmt: skip
    assert Hyperparameters.from_dict(json.loads(json.dumps(hp.to_dict()))) == hp
