"""What learns: the data, the settings, LeNet-5, training, saved runs and what is built on them.

Core code, no ipywidgets. ``mnist`` (the digits), ``hyperparameters`` (every setting, described
once in ``FIELDS``), ``settings_query`` (settings in a link), ``model`` (LeNet-5), ``augmentation``,
``training/`` (the background ``Trainer`` and its events), ``runs`` (saved runs), ``sweeps``,
``lr_finder`` (the learning-rate range test), ``evaluation``, ``export``, ``pretrained``,
``current_model`` (the one owner of the model the page reads with) and ``feedback`` (confirmed
drawings and fine-tuning). The public names are exported by ``digitwidgets`` itself.
"""
