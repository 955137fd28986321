"""Fused CPU kernels, compiled on first use for the machine they run on.

:func:`cfc_kernel` builds ``cfc_scan.cpp`` with ``torch.utils.cpp_extension``
(a C++ compiler and ninja are needed; about a minute, once, cached in
``TORCH_EXTENSIONS_DIR``) and returns the module, or ``None`` where it cannot
be built or is turned off: the TorchScript scan, which computes the same
function, is used then. ``CARDIOLIQUID_KERNELS=0`` turns the kernels off.

Built with ``-march=native``: the extension's name carries a fingerprint of the
CPU's instruction sets, so a cache shared between different machines never
loads a build made for another CPU.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("cfc_scan.cpp")
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math"]
"""Compiler flags. Without math-errno and trapping-math the exp loop vectorises;
neither changes a result (no fast-math reassociation)."""
ENV = "CARDIOLIQUID_KERNELS"


_off = 0  # depth of `disabled()` blocks


def kernels_enabled() -> bool:
    """False inside :func:`disabled` or when ``CARDIOLIQUID_KERNELS`` is ``0``/``off``/``false``."""
    return _off == 0 and os.environ.get(ENV, "1").strip().lower() not in (
        "0", "off", "false", "no")


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run a block without the fused kernels (benchmarks compare with the TorchScript scan)."""
    global _off
    _off += 1
    try:
        yield
    finally:
        _off -= 1


def _cpu_fingerprint() -> str:
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    text = f"{platform.machine()} {flags} {SOURCE.read_bytes().hex()} {FLAGS}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def _build() -> ModuleType | None:
    from torch.utils.cpp_extension import load

    name = f"cardioliquid_cfc_{_cpu_fingerprint()}"
    built = _built_library(name)
    if built is not None:  # the name fingerprints source, flags and CPU: import it as is
        try:
            return _import_library(name, built)
        except ImportError:
            pass
    else:
        print("cardioliquid: building the fused CfC kernel for this CPU (once, about a "
              "minute)...", file=sys.stderr, flush=True)
    try:
        return load(name=name, sources=[str(SOURCE)], extra_cflags=FLAGS, verbose=False)
    except Exception as exc:  # no compiler, no ninja, a read-only cache...
        logger.warning("the fused CfC kernel could not be built (%s: %s); the TorchScript "
                       "scan is used instead (same results, slower)", type(exc).__name__,
                       str(exc).splitlines()[0] if str(exc) else "")
        return None


def _built_library(name: str) -> Path | None:
    """Where ``torch.utils.cpp_extension.load`` leaves the library, if it is there.

    Found without importing ``cpp_extension`` (half a second of setuptools); a
    miss only means ``load`` is asked, which finds it itself.
    """
    import torch

    root = os.environ.get("TORCH_EXTENSIONS_DIR")
    if root is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        cuda = torch.version.cuda
        folder = (f"py{sys.version_info.major}{sys.version_info.minor}"
                  f"{getattr(sys, 'abiflags', '')}_"
                  + ("cpu" if cuda is None else f"cu{cuda.replace('.', '')}"))
        root = os.path.join(os.path.realpath(os.path.join(cache, "torch_extensions")), folder)
    path = Path(root) / name / f"{name}.so"
    return path if path.is_file() else None


def _import_library(name: str, path: Path) -> ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cfc_kernel() -> ModuleType | None:
    """The compiled CfC scan (``wired_scan_default``), or ``None`` (off or not buildable)."""
    if not kernels_enabled() or platform.system() != "Linux":
        return None
    return _build()
