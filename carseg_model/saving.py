"""The Keras network of a model folder: written without optimizer state, read with one clear error per damage.

A carseg folder holds Keras's unzipped layout (`carseg_model.formats.KERAS_FILES`): ``config.json``
(the architecture), ``metadata.json`` and ``model.weights.h5``. It loads with plain
``keras.saving.load_model`` in safe mode; `load_network` turns Keras's errors for a damaged
folder (a truncated download, a layer class this Keras lacks) into one `ModelFolderError` line.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carseg_model.errors import ModelFolderError

if TYPE_CHECKING:
    import keras

WEIGHTS_FILENAME = "model.weights.h5"
ARCHITECTURE_FILENAME = "config.json"


def save_network(network: keras.Model, folder: Path) -> None:
    """Write ``network`` into ``folder`` in Keras's unzipped layout; a compiled model's optimizer state is left out."""
    import keras

    if getattr(network, "optimizer", None) is not None:
        copy = keras.Model.from_config(network.get_config())
        copy.set_weights(network.get_weights())
        network = copy
    keras.saving.save_model(network, folder, zipped=False)


def load_network(folder: Path) -> keras.Model:
    """Load the Keras network saved in ``folder`` (safe mode, not compiled).

    Raises `ModelFolderError` naming the file: a weights file that is damaged or truncated,
    an architecture that is not JSON or names a layer class this Keras does not know, or any
    other file Keras cannot read.
    """
    import h5py
    import keras

    import carseg_model.decoder  # noqa: F401  (registers carseg's own layers for safe-mode loading)

    weights = folder / WEIGHTS_FILENAME
    try:
        with h5py.File(weights, "r"):
            pass
    except OSError as error:
        raise ModelFolderError(
            f"{weights} is damaged or truncated; download it again (or save the model again): {error}"
        ) from error
    architecture = folder / ARCHITECTURE_FILENAME
    try:
        return keras.saving.load_model(folder, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises ValueError, TypeError, JSONDecodeError, ... for a bad folder
        unknown = _unknown_classes(architecture)
        if unknown:
            raise ModelFolderError(
                f"{architecture} uses the layer class {unknown[0]}, which this Keras {keras.__version__} does "
                "not have; load it with the carseg and Keras versions that saved it, or save it again"
            ) from error
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ModelFolderError(
            f"{folder} holds a Keras model that cannot be loaded ({reason}); save it again"
        ) from error


def _unknown_classes(architecture: Path) -> list[str]:
    """``module.ClassName`` of each object in a Keras ``config.json`` that Keras cannot find (none if unreadable)."""
    try:
        config = json.loads(architecture.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    unknown: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            module, name = node.get("module"), node.get("class_name")
            if isinstance(module, str) and isinstance(name, str) and not _is_known(module, name, node):
                unknown.append(f"{module}.{name}")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(config)
    return unknown


def _is_known(module: str, name: str, node: dict[str, Any]) -> bool:
    """True if Keras has the class: a registered one, or one in a ``keras`` module (other modules are not imported)."""
    import keras

    if keras.saving.get_registered_object(node.get("registered_name") or name) is not None:
        return True
    if module != "keras" and not module.startswith("keras."):
        return False
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False
