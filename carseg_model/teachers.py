"""DeepLabV3 TFLite segmenters (Pascal VOC, Cityscapes): the peers carseg is compared with.

They also serve as teachers for pseudo-labels. Runs on LiteRT (``ai-edge-litert``) and
never imports TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

PASCAL_VOC_CAR = 7
CITYSCAPES_CAR = 13


class DeepLabV3Teacher:
    """A DeepLabV3 ``.tflite`` with a ``[1, 513, 513, 3]`` uint8 input and class-id output.

    ``car_classes`` are the class ids counted as car (VOC: 7; Cityscapes: 13).
    """

    def __init__(self, model_path: str | os.PathLike, car_classes: Sequence[int], num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=os.fspath(model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_size = tuple(int(v) for v in self._input["shape"][1:3])
        self.car_classes = tuple(car_classes)

    def car_mask(self, image: np.ndarray) -> np.ndarray:
        """``(H, W)`` bool car mask of an RGB uint8 photo, at the photo's size.

        The photo is stretch-resized to the network input (no padding), as the peers are
        usually run; class ids are resized back with nearest neighbour.
        """
        height, width = self.input_size
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        self._interpreter.set_tensor(self._input["index"], resized[None].astype(np.uint8))
        self._interpreter.invoke()
        classes = self._interpreter.get_tensor(self._output["index"])[0].astype(np.uint8)
        full_size = cv2.resize(classes, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        return np.isin(full_size, self.car_classes)
