"""The ipywidgets components: thin views that present the core and wire user events to it.

Each component is imported on first use (``from digitwidgets.widgets import DrawingPad``
loads the drawing pad's module only), so that importing one component does not import them
all.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "Dashboard": "dashboard",
    "DigitMap": "digit_map",
    "DrawingPad": "drawing_pad",
    "EvaluationPanel": "evaluation",
    "ExportPanel": "export",
    "HandwritingPanel": "handwriting",
    "HyperparameterControls": "controls",
    "ImageUpload": "upload",
    "LayerView": "layer_view",
    "LearningRateFinder": "lr_finder",
    "PredictionView": "prediction",
    "RunComparison": "run_comparison",
    "SettingsLink": "share_link",
    "SweepPanel": "sweep",
    "TrainingChart": "chart",
    "TrainingPanel": "training_panel",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
