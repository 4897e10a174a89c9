"""Small torch helpers: device / dtype resolution and tensor validation."""

from __future__ import annotations

import torch

from theory.validation import InputError, require_int

__all__ = ["resolve_device", "resolve_dtype", "check_points", "make_generator"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; an unavailable CUDA request is an error."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda[:k]', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but no CUDA device is available; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(f"device {device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                         f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda[:k]', got {device!r}")
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"`` / ``"float64"`` (or the torch dtype) -> the torch dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise InputError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    if dtype not in _DTYPES:
        raise InputError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return _DTYPES[dtype]


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (all randomness goes through it)."""
    seed = require_int("seed", seed, 0)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def check_points(name: str, x, *, dim: int | None = None) -> torch.Tensor:
    """A floating 2-D tensor ``(B, N)`` of finite values (``N == dim`` when given)."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape (B, N), got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise InputError(f"{name} must have dtype float32 or float64, got {x.dtype}")
    if x.ndim != 2:
        raise InputError(f"{name} must have shape (B, N), got {tuple(x.shape)}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise InputError(f"{name} must have at least one row and one column, got shape {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise InputError(f"{name} must have N = {dim} columns, got {x.shape[1]}")
    # inside a functorch transform (jacrev/vmap of an analytic score) values are symbolic: no check
    traced = torch._C._functorch.is_functorch_wrapped_tensor(x)
    if not traced and not torch.isfinite(x).all():
        raise InputError(f"{name} must be finite (no NaN or inf)")
    return x
