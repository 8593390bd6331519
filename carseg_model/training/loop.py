"""The training loop: the network to train, its phases (encoder frozen, then not), `distributed_fit` per phase,
resume.

Training follows the seed notebook: Dice loss, Adam, validation every epoch, early stopping
that restores the best epoch's weights; the learning rate halves on plateaus, or follows a
cosine decay per phase (``--lr-schedule cosine``). A run is resumable after every epoch: `train` starts
from the newest checkpoint in the run folder, if any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from carseg_model.config import CarSegConfig
from carseg_model.datasets import SampleCache
from carseg_model.losses import dice_bce_loss, dice_loss
from carseg_model.model import CarSegModel
from carseg_model.training.callbacks import CheckpointedEarlyStopping, EpochTimer, SamplePredictions
from carseg_model.training.distributed_fit import distributed_fit
from carseg_model.training.options import COSINE_FLOOR, TrainingOptions
from carseg_model.training.pipeline import TrainingFeed, evaluation_dataset
from carseg_model.training.run_folder import (
    CHECKPOINTS,
    SAMPLES,
    TRAINING_LOG,
    latest_checkpoint,
    truncate_training_log,
)
from carseg_model.unet import ENCODER_NAME, build_unet

LOSSES = {"dice": dice_loss, "dice_bce": dice_bce_loss}


def build_network(config: CarSegConfig, base: CarSegModel | None, strategy: tf.distribute.Strategy) -> keras.Model:
    """The network to train, in the strategy's scope: ``base``'s weights (``--init-from``), or a new U-Net
    whose encoder starts from ``config.encoder_weights``.
    """
    with strategy.scope():
        network = build_unet(config, pretrained_encoder=base is None)
    if base is not None:
        network.set_weights(base.network.get_weights())
    return network


@dataclass(frozen=True)
class Phase:
    """Epochs ``first_epoch .. end_epoch - 1`` trained with the encoder frozen or not."""

    first_epoch: int
    end_epoch: int
    train_encoder: bool


def training_phases(epochs: int, freeze_encoder_epochs: int) -> list[Phase]:
    """Decoder only for the first ``freeze_encoder_epochs`` epochs, then the whole network."""
    switch = min(freeze_encoder_epochs, epochs)
    phases = [Phase(0, switch, False), Phase(switch, epochs, True)]
    return [phase for phase in phases if phase.end_epoch > phase.first_epoch]


def phase_of(phases: Sequence[Phase], epoch: int) -> Phase:
    """The phase that trains ``epoch`` (0-based)."""
    return next(phase for phase in phases if phase.first_epoch <= epoch < phase.end_epoch)


def compile_for(network: keras.Model, phase: Phase, options: TrainingOptions, steps_per_epoch: int = 1) -> None:
    """Freeze or unfreeze the encoder and compile with a fresh Adam, built for the trainable weights (a change of
    trainable weights needs one); call it in the strategy's scope.

    While the encoder trains, its BatchNorm layers stay frozen (inference mode, ImageNet
    statistics) unless ``--train-encoder-batchnorm``. With ``--lr-schedule cosine`` the learning
    rate decays over the phase's ``steps_per_epoch`` x epochs steps.
    """
    encoder = network.get_layer(ENCODER_NAME)
    encoder.trainable = phase.train_encoder
    if phase.train_encoder and not options.train_encoder_batchnorm:
        for layer in encoder.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    learning_rate = options.learning_rate
    if phase.train_encoder and options.finetune_learning_rate is not None:
        learning_rate = options.finetune_learning_rate
    if options.lr_schedule == "cosine":
        decay_steps = steps_per_epoch * (phase.end_epoch - phase.first_epoch)
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps, alpha=COSINE_FLOOR)
    network.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=LOSSES[options.loss])
    network.optimizer.build(network.trainable_variables)


def train(
    network: keras.Model,
    strategy: tf.distribute.Strategy,
    options: TrainingOptions,
    feed: TrainingFeed,
    val_cache: SampleCache,
    config: CarSegConfig,
    run_dir: Path,
) -> CheckpointedEarlyStopping:
    """Fit phase by phase on ``feed``'s batches from the last checkpoint (if any) up to ``options.epochs``
    or early stopping, then put the best epoch's weights into ``network``.

    Returns the early-stopping callback (``best_epoch``).
    """
    checkpoints, training_log = run_dir / CHECKPOINTS, run_dir / TRAINING_LOG
    epochs_done, checkpoint = latest_checkpoint(checkpoints)
    truncate_training_log(training_log, epochs_done)
    phases = training_phases(options.epochs, options.freeze_encoder_epochs)
    stopper = CheckpointedEarlyStopping(checkpoints, training_log, options.patience)
    stopper.load_state()
    compiled: Phase | None = None
    if checkpoint:
        print(f"Resuming after epoch {epochs_done} from {checkpoint}")
        compiled = phase_of(phases, epochs_done - 1)
        with strategy.scope():
            compile_for(network, compiled, options, feed.steps)
        network.load_weights(checkpoint)

    callbacks = [
        EpochTimer(),
        keras.callbacks.CSVLogger(str(training_log), append=True),
        SamplePredictions(val_cache, config, run_dir / SAMPLES),
        stopper,  # last: its checkpoint commits the epoch once everything else is written
    ]
    if options.lr_schedule == "plateau":
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=options.lr_patience, verbose=1
        )
        callbacks.insert(-1, plateau)
    validation = evaluation_dataset(val_cache, config, options.batch_size)
    for phase in phases:
        if phase.end_epoch <= epochs_done or stopper.stopped_epoch:
            continue
        if phase != compiled:
            with strategy.scope():
                compile_for(network, phase, options, feed.steps)
            compiled = phase
        first_epoch = max(phase.first_epoch, epochs_done)
        print(
            f"Epochs {first_epoch + 1}-{phase.end_epoch}: training "
            f"{'the whole network' if phase.train_encoder else 'the decoder (encoder frozen)'}"
        )
        distributed_fit(
            network,
            strategy,
            feed.dataset(first_epoch, phase.end_epoch),
            feed.steps,
            first_epoch,
            phase.end_epoch,
            validation,
            callbacks,
        )
    stopper.load_state()
    stopper.restore_best_weights_into(network)
    return stopper
