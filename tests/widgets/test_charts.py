"""charts: few round ticks, labels that say their values, domains within what a value can be."""

from __future__ import annotations

import pytest

from digitwidgets.widgets.charts import (
    decade_ticks,
    js_number,
    log_value_ticks,
    number_ticks,
    percent_ticks,
    whole_ticks,
)


def _d3(fmt: str, value: float) -> str:
    """What d3-format writes for the formats the helpers use (".Nf", ".N%")."""
    decimals = int(fmt[1:-1])
    return f"{value * 100:.{decimals}f}%" if fmt.endswith("%") else f"{value:.{decimals}f}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (0.955, "0.955"),
        (2.5e-5, "0.000025"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (-0.5, "-0.5"),
        (0.0, "0"),
    ],
)
def test_keys_are_written_as_javascript_writes_numbers(value, text):
    assert js_number(value) == text


@pytest.mark.parametrize(
    "fractions",
    [[], [0.5], [0.951, 0.956], [0.912, 0.956], [0.799, 0.931], [0.0, 1.0], [0.09, 0.125]],
)
def test_percent_ticks_are_round_unique_within_0_100_and_their_format_writes_their_labels(
    fractions,
):
    ticks = percent_ticks(fractions)
    assert 0.0 <= ticks.low <= min(fractions, default=0.0)
    assert max(fractions, default=1.0) <= ticks.high <= 1.0
    assert 2 <= len(ticks.values) <= 6 and len(set(ticks.labels)) == len(ticks.labels)
    steps = {round(b - a, 9) for a, b in zip(ticks.values, ticks.values[1:], strict=False)}
    assert len(steps) == 1  # evenly spaced
    for value, label in zip(ticks.values, ticks.labels, strict=True):
        assert float(label.removesuffix("%")) == pytest.approx(value * 100)
        assert _d3(ticks.format, value) == label


def test_number_and_whole_ticks_are_round_and_formatted_as_labelled():
    ticks = number_ticks(0.0, 2.3)
    assert ticks.labels == ("0.0", "0.5", "1.0", "1.5", "2.0", "2.5")
    assert all(_d3(ticks.format, v) == t for v, t in zip(ticks.values, ticks.labels, strict=True))
    assert whole_ticks(0, 0).labels == ("0", "1")  # an empty live chart: epochs 0 to 1
    assert whole_ticks(1, 20, margin=0.5).labels == ("1", "5", "10", "15", "20")
    one = whole_ticks(1, 1, margin=0.5)
    assert (one.low, one.high, one.labels) == (0.5, 1.5, ("1",))


def test_log_axes_tick_decades_or_the_values_themselves_written_as_people_write_rates():
    assert decade_ticks(1e-6, 1.0).labels == ("1e-6", "1e-5", "0.0001", "0.001", "0.01", "0.1", "1")
    swept = log_value_ticks([0.03, 0.0003, 0.003])
    assert swept.values == (0.0003, 0.003, 0.03)
    assert swept.labels == ("0.0003", "0.003", "0.03")
    assert swept.low < 0.0003 and swept.high > 0.03
    assert swept.tick_labels() == {"0.0003": "0.0003", "0.003": "0.003", "0.03": "0.03"}
