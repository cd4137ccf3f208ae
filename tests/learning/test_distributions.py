"""How the weights move: quantiles, update ratios and advice, in events and kept with the run."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

from digitwidgets.learning.distributions import (
    QUANTILES,
    DistributionRecorder,
    Distributions,
    LayerDistributions,
    quantiles,
    update_ratio,
)
from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import RunStore
from digitwidgets.learning.training import EventKind, ProgressCallback, RunProgress, Trainer
from tests.support import sample_subset

LAYERS = ["c1", "c3", "f5", "f6", "probabilities"]


def test_quantiles_keep_the_extremes_exact_and_are_in_order():
    values = np.random.default_rng(0).normal(size=50_000).astype(np.float32)
    values[123] = 9.0
    found = quantiles(values)
    assert len(found) == len(QUANTILES)
    assert found[0] == pytest.approx(values.min()) and found[-1] == 9.0
    assert list(found) == sorted(found)
    assert found[4] == pytest.approx(0.0, abs=0.1)  # the median of a normal
    assert found[5] - found[3] == pytest.approx(1.0, abs=0.15)  # ±0.5 standard deviation


def test_update_ratio_is_the_change_over_the_size():
    before = [np.array([3.0, 4.0]), np.array([0.0])]
    after = [np.array([3.0, 4.0]), np.array([0.05])]
    assert update_ratio(before, after) == pytest.approx(0.05 / 5.0)
    assert update_ratio([np.zeros(3)], [np.ones(3)]) is None


@pytest.mark.parametrize(
    "ratio, words",
    [(0.5, "too high"), (1e-6, "too low"), (1e-3, ""), (None, "")],
)
def test_advice_says_when_the_ratio_is_far_from_1e_3(ratio, words):
    layer = LayerDistributions("f5", ((0.0,) * 9,), ((0.0,) * 9,), (ratio,))
    advice = layer.advice()
    assert (words in advice) if words else advice == ""
    if words:
        assert advice.startswith("f5:") and Distributions((layer,)).advice() == [advice]


def test_it_survives_json_and_refuses_what_it_does_not_know():
    layer = LayerDistributions("c1", ((0.0,) * 9, (1.0,) * 9), ((2.0,) * 9,) * 2, (None, 1e-3))
    distributions = Distributions((layer,))
    assert Distributions.from_dict(distributions.to_dict()) == distributions
    assert Distributions.from_dict(None) is None
    assert Distributions.from_dict({"quantiles": [0.5], "layers": []}) is None
    assert Distributions.from_dict({"quantiles": list(QUANTILES), "layers": [{}]}) is None


def test_the_callback_hooks_record_each_epoch_with_made_up_logs(sample_arrays):
    model = build_lenet5(Hyperparameters(dropout=0.0))
    images, labels = sample_arrays["x_train"][:16], sample_arrays["y_train"][:16]
    events = []
    progress = RunProgress(
        "hand",
        2,
        3,
        0.0,
        lambda event, snapshot: events.append(event),
        batch_interval=0.0,
        distributions=DistributionRecorder(images, labels),
    )
    callback = ProgressCallback(progress, threading.Event())
    callback.set_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may reach a page
        for epoch in range(2):
            callback.on_epoch_begin(epoch)
            for batch in range(3):
                callback.on_train_batch_begin(batch)
                callback.on_train_batch_end(batch, {"loss": 2.0})
            callback.on_epoch_end(epoch, {"loss": 2.0})
    epochs = [event for event in events if event.kind is EventKind.EPOCH]
    assert [event.distributions.epochs for event in epochs] == [1, 2]
    recorded = epochs[-1].distributions
    assert [layer.name for layer in recorded.layers] == LAYERS
    # No step was taken between the hooks: the weights did not move.
    assert all(layer.update_ratios == (0.0, 0.0) for layer in recorded.layers)
    assert all(len(q) == 9 and list(q) == sorted(q) for q in recorded.layer("c1").gradients)
    assert recorded.layer("f5").gradients[0][0] < 0 < recorded.layer("f5").gradients[0][-1]
    with pytest.raises(KeyError, match="the layers are c1, c3"):
        recorded.layer("s2")


def test_a_real_run_records_them_live_and_keeps_them(sample_arrays, tmp_path):
    data = sample_subset(sample_arrays, 500)
    store = RunStore(tmp_path)
    trainer = Trainer(store)
    events = []
    trainer.add_listener(events.append)
    trainer.start(Hyperparameters(epochs=2, batch_size=50), data)
    assert trainer.wait(120)
    epochs = [event for event in events if event.kind is EventKind.EPOCH]
    assert [event.distributions.epochs for event in epochs] == [1, 2]
    final = events[-1]
    assert final.kind is EventKind.FINISH and final.distributions.epochs == 2
    ratios = [r for layer in final.distributions.layers for r in layer.update_ratios]
    assert all(r is not None and 1e-5 < r < 1 for r in ratios)
    saved = store.get(final.run_id)
    assert saved.distributions == final.distributions


@pytest.mark.parametrize("size", [1, 2, 7, 2048, 48_120])
def test_quantiles_are_numpys_linear_ones_on_the_sample_and_the_exact_extremes(size):
    from digitwidgets.learning.distributions import QUANTILE_SAMPLE, QUANTILES, quantiles

    values = np.random.default_rng(size).normal(size=size).astype(np.float32)
    sample = values[:: max(1, size // QUANTILE_SAMPLE)]
    expected = (values.min(), *np.quantile(sample, QUANTILES[1:-1]), values.max())
    np.testing.assert_allclose(quantiles(values), expected, rtol=1e-6, atol=1e-7)
