"""Input checks shared by every public function, and the error they raise.

Each check raises :class:`InputError` (a ``ValueError``) whose message names the parameter and
its allowed range; the command line prints it as one line and exits with status 2. Any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "InputError",
    "as_float_array",
    "scalar_or_array",
    "require_int",
    "require_dps",
    "require_fits",
    "physical_memory_bytes",
    "require_real",
    "require_positive",
    "require_nonnegative",
    "require_finite",
    "require_in_open_interval",
    "validate_data",
]


class InputError(ValueError):
    """Bad input from a user: the message names the parameter and its allowed range.

    A subclass of ``ValueError``, so ``except ValueError`` still catches it; the CLI turns it
    (and only it) into one line ``error: ...`` with exit status 2.
    """


def scalar_or_array(x):
    """``float(x)`` for a 0-d result, else the array itself: the return convention of every
    vectorised function (a scalar in, a Python float out)."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def _describe(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(value)
    return f"an array of shape {arr.shape}"


def as_float_array(name: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array, or raise ``ValueError`` naming ``name``."""
    if isinstance(value, (str, bytes)):
        raise InputError(f"{name} must be a real number or array of real numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} must be a real number or array of real numbers, got {_describe(value)}"
        ) from None
    return arr


def require_finite(name: str, value) -> np.ndarray:
    """``value`` as a float64 array with no NaN or inf (elementwise)."""
    arr = as_float_array(name, value)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite (no NaN or inf), got {_describe(value)}")
    return arr


def require_positive(name: str, value) -> np.ndarray:
    """Finite and strictly positive (elementwise)."""
    arr = require_finite(name, value)
    if not np.all(arr > 0):
        bad = arr[arr <= 0] if arr.ndim else arr
        raise InputError(f"{name} must be > 0, got {float(np.min(bad)):g}")
    return arr


def require_nonnegative(name: str, value) -> np.ndarray:
    """Finite and ``>= 0`` (elementwise)."""
    arr = require_finite(name, value)
    if not np.all(arr >= 0):
        raise InputError(f"{name} must be >= 0, got {float(np.min(arr)):g}")
    return arr


def require_in_open_interval(name: str, value, low: float, high: float) -> np.ndarray:
    """Finite and strictly between ``low`` and ``high`` (elementwise)."""
    arr = require_finite(name, value)
    if not np.all((arr > low) & (arr < high)):
        raise InputError(f"{name} must lie in ({low}, {high}), got {_describe(value)}")
    return arr


def require_int(name: str, value, minimum: int) -> int:
    """An integer (bool excluded) at least ``minimum``; integral floats such as 1e4 are accepted."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        out = int(value)
    else:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if out < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {out}")
    return out


def physical_memory_bytes() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def require_fits(what: str, nbytes: float) -> None:
    """Refuse, before allocating, an array of ``nbytes`` larger than this machine's memory;
    ``what`` names the sizes (``"n x N = 10^12 x 8 float64"``)."""
    have = physical_memory_bytes()
    if have is not None and nbytes > have:
        raise InputError(f"{what} needs {nbytes / 2 ** 30:.3g} GiB, more than this machine's "
                         f"{have / 2 ** 30:.3g} GiB")


def require_dps(dps):
    """``None`` (float64) or the mpmath precision in decimal digits, an integer >= 1."""
    if dps is None:
        return None
    return require_int("dps", dps, 1)


def require_real(name: str, value) -> float:
    """A real scalar (a Python float), or an :class:`InputError` naming ``name``: strings, None,
    complex numbers and booleans are refused; NaN and inf pass (check them where they matter)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None or isinstance(value, complex):
        raise InputError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number, got {_describe(value)}") from None


def validate_data(data, name: str = "data") -> np.ndarray:
    """Return ``data`` as a float64 ``(P, N)`` array.

    Accepts 2-D arrays (rows are samples) and image-shaped arrays ``(P, H, W)`` or
    ``(P, H, W, C)``, which are flattened. Raises ``ValueError`` (one line) for non-numeric input,
    1-D input, fewer than 2 samples, or non-finite values.
    """
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise InputError(f"{name} must be 2-D (P, N) or image-shaped (P, H, W[, C]), got shape {arr.shape}")
    if arr.ndim > 4:
        raise InputError(f"{name} must have at most 4 dimensions (P, H, W, C), got shape {arr.shape}")
    arr = arr.reshape(arr.shape[0], -1).astype(np.float64, copy=False)
    if arr.shape[0] < 2:
        raise InputError(f"{name} must have P >= 2 samples (rows), got P = {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise InputError(f"{name} must have N >= 1 features")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite: found {int(np.sum(~np.isfinite(arr)))} NaN or inf values")
    return arr
