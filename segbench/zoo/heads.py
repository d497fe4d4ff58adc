"""The output heads put on a net at export: logits, argmax, or PP-MobileSeg's valid interpolation.

Every zoo net returns logits at its decoder's resolution (1/8 or 1/16 of the input). The heads:

- ``logits``: bilinear upsampling to the input size, [1, 150, H, W] float32;
- ``argmax``: the same upsampling, then argmax over classes, [1, H, W] int64 (the published
  latencies include this argmax);
- ``vim``: argmax at low resolution, keep only the classes that win somewhere (``unique``),
  upsample just those channels, argmax, and map back to class ids, [1, H, W] int64.

VIM gives the same labels as ``argmax`` wherever the winning class of a full-resolution pixel
also wins at least one low-resolution pixel: bilinear upsampling is per channel, so restricting
the channels cannot change the order among the channels kept. It differs only where a class
wins after interpolation without winning any low-resolution pixel (a class that is everywhere
second but beats two neighbours' winners in between them); such pixels take the best kept class.
"""

from __future__ import annotations

import torch
from torch import nn

from segbench.zoo.layers import resize


class Segmenter(nn.Module):
    """A zoo net with one of the three heads."""

    def __init__(self, net: nn.Module, head: str) -> None:
        super().__init__()
        self.net, self.head = net, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.net(x)
        size = x.shape[-2:]
        if self.head == "logits":
            return resize(logits, size)
        if self.head == "argmax":
            return resize(logits, size).argmax(dim=1)
        return valid_interpolate(logits, size)


def valid_interpolate(logits: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """VIM: upsample only the classes present in the low-resolution argmax."""
    present = torch.unique(logits.argmax(dim=1))  # sorted class ids
    upsampled = resize(logits.index_select(1, present), size)
    return present[upsampled.argmax(dim=1)]
