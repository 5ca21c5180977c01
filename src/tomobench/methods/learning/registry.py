"""Registry of learning kinds: each kind bundles network, targets, loss and post-processing.

A kind (``config methods.<M>.kind``) is a ``LearningKind``; ``tomobench.methods.learning``
registers the built-in ones on import. The shared training loop (``training.train``) and
picking routine (``training.pick``) only talk to kinds through this interface, so a new learning
method is one module that builds a ``LearningKind`` and calls ``register``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from tomobench.errors import InputError
from tomobench.methods.learning.data import ClassTable, TomogramData

#: Training keys every kind understands (kinds add their own defaults on top).
COMMON_TRAINING_DEFAULTS: dict[str, Any] = {
    "input_binning": 1,           # the network sees the tomogram Fourier-binned by this factor
                                  # (training and inference; picks mapped back to voxels)
    "patch_voxels": 32,           # training patch edge (or [z, y, x]); multiple of the alignment
    "batch_size": 4,
    "steps": 300,                 # optimiser steps
    "learning_rate": 1.0e-3,
    "lr_schedule": "constant",    # constant | cosine (annealed to min_learning_rate over steps)
    "min_learning_rate": 0.0,
    "validation_interval": 50,    # steps between validation-loss evaluations (= one "epoch")
    "validation_patches": 16,     # fixed validation patches from the validation tomograms
    "checkpoint_interval": 50,    # steps between resumable training-state saves
    "background_fraction": 0.1,   # share of patches placed uniformly at random
    "sampling_size_power": 0.0,   # particle patches: class drawn with probability proportional
                                  # to (median particle volume)^-power (0 = uniform)
    "shift_voxels": 8,            # max random offset of a patch centre from its particle
    "augment": "wedge",           # none | wedge | wedge_mirror | extended (augment.py)
    "mixed_precision": True,      # bfloat16 autocast on CUDA
    "cpu_precision": "fp32",      # fp32 | bf16 | auto: bfloat16 autocast on CPU (auto: where
                                  # the CPU has native bf16); training, validation and inference
    "class_weight_power": 0.0,    # cross-entropy weight of class c: (f_background / f_c)^power
    "class_weight_cap": 100.0,    # ... at most this (f = voxel share in the training targets)
    "ema_decay": 0.0,             # exponential moving average of the weights (0 = off)
    "tune_postprocessing": True,  # tune the kind's post-processing on the validation tomograms
    "select_by": "validation_loss",  # validation_loss | validation_dice: which weights to keep
}

#: Inference keys every kind understands.
COMMON_INFERENCE_DEFAULTS: dict[str, Any] = {
    "patch_voxels": [96, 128, 128],  # largest inference patch [z, y, x] (or one edge)
    "overlap_voxels": 16,         # overlap between neighbouring patches
    "margin_voxels": 4,           # discarded border of each patch (<= overlap / 2)
    "batch_size": 1,
    "exclude_classes": ["vesicle"],  # segmented but never reported
    "min_probability": 0.0,       # voxels whose argmax probability is lower count as background
}


@dataclass(frozen=True)
class PredictContext:
    """What a kind's own ``predict`` gets besides the network, volume and inference keys.

    Attributes
    ----------
    training : the checkpoint's training parameters
    seed : the checkpoint's seed (for seeded random draws at inference)
    device : torch device of the network
    sliding_window : ``forward -> maps``: the shared sliding window (``inference.py``) over the
        volume with the inference patch keys and the kind's ``heads``, for any forward callable
    """

    training: dict
    seed: int
    device: torch.device
    sliding_window: Callable[[Callable], dict[str, np.ndarray]]


@dataclass(frozen=True)
class LearningKind:
    """One learning picker.

    Attributes
    ----------
    build_network : ``(training_params, n_classes) -> nn.Module`` returning a dict of logits
    alignment : ``training_params -> int``, the size divisor of network inputs
    make_targets : ``(tomogram, table, training_params) -> {name: array}``; arrays are
        ``(z, y, x)`` (class-channel indices) or ``(C, z, y, x)`` (regression targets)
    loss : ``(outputs, batch, training_params, class_weights) -> (loss, {term: value})``;
        ``batch`` holds the target tensors (``segmentation`` as int64), ``class_weights`` the
        per-channel cross-entropy weights (``(C,)`` tensor, see ``training.class_weights``)
    heads : inference heads ``{head: (activation, reduction)}`` (see ``sliding_window``)
    postprocess : ``(maps, table, class_stats, inference_params) -> DataFrame`` with
        ``class_id, z, y, x, size, score`` (see ``postprocess.py``)
    tuning_grid : inference keys and candidate values tried on the validation tomograms after
        training (``tune_postprocessing``); the best combination is stored in the checkpoint
    predict : optional ``(network, volume, inference_params, context) -> maps`` replacing the
        shared sliding window (``volume`` normalised ``(z, y, x)``, ``context`` a
        ``PredictContext``); for kinds that apply a box classifier rather than a dense network
    """

    name: str
    build_network: Callable[[dict, int], nn.Module]
    alignment: Callable[[dict], int]
    make_targets: Callable[[TomogramData, ClassTable, dict], dict[str, np.ndarray]]
    loss: Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor], dict,
                    torch.Tensor | None], tuple[torch.Tensor, dict[str, float]]]
    heads: dict[str, tuple[str, str]]
    postprocess: Callable[[dict[str, np.ndarray], ClassTable, dict, dict], pd.DataFrame]
    training_defaults: dict[str, Any] = field(default_factory=dict)
    inference_defaults: dict[str, Any] = field(default_factory=dict)
    tuning_grid: dict[str, list] = field(default_factory=dict)
    predict: Callable[[nn.Module, np.ndarray, dict, PredictContext], dict[str, np.ndarray]] \
        | None = None

    def training_params(self, given: dict | None, where: str = "training") -> dict:
        """Defaults merged with ``given``; unknown keys raise ``InputError`` naming them."""
        return _merge({**COMMON_TRAINING_DEFAULTS, **self.training_defaults}, given, where)

    def inference_params(self, given: dict | None, where: str = "inference") -> dict:
        return _merge({**COMMON_INFERENCE_DEFAULTS, **self.inference_defaults}, given, where)


def _merge(defaults: dict, given: dict | None, where: str) -> dict:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"{where}: unknown keys {unknown}; known: {sorted(defaults)}")
    return {**defaults, **given}


KINDS: dict[str, LearningKind] = {}


def register(kind: LearningKind) -> LearningKind:
    """Add ``kind`` to the registry (a name can be registered once)."""
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"learning kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> LearningKind:
    """The registered kind ``name``; ``InputError`` listing the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise InputError(f"unknown learning kind {name!r}; known: {sorted(KINDS)}") from None
