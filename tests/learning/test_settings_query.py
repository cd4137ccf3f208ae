"""Links with settings: a query string read into checked Hyperparameters, and written back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitwidgets.learning.hyperparameters import FIELDS, Hyperparameters
from digitwidgets.learning.settings_query import (
    MAX_QUERY_LENGTH,
    parse_settings_query,
    settings_query,
)


def test_a_query_sets_the_settings_it_names_and_nothing_else():
    link = parse_settings_query("?optimizer=sgd&learning_rate=0.1&epochs=5")
    assert link.hyperparameters == Hyperparameters(optimizer="sgd", learning_rate=0.1, epochs=5)
    assert link.applied == {"optimizer": "sgd", "learning_rate": 0.1, "epochs": 5}
    assert link.message == ""


def test_values_are_read_as_typed_in_a_link():
    link = parse_settings_query("augmentation=true&architecture=Classic&batch_size=1e2&seed=7")
    hp = link.hyperparameters
    assert (hp.augmentation, hp.architecture, hp.batch_size, hp.seed) == (True, "classic", 100, 7)
    assert parse_settings_query("augmentation=off").hyperparameters.augmentation is False


def test_a_bad_value_is_named_and_its_default_kept_while_the_good_ones_apply():
    link = parse_settings_query("learning_rate=5e3&optimizer=sgd&epochs=0")
    assert link.hyperparameters == Hyperparameters(optimizer="sgd")
    assert "learning_rate=5e3: learning_rate must be a finite number in (0, 10]" in link.message
    assert "epochs=0: epochs must be an integer in [1, 100]" in link.message
    assert link.message.endswith("The default is used instead.")


def test_unknown_names_are_named_and_never_interpreted():
    link = parse_settings_query("foo=1&__class__=x&exec=print(1)&optimizer=sgd")
    assert link.hyperparameters == Hyperparameters(optimizer="sgd")
    assert "unknown settings 'foo', '__class__', 'exec'" in link.message


def test_the_servers_own_arguments_are_passed_over_silently():
    link = parse_settings_query("token=abc&optimizer=sgd&template=lab&theme=dark")
    assert link.hyperparameters == Hyperparameters(optimizer="sgd") and link.message == ""


@pytest.mark.parametrize(
    "query",
    [
        "learning_rate=nan",
        "learning_rate=inf",
        "epochs=1_0",
        "optimizer=__import__('os')",
        "seed=" + "9" * 400,
        "dropout=0x1p-2",
        "augmentation=2",
        "learning_rate=%00",
        "architecture=<script>alert(1)</script>",
    ],
)
def test_hostile_values_change_nothing_and_are_quoted_harmlessly(query):
    link = parse_settings_query(query)
    assert link.hyperparameters == Hyperparameters()
    assert link.message.startswith("Ignored from the link: ")
    assert len(link.message) < 400
    assert "\x00" not in link.message


def test_a_query_that_is_too_long_or_has_too_many_fields_is_ignored_whole():
    long = parse_settings_query("optimizer=sgd&seed=" + "1" * MAX_QUERY_LENGTH)
    assert long.hyperparameters == Hyperparameters() and "longer than" in long.message
    many = parse_settings_query("&".join(f"x{i}=1" for i in range(50)) + "&optimizer=sgd")
    assert many.hyperparameters == Hyperparameters() and "too many" in many.message


def test_a_repeated_name_takes_its_first_value_and_says_so():
    link = parse_settings_query("optimizer=sgd&optimizer=adagrad")
    assert link.hyperparameters.optimizer == "sgd"
    assert "optimizer given twice" in link.message


def test_the_link_holds_only_the_settings_that_differ_from_the_defaults():
    assert settings_query(Hyperparameters()) == ""
    hp = Hyperparameters(optimizer="sgd", learning_rate=0.1, augmentation=True)
    assert settings_query(hp) == "optimizer=sgd&learning_rate=0.1&augmentation=true"
    assert parse_settings_query(settings_query(hp)).hyperparameters == hp


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "optimizer": st.sampled_from(FIELDS["optimizer"].choices),
            "learning_rate": st.floats(1e-7, 10.0),
            "epochs": st.integers(1, 100),
            "dropout": st.floats(0.0, 0.9),
            "augmentation": st.booleans(),
            "seed": st.integers(0, 2**31 - 1),
        },
    )
)
def test_any_valid_settings_survive_the_round_trip(changes):
    hp = Hyperparameters().replace(**changes)
    link = parse_settings_query(settings_query(hp))
    assert link.hyperparameters == hp and link.message == ""
