"""`CarSegModel`: load, run, save and publish a carseg model (Hugging Face Hub conventions)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from huggingface_hub import ModelCard, ModelHubMixin

from carseg_model.backends import Backend, KerasBackend, load_exported, require_tensorflow, set_tensorflow_threads
from carseg_model.card import render_model_card
from carseg_model.chunks import batched
from carseg_model.config import CONFIG_FILENAME, CarSegConfig, check_threshold
from carseg_model.defaults import BATCH_SIZE
from carseg_model.errors import InvalidImageError, ModelFolderError, PhotoError
from carseg_model.export import RepresentativeImages, export_network
from carseg_model.formats import BACKENDS, KERAS_FILES, exported_filename, format_of
from carseg_model.hub import BUNDLED_DIR, HubOptions, resolve_model_folder
from carseg_model.image_io import ImageInput, Photo, open_photo
from carseg_model.preprocessing import average_probabilities, network_input
from carseg_model.result import SegmentationResult
from carseg_model.saving import load_network, save_network

if TYPE_CHECKING:
    import keras

DEFAULT_MODEL = str(BUNDLED_DIR / "carseg-unet-mobilenetv2")
"""The bundled, trained default model (a folder inside the package; works offline)."""


def bundled_model_backend() -> str | None:
    """The runtime for the bundled default model when none is asked for: its ONNX export if ONNX Runtime is
    installed, else None (Keras).

    The bundled folder ships ``model.onnx`` exported from its own Keras weights (a test checks they agree):
    the same network, started in ~1 s without importing TensorFlow (~11 s), in a third of the memory, and
    faster per photo on a CPU. The CLI and the demo use it; the library's default stays Keras.
    """
    import importlib.util

    if (Path(DEFAULT_MODEL) / "model.onnx").is_file() and importlib.util.find_spec("onnxruntime") is not None:
        return "onnx"
    return None


ERROR_HANDLING = ("raise", "return")
"""What `CarSegModel.predict_batch` does with a photo it cannot use: raise, or return a `PhotoError` in its place."""


class CarSegModel(
    ModelHubMixin,
    library_name="keras",
    pipeline_tag="image-segmentation",
    repo_url="https://github.com/carseg/carseg",
):
    """A car segmentation model: a Keras U-Net plus the settings it needs to predict.

    ``CarSegModel(config)`` builds a new network (encoder from ``config.encoder_weights``)
    for training; ``CarSegModel.from_pretrained(...)`` loads a trained one, as a Keras
    network or as an exported TFLite / ONNX file run without TensorFlow (``network`` is
    then ``None`` and ``backend`` runs the file).
    """

    def __init__(
        self,
        config: CarSegConfig | None = None,
        network: keras.Model | None = None,
        *,
        backend: Backend | None = None,
    ) -> None:
        self.config = config if config is not None else CarSegConfig()
        if network is None and backend is None:
            require_tensorflow("building a Keras network")
            from carseg_model.unet import build_unet

            network = build_unet(self.config)
        self.network = network
        self._backend = backend
        self._backend_lock = threading.Lock()

    # ------------------------------------------------------------------ predict
    def predict(self, image: ImageInput, threshold: float | None = None) -> SegmentationResult:
        """Segment one photo (path, bytes, PIL image or RGB/gray/RGBA array) at its own resolution."""
        return self.predict_batch([image], threshold=threshold)[0]

    def predict_batch(
        self,
        images: Iterable[ImageInput],
        batch_size: int = BATCH_SIZE,
        threshold: float | None = None,
        errors: str = "raise",
    ) -> list[SegmentationResult | PhotoError]:
        """Segment many photos, ``batch_size`` at a time through the network; one result per photo, in order.

        ``threshold`` is a number in [0, 1] (strings are refused); default ``config.threshold``.
        A photo that cannot be used (`InvalidImageError`: missing, not an image, too large)
        raises with ``errors="raise"`` (the default); with ``errors="return"`` its place in the
        list holds a `PhotoError` (``.source``, ``.error``) and the other photos still get results.
        """
        threshold = self.config.threshold if threshold is None else check_threshold(threshold)
        if errors not in ERROR_HANDLING:
            raise ValueError(f"errors must be one of {ERROR_HANDLING}; got {errors!r}")
        results: list[SegmentationResult | PhotoError] = []
        for chunk in batched(images, batch_size):
            photos = [self._open_photo(source, errors) for source in chunk]
            probabilities = self._network_probabilities([p for p in photos if not isinstance(p, PhotoError)])
            for photo in photos:
                if isinstance(photo, PhotoError):
                    results.append(photo)
                else:
                    results.append(SegmentationResult(photo, next(probabilities), threshold, self.config.refine_edges))
        return results

    def _network_probabilities(self, photos: list[Photo]) -> Iterator[np.ndarray]:
        """Network probabilities of each photo, in order (with `test_time_scales`, averaged over the scales)."""
        runs = [self._probabilities_at_scale(photos, scale) for scale in self.config.test_time_scales]
        return (average_probabilities(maps) for maps in zip(*runs))

    def _probabilities_at_scale(self, photos: list[Photo], scale: float) -> list[np.ndarray]:
        """Network probabilities of each photo at one input scale; photos of one input shape share a run."""
        inputs = [network_input(photo, self.config, scale) for photo in photos]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, array in enumerate(inputs):
            by_shape.setdefault(array.shape, []).append(index)
        outputs: list[np.ndarray] = [np.empty(0)] * len(inputs)
        for indices in by_shape.values():
            for index, probability in zip(indices, self.predict_probabilities(np.stack([inputs[i] for i in indices]))):
                outputs[index] = probability
        return outputs

    def _open_photo(self, source: ImageInput, errors: str) -> Photo | PhotoError:
        try:
            return open_photo(source, self.config.max_pixels)
        except (InvalidImageError, OSError) as error:
            if errors == "raise":
                raise
            return PhotoError(source, error)

    def predict_probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on a preprocessed ``(N, H, W, 3)`` float32 batch -> ``(N, H, W)`` probabilities.

        With ``config.test_time_flip`` the mirrored batch is run too and the two are averaged.
        """
        with self._backend_lock:  # concurrent first calls (a server) build one backend
            if self._backend is None:
                self._backend = KerasBackend(self.network)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        probabilities = self._backend(batch)
        if self.config.test_time_flip:
            mirrored = self._backend(np.ascontiguousarray(batch[:, :, ::-1]))
            probabilities = (probabilities + mirrored[:, :, ::-1]) / 2
        return probabilities

    # ------------------------------------------------------------------- export
    def export(
        self,
        folder: str | os.PathLike,
        format: str = "tflite",
        quantize: str | None = None,
        representative_images: RepresentativeImages = None,
    ) -> Path:
        """Export the network for TensorFlow-free inference; return the written model file.

        Writes ``folder/model.tflite`` (``quantize=None``), ``model_fp16.tflite``,
        ``model_int8.tflite`` (full-integer, calibrated on ``representative_images``: a
        folder or a list of real photos; default the demo's example photos, shipped in the
        package) or
        ``model.onnx``, plus ``carseg_config.json``. Export into a `save_pretrained`
        folder to publish every format in one Hub repo. Load the result with
        ``from_pretrained(folder, backend=format, quantize=quantize)`` or from the file itself.
        """
        return export_network(
            self._require_network("export"), self.config, folder, format, quantize, representative_images
        )

    def _require_network(self, action: str) -> keras.Model:
        if self.network is None:
            raise ValueError(
                f"{action} needs the Keras network, but this model runs an exported file "
                f"({type(self._backend).__name__}); load it with backend='keras'"
            )
        return self.network

    # --------------------------------------------------------------- save / load
    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the Keras unzipped layout (no optimizer state), ``carseg_config.json`` and the model card."""
        save_network(self._require_network("save_pretrained"), save_directory)
        self.config.save(save_directory)
        self.generate_model_card().save(save_directory / "README.md")

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike = DEFAULT_MODEL,
        *,
        backend: str | None = None,
        quantize: str | None = None,
        num_threads: int | None = None,
        threshold: float | None = None,
        test_time_flip: bool | None = None,
        test_time_scales: Sequence[float] | None = None,
        refine_edges: bool | None = None,
        max_pixels: int | None = None,
        **hub_options: Any,
    ) -> CarSegModel:
        """Load a model from a local folder, a bundled model's name, a Hub repo id or an exported file.

        The default is the bundled default model; `bundled_models()` lists the bundled names
        (e.g. ``"carseg-unet-mobilenetv2-separable"``), which load offline.

        ``backend`` picks the runtime: ``"keras"`` (the default for folders and repos),
        ``"tflite"`` or ``"onnx"`` (files written by `export`, run without TensorFlow;
        ``quantize`` picks ``model_fp16.tflite`` / ``model_int8.tflite``). A ``.tflite`` or
        ``.onnx`` file path loads that file with the ``carseg_config.json`` beside it.
        ``num_threads`` caps the CPU threads of the runtime (default: the runtime's own).
        ``threshold``, ``test_time_flip``, ``test_time_scales``, ``refine_edges`` and ``max_pixels`` override
        the saved config's prediction settings (later: ``model.config = model.config.replace(max_pixels=...)``).
        ``hub_options`` are `HubOptions`: ``revision``, ``token``, ``cache_dir``,
        ``local_files_only`` and ``force_download``, as in ``ModelHubMixin.from_pretrained``;
        they are passed to the Hub download (for an exported backend only its file and the
        config are fetched); ``HF_HUB_OFFLINE=1`` loads from the cache only.
        """
        path = Path(pretrained_model_name_or_path).expanduser()
        if path.is_file():
            if backend not in (None, format_of(path)) or quantize is not None:
                raise ValueError(
                    f"{path.name} is loaded as it is: leave backend/quantize unset, or pass its folder instead"
                )
            model = cls.from_exported(path, num_threads=num_threads)
        else:
            model = cls._from_pretrained(
                model_id=os.fspath(pretrained_model_name_or_path),
                backend=backend or "keras",
                quantize=quantize,
                num_threads=num_threads,
                **hub_options,
            )
        settings = {
            "threshold": threshold,
            "test_time_flip": test_time_flip,
            "test_time_scales": test_time_scales,
            "refine_edges": refine_edges,
            "max_pixels": max_pixels,
        }
        changes = {name: value for name, value in settings.items() if value is not None}
        if changes:
            model.config = model.config.replace(**changes)
        return model

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        backend: str = "keras",
        quantize: str | None = None,
        num_threads: int | None = None,
        **hub_options: Any,
    ) -> CarSegModel:
        """``ModelHubMixin``'s loading hook: ``hub_options`` are the `HubOptions` fields."""
        _check_load_arguments(backend, quantize, num_threads)
        files = None if backend == "keras" else [CONFIG_FILENAME, exported_filename(backend, quantize)]
        folder = resolve_model_folder(model_id, HubOptions(**hub_options), allow_patterns=files)
        return cls.from_folder(folder, backend=backend, quantize=quantize, num_threads=num_threads)

    @classmethod
    def from_folder(
        cls,
        folder: str | os.PathLike,
        backend: str = "keras",
        quantize: str | None = None,
        num_threads: int | None = None,
    ) -> CarSegModel:
        """Load a model folder written by `save_pretrained` / `export` (no network access)."""
        _check_load_arguments(backend, quantize, num_threads)
        folder = Path(folder)
        if backend != "keras":
            path = folder / exported_filename(backend, quantize)
            if not path.is_file():
                raise ModelFolderError(
                    f"{folder} has no {path.name}; write it with "
                    f"model.export({str(folder)!r}, format={backend!r}, quantize={quantize!r})"
                )
            return cls.from_exported(path, num_threads=num_threads)
        missing = [name for name in (*KERAS_FILES, CONFIG_FILENAME) if not (folder / name).is_file()]
        if missing:
            raise ModelFolderError(
                f"{folder} is not a complete carseg model folder: missing {', '.join(missing)}. "
                f"save_pretrained writes {', '.join(KERAS_FILES)} and {CONFIG_FILENAME}."
            )
        config = CarSegConfig.load(folder)
        require_tensorflow(f"loading the Keras model in {folder}")
        if num_threads is not None:
            set_tensorflow_threads(num_threads)
        return cls(config, load_network(folder))

    @classmethod
    def from_exported(cls, path: str | os.PathLike, num_threads: int | None = None) -> CarSegModel:
        """Load an exported ``.tflite`` / ``.onnx`` file and the ``carseg_config.json`` beside it (no TensorFlow)."""
        _check_num_threads(num_threads)
        path = Path(path)
        config = CarSegConfig.load(path.parent)
        return cls(config, backend=load_exported(path, num_threads))

    # ----------------------------------------------------------------- model card
    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """The model card, rendered by `carseg_model.card.render_model_card` (the mixin's template arguments are unused)."""
        parameters = self._require_network("generate_model_card").count_params()
        return ModelCard(render_model_card(self.config, parameters))


def _check_load_arguments(backend: str, quantize: str | None, num_threads: int | None) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if backend == "keras" and quantize is not None:
        raise ValueError(f"quantize={quantize!r} picks an exported file: use it with backend='tflite'")
    _check_num_threads(num_threads)


def _check_num_threads(num_threads: int | None) -> None:
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"num_threads must be a positive integer or None; got {num_threads!r}")
