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
    "EvaluationPanel": "evaluation_panel",
    "ExportPanel": "export_panel",
    "HandwritingPanel": "handwriting_panel",
    "HyperparameterControls": "hyperparameter_controls",
    "ImageUpload": "image_upload",
    "LayerView": "layer_view",
    "LearningRateFinder": "learning_rate_finder",
    "NumberExplanation": "number_explanation",
    "PredictionView": "prediction_view",
    "RunComparison": "run_comparison",
    "SettingsLink": "settings_link",
    "SweepPanel": "sweep_panel",
    "TrainingChart": "training_chart",
    "TrainingPanel": "training_panel",
    "WeightDistributions": "weight_distributions",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
