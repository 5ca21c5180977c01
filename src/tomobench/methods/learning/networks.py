"""3D encoder-decoder networks for the learning pickers (tensors `(batch, channel, z, y, x)`).

Every network returns a ``dict`` of named logit tensors (``"segmentation"``, ``"denoised"``, ...)
so one training loop, inference routine and registry serve all learning kinds.
"""

from __future__ import annotations

import torch
from torch import nn

NORMALIZATIONS = ("none", "batch", "instance", "group")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm3d(channels)
    if kind == "instance":
        return nn.InstanceNorm3d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}")


class ConvBlock(nn.Sequential):
    """``count`` × (3×3×3 conv, ReLU, normalisation), 'same' padding."""

    def __init__(self, in_channels: int, out_channels: int, count: int = 2, norm: str = "none"):
        layers: list[nn.Module] = []
        for index in range(count):
            layers.append(nn.Conv3d(in_channels if index == 0 else out_channels, out_channels, 3,
                                    padding=1))
            layers.append(nn.ReLU(inplace=True))
            layers.append(_norm(norm, out_channels))
        super().__init__(*layers)


class Encoder(nn.Module):
    """U-Net encoder: one conv block per level, 2×2×2 max-pooling between levels.

    ``widths[i]`` is the channel count of level ``i``; the last level is the bottleneck
    (``bottleneck_convs`` convolutions). Returns the feature maps of every level, finest first.
    """

    def __init__(self, in_channels: int, widths: list[int], convs: int, bottleneck_convs: int,
                 norm: str):
        super().__init__()
        self.blocks = nn.ModuleList()
        previous = in_channels
        for level, width in enumerate(widths):
            count = bottleneck_convs if level == len(widths) - 1 else convs
            self.blocks.append(ConvBlock(previous, width, count, norm))
            previous = width
        self.pool = nn.MaxPool3d(2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level, block in enumerate(self.blocks):
            if level > 0:
                x = self.pool(x)
            x = block(x)
            features.append(x)
        return features


class Decoder(nn.Module):
    """U-Net decoder: transposed 2×2×2 up-convolution, concatenation of skips, conv block.

    ``extra_skip_widths`` adds a second set of skip inputs per level (the MC DS Net
    segmentation path receives the denoising decoder's features there).
    Returns the feature maps of every decoder level, coarsest first, the last at full size.
    """

    def __init__(self, widths: list[int], convs: int, norm: str,
                 extra_skip_widths: list[int] | None = None):
        super().__init__()
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for level in range(len(widths) - 2, -1, -1):
            self.ups.append(nn.Sequential(
                nn.ConvTranspose3d(widths[level + 1], widths[level], 2, stride=2),
                nn.ReLU(inplace=True),
                _norm(norm, widths[level]),
            ))
            extra = extra_skip_widths[level] if extra_skip_widths else 0
            self.blocks.append(ConvBlock(2 * widths[level] + extra, widths[level], convs, norm))

    def forward(self, features: list[torch.Tensor],
                extra_skips: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        x = features[-1]
        outputs = []
        for index, (up, block) in enumerate(zip(self.ups, self.blocks, strict=True)):
            level = len(features) - 2 - index
            parts = [up(x), features[level]]
            if extra_skips is not None:
                parts.append(extra_skips[index])
            x = block(torch.cat(parts, dim=1))
            outputs.append(x)
        return outputs


def _check_widths(widths: list[int]) -> list[int]:
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must list >= 2 positive channel counts, got {widths}")
    return widths


class SegmentationUNet(nn.Module):
    """Single-decoder 3D U-Net with a 1×1×1 softmax-logit head (DeepFinder's network).

    Parameters
    ----------
    n_classes : int
        Output channels (background included).
    widths : list of int
        Channels per level, finest first; ``len(widths) - 1`` poolings, so input sizes must be
        multiples of ``2 ** (len(widths) - 1)``.
    """

    def __init__(self, n_classes: int, widths: list[int], convs: int = 2,
                 bottleneck_convs: int = 4, norm: str = "none", in_channels: int = 1):
        super().__init__()
        widths = _check_widths(widths)
        self.encoder = Encoder(in_channels, widths, convs, bottleneck_convs, norm)
        self.decoder = Decoder(widths, convs, norm)
        self.head = nn.Conv3d(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        decoded = self.decoder(self.encoder(x))
        return {"segmentation": self.head(decoded[-1])}


class DenoiseSegmentUNet(nn.Module):
    """Two-decoder 3D U-Net (MC DS Net): a denoising and a segmentation pathway.

    The denoising decoder takes encoder skips; each segmentation decoder block takes the
    encoder skip *and* the denoising decoder's feature map of the same level. Heads:
    ``"denoised"`` (1 channel, regression) and ``"segmentation"`` (``n_classes`` logits).
    """

    def __init__(self, n_classes: int, widths: list[int], convs: int = 2,
                 bottleneck_convs: int = 2, norm: str = "batch", in_channels: int = 1):
        super().__init__()
        widths = _check_widths(widths)
        self.encoder = Encoder(in_channels, widths, convs, bottleneck_convs, norm)
        self.denoise_decoder = Decoder(widths, convs, norm)
        self.segment_decoder = Decoder(widths, convs, norm, extra_skip_widths=widths[:-1])
        self.denoise_head = nn.Conv3d(widths[0], 1, 1)
        self.segment_head = nn.Conv3d(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.encoder(x)
        denoised = self.denoise_decoder(features)
        segmented = self.segment_decoder(features, extra_skips=denoised)
        return {
            "segmentation": self.segment_head(segmented[-1]),
            "denoised": self.denoise_head(denoised[-1]),
        }


def parameter_count(network: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)
