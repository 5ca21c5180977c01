"""Deterministic random streams derived from the configuration seed.

Every random draw in tomobench comes from ``rng(seed, *keys)``: the keys name the stage and
item (``rng(seed, "scene", 3)`` for tomogram 3's scene), so streams are independent of each
other and of execution order, and the same configuration gives byte-identical outputs.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key_to_int(key: str | int) -> int:
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"seed keys must be non-negative, got {key}")
        return int(key)
    digest = hashlib.sha256(str(key).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def seed_sequence(seed: int, *keys: str | int) -> np.random.SeedSequence:
    """Return the ``SeedSequence`` for ``seed`` and a path of string/int keys."""
    return np.random.SeedSequence([int(seed), *(_key_to_int(k) for k in keys)])


def rng(seed: int, *keys: str | int) -> np.random.Generator:
    """Return an independent ``numpy.random.Generator`` for ``seed`` and ``keys``."""
    return np.random.default_rng(seed_sequence(seed, *keys))


def torch_seed(seed: int, *keys: str | int) -> int:
    """Return a 63-bit integer seed for torch generators, derived like ``rng``."""
    return int(seed_sequence(seed, *keys).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
