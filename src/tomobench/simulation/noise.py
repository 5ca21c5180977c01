"""Electron counting noise."""

from __future__ import annotations

import numpy as np


def poisson_counts(expected_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson draw per pixel of the expected electron counts (clipped at 0); float32."""
    return rng.poisson(np.clip(np.asarray(expected_counts, dtype=np.float64), 0, None)).astype(
        np.float32
    )
