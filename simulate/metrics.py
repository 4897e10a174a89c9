"""Memorisation metrics of generated samples against the training set [BDKOS25]."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["nearest_distances", "training_spacing", "memorized_fraction", "MEMORIZATION_THRESHOLD"]

#: A sample is memorised when its distance to the nearest training point is below this fraction
#: of the typical (median) nearest-neighbour spacing of the training set.
MEMORIZATION_THRESHOLD = 1 / 3


def nearest_distances(samples: torch.Tensor, data: torch.Tensor, *, chunk: int = 4096):
    """``(d1, d2)``: distances of each sample to its nearest and second-nearest training point."""
    out1, out2 = [], []
    for start in range(0, samples.shape[0], chunk):
        d = torch.cdist(samples[start:start + chunk].double(), data.double())
        two = torch.topk(d, k=min(2, data.shape[0]), dim=1, largest=False).values
        out1.append(two[:, 0])
        out2.append(two[:, -1])
    return torch.cat(out1).cpu().numpy(), torch.cat(out2).cpu().numpy()


def training_spacing(data: torch.Tensor) -> float:
    """Median nearest-neighbour distance within the training set."""
    d = torch.cdist(data.double(), data.double())
    d.fill_diagonal_(float("inf"))
    return float(d.min(dim=1).values.median())


def memorized_fraction(samples: torch.Tensor, data: torch.Tensor, *, threshold: float = MEMORIZATION_THRESHOLD):
    """Fraction of samples within ``threshold`` x the training set's median nearest-neighbour
    spacing of a training point; also returns the nearest-distance ratios ``d1/d2``."""
    d1, d2 = nearest_distances(samples, data)
    spacing = training_spacing(data)
    return float(np.mean(d1 < threshold * spacing)), d1 / np.maximum(d2, 1e-300)
