"""What reads a digit: from ink or a picture to the model's answer, and what the network sees.

Core code, no ipywidgets. ``preprocessing`` (a drawing or picture framed as MNIST was made),
``images`` (decoding an upload), ``inference`` (calling a model for one digit), ``recognition``
(``Recognizer``: the steps, the answer and its confidence), ``saliency`` and ``inside/`` (every
layer's output, the learned filters, the map of test digits).
"""
