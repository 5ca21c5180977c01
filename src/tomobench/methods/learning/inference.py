"""Sliding-window inference with overlap blending, memory-bounded along z.

The volume ``(z, y, x)`` is covered by patches on a grid with stride ``patch - overlap``
(rounded down to the network's alignment, so every patch sees the same pooling grid as
whole-volume inference); the last patch of each axis ends at the volume border. Each patch
output is weighted by a separable window that is zero for ``margin`` voxels at every patch
border that is interior to the volume and then rises linearly over the rest of the overlap, so
neighbouring windows sum to one (outputs are divided by the summed weights anyway). Voxels
therefore get outputs computed at least ``margin`` voxels away from any artificial patch
border: with ``margin`` at least the network's receptive-field radius, tiled inference equals
whole-volume inference (up to float rounding) away from the volume borders.

Outputs are accumulated in a buffer one patch deep in z and reduced (``argmax`` or kept) as
soon as a z range is final, so memory is ``channels × patch_z × y × x`` and not the full volume.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import torch

from tomobench.progress import Progress

logger = logging.getLogger(__name__)

ACTIVATIONS = ("softmax", "sigmoid", "identity")


def tile_starts(size: int, patch: int, step: int, alignment: int = 1) -> tuple[list[int], int]:
    """Starts of patches of length ``patch`` covering ``size`` voxels, and the covered length.

    The covered length is ``size`` rounded up to a multiple of ``alignment`` (at least
    ``patch``; the volume is reflect-padded to it). Starts advance by ``step``; the last patch
    ends flush with the covered length (so it may overlap its neighbour by more).
    """
    length = max(patch, math.ceil(size / alignment) * alignment)
    if length == patch:
        return [0], length
    return [*range(0, length - patch, step), length - patch], length


def window_1d(patch: int, overlap: int, margin: int, first: bool, last: bool) -> np.ndarray:
    """Blending weights along one axis of a patch (float64, length ``patch``).

    Interior sides are zero over ``margin`` voxels and ramp linearly over
    ``overlap - 2 * margin`` voxels; sides on the volume border keep weight one.
    """
    index = np.arange(patch, dtype=np.float64)
    ramp_length = overlap - 2 * margin
    if ramp_length > 0:
        left = np.clip((index - margin + 0.5) / ramp_length, 0.0, 1.0)
    else:
        left = (index >= margin).astype(np.float64)
    weights = np.ones(patch)
    if not first:
        weights = np.minimum(weights, left)
    if not last:
        weights = np.minimum(weights, left[::-1])
    return weights


def _activate(logits: torch.Tensor, activation: str) -> torch.Tensor:
    logits = logits.float()
    if activation == "softmax":
        return torch.softmax(logits, dim=1)
    if activation == "sigmoid":
        return torch.sigmoid(logits)
    if activation == "identity":
        return logits
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def _geometry(shape, patch_shape, overlap, margin, alignment):
    """Per axis: the effective patch, tile starts and padded length.

    ``patch_shape`` is a maximum: an axis gets the smallest aligned patch that covers it with
    the same number of tiles, so little work is wasted on padding.
    """
    patches, starts, padded = [], [], []
    for size, patch in zip(shape, patch_shape, strict=True):
        if patch % alignment:
            raise ValueError(f"inference patch size {patch} must be a multiple of {alignment}")
        aligned = math.ceil(size / alignment) * alignment
        patch = min(patch, aligned)
        if patch < aligned and patch > overlap:
            # Balance: the smallest aligned patch covering the axis with as many tiles.
            count = math.ceil((aligned - overlap) / (patch - overlap))
            balanced = ((aligned - overlap) / count + overlap) / alignment
            patch = min(patch, math.ceil(balanced) * alignment)
        step = max(alignment, (patch - overlap) // alignment * alignment)
        axis_starts, length = tile_starts(size, patch, step, alignment)
        if len(axis_starts) > 1 and (overlap < 2 * margin or patch - 2 * margin < step):
            raise ValueError(
                f"inference overlap {overlap} must cover twice the margin {margin} "
                f"(patch {patch})")
        patches.append(patch)
        starts.append(axis_starts)
        padded.append(length)
    return tuple(patches), starts, padded


def sliding_window(
    forward: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    volume: np.ndarray,
    heads: dict[str, tuple[str, str]],
    patch_shape: tuple[int, int, int],
    overlap: int,
    margin: int,
    alignment: int = 1,
    batch_size: int = 1,
    device: torch.device | str = "cpu",
    autocast: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``forward`` over ``volume`` patch by patch and blend the outputs.

    Parameters
    ----------
    forward : callable taking ``(batch, 1, z, y, x)`` float32 and returning
        ``{head: (batch, C, z, y, x)}`` logits.
    volume : ``(z, y, x)`` float32 (already normalised).
    heads : ``{head: (activation, reduction)}`` with activation in ``ACTIVATIONS`` and
        reduction ``"argmax"`` (returns ``<head>_label`` uint8 channel indices and
        ``<head>_max`` float32 maximum) or ``"none"`` (returns ``<head>`` float32
        ``(C, z, y, x)``).
    patch_shape : largest patch size ``(z, y, x)``; each axis uses the smallest aligned size
        that needs no more tiles (so never more than the volume, rounded up to ``alignment``).
    overlap, margin : voxels (see module docstring). ``alignment`` is the network's size
        divisor ``2 ** poolings``.
    progress : optional ``(patches done, patches in all)`` callback, called after each batch.

    Returns
    -------
    dict of arrays with the spatial shape of ``volume``.
    """
    volume = np.asarray(volume, dtype=np.float32)
    patch_shape, starts, padded = _geometry(volume.shape, patch_shape, overlap, margin,
                                            alignment)
    pad = [(0, p - s) for p, s in zip(padded, volume.shape, strict=True)]
    work = np.pad(volume, pad, mode="reflect") if any(p for _, p in pad) else volume
    pz, py, px = patch_shape
    windows = [
        [window_1d(p, overlap, margin, i == 0, i == len(axis) - 1) for i in range(len(axis))]
        for p, axis in zip(patch_shape, starts, strict=True)
    ]
    outputs: dict[str, list[np.ndarray]] = {}
    buffers: dict[str, np.ndarray] | None = None
    weight_sum = np.zeros((pz, padded[1], padded[2]), dtype=np.float32)
    nz, ny, nx = volume.shape
    yx_tiles = [(iy, ix) for iy in range(len(starts[1])) for ix in range(len(starts[2]))]
    batches = Progress("sliding window: batch of patches",
                       len(starts[0]) * -(-len(yx_tiles) // batch_size), logger)
    done, total = 0, len(starts[0]) * len(yx_tiles)
    for iz, z0 in enumerate(starts[0]):
        for first in range(0, len(yx_tiles), batch_size):
            chunk = yx_tiles[first:first + batch_size]
            batch = np.stack([work[z0:z0 + pz, starts[1][iy]:starts[1][iy] + py,
                                   starts[2][ix]:starts[2][ix] + px] for iy, ix in chunk])
            with torch.inference_mode(), torch.autocast(
                    device_type=torch.device(device).type, dtype=torch.bfloat16,
                    enabled=autocast):
                inputs = torch.from_numpy(batch[:, None]).to(device)
                logits = forward(inputs.contiguous(memory_format=torch.channels_last_3d))
            results = {h: _activate(logits[h], act).cpu().contiguous().numpy()
                       for h, (act, _) in heads.items()}
            if buffers is None:
                buffers = {h: np.zeros((r.shape[1], pz, padded[1], padded[2]), np.float32)
                           for h, r in results.items()}
            for index, (iy, ix) in enumerate(chunk):
                weight = (windows[0][iz][:, None, None] * windows[1][iy][None, :, None]
                          * windows[2][ix][None, None, :]).astype(np.float32)
                ys = slice(starts[1][iy], starts[1][iy] + py)
                xs = slice(starts[2][ix], starts[2][ix] + px)
                weight_sum[:, ys, xs] += weight
                for head, result in results.items():
                    buffers[head][:, :, ys, xs] += result[index] * weight
            batches.step()
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        final = starts[0][iz + 1] - z0 if iz < len(starts[0]) - 1 else pz
        keep = max(0, min(final, nz - z0))
        norm = np.maximum(weight_sum[:keep, :ny, :nx], 1e-12)
        for head, (_, reduction) in heads.items():
            blended = buffers[head][:, :keep, :ny, :nx] / norm
            if reduction == "argmax":
                outputs.setdefault(f"{head}_label", []).append(
                    blended.argmax(axis=0).astype(np.uint8))
                outputs.setdefault(f"{head}_max", []).append(blended.max(axis=0))
            elif reduction == "none":
                outputs.setdefault(head, []).append(blended)
            else:
                raise ValueError(f"reduction must be 'argmax' or 'none', got {reduction!r}")
            buffers[head] = np.concatenate(
                [buffers[head][:, final:], np.zeros_like(buffers[head][:, :final])], axis=1)
        weight_sum = np.concatenate([weight_sum[final:], np.zeros_like(weight_sum[:final])])
    return {key: np.concatenate(parts, axis=-3) for key, parts in outputs.items()}
