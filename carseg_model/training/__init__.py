"""Training carseg models: ``train.py`` and ``carseg train`` run `carseg_model.training.run.main`.

One concern per module, in the order a run meets them: `options` and `scene_options` (command line,
``run_config.json``; `redaction` of the recorded command), `distribution` (tf.distribute strategy),
`pipeline` and `augment` (tf.data); for ``--scenes``: `negatives` (car-free photo folders),
`distillation` (the teachers' cached targets), `scene_data` (the training photos and their soft
targets) and `scenes` (multi-scale scene elements); `loop` (network, phases, resume),
`distributed_fit` (the epochs, under any strategy), `callbacks` (checkpoints, early stopping,
samples, timing), `run_folder` (the run folder's files) and `publish` (metrics, curves, model
folder, Hub).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's start-up INFO lines in every entry point
