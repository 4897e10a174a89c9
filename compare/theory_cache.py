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
import json
import os
from pathlib import Path

from theory.hmm_phase import hidden_manifold, regime_times
from theory.validation import require_positive

from .io import atomic_write_text, config_hash, to_json_ready

__all__ = ["CACHE_VERSION", "default_cache_dir", "cached_regime_times", "cached_basin", "model_signature"]

#: Bump when a cached solver changes its numbers.
CACHE_VERSION = 2


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


def _cached(cache_dir, kind: str, config: dict, compute) -> dict:
    """``compute()`` (a JSON-ready dict) through the cache (``cache_dir=False`` disables it)."""
    config = {"kind": kind, "version": CACHE_VERSION, **config}
    if cache_dir is False:
        return compute()
    path = (Path(cache_dir) if cache_dir else default_cache_dir()) / "hmm" / f"{kind}-{config_hash(config)}.json"
    try:
        entry = json.loads(path.read_text())
        if entry.get("config") == json.loads(json.dumps(config)):
            return entry["value"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass  # absent or damaged: recompute
    value = to_json_ready(compute())
    atomic_write_text(path, json.dumps({"config": config, "value": value}, indent=1))
    return value


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
