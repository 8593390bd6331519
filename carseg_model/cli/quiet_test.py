import os
import warnings

from carseg_model.cli.quiet import native_stderr_filtered, quiet_tensorflow


def test_native_stderr_keeps_everything_but_the_known_noise(capfd):
    with native_stderr_filtered():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"a real problem\n")
    assert capfd.readouterr().err == "a real problem\n"


def test_quiet_tensorflow_sets_a_log_level_unless_one_is_set(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_tensorflow()
        warnings.warn(
            "In the future `np.object` will be defined as the corresponding NumPy scalar.", FutureWarning, stacklevel=1
        )
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2" and not caught
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
