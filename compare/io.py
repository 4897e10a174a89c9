"""File output for :mod:`compare`: the atomic, verified writers of :mod:`simulate.io` (torch-free)
and the conversion of results to standard JSON."""

from __future__ import annotations

import numpy as np

from simulate.io import CacheMiss, atomic_write_bytes, atomic_write_text, config_hash, load_npz, save_npz

__all__ = ["atomic_write_bytes", "atomic_write_text", "config_hash", "save_npz", "load_npz", "CacheMiss",
           "to_json_ready"]


def to_json_ready(obj):
    """Numpy scalars and arrays -> Python values, NaN and inf -> None (standard JSON), keys -> str."""
    if isinstance(obj, dict):
        return {str(k): to_json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json_ready(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj
