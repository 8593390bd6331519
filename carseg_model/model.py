"""`CarSegModel`: load, run, save and publish a carseg model (Hugging Face Hub conventions)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from huggingface_hub import EvalResult, ModelCard, ModelCardData, ModelHubMixin

from carseg_model.backends import Backend, KerasBackend, load_exported, set_tensorflow_threads
from carseg_model.config import CONFIG_FILENAME, CarSegConfig
from carseg_model.errors import ModelFolderError
from carseg_model.export import RepresentativeImages, export_network
from carseg_model.formats import BACKENDS, KERAS_FILES, exported_filename, format_of
from carseg_model.hub import BUNDLED_DIR, resolve_model_folder
from carseg_model.image_io import ImageInput, load_image
from carseg_model.preprocessing import preprocess, upsample_probabilities
from carseg_model.result import SegmentationResult

if TYPE_CHECKING:
    import keras

PACKAGE_DIR = Path(__file__).resolve().parent
MODEL_CARD_TEMPLATE = (PACKAGE_DIR / "model_card.md").read_text(encoding="utf-8")
DEFAULT_MODEL = str(BUNDLED_DIR / "carseg-unet-mobilenetv2")
"""The bundled, trained default model (a folder inside the package; works offline)."""

TAGS = ["image-segmentation", "car-segmentation", "unet", "mobilenetv2", "carseg"]


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
            from carseg_model.segmenter import build_unet

            network = build_unet(self.config)
        self.network = network
        self._backend = backend
        self._backend_lock = threading.Lock()

    # ------------------------------------------------------------------ predict
    def predict(self, image: ImageInput, threshold: float | None = None) -> SegmentationResult:
        """Segment one photo (path, bytes, PIL image or RGB/gray/RGBA array) at its own resolution."""
        return self.predict_batch([image], threshold=threshold)[0]

    def predict_batch(
        self, images: Iterable[ImageInput], batch_size: int = 16, threshold: float | None = None
    ) -> list[SegmentationResult]:
        """Segment many photos, ``batch_size`` at a time through the network."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        threshold = self.config.threshold if threshold is None else threshold
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1]; got {threshold}")
        results: list[SegmentationResult] = []
        iterator = iter(images)
        while chunk := list(islice(iterator, batch_size)):
            photos = [load_image(source, self.config.max_pixels) for source in chunk]
            probabilities = self.predict_probabilities(np.stack([preprocess(p, self.config) for p in photos]))
            for photo, probability in zip(photos, probabilities):
                full_size = upsample_probabilities(probability, photo.shape[:2])
                results.append(SegmentationResult(photo, full_size, float(threshold)))
        return results

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
        """Write the Keras unzipped layout, ``carseg_config.json`` and the model card."""
        import keras

        network = self._require_network("save_pretrained")
        if getattr(network, "optimizer", None) is not None:  # a compiled training model: drop its state
            network = keras.Model.from_config(self.network.get_config())
            network.set_weights(self.network.get_weights())
        keras.saving.save_model(network, save_directory, zipped=False)
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
        revision: str | None = None,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
    ) -> CarSegModel:
        """Load a model from a local folder, a bundled model's name, a Hub repo id or an exported file.

        The default is the bundled default model; `bundled_models()` lists the bundled names
        (e.g. ``"carseg-unet-mobilenetv2-separable"``), which load offline.

        ``backend`` picks the runtime: ``"keras"`` (the default for folders and repos),
        ``"tflite"`` or ``"onnx"`` (files written by `export`, run without TensorFlow;
        ``quantize`` picks ``model_fp16.tflite`` / ``model_int8.tflite``). A ``.tflite`` or
        ``.onnx`` file path loads that file with the ``carseg_config.json`` beside it.
        ``num_threads`` caps the CPU threads of the runtime (default: the runtime's own).
        ``revision``, ``token``, ``cache_dir``, ``local_files_only`` and ``force_download``
        are passed to the Hub download (for an exported backend only its file and the
        config are fetched); ``HF_HUB_OFFLINE=1`` loads from the cache only.
        """
        path = Path(pretrained_model_name_or_path).expanduser()
        if path.is_file():
            if backend not in (None, format_of(path)) or quantize is not None:
                raise ValueError(
                    f"{path.name} is loaded as it is: leave backend/quantize unset, or pass its folder instead"
                )
            return cls.from_exported(path, num_threads=num_threads)
        return cls._from_pretrained(
            model_id=os.fspath(pretrained_model_name_or_path),
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            local_files_only=local_files_only,
            token=token,
            backend=backend or "keras",
            quantize=quantize,
            num_threads=num_threads,
        )

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | os.PathLike | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        backend: str = "keras",
        quantize: str | None = None,
        num_threads: int | None = None,
        **model_kwargs: Any,
    ) -> CarSegModel:
        _check_load_arguments(backend, quantize, num_threads)
        files = None if backend == "keras" else [CONFIG_FILENAME, exported_filename(backend, quantize)]
        folder = resolve_model_folder(
            model_id,
            revision=revision,
            token=token,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            force_download=force_download,
            allow_patterns=files,
        )
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
        if num_threads is not None:
            set_tensorflow_threads(num_threads)
        import keras

        network = keras.saving.load_model(folder, compile=False, safe_mode=True)
        return cls(config, network)

    @classmethod
    def from_exported(cls, path: str | os.PathLike, num_threads: int | None = None) -> CarSegModel:
        """Load an exported ``.tflite`` / ``.onnx`` file and the ``carseg_config.json`` beside it (no TensorFlow)."""
        _check_num_threads(num_threads)
        path = Path(path)
        config = CarSegConfig.load(path.parent)
        return cls(config, backend=load_exported(path, num_threads))

    # ----------------------------------------------------------------- model card
    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        """Render the model card from ``model_card.md`` and the facts in ``config.card``."""
        card = self.config.card
        model_name = card.get("model_name", "carseg-unet-mobilenetv2")
        card_data = ModelCardData(
            library_name="keras",
            pipeline_tag="image-segmentation",
            license=card.get("license", "apache-2.0"),
            tags=TAGS,
            datasets=[d["name"] for d in card.get("datasets", [])] or None,
            model_name=model_name,
            eval_results=_eval_results(card.get("metrics", [])) or None,
        )
        return ModelCard.from_template(
            card_data,
            template_str=MODEL_CARD_TEMPLATE,
            model_name=model_name,
            repo_id=card.get("repo_id", f"<user>/{model_name}"),
            config=asdict(self.config),
            card=card,
            parameters=self._require_network("generate_model_card").count_params(),
            **kwargs,
        )


def _check_load_arguments(backend: str, quantize: str | None, num_threads: int | None) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if backend == "keras" and quantize is not None:
        raise ValueError(f"quantize={quantize!r} picks an exported file: use it with backend='tflite'")
    _check_num_threads(num_threads)


def _check_num_threads(num_threads: int | None) -> None:
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise ValueError(f"num_threads must be a positive integer or None; got {num_threads!r}")


def _eval_results(metrics: Sequence[dict[str, Any]]) -> list[EvalResult]:
    """``model-index`` entries (Dice and IoU per dataset) for the card's YAML."""
    return [
        EvalResult(
            task_type="image-segmentation",
            task_name="Car segmentation",
            dataset_type=m["dataset"],
            dataset_name=m["dataset"],
            dataset_split=m.get("split", "validation"),
            metric_type=metric,
            metric_name=f"Mean {metric.capitalize() if metric == 'dice' else metric.upper()}",
            metric_value=round(float(m[metric]), 4),
        )
        for m in metrics
        for metric in ("dice", "iou")
    ]
