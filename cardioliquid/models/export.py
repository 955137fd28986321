"""Export: ONNX (whole classifier, one streaming step) and TorchScript.

The liquid layers run TorchScript kernels in eager mode; while tracing or
exporting they switch to the same loop written in Python
(:func:`~cardioliquid.models.sequence.use_python_loop`), which the exporter
unrolls over the front end's ``T'`` steps. ``onnx`` and ``onnxruntime`` are
optional (``pip install cardioliquid[export]``).

Examples
--------
>>> m = create_model("liquid-cfc", n_chans=1, n_outputs=5, n_times=126, sfreq=180.0)
>>> export_onnx(m, "beat.onnx")                       # doctest: +SKIP
>>> check_onnx("beat.onnx", m)                        # max |onnx - torch|, doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from cardioliquid._atomic import atomic_write_bytes
from cardioliquid.models.sequence import LiquidRNN

OPSET = 17


def _soft_import(name: str):
    try:
        return __import__(name)
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            f"{name} is needed for ONNX export: pip install 'cardioliquid[export]'"
        ) from e


def example_inputs(model: nn.Module, batch: int = 2, seed: int = 0) -> tuple[Tensor, ...]:
    """Random inputs that fit ``model.contract``: ``(x,)`` or ``(x, features)``.

    For a model of the beat sequence (``beat_sequence``), or its :class:`BeatStep`,
    ``(x, features, hx)``: one beat of ``batch`` independent streams and their states.
    """
    c = model.contract
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c.n_chans, c.n_times, generator=g)
    if getattr(model, "beat_sequence", False):
        f = torch.rand(batch, c.n_features, generator=g) + 0.4  # positive RR intervals
        return x, f, 0.1 * torch.randn(batch, model.hx_size, generator=g)
    if c.n_features:
        return x, torch.randn(batch, c.n_features, generator=g)
    return (x,)


class BeatStep(nn.Module):
    """One beat of a model of the beat sequence: ``(x, features, hx) -> (logits, hx)``.

    The deployable unit of a :class:`~cardioliquid.models.rhythm.BeatRhythmClassifier`:
    each row of the batch is its own stream advanced by one beat (for export;
    whole recordings run through ``forward_stateful``).
    """

    beat_sequence = True

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.contract = model.contract
        self.rnn = model.rnn
        self.hx_size = model.hx_size

    def forward(self, x: Tensor, features: Tensor, hx: Tensor) -> tuple[Tensor, Tensor]:
        """One beat (its window ``x`` and ``features``) from state ``hx``: logits, new state."""
        logits, hx, _ = self.model.forward_stateful(x.unsqueeze(1), features.unsqueeze(1), hx)
        return logits[:, 0], hx


def exportable(model: nn.Module) -> nn.Module:
    """``model``, or its :class:`BeatStep` for a model of the beat sequence."""
    if getattr(model, "beat_sequence", False) and not isinstance(model, BeatStep):
        return BeatStep(model)
    return model


class StreamingStep(nn.Module):
    """One step of a liquid layer as a module: ``(x_t, hx) -> (y_t, hx)`` (for export).

    Parameters
    ----------
    rnn : LiquidRNN
        A :class:`~cardioliquid.models.cfc.CfC` or :class:`~cardioliquid.models.ltc.LTC`
        (for a classifier: ``model.rnn``, fed with front-end features).
    """

    def __init__(self, rnn: LiquidRNN) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x_t: Tensor, hx: Tensor) -> tuple[Tensor, Tensor]:
        """Advance one step; see :meth:`LiquidRNN.step`."""
        return self.rnn.step(x_t, hx)


def _export(module: nn.Module, args: tuple[Tensor, ...], path: Path, input_names: list[str],
            output_names: list[str]) -> Path:
    _soft_import("onnx")
    module = module.eval()
    buf = io.BytesIO()
    dyn = {name: {0: "batch"} for name in input_names + output_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated
        torch.onnx.export(module, args, buf, input_names=input_names, output_names=output_names,
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False)
    return atomic_write_bytes(path, buf.getvalue())


def export_onnx(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write the classifier ``model`` as ONNX (inputs ``x`` [, ``features``] → ``logits``).

    Parameters
    ----------
    model : nn.Module
        A registered classifier (has ``contract``); exported in eval mode.
    path : path
        Output ``.onnx`` file (written atomically).
    """
    model = exportable(model)
    args = example_inputs(model)
    names = ["x", "features", "hx"][: len(args)]
    outputs = ["logits", "hx_out"] if isinstance(model, BeatStep) else ["logits"]
    return _export(model, args, Path(path), names, outputs)


def export_step_onnx(rnn: LiquidRNN, path: str | os.PathLike) -> Path:
    """Write one streaming step of ``rnn`` as ONNX (``x_t``, ``hx`` → ``y_t``, ``hx_out``)."""
    args = (torch.zeros(1, rnn.input_size), rnn.initial_state(1))
    return _export(StreamingStep(rnn), args, Path(path), ["x_t", "hx"], ["y_t", "hx_out"])


def run_onnx(path: str | os.PathLike, *inputs: Tensor) -> list[np.ndarray]:
    """Run an exported file with onnxruntime on CPU; inputs in export order."""
    ort = _soft_import("onnxruntime")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: t.detach().cpu().numpy() for i, t in zip(sess.get_inputs(), inputs,
                                                              strict=True)}
    return sess.run(None, feed)


def check_onnx(path: str | os.PathLike, module: nn.Module, *inputs: Tensor) -> float:
    """Largest absolute difference between onnxruntime and PyTorch on the same inputs.

    Parameters
    ----------
    path : path
        The exported file.
    module : nn.Module
        The PyTorch module it came from (a classifier or a :class:`StreamingStep`).
    *inputs : Tensor
        Inputs (default: :func:`example_inputs` for a classifier).
    """
    module = exportable(module)
    inputs = inputs or example_inputs(module, batch=3, seed=1)
    with torch.no_grad():
        ref = module.eval()(*inputs)
    ref = ref if isinstance(ref, tuple) else (ref,)
    got = run_onnx(path, *inputs)
    return max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref, strict=True))


def to_torchscript(
    model: nn.Module, path: str | os.PathLike | None = None
) -> torch.jit.ScriptModule:
    """Trace a classifier to TorchScript (and save it if ``path`` is given).

    The trace unrolls the front end's ``T'`` steps, so the saved module takes
    windows of exactly ``contract.n_times`` samples (any batch size). A model of
    the beat sequence is traced as its :class:`BeatStep` (one beat per call).
    """
    model = exportable(model).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, example_inputs(model), check_trace=False)
    if path is not None:
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
        atomic_write_bytes(path, buf.getvalue())
    return traced
