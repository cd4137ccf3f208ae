"""Train LeNet-5 on MNIST and try it: reusable ipywidgets components and a Voila dashboard.

Names are imported on first use, so ``import digitwidgets`` stays fast and the core never
pays for TensorFlow or ipywidgets before it needs them.
"""

from __future__ import annotations

import os

from .lazy import lazy_exports

# TensorFlow prints C++ start-up chatter to the kernel's stderr, which Voila shows to visitors;
# set before anything imports TensorFlow, and only where the user has not chosen a level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

_EXPORTS = {
    "load_mnist": "mnist",
    "load_embedded_sample": "mnist",
    "MnistData": "mnist",
    "DataInfo": "mnist",
    "MnistLoadError": "mnist",
    "Hyperparameters": "hyperparameters",
    "build_lenet5": "model",
    "Trainer": "training",
    "TrainingEvent": "training",
    "EventKind": "training",
    "CurrentModel": "current_model",
    "TrainingInProgressError": "training",
    "RunStore": "runs",
    "RunRecord": "runs",
    "Drawing": "preprocessing",
    "Preprocessed": "preprocessing",
    "preprocess_digit": "preprocessing",
    "rasterize_strokes": "preprocessing",
    "plain_resize": "preprocessing",
    "decode_image": "images",
    "ImageError": "images",
    "Recognizer": "recognition",
    "Recognition": "recognition",
    "evaluate": "evaluation",
    "Evaluation": "evaluation",
    "history_csv": "export",
    "reproduction_script": "export",
    "make_drawn_digits": "drawn_digits",
    "DrawnDigits": "drawn_digits",
    "load_pretrained": "pretrained",
    "saliency": "saliency",
    "HandwritingLog": "feedback",
    "fine_tune": "feedback",
    # The widget components, through digitwidgets.widgets's own lazy names.
    "HyperparameterControls": "widgets",
    "TrainingPanel": "widgets",
    "TrainingChart": "widgets",
    "DrawingPad": "widgets",
    "PredictionView": "widgets",
    "ImageUpload": "widgets",
    "Dashboard": "widgets",
    "EvaluationPanel": "widgets",
    "RunComparison": "widgets",
    "HandwritingPanel": "widgets",
    "ExportPanel": "widgets",
    "LayerView": "widgets",
    "DigitMap": "widgets",
    "SweepPanel": "widgets",
    "SettingsLink": "widgets",
    "Sweep": "sweeps",
    "run_sweep": "sweeps",
    "on_page_query": "settings_link",
    "find_learning_rate": "lr_finder",
    "LearningRateRange": "lr_finder",
    "LearningRateRangeTest": "lr_finder",
    "LearningRateFinder": "widgets",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
