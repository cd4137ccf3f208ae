"""WeightDistributions driven from code: events in, bands per named layer, ratios and advice."""

from __future__ import annotations

import html

import numpy as np

from digitwidgets.learning.distributions import Distributions, LayerDistributions
from digitwidgets.learning.training import EventKind, TrainingEvent
from digitwidgets.widgets.weight_distributions import NO_EPOCHS, WeightDistributions
from tests.support import widgets_with


def _layer(name: str, epochs: int, ratio: float, scale: float = 1.0) -> LayerDistributions:
    steps = np.linspace(-1, 1, 9)
    return LayerDistributions(
        name,
        tuple(tuple(scale * (epoch + 1) * steps) for epoch in range(epochs)),
        tuple(tuple(0.01 * steps) for _ in range(epochs)),
        (None, *([ratio] * (epochs - 1))),
    )


def _distributions(epochs: int, ratio: float = 1e-3) -> Distributions:
    return Distributions((_layer("c1", epochs, ratio), _layer("f5", epochs, ratio, 0.1)))


def test_before_any_epoch_it_says_so_and_hides_the_charts():
    view = WeightDistributions()
    assert "dw-distributions" in view._dom_classes
    assert html.escape(NO_EPOCHS) in view._title.value
    assert view._charts.layout.display == "none"


def test_each_layer_gets_a_named_figure_of_bands_over_the_epochs():
    view = WeightDistributions(_distributions(3))
    figures = widgets_with(view, "dw-distribution-layer")
    shown = [f for f in figures if f.layout.display != "none"]
    assert [f.title for f in shown] == ["c1", "f5"]
    c1 = view._layers[0]
    np.testing.assert_allclose(c1.median.x, [1, 2, 3])
    np.testing.assert_allclose(c1.bands[0].y, [[-1, -2, -3], [1, 2, 3]])  # all of them
    np.testing.assert_allclose(c1.bands[3].y[0], np.linspace(-1, 1, 9)[3] * np.arange(1, 4))
    view.shown = "gradients"
    np.testing.assert_allclose(c1.bands[0].y, [[-0.01] * 3, [0.01] * 3])
    assert "gradients" in view._title.value


def test_one_epoch_is_a_bar_not_an_empty_band():
    view = WeightDistributions(_distributions(1))
    assert len(view._layers[0].bands[0].x) == 2


def test_the_update_ratios_are_drawn_per_layer_and_far_ones_advised():
    view = WeightDistributions(_distributions(3))
    assert view._ratios.labels == ["c1", "f5"]
    assert np.isnan(view._ratios.y[0][0]) and view._ratios.y[0][1] == 1e-3
    assert view.advice == ""
    assert "neither too high nor too low" in view._advice.value
    view.value = _distributions(3, ratio=0.2)
    assert "c1:" in view.advice and "too high" in view.advice and "f5:" in view.advice
    assert "too high" in view._advice.value


def test_it_follows_a_run_through_its_events_and_a_new_run_clears_it():
    view = WeightDistributions()
    view.handle_event(TrainingEvent(EventKind.START, "run-1"))
    view.handle_event(TrainingEvent(EventKind.EPOCH, "run-1", distributions=_distributions(1)))
    view.handle_event(TrainingEvent(EventKind.BATCH, "run-1", distributions=_distributions(1)))
    view.handle_event(TrainingEvent(EventKind.EPOCH, "run-1", distributions=_distributions(2)))
    assert view.value.epochs == 2
    view.handle_event(TrainingEvent(EventKind.START, "run-2"))
    assert view.value is None and view._charts.layout.display == "none"


def test_out_of_view_it_draws_nothing_until_shown_then_the_latest():
    """A closed Weights tab costs nothing at each epoch and shows the newest when opened."""
    view = WeightDistributions()
    drawn = []
    original = view._draw
    view._draw = lambda: drawn.append(view.value) or original()
    view.in_view = False
    first, latest = _distributions(1), _distributions(2)
    view.value = first
    view.value = latest
    assert drawn == []
    view.in_view = True
    assert drawn == [latest]
    view.value = first
    assert drawn == [latest, first]
