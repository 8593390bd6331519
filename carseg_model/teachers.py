"""DeepLabV3 TFLite segmenters (Pascal VOC, Cityscapes): the peers carseg is compared with,
and the teachers it distils from.

A peer answers with a car mask (``car_mask``, its class-id output); as a teacher it gives
soft per-pixel car log-odds from its 33x33 logits (``car_log_odds``), which training caches
once per photo (`TeacherCache`) and upsamples to the photo's size. Runs on LiteRT
(``ai-edge-litert``) and never imports TensorFlow.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

PASCAL_VOC_CAR = 7
CITYSCAPES_CAR = 13
TEACHER_FILES = {
    "voc": ("deeplabv3_mnv2_pascal_quant.tflite", (PASCAL_VOC_CAR,)),
    "cityscapes": ("deeplab_mobilenet_edgetpu_slim_cityscapes_quant.tflite", (CITYSCAPES_CAR,)),
}
"""The two peers in ``shared/teachers``: name -> (file name, car class ids)."""


class DeepLabV3Teacher:
    """A DeepLabV3 ``.tflite`` with a ``[1, 513, 513, 3]`` uint8 input and class-id output.

    ``car_classes`` are the class ids counted as car (VOC: 7; Cityscapes: 13). The photo is
    stretch-resized to the network input (no padding), as the peers are usually run.
    Calls are serialised with a lock (an interpreter is not thread-safe).
    """

    def __init__(
        self, model_path: str | os.PathLike, car_classes: Sequence[int], num_threads: int | None = None
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": we read one tensor
            warnings.simplefilter("ignore", UserWarning)
            self._interpreter = Interpreter(
                model_path=os.fspath(model_path), num_threads=num_threads, experimental_preserve_all_tensors=True
            )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._logits = _logits_tensor(self._interpreter)
        self.input_size = tuple(int(v) for v in self._input["shape"][1:3])
        self.car_classes = tuple(car_classes)
        self._lock = threading.Lock()

    @classmethod
    def named(cls, name: str, folder: str | os.PathLike, num_threads: int | None = None) -> DeepLabV3Teacher:
        """One of `TEACHER_FILES` (``"voc"`` or ``"cityscapes"``) from ``folder``."""
        filename, car_classes = TEACHER_FILES[name]
        return cls(Path(folder) / filename, car_classes, num_threads)

    def _run(self, image: np.ndarray) -> None:
        height, width = self.input_size
        resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        self._interpreter.set_tensor(self._input["index"], resized[None].astype(np.uint8))
        self._interpreter.invoke()

    def car_mask(self, image: np.ndarray) -> np.ndarray:
        """``(H, W)`` bool car mask of an RGB uint8 photo at its size (class ids, nearest-neighbour)."""
        with self._lock:
            self._run(image)
            classes = self._interpreter.get_tensor(self._output["index"])[0].astype(np.uint8)
        full_size = cv2.resize(classes, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
        return np.isin(full_size, self.car_classes)

    def car_log_odds(self, image: np.ndarray) -> np.ndarray:
        """Car log-odds ``log p(car) - log(1 - p(car))`` on the teacher's logit grid (33x33), float32.

        ``p`` is the softmax over all classes of the dequantised logits. Upsample with
        `upsample_log_odds` to any size (bilinear in log-odds keeps edges sharper than in p).
        """
        with self._lock:
            self._run(image)
            quantized = self._interpreter.get_tensor(self._logits["index"])[0]
        scale, zero_point = self._logits["quantization"]
        logits = (quantized.astype(np.float32) - zero_point) * scale
        car = np.zeros(logits.shape[-1], bool)
        car[list(self.car_classes)] = True
        log_car = _logsumexp(logits[..., car])
        log_other = _logsumexp(logits[..., ~car])
        return (log_car - log_other).astype(np.float32)


class TeacherCache:
    """Both teachers' car log-odds for many photos, computed once and kept in one ``.npz`` file.

    ``cache[path]`` is a ``(len(teachers), 33, 33)`` float16 array (teachers in the order given),
    keyed by the photo's resolved path. `fill` computes what is missing and saves atomically,
    so an interrupted run keeps what it had already saved.
    """

    def __init__(self, file: str | os.PathLike, teachers: Sequence[DeepLabV3Teacher]) -> None:
        self.file = Path(file)
        self.teachers = list(teachers)
        self._entries: dict[str, np.ndarray] = {}
        if self.file.is_file():
            with np.load(self.file) as stored:
                self._entries = {key: stored[key] for key in stored.files}

    def __contains__(self, path: str | os.PathLike) -> bool:
        return _key(path) in self._entries

    def __getitem__(self, path: str | os.PathLike) -> np.ndarray:
        return self._entries[_key(path)]

    def fill(
        self, paths: Sequence[str | os.PathLike], load: Callable[[Path], np.ndarray], save_every: int = 200
    ) -> int:
        """Compute the log-odds of every photo in ``paths`` not yet cached (``load`` decodes one to RGB);
        return how many were computed."""
        missing = [Path(p) for p in paths if p not in self]
        for done, path in enumerate(missing, start=1):
            image = load(path)
            self._entries[_key(path)] = np.stack([t.car_log_odds(image) for t in self.teachers]).astype(np.float16)
            if done % save_every == 0 or done == len(missing):
                self.save()
        return len(missing)

    def save(self) -> None:
        """Write the cache file atomically."""
        from carseg_model.files import atomic_write

        with atomic_write(self.file) as temporary, open(temporary, "wb") as stream:
            np.savez(stream, **self._entries)


def _key(path: str | os.PathLike) -> str:
    return str(Path(path).resolve())


def upsample_log_odds(log_odds: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Car probabilities ``(height, width)`` float32 from a teacher's log-odds grid."""
    height, width = size
    resized = cv2.resize(log_odds.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return (1.0 / (1.0 + np.exp(-np.clip(resized, -30, 30)))).astype(np.float32)


def _logsumexp(values: np.ndarray) -> np.ndarray:
    peak = values.max(axis=-1, keepdims=True)
    return (peak + np.log(np.exp(values - peak).sum(axis=-1, keepdims=True)))[..., 0]


def _logits_tensor(interpreter: object) -> dict:
    """The last ``[1, h, w, classes]`` tensor before the final upsampling: the network's logits."""
    output_shape = interpreter.get_output_details()[0]["shape"]  # [1, 513, 513]
    candidates = [
        detail
        for detail in interpreter.get_tensor_details()
        if len(detail["shape"]) == 4
        and detail["shape"][1] < output_shape[1]
        and detail["shape"][-1] < 64  # class scores, not features
        and detail["name"].startswith("logits")
    ]
    if not candidates:
        raise ValueError("this .tflite has no DeepLabV3 logits tensor; is it a DeepLabV3 segmenter?")
    return max(candidates, key=lambda detail: detail["index"])
