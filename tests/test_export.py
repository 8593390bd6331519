"""Exported models end to end: predicting without TensorFlow in a fresh process, and downloading only the export.

The exports of every model variant are tested beside the module (``carseg_model/export_test.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from huggingface_hub import HfApi

from carseg_model import CarSegModel


def test_predicting_an_export_never_imports_tensorflow(variants, car_photo):
    folder = variants.exported("transpose-64x64", "onnx")
    variants.exported("transpose-64x64", "tflite", "int8")
    script = f"""
import sys
from carseg_model import CarSegModel
for backend, quantize in [("onnx", None), ("tflite", "int8")]:
    model = CarSegModel.from_pretrained({str(folder)!r}, backend=backend, quantize=quantize)
    assert model.predict({str(car_photo)!r}).mask.shape == (680, 1024)
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_hub_download_of_an_export_fetches_only_its_files(hub, variants, car_photo):
    api = HfApi()
    api.create_repo("user/carseg-onnx")
    api.upload_folder(repo_id="user/carseg-onnx", folder_path=variants.get("transpose-64x64").folder)  # Keras files
    api.upload_folder(repo_id="user/carseg-onnx", folder_path=variants.exported("transpose-64x64", "onnx"))
    model = CarSegModel.from_pretrained("user/carseg-onnx", backend="onnx")
    assert model.predict(car_photo).mask.shape == (680, 1024)
    downloaded = {path.name for request in hub.requests for path in [Path(request.path)] if "/resolve/" in request.path}
    assert downloaded == {"carseg_config.json", "model.onnx"}
