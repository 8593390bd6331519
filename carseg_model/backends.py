"""Runtimes that turn a preprocessed batch into car probabilities.

A backend is a callable ``(N, H, W, 3) float32 -> (N, H, W) float32``. Each one
imports its runtime when it is created, so importing carseg never imports TensorFlow,
and the TFLite and ONNX backends never import it at all.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from carseg_model.formats import format_of
from carseg_model.parallel import usable_cores

if TYPE_CHECKING:
    import keras

Backend = Callable[[np.ndarray], np.ndarray]


class KerasBackend:
    """Runs a Keras network through one compiled ``tf.function`` with a fixed input signature.

    The signature leaves only the batch size open (and height and width for ``keep_aspect``
    networks), so every batch reuses one trace (``model.predict`` per image is ~2x slower on
    CPU; a fixed batch size is no faster).
    """

    def __init__(self, network: keras.Model) -> None:
        import keras
        import tensorflow as tf

        if keras.config.backend() != "tensorflow":
            raise RuntimeError(
                f"carseg runs Keras models on the TensorFlow backend, but KERAS_BACKEND is "
                f"{keras.config.backend()!r}; set KERAS_BACKEND=tensorflow"
            )
        height, width = network.input_shape[1:3]
        signature = [tf.TensorSpec([None, height, width, 3], tf.float32)]
        self._call = tf.function(
            lambda batch: network(batch, training=False), input_signature=signature, autograph=False
        )

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._call(batch).numpy()[..., 0]


def require_tensorflow(purpose: str) -> None:
    """Raise a one-line ``ImportError`` saying how to install TensorFlow if it is missing (``carseg`` alone has none)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            f"{purpose} needs TensorFlow: pip install 'carseg[cpu]' (or 'carseg[gpu]'), "
            "or load an exported model with backend='onnx' or 'tflite'"
        )


def set_tensorflow_threads(num_threads: int) -> None:
    """Make TensorFlow use ``num_threads`` threads per op (must run before TensorFlow starts its pools)."""
    import tensorflow as tf

    threading = tf.config.threading
    if threading.get_intra_op_parallelism_threads() == num_threads:
        return
    try:
        threading.set_intra_op_parallelism_threads(num_threads)
        threading.set_inter_op_parallelism_threads(1)
    except RuntimeError as error:
        raise RuntimeError(
            f"cannot set num_threads={num_threads}: TensorFlow already runs in this process with its "
            "thread pools fixed. Load the model with num_threads before any other Keras/TensorFlow "
            "work, or pass num_threads=None"
        ) from error


class TFLiteBackend:
    """Runs a ``.tflite`` file with LiteRT (``ai-edge-litert``; ``tf.lite`` only if LiteRT is missing).

    Exports have a ``[1, H, W, 3]`` input so that XNNPACK runs every op (H and W are open
    in ``"keep_aspect"`` exports). A batch of another shape resizes the input (XNNPACK
    re-plans) and the shape is kept until a batch of yet another shape comes: one invoke
    per batch, as fast per image as batch 1. Graphs that cannot be resized to a larger
    batch (instance normalisation reshapes with the batch size of 1 baked in) run one
    image at a time instead.
    ``num_threads=None`` uses every usable core (LiteRT's own default is 1 thread).
    An interpreter is not thread-safe, so calls are serialised with a lock.
    """

    def __init__(self, path: str | Path, num_threads: int | None = None) -> None:
        threads = num_threads or usable_cores()
        self._interpreter = _tflite_interpreter_class()(model_path=str(path), num_threads=threads)
        details = self._interpreter.get_input_details()[0]
        self._input = details["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._shape: tuple[int, ...] = ()  # sized by the first batch (open H and W have no size yet)
        if -1 not in details["shape_signature"]:
            self._interpreter.allocate_tensors()
            self._shape = tuple(int(v) for v in details["shape"])
        self._batchable = True
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            shape = batch.shape if self._batchable else (1, *batch.shape[1:])
            if shape != self._shape:
                try:
                    self._resize(shape)
                except RuntimeError:  # XNNPACK cannot re-plan this graph for another batch size
                    self._batchable = False
                    self._resize((1, *batch.shape[1:]))
            if batch.shape == self._shape:
                return self._invoke(batch)
            return np.concatenate([self._invoke(image[None]) for image in batch])

    def _resize(self, shape: tuple[int, ...]) -> None:
        self._interpreter.resize_tensor_input(self._input, shape)
        self._interpreter.allocate_tensors()
        self._shape = tuple(shape)

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[..., 0].copy()


def _tflite_interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            import tensorflow as tf
        except ImportError:
            raise ImportError("backend='tflite' needs LiteRT: pip install 'carseg[litert]' (ai-edge-litert)") from None
        return tf.lite.Interpreter
    return Interpreter


class ONNXBackend:
    """Runs a ``.onnx`` file with ONNX Runtime: on a GPU through the CUDA execution provider when one is
    usable (``onnxruntime-gpu``, see `execution_providers`), else on the CPU."""

    def __init__(self, path: str | Path, num_threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(
                "backend='onnx' needs ONNX Runtime: pip install 'carseg[onnx]' (or 'carseg[gpu]' for an NVIDIA GPU)"
            ) from None
        options = ort.SessionOptions()
        # photos of many aspect ratios mean many input shapes, and ONNX Runtime keeps a memory plan per shape
        # (a server grew 12 % over 1,600 requests); without the plans it stays flat. The arena stays: without
        # it a batch of 16 runs at 0.4x the speed.
        options.enable_mem_pattern = False
        # idle threads sleep instead of spinning: a server runs two photos at once and decodes, draws and
        # encodes in other threads, which spinning starved (the demo's 8-client load: 3.0 -> 3.4 requests/s)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        providers = execution_providers(ort.get_available_providers(), os.environ.get("CUDA_VISIBLE_DEVICES"))
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        self._input = self._session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: batch})[0][..., 0]


def execution_providers(available: Sequence[str], cuda_visible_devices: str | None) -> list[str]:
    """ONNX Runtime's providers to ask for: CUDA first when this ONNX Runtime has it (``onnxruntime-gpu``) and
    ``CUDA_VISIBLE_DEVICES`` does not hide every GPU (Ray does so for actors without one); the CPU always."""
    cuda = "CUDAExecutionProvider" in available and cuda_visible_devices not in ("", "-1")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]


def load_exported(path: str | Path, num_threads: int | None = None) -> TFLiteBackend | ONNXBackend:
    """The backend for an exported ``.tflite`` or ``.onnx`` file."""
    backend = {"tflite": TFLiteBackend, "onnx": ONNXBackend}[format_of(path)]
    return backend(path, num_threads)
