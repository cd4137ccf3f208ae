"""Test digits on a 2-D map by their penultimate-layer features, and a new digit among them.

Two projections of the features (LeNet-5: f6's 84 values per digit):

- ``linear_projection``: principal components through NumPy's SVD, 10,000 digits in a few
  hundredths of a second. A new digit is projected exactly.
- ``embed_neighbours``: t-SNE through openTSNE (FFT-accelerated), which keeps neighbours
  together, so the digit classes form islands. Chosen over scikit-learn's t-SNE and
  umap-learn by time and memory on 2 cores for 10,000 digits (``bench/bench_inside.py
  --compare``, figures in ``docs/benchmarks.md``); it also reports progress and can stop
  between iterations, which the map needs to stay responsive. A new digit is placed at the
  mean position of its nearest test digits in feature space (the ones shown beside the map),
  not with openTSNE's ``transform``, which optimizes again for every point (too slow to follow
  a pen).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

METHODS = ("linear", "t-SNE")
NEIGHBOURS = 8
# openTSNE runs 250 iterations with exaggeration 12, then 500 without; after 150 the classes
# have their places and the rest mostly spreads them, at a cost that grows as they spread
# (10,000 digits, 2 cores: 8 s for 150, 27 s for 250; bench/bench_inside.py).
_EARLY_ITERATIONS = 250
_ITERATIONS = 150
_REPORT_EVERY = 25


class EmbeddingCancelled(RuntimeError):
    """``embed_neighbours`` stopped because ``cancelled()`` said so."""


@dataclass(frozen=True, eq=False)
class DigitProjection:
    """Digits' features and their 2-D positions by one method; places new digits among them."""

    features: np.ndarray  # float32 (N, D)
    positions: np.ndarray  # float32 (N, 2)
    method: str  # one of METHODS
    mean: np.ndarray | None = None  # linear only: the features' mean (D,)
    components: np.ndarray | None = None  # linear only: (2, D)

    def place(self, feature: np.ndarray) -> np.ndarray:
        """The (2,) position of a digit with penultimate features ``feature`` (D,)."""
        feature = np.asarray(feature, dtype=np.float32).reshape(-1)
        if self.components is not None:
            return ((feature - self.mean) @ self.components.T).astype(np.float32)
        nearest = nearest_digits(self.features, feature, NEIGHBOURS)
        return self.positions[nearest].mean(axis=0).astype(np.float32)


def linear_projection(features: np.ndarray) -> DigitProjection:
    """The features' first two principal components (NumPy SVD of the centred features)."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"Expected (N, D) features for at least 2 digits, got {features.shape}.")
    mean = features.mean(axis=0)
    centred = features - mean
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    # SVD signs are arbitrary; fix them so that the same model draws the same map.
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = (components * signs[:, None]).astype(np.float32)
    positions = (centred @ components.T).astype(np.float32)
    return DigitProjection(features, positions, "linear", mean, components)


def embed_neighbours(
    features: np.ndarray,
    *,
    seed: int = 0,
    n_jobs: int = 2,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DigitProjection:
    """t-SNE of the features (openTSNE, perplexity 30, 250 + 150 iterations), with progress.

    ``progress(fraction)`` is called from this thread as the work goes on (0..1);
    ``cancelled()`` is asked between steps: when True, ``EmbeddingCancelled`` is raised.
    """
    from openTSNE import TSNEEmbedding, affinity, initialization

    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) < 100:
        raise ValueError(f"t-SNE needs (N, D) features for at least 100 digits: {features.shape}.")
    report = progress or (lambda fraction: None)
    stop = cancelled or (lambda: False)
    total = _EARLY_ITERATIONS + _ITERATIONS
    # Neighbour search and initialization come first and take about a tenth of the time.
    report(0.0)
    affinities = affinity.PerplexityBasedNN(
        features, perplexity=30, n_jobs=n_jobs, random_state=seed, verbose=False
    )
    if stop():
        raise EmbeddingCancelled("The map was not finished.")
    start = initialization.pca(features, random_state=seed)
    embedding = TSNEEmbedding(start, affinities, n_jobs=n_jobs, random_state=seed, verbose=False)
    report(0.1)

    def callback(done_before):
        def on_iteration(iteration, _error, _embedding):
            report(0.1 + 0.9 * (done_before + iteration) / total)
            return bool(stop())

        return on_iteration

    phases = (
        (_EARLY_ITERATIONS, {"exaggeration": 12, "momentum": 0.5}, 0),
        (_ITERATIONS, {"momentum": 0.8}, _EARLY_ITERATIONS),
    )
    for iterations, settings, done_before in phases:
        embedding = embedding.optimize(
            n_iter=iterations,
            callbacks=callback(done_before),
            callbacks_every_iters=_REPORT_EVERY,
            **settings,
        )
        if stop():
            raise EmbeddingCancelled("The map was not finished.")
    report(1.0)
    positions = np.asarray(embedding, dtype=np.float32)
    return DigitProjection(features, positions, "t-SNE")


def nearest_digits(features: np.ndarray, feature: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Indices of the ``k`` rows of ``features`` nearest ``feature`` (Euclidean), nearest first."""
    features = np.asarray(features, dtype=np.float32)
    feature = np.asarray(feature, dtype=np.float32).reshape(1, -1)
    distances = ((features - feature) ** 2).sum(axis=1)
    k = min(k, len(distances))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    nearest = np.argpartition(distances, k - 1)[:k]
    return nearest[np.argsort(distances[nearest], kind="stable")].astype(np.int64)
