"""Loss functions of the learning pickers (float32 on logits, shapes ``(batch, C, z, y, x)``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def tversky_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float,
                 smooth: float = 1.0) -> torch.Tensor:
    """Multi-class soft Tversky loss, averaged over classes.

    ``TI_c = (TP_c + s) / (TP_c + alpha FP_c + beta FN_c + s)`` with soft counts from the
    softmax over the batch and all voxels; loss ``= mean_c (1 - TI_c)``. ``alpha = beta = 0.5``
    is the soft Dice loss (DeepFinder); ``alpha = 0.7, beta = 0.3`` weighs false positives
    more (MC DS Net).

    Parameters
    ----------
    logits : Tensor ``(batch, C, z, y, x)``
    target : LongTensor ``(batch, z, y, x)`` of channel indices ``0..C-1``
    """
    probabilities = torch.softmax(logits.float(), dim=1)
    one_hot = F.one_hot(target, probabilities.shape[1]).movedim(-1, 1).to(probabilities.dtype)
    dims = (0, 2, 3, 4)
    true_positive = (probabilities * one_hot).sum(dims)
    false_positive = (probabilities * (1 - one_hot)).sum(dims)
    false_negative = ((1 - probabilities) * one_hot).sum(dims)
    index = (true_positive + smooth) / (
        true_positive + alpha * false_positive + beta * false_negative + smooth
    )
    return (1 - index).mean()


def rmse_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root-mean-square error over all elements (MC DS Net's denoising loss)."""
    return torch.sqrt(F.mse_loss(prediction.float(), target.float()) + 1e-12)


def cross_entropy_loss(logits: torch.Tensor, target: torch.Tensor,
                       class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Voxel-wise softmax cross entropy, optionally class-weighted (``(C,)`` weights; the
    weighted mean over voxels, as ``torch.nn.functional.cross_entropy``)."""
    return F.cross_entropy(logits.float(), target, weight=class_weights)
