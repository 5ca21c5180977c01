"""Choice of compute backend: numpy on CPU, cupy (or torch CUDA) on a GPU when present."""

from __future__ import annotations

import functools
import logging
from types import ModuleType

import numpy as np

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


@functools.cache
def cupy_available() -> bool:
    """True when cupy imports and a CUDA device can actually be used."""
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:  # cupy missing, or no driver/device: fall back to numpy
        return False


def array_module(device: str = "auto") -> ModuleType:
    """Return ``numpy`` or ``cupy`` for ``device`` (``auto`` | ``cpu`` | ``cuda``).

    ``cuda`` without a usable GPU raises ``RuntimeError``; ``auto`` falls back to numpy.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return np
    if cupy_available():
        import cupy

        return cupy
    if device == "cuda":
        raise RuntimeError("device 'cuda' requested but no usable cupy/CUDA GPU was found")
    return np


def to_numpy(array) -> np.ndarray:
    """Return ``array`` as a numpy array (copying from the GPU if needed)."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    if get is not None:
        return get()
    return np.asarray(array)


def torch_device(device: str = "auto"):
    """Return the ``torch.device`` for ``device`` (``auto`` picks CUDA when available)."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if device == "cuda":
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device("cpu")
