"""ONNX Runtime's execution providers: the GPU when one is usable, the CPU always (tested without a GPU)."""

from __future__ import annotations

import sys
import types

import pytest

from carseg_model.backends import ONNXBackend, execution_providers

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


@pytest.mark.parametrize(
    "available, visible, expected",
    [
        ([CPU], None, [CPU]),  # the CPU wheel (onnxruntime)
        ([CUDA, CPU], None, [CUDA, CPU]),  # onnxruntime-gpu, every GPU visible
        ([CUDA, CPU], "0", [CUDA, CPU]),
        (["TensorrtExecutionProvider", CUDA, CPU], "1,2", [CUDA, CPU]),
        ([CUDA, CPU], "", [CPU]),  # a Ray actor without a GPU
        ([CUDA, CPU], "-1", [CPU]),
    ],
)
def test_cuda_comes_first_only_when_onnx_runtime_has_it_and_a_gpu_is_visible(available, visible, expected):
    assert execution_providers(available, visible) == expected


def test_onnx_backend_asks_onnx_runtime_for_the_chosen_providers_without_spinning_threads(monkeypatch):
    sessions = []

    class Options(types.SimpleNamespace):
        def add_session_config_entry(self, key, value):
            setattr(self, key, value)

    class Session:
        def __init__(self, path, options, providers):
            assert getattr(options, "session.intra_op.allow_spinning") == "0"
            sessions.append(providers)

        def get_inputs(self):
            return [types.SimpleNamespace(name="input")]

    fake = types.SimpleNamespace(
        SessionOptions=Options, InferenceSession=Session, get_available_providers=lambda: [CUDA, CPU]
    )
    monkeypatch.setitem(sys.modules, "onnxruntime", fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ONNXBackend("model.onnx")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    ONNXBackend("model.onnx", num_threads=1)
    assert sessions == [[CUDA, CPU], [CPU]]


def test_a_missing_tensorflow_is_named_with_the_install_line(monkeypatch):
    import importlib.util

    import pytest

    from carseg_model.backends import require_tensorflow

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tensorflow" else real(name))
    with pytest.raises(ImportError, match=r"loading X needs TensorFlow: pip install 'carseg\[cpu\]'"):
        require_tensorflow("loading X")
