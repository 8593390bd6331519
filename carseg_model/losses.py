"""Dice loss (alone or with binary cross-entropy) and the Dice / IoU metrics used to train and evaluate carseg.

All three reduce like the seed's Dice: sums over height, width and channels of
each image, then the mean over the batch. They are registered as Keras-serializable
(package ``carseg``), so a compiled checkpoint loads without ``custom_objects``.
"""

from __future__ import annotations

import keras
from keras import ops

_IMAGE_AXES = (1, 2, 3)


@keras.saving.register_keras_serializable(package="carseg")
def dice_coef(y_true, y_pred, smooth: float = 1.0):
    """Sørensen-Dice coefficient, ``(2|A∩B| + smooth) / (|A| + |B| + smooth)``."""
    y_true = ops.cast(y_true, y_pred.dtype)
    intersection = ops.sum(y_true * y_pred, axis=_IMAGE_AXES)
    union = ops.sum(y_true, axis=_IMAGE_AXES) + ops.sum(y_pred, axis=_IMAGE_AXES)
    return ops.mean((2.0 * intersection + smooth) / (union + smooth), axis=0)


@keras.saving.register_keras_serializable(package="carseg")
def dice_loss(y_true, y_pred):
    """``1 - dice_coef``: the training loss."""
    return 1.0 - dice_coef(y_true, y_pred)


@keras.saving.register_keras_serializable(package="carseg")
def dice_bce_loss(y_true, y_pred):
    """Dice loss plus binary cross-entropy (steadier gradients while the masks are still poor)."""
    return dice_loss(y_true, y_pred) + ops.mean(keras.losses.binary_crossentropy(y_true, y_pred))


@keras.saving.register_keras_serializable(package="carseg")
def iou_coef(y_true, y_pred, smooth: float = 1.0):
    """Jaccard index (IoU), ``(|A∩B| + smooth) / (|A∪B| + smooth)``."""
    y_true = ops.cast(y_true, y_pred.dtype)
    intersection = ops.sum(y_true * y_pred, axis=_IMAGE_AXES)
    union = ops.sum(y_true, axis=_IMAGE_AXES) + ops.sum(y_pred, axis=_IMAGE_AXES) - intersection
    return ops.mean((intersection + smooth) / (union + smooth), axis=0)
