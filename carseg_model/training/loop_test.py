"""Training phases and what each compiles (the end-to-end loop runs in tests/test_train.py)."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from carseg_model.config import CarSegConfig
from carseg_model.training.loop import Phase, build_network, compile_for, phase_of, training_phases
from carseg_model.training.options import COSINE_FLOOR, TrainingOptions
from carseg_model.unet import ENCODER_NAME


def test_phases() -> None:
    assert training_phases(5, 0) == [Phase(0, 5, True)]
    assert training_phases(5, 2) == [Phase(0, 2, False), Phase(2, 5, True)]
    assert training_phases(2, 4) == [Phase(0, 2, False)]
    phases = training_phases(5, 2)
    assert phase_of(phases, 1) == Phase(0, 2, False) and phase_of(phases, 2) == Phase(2, 5, True)


@pytest.fixture(scope="module")
def network() -> keras.Model:
    return build_network(CarSegConfig(input_size=(64, 64), encoder_weights=None), None, tf.distribute.get_strategy())


def batchnorm_trainable(encoder: keras.Model) -> set[bool]:
    return {layer.trainable for layer in encoder.layers if isinstance(layer, keras.layers.BatchNormalization)}


def test_each_phase_compiles_what_it_trains(network: keras.Model) -> None:
    options = TrainingOptions(learning_rate=1e-3, finetune_learning_rate=2e-4, loss="dice_bce")
    encoder = network.get_layer(ENCODER_NAME)

    compile_for(network, Phase(0, 2, False), options)
    assert not encoder.trainable and float(network.optimizer.learning_rate) == pytest.approx(1e-3)
    assert network.loss.__name__ == "dice_bce_loss"

    compile_for(network, Phase(2, 5, True), options)
    assert encoder.trainable and batchnorm_trainable(encoder) == {False}  # ImageNet statistics kept
    assert float(network.optimizer.learning_rate) == pytest.approx(2e-4)

    updating = TrainingOptions(train_encoder_batchnorm=True)
    compile_for(network, Phase(0, 2, False), updating)
    compile_for(network, Phase(2, 5, True), updating)
    assert encoder.trainable and batchnorm_trainable(encoder) == {True}


def test_a_cosine_schedule_decays_over_the_phase(network: keras.Model) -> None:
    compile_for(
        network, Phase(2, 6, True), TrainingOptions(learning_rate=1e-3, lr_schedule="cosine"), steps_per_epoch=10
    )
    schedule = network.optimizer._learning_rate  # the schedule itself (learning_rate is its current value)
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay) and schedule.decay_steps == 40
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(40)) == pytest.approx(COSINE_FLOOR * 1e-3)
