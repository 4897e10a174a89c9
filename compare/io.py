"""Atomic file output and content-addressed caching of raw simulation results.

Every file is written to a temporary name in the target directory and moved into place with
``os.replace``, so an interrupted run never leaves a half-written file. Raw results are stored
under ``raw/<stage>-<hash>.npz`` where the hash covers the full configuration of the stage, so
a rerun with the same configuration resumes from them instead of recomputing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from theory.atomic import atomic_write_bytes

__all__ = ["atomic_write_bytes", "atomic_write_text", "config_hash", "save_npz", "load_npz", "cached_stage"]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def config_hash(config: dict) -> str:
    """Stable 16-hex-digit hash of a JSON-serialisable configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | os.PathLike) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def cached_stage(out_dir: str | os.PathLike | None, stage: str, config: dict, compute, *,
                 resume: bool = True) -> tuple[dict, bool, Path | None]:
    """Return ``compute()`` (a dict of arrays), cached under ``out_dir/raw``.

    Returns ``(arrays, from_cache, path)``; the configuration is stored beside the arrays as
    JSON. With ``out_dir=None`` nothing is cached and ``path`` is None.
    """
    if out_dir is None:
        return compute(), False, None
    path = Path(out_dir) / "raw" / f"{stage}-{config_hash(config)}.npz"
    if resume and path.exists():
        return load_npz(path), True, path
    arrays = compute()
    save_npz(path, **arrays)
    atomic_write_text(path.with_suffix(".json"), json.dumps(config, indent=2, sort_keys=True, default=str))
    return arrays, False, path
