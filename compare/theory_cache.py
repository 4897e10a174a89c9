"""On-disk cache of slow theory solves (the replica-symmetric hidden-manifold model takes seconds
per point). The theory package does no file I/O; this module wraps it.

Entries are JSON files under ``CACHE_DIR/hmm/<kind>-<hash>.json`` holding the configuration
(including :data:`CACHE_VERSION` and the quadrature orders of the model) and the values; an entry
is used only when its recorded configuration equals the requested one, so a change of version or
quadrature never reads a stale value, and a damaged file is recomputed. ``CACHE_DIR`` is
``$REGIMES_CACHE`` or ``~/.cache/diffusion-regimes``; the test suite points it at a temporary
folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from theory.hmm_phase import hidden_manifold, regime_times, regime_times_line
from theory.validation import require_positive

from .io import atomic_write_text, config_hash, to_json_ready, warn_recompute

__all__ = ["CACHE_VERSION", "default_cache_dir", "cached_regime_times", "cached_regime_times_line", "cached_basin",
           "model_signature"]

#: Bump when a cached solver changes its numbers or the entry format (3: closed-form inner integral
#: for relu and sign, fourth-order envelope derivative, per-quantity flags, a checksum per entry).
CACHE_VERSION = 3


def default_cache_dir() -> Path:
    """``$REGIMES_CACHE`` or ``~/.cache/diffusion-regimes``."""
    return Path(os.environ.get("REGIMES_CACHE", Path.home() / ".cache" / "diffusion-regimes"))


def model_signature(model) -> dict:
    """What determines the numbers of ``model``: class, nonlinearity, spectrum and quadrature."""
    sig = {"class": type(model).__name__, "alpha_D": model.alpha_D, "phi": str(model.phi)}
    if hasattr(model, "quadrature"):
        sig["quadrature"] = dataclasses.asdict(model.quadrature)
    if hasattr(model, "spectrum"):
        sig["spectrum"] = model.spectrum
        sig["quadrature_nodes"] = getattr(model, "QUADRATURE_NODES", None)
    return sig


def _entry_path(cache_dir, kind: str, config: dict) -> tuple[dict, Path]:
    config = {"kind": kind, "version": CACHE_VERSION, **config}
    return config, (Path(cache_dir) if cache_dir else default_cache_dir()) / "hmm" / f"{kind}-{config_hash(config)}.json"


def _checksum(value) -> str:
    """SHA-256 of the value's canonical JSON: an edited or damaged value no longer matches."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, allow_nan=True).encode()).hexdigest()


def _read(config: dict, path: Path):
    """The stored value when the entry's recorded configuration is ``config`` and its checksum
    matches; else ``None`` (recompute). A file that exists but fails either test is named in one
    warning line on stderr."""
    if not path.exists():
        return None
    problem = None
    try:
        entry = json.loads(path.read_text())
        if entry.get("config") != json.loads(json.dumps(config)):
            problem = "its recorded configuration is not this one"
        elif entry.get("sha256") != _checksum(entry["value"]):
            problem = "its value fails its checksum"
        else:
            return entry["value"]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        problem = "it cannot be read"
    warn_recompute("cache entry", path, problem)
    return None


def _write(config: dict, path: Path, value) -> dict:
    value = to_json_ready(value)
    atomic_write_text(path, json.dumps({"config": config, "value": value, "sha256": _checksum(value)}, indent=1))
    return value


def _cached(cache_dir, kind: str, config: dict, compute) -> dict:
    """``compute()`` (a JSON-ready dict) through the cache (``cache_dir=False`` disables it)."""
    if cache_dir is False:
        return compute()
    config, path = _entry_path(cache_dir, kind, config)
    value = _read(config, path)
    return value if value is not None else _write(config, path, compute())


def cached_regime_times(alpha: float, alpha_D: float, phi="linear", *, spectrum="mp", model=None,
                        cache_dir=None) -> dict:
    """:func:`theory.hmm_phase.regime_times` through the disk cache (named ``phi`` and ``spectrum``;
    anything else is computed directly)."""
    alpha = float(require_positive("alpha", alpha))
    model = model if model is not None else hidden_manifold(alpha_D, phi, spectrum)
    compute = lambda: regime_times(alpha, alpha_D, phi, spectrum=spectrum, model=model)
    if not isinstance(phi, str) or not isinstance(spectrum, str):
        return compute()
    return _cached(cache_dir, "times", {"alpha": alpha, "model": model_signature(model)}, compute)


def cached_regime_times_line(alphas, alpha_D: float, phi="linear", *, spectrum="mp", model=None,
                             cache_dir=None) -> list[dict]:
    """:func:`cached_regime_times` for every ``alpha`` of one line at fixed ``alpha_D``: the points
    missing from the cache are solved along the line at once (one interpolated curve per quantity
    for nonlinear ``phi``, accurate to the tolerance its method states) and stored one by one."""
    alphas = [float(a) for a in np.atleast_1d(require_positive("alpha", alphas))]
    model = model if model is not None else hidden_manifold(alpha_D, phi, spectrum)
    if cache_dir is False or not isinstance(phi, str) or not isinstance(spectrum, str):
        return regime_times_line(alphas, alpha_D, phi, model=model)
    entries = [_entry_path(cache_dir, "times", {"alpha": a, "model": model_signature(model)}) for a in alphas]
    values = [_read(config, path) for config, path in entries]
    missing = [k for k, v in enumerate(values) if v is None]
    if missing:
        rows = regime_times_line([alphas[k] for k in missing], alpha_D, phi, model=model)
        for k, row in zip(missing, rows):
            values[k] = _write(*entries[k], row)
    return values


def cached_basin(t: float, alpha: float, alpha_D: float, phi="linear", *, spectrum="mp", model=None,
                 cache_dir=None) -> float:
    """``r*(t)`` of the hidden-manifold model through the disk cache (NaN above the onset)."""
    t, alpha = float(require_positive("t", t)), float(require_positive("alpha", alpha))
    model = model if model is not None else hidden_manifold(alpha_D, phi, spectrum)

    def compute():
        res = model.basin(t, alpha)
        return {"r_star": float(res.value), "converged": bool(res.converged), "flag": str(res.flag)}

    if not isinstance(phi, str) or not isinstance(spectrum, str):
        value = compute()
    else:
        value = _cached(cache_dir, "basin", {"t": t, "alpha": alpha, "model": model_signature(model)}, compute)
    r = value["r_star"]
    return float("nan") if r is None else float(r)
