"""Train LeNet-5 on MNIST and try it: reusable ipywidgets components and a Voila dashboard.

Names are imported on first use, so ``import digitwidgets`` stays fast and the core never
pays for TensorFlow or ipywidgets before it needs them.
"""

from __future__ import annotations

import importlib
import os

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
    "find_learning_rate": "lr_finder",
    "LearningRateRange": "lr_finder",
    "LearningRateRangeTest": "lr_finder",
    "HyperparameterControls": "widgets.controls",
    "TrainingPanel": "widgets.training_panel",
    "TrainingChart": "widgets.chart",
    "DrawingPad": "widgets.drawing_pad",
    "PredictionView": "widgets.prediction",
    "ImageUpload": "widgets.upload",
    "Dashboard": "widgets.dashboard",
    "EvaluationPanel": "widgets.evaluation",
    "RunComparison": "widgets.runs_table",
    "HandwritingPanel": "widgets.handwriting",
    "ExportPanel": "widgets.export",
    "LayerView": "widgets.layer_view",
    "DigitMap": "widgets.digit_map",
    "LearningRateFinder": "widgets.lr_finder",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'digitwidgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
