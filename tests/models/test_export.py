"""Export: every registered model survives TorchScript; ONNX matches onnxruntime."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.models import create_model, list_models
from cardioliquid.models import export as ex

# Short windows and few unfolds keep the unrolled graphs small.
SMALL = {"n_chans": 2, "n_outputs": 3, "n_times": 64, "sfreq": 128.0, "n_features": 2,
         "units": 10}


def _small(name: str):
    extra = {"motor_neurons": 3} if name.startswith("liquid") else {}
    if name in ("liquid-ltc", "liquid-rhythm-ltc"):
        extra["ode_unfolds"] = 2
    if name.startswith(("liquid-rhythm", "rhythm-")):  # beat-sequence models and their peers
        extra["timespan_feature"] = 0
    return create_model(name, **SMALL, **extra).eval()


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_survives_torchscript(tmp_path, name):
    m = _small(name)
    ex.to_torchscript(m, tmp_path / "m.pt")
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    step = ex.exportable(m)  # a model of the beat sequence exports one beat per call
    inputs = ex.example_inputs(step, batch=4, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs), step(*inputs), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list_models())
def test_onnx_matches_onnxruntime(tmp_path, name):
    pytest.importorskip("onnxruntime")
    m = _small(name)
    path = ex.export_onnx(m, tmp_path / "m.onnx")
    assert ex.check_onnx(path, m) < 1e-5


@pytest.mark.parametrize("name", ["liquid-cfc", "liquid-ltc"])
def test_streaming_step_onnx_matches_onnxruntime(tmp_path, name):
    pytest.importorskip("onnxruntime")
    rnn = _small(name).rnn
    path = ex.export_step_onnx(rnn, tmp_path / "step.onnx")
    x_t, hx = torch.randn(3, rnn.input_size), torch.randn(3, rnn.state_size) * 0.3
    assert ex.check_onnx(path, ex.StreamingStep(rnn), x_t, hx) < 1e-5
    # Feeding the exported step its own state reproduces the sequence run.
    x = torch.randn(1, 5, rnn.input_size)
    h = rnn.initial_state(1)
    for t in range(5):
        _, h_np = ex.run_onnx(path, x[:, t], h)
        h = torch.from_numpy(h_np)
    with torch.no_grad():
        torch.testing.assert_close(h, rnn(x)[1], atol=1e-5, rtol=0)


def test_a_beat_step_carrying_the_embedding_reference_exports(tmp_path):
    """The carried state holds the cell's and the patient's reference: both export."""
    m = create_model("liquid-rhythm-cfc", **SMALL, motor_neurons=3, timespan_feature=0,
                     embedding_reference=8).eval()
    step = ex.exportable(m)
    x, f, hx = ex.example_inputs(step, batch=3, seed=1)
    assert hx.shape == (3, m.hx_size) and m.hx_size > m.rnn.hx_size
    ex.to_torchscript(m, tmp_path / "m.pt")
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(tmp_path / "m.pt"))(x, f, hx),
                                   step(x, f, hx), atol=1e-5, rtol=0)
    pytest.importorskip("onnxruntime")
    assert ex.check_onnx(ex.export_onnx(m, tmp_path / "m.onnx"), m) < 1e-5
