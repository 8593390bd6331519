import numpy as np
import pytest

from carseg_model.losses import dice_bce_loss, dice_coef, dice_loss, iou_coef


def _masks(*rows: list[int]) -> np.ndarray:
    """A batch of 1-row masks shaped (batch, 1, width, 1)."""
    return np.array(rows, dtype="float32")[:, None, :, None]


@pytest.mark.parametrize(
    "y_true, y_pred, dice, iou",
    [
        # perfect: 4 pixels of car both ways -> (2*4+1)/(8+1) = 1, (4+1)/(4+1) = 1
        ([[1, 1, 1, 1, 0, 0]], [[1, 1, 1, 1, 0, 0]], 1.0, 1.0),
        # disjoint: 2 vs 2 pixels -> 1/(4+1), 1/(4+1)
        ([[1, 1, 0, 0]], [[0, 0, 1, 1]], 1 / 5, 1 / 5),
        # half overlap: |A|=|B|=2, |A∩B|=1 -> (2+1)/(4+1); IoU (1+1)/(3+1)
        ([[1, 1, 0, 0]], [[0, 1, 1, 0]], 3 / 5, 2 / 4),
        # both empty: smooth makes it a perfect score
        ([[0, 0, 0, 0]], [[0, 0, 0, 0]], 1.0, 1.0),
        # empty truth, 2 predicted pixels -> 1/(2+1), 1/(2+1)
        ([[0, 0, 0, 0]], [[1, 1, 0, 0]], 1 / 3, 1 / 3),
    ],
)
def test_hand_computed_values(y_true, y_pred, dice, iou):
    y_true, y_pred = _masks(*y_true), _masks(*y_pred)
    assert float(dice_coef(y_true, y_pred)) == pytest.approx(dice, abs=1e-6)
    assert float(dice_loss(y_true, y_pred)) == pytest.approx(1 - dice, abs=1e-6)
    assert float(iou_coef(y_true, y_pred)) == pytest.approx(iou, abs=1e-6)


def test_per_image_then_mean_over_batch():
    # image 1 perfect (1.0), image 2 disjoint (0.2): the mean of per-image scores is 0.6
    y_true = _masks([1, 1, 0, 0], [1, 1, 0, 0])
    y_pred = _masks([1, 1, 0, 0], [0, 0, 1, 1])
    assert float(dice_coef(y_true, y_pred)) == pytest.approx(0.6, abs=1e-6)


def test_soft_predictions_and_smooth_argument():
    y_true, y_pred = _masks([1, 0]), _masks([0.5, 0.5])
    # intersection 0.5, |A|+|B| = 2 -> (1 + 0)/(2 + 0) with smooth=0
    assert float(dice_coef(y_true, y_pred, smooth=0)) == pytest.approx(0.5, abs=1e-6)


def test_dice_bce_adds_the_mean_binary_cross_entropy():
    y_true, y_pred = _masks([1, 0]), _masks([0.8, 0.1])
    cross_entropy = -(np.log(0.8) + np.log(0.9)) / 2
    expected = float(dice_loss(y_true, y_pred)) + cross_entropy
    assert float(dice_bce_loss(y_true, y_pred)) == pytest.approx(expected, abs=1e-5)


def test_registered_for_serialization():
    import keras

    for function in (dice_coef, dice_loss, dice_bce_loss, iou_coef):
        name = keras.saving.get_registered_name(function)
        assert name == f"carseg>{function.__name__}"
        assert keras.saving.get_registered_object(name) is function
