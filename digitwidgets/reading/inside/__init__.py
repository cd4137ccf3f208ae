"""What the network sees inside: every layer's output for a digit, the learned filters, and
where test digits (and a drawing) land when their penultimate-layer features are mapped to 2-D.

Core code: no ipywidgets. ``layers`` probes one model; ``projection`` maps the test digits;
``explain`` says where one number of a layer comes from.
"""

from .explain import ExplainError, explain
from .layers import ArchitectureError, LayerInfo, LayerProbe, layer_probe
from .projection import DigitProjection, embed_neighbours, linear_projection, nearest_digits

__all__ = [
    "ArchitectureError",
    "DigitProjection",
    "ExplainError",
    "LayerInfo",
    "LayerProbe",
    "embed_neighbours",
    "explain",
    "layer_probe",
    "linear_projection",
    "nearest_digits",
]
