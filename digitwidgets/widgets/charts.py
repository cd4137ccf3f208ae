"""Axes people read, shared by every bqplot chart: few round ticks, never repeated.

Each helper returns ``Ticks``: where the scale starts and ends, the tick values and their
labels. ``show_ticks(axis, ticks)`` puts them on an axis and its scale. The labels travel
as bqplot's ``tick_labels`` (value -> text), so a label always says the value its tick
stands at ("95.5%" where the tick is at 0.955, "0.003" and "1e-6" on a log axis) instead of
whatever a d3 format string would round it to; ``format``, a d3 format that writes the same
text, is the axis's ``tick_format`` too: a page that updates a live axis has been seen to
keep the previous ``tick_labels`` with the new tick values, and a value missing from them
is then written by the format, the same way.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import ipywidgets as widgets
import numpy as np

# Where a left axis's title stands: clear of tick labels as wide as "100%" (bqplot's 4ex
# put it over them). A figure with such an axis keeps a left margin of 62 px at least.
LEFT_TITLE_OFFSET = "46px"

# Steps a reader counts in, per power of ten.
_ROUND_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Ticks:
    """An axis's domain (``low``..``high``), its tick values, the label of each, and a d3
    format writing those labels where it can ("" where none does: a log axis's)."""

    low: float
    high: float
    values: tuple[float, ...]
    labels: tuple[str, ...]
    format: str = ""

    def tick_labels(self) -> dict[str, str]:
        """The labels as bqplot's ``Axis.tick_labels`` wants them: keyed as JavaScript
        writes each value (the page looks a tick's label up by ``String(value)``)."""
        return {
            js_number(value): label for value, label in zip(self.values, self.labels, strict=True)
        }


def js_number(value: float) -> str:
    """``value`` as JavaScript's ``String(number)`` writes it: 1 as "1", 1e-6 as "0.000001",
    1e-7 as "1e-7" (the shortest digits that read back the same double, as Python's)."""
    value = float(value)
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    # The decimal exponent of the first digit, as JavaScript's rule counts it.
    point = len(text) + exponent
    if -6 < point <= 21:
        if point <= 0:
            body = "0." + "0" * -point + text
        elif point >= len(text):
            body = text + "0" * (point - len(text))
        else:
            body = text[:point] + "." + text[point:]
    else:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        body = f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"
    return ("-" if sign else "") + body


def round_step(span: float, most: int) -> float:
    """The smallest round step (1, 2, 2.5 or 5 times a power of ten) that covers ``span``
    in at most ``most - 1`` steps."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, most - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(step * power for step in _ROUND_STEPS if step * power >= raw * (1 - 1e-9))


def _multiples(low: float, high: float, step: float) -> list[float]:
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _decimals(values: Iterable[float]) -> int:
    """The fewest decimals that write every value exactly (up to 6)."""
    values = list(values)
    for decimals in range(7):
        if all(abs(round(v, decimals) - v) < 1e-9 for v in values):
            return decimals
    return 6


def number_ticks(low: float, high: float, *, most: int = 6) -> Ticks:
    """Round ticks from below ``low`` to above ``high`` (the domain is the outer ticks)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    if high <= low:
        low, high = low - 0.5, high + 0.5
    step = round_step(high - low, most)
    values = _multiples(low, high, step)
    decimals = _decimals(values)
    labels = tuple(f"{v:.{decimals}f}" for v in values)
    return Ticks(values[0], values[-1], tuple(values), labels, f".{decimals}f")


def percent_ticks(fractions: Sequence[float] = (), *, margin: float = 0.02, most: int = 6) -> Ticks:
    """Ticks for fractions shown as percent: the data with a ``margin``, clipped to 0-100%,
    at round percents; 0-100% by 25 with no finite data (an empty chart)."""
    finite = np.asarray([f for f in fractions if f is not None], dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        low, high = 0.0, 1.0
    else:
        low = max(0.0, float(finite.min()) - margin)
        high = min(1.0, float(finite.max()) + margin)
    step = round_step((high - low) * 100, most) / 100
    values = [v for v in _multiples(low, high, step) if -1e-9 <= v <= 1 + 1e-9]
    values = [min(1.0, max(0.0, v)) for v in values]
    percents = [v * 100 for v in values]
    decimals = _decimals(percents)
    labels = tuple(f"{p:.{decimals}f}%" for p in percents)
    return Ticks(values[0], values[-1], tuple(values), labels, f".{decimals}%")


def whole_ticks(first: int, last: int, *, most: int = 8, margin: float = 0.0) -> Ticks:
    """Whole-number ticks (epochs, runs) from ``first`` to at least ``last``: ``first`` and
    round multiples (1, 5, 10, 15 ...); the domain reaches ``margin`` beyond the outer ticks,
    so a point at either end stays off the axis lines. With no margin it spans one at least."""
    last = max(last, first) if margin else max(last, first + 1)
    step = max(1, math.ceil(round_step(last - first, most)))
    multiples = [v for v in range(0, last + step, step) if first < v and v - step < last]
    # ``first`` itself, and the round ones not crowding it.
    values = [first, *(v for v in multiples if v - first >= step / 2)]
    return Ticks(
        values[0] - margin,
        values[-1] + margin,
        tuple(map(float, values)),
        tuple(map(str, values)),
        ".0f",
    )


def rate_label(value: float) -> str:
    """A learning rate as a person writes it: 0.003, 0.0001, 1e-6, 1."""
    value = float(value)
    if value != 0 and abs(value) < 1e-4:
        mantissa, power = f"{value:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(power)}"
    return f"{value:.6g}"


def decade_ticks(low: float, high: float) -> Ticks:
    """One tick per power of ten from ``low`` to ``high`` (a log axis), labelled 1e-6 ...
    0.001, 0.01, 0.1, 1; the domain is ``low``..``high`` themselves."""
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    values = tuple(10.0**power for power in range(first, last + 1))
    return Ticks(low, high, values, tuple(rate_label(v) for v in values))


def log_value_ticks(values: Sequence[float], *, widen: float = 2.0) -> Ticks:
    """Ticks at the given values themselves (a sweep's rates) on a log axis; the domain
    runs a factor ``widen`` beyond the outer ones, so their points stay off the edges."""
    chosen = sorted({float(v) for v in values if v is not None and float(v) > 0})
    if not chosen:
        return decade_ticks(1e-4, 1e-1)
    return Ticks(
        chosen[0] / widen, chosen[-1] * widen, tuple(chosen), tuple(map(rate_label, chosen))
    )


def value_ticks(values: Sequence[float], *, margin: float = 0.1) -> Ticks:
    """Ticks at the given values themselves on a linear axis (a swept setting); the domain
    reaches ``margin`` of their spread beyond the outer ones."""
    chosen = sorted({float(v) for v in values if v is not None})
    if not chosen:
        return number_ticks(0.0, 1.0)
    spread = (chosen[-1] - chosen[0]) or max(1.0, abs(chosen[0]))
    decimals = _decimals(chosen)
    return Ticks(
        chosen[0] - margin * spread,
        chosen[-1] + margin * spread,
        tuple(chosen),
        tuple(f"{v:.{decimals}f}" for v in chosen),
        f".{decimals}f",
    )


def show_ticks(axis, ticks: Ticks) -> None:
    """Put ``ticks`` on a bqplot ``axis`` and its scale (min, max, tick values, labels)."""
    scale = axis.scale
    with scale.hold_sync():
        scale.min = float(ticks.low)
        scale.max = float(ticks.high)
    with axis.hold_sync():
        axis.tick_format = ticks.format or None
        axis.tick_values = np.asarray(ticks.values, dtype=float)
        axis.tick_labels = ticks.tick_labels()


def chart_title(text: str, *, left: int, right: int) -> widgets.HTML:
    """A chart's title in words above its figure, centred over the plot (the figure's
    ``left`` and ``right`` margins in px) as bqplot centres its own, but wrapping on a
    phone where bqplot's one line of SVG text is cut at the figure's edges."""
    title = widgets.HTML(
        f"<div style='text-align:center; font-size:16px; line-height:1.3; color:#333; "
        f"padding:6px {right}px 0 {left}px'>{html.escape(text)}</div>",
        layout=widgets.Layout(width="100%", max_width="100%"),
    )
    title.add_class("dw-chart-title")
    return title
