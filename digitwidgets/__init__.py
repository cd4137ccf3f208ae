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
    "load_mnist": "learning.mnist",
    "load_embedded_sample": "learning.mnist",
    "MnistData": "learning.mnist",
    "DataInfo": "learning.mnist",
    "MnistLoadError": "learning.mnist",
    "Hyperparameters": "learning.hyperparameters",
    "build_lenet5": "learning.model",
    "Trainer": "learning.training",
    "TrainingEvent": "learning.training",
    "EventKind": "learning.training",
    "CurrentModel": "learning.current_model",
    "TrainingInProgressError": "learning.training",
    "RunStore": "learning.runs",
    "RunRecord": "learning.runs",
    "Drawing": "reading.preprocessing",
    "Preprocessed": "reading.preprocessing",
    "preprocess_digit": "reading.preprocessing",
    "rasterize_strokes": "reading.preprocessing",
    "plain_resize": "reading.preprocessing",
    "decode_image": "reading.images",
    "ImageError": "reading.images",
    "Recognizer": "reading.recognition",
    "Recognition": "reading.recognition",
    "evaluate": "learning.evaluation",
    "Evaluation": "learning.evaluation",
    "history_csv": "learning.export",
    "reproduction_script": "learning.export",
    "load_pretrained": "learning.pretrained",
    "saliency": "reading.saliency",
    "HandwritingLog": "learning.feedback",
    "fine_tune": "learning.feedback",
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
    "NumberExplanation": "widgets",
    "WeightDistributions": "widgets",
    "SweepPanel": "widgets",
    "SettingsLink": "widgets",
    "Sweep": "learning.sweeps",
    "run_sweep": "learning.sweeps",
    "on_page_query": "page_query",
    "find_learning_rate": "learning.lr_finder",
    "LearningRateRange": "learning.lr_finder",
    "LearningRateRangeTest": "learning.lr_finder",
    "LearningRateFinder": "widgets",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
