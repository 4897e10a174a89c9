"""Theory from a data array: validation, covariance spectrum, speciation hierarchy, Gaussian
collapse time and the "how many samples" inversion [BBBM24] (docs/real-data.md).

numpy / scipy only, and no file I/O (files are read by :mod:`simulate.datasets`). Rows are
samples; the covariance is taken after centring by the mean.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from .gaussian import collapse_time, covariance_spectrum
from .result import SolverResult
from .validation import InputError, validate_data, scalar_or_array

__all__ = [
    "EXACT_SPECTRUM_MAX_DIM",
    "validate_data",
    "data_spectrum",
    "SPECTRUM_MATRICES",
    "speciation_hierarchy",
    "collapse_time_from_spectrum",
    "samples_for_collapse_below",
]

#: Above this dimension (and sample count) only the top eigenvalues are computed, by Lanczos.
EXACT_SPECTRUM_MAX_DIM = 4096


#: The matrices whose spectrum :func:`data_spectrum` takes: the centred sample covariance (each feature's
#: own mean removed, ``P - 1``), or the second-moment matrix ``X^T X / P`` about the origin the
#: preprocessing left (e.g. [BBBM24]'s one scalar mean per channel; their code does not show which
#: of the two their published eigenvalues are, so both are offered).
SPECTRUM_MATRICES = ("covariance", "second-moment")


def data_spectrum(data, *, top: int | None = None, method: str = "auto",
                  matrix: str = "covariance") -> tuple[np.ndarray, str]:
    """Eigenvalues (descending) of the centred sample covariance (``P - 1`` normalisation), or with
    ``matrix="second-moment"`` of ``X^T X / P`` (no centring; :data:`SPECTRUM_MATRICES`).

    ``method="exact"``: all ``N`` eigenvalues from the smaller of the ``N x N`` covariance and the
    ``P x P`` Gram matrix. ``method="lanczos"``: the ``top`` largest by ``scipy.sparse.linalg.eigsh``
    on the implicit covariance operator (never forming it). ``"auto"`` is exact when
    ``min(P, N) <= EXACT_SPECTRUM_MAX_DIM``. Returns ``(eigenvalues, method_used)``.
    """
    x = validate_data(data)
    P, N = x.shape
    if matrix not in SPECTRUM_MATRICES:
        raise InputError(f"matrix must be one of {', '.join(SPECTRUM_MATRICES)}, got {matrix!r}")
    if method == "auto":
        method = "exact" if min(P, N) <= EXACT_SPECTRUM_MAX_DIM else "lanczos"
    if method == "exact" and matrix == "covariance":
        eig = covariance_spectrum(x)
        return (eig if top is None else eig[:top]), "exact"
    norm = P - 1 if matrix == "covariance" else P
    if matrix == "covariance":
        x = x - x.mean(axis=0)
    if method == "exact":
        eig = (np.linalg.eigvalsh(x.T @ x / norm) if N <= P
               else np.concatenate([np.linalg.eigvalsh(x @ x.T / norm), np.zeros(N - P)]))
        eig = np.sort(np.clip(eig, 0.0, None))[::-1]
        return (eig if top is None else eig[:top]), "exact"
    if method == "lanczos":
        k = int(top or 32)
        if not 1 <= k < min(P, N):
            raise InputError(f"top must lie in [1, {min(P, N) - 1}] for the Lanczos path, got {k}")
        op = LinearOperator((N, N), matvec=lambda v: x.T @ (x @ v) / norm, dtype=np.float64)
        vals = eigsh(op, k=k, which="LA", return_eigenvectors=False)
        return np.sort(np.clip(vals, 0.0, None))[::-1], "lanczos"
    raise InputError(f"method must be 'auto', 'exact' or 'lanczos', got {method!r}")


def speciation_hierarchy(eigenvalues, *, count: int = 5) -> np.ndarray:
    """Successive speciation times ``(1/2) ln Lambda_k`` of the largest eigenvalues above 1.

    Each well-separated large eigenvalue is one symmetry breaking along its direction [BBBM24];
    eigenvalues ``<= 1`` never speciate (their time would be ``<= 0``).
    """
    lam = np.sort(np.asarray(eigenvalues, dtype=float))[::-1][:count]
    return 0.5 * np.log(lam[lam > 1.0])


def _full_spectrum(eigenvalues, N: int, trace: float | None) -> np.ndarray:
    lam = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    if lam.size == N:
        return lam
    if trace is None:
        raise InputError("a partial spectrum needs the covariance trace to fill in the bulk")
    rest = max(trace - lam.sum(), 0.0) / (N - lam.size)
    return np.concatenate([lam, np.full(N - lam.size, rest)])


def collapse_time_from_spectrum(eigenvalues, P, *, N: int | None = None, trace: float | None = None,
                                dps: int | None = None) -> SolverResult:
    """Gaussian-approximation ``t_C`` for data with this covariance spectrum and ``P`` samples.

    With a partial (top-k) spectrum, give ``N`` and the covariance ``trace``; the remaining
    ``N - k`` eigenvalues are replaced by their mean (documented approximation).
    """
    lam = np.asarray(eigenvalues, dtype=float)
    N = int(N or lam.size)
    full = _full_spectrum(lam, N, trace)
    if not P >= 2:
        raise InputError(f"P must be >= 2, got {P!r}")
    return collapse_time(full, np.log(P) / N, dps=dps)


def samples_for_collapse_below(eigenvalues, t, *, N: int | None = None, trace: float | None = None) -> np.ndarray:
    """``ln P`` needed for the Gaussian ``t_C`` to fall to ``t`` (vectorised in ``t``)::

        ln P(t) = (1/2) sum_i log1p(lambda_i / tau),   tau = e^{2t} - 1.

    More samples than this push the collapse below ``t``. Returned as a natural log because it
    overflows quickly: for ``t -> 0`` it grows like ``(N/2) ln(1/tau)``.
    """
    lam = np.asarray(eigenvalues, dtype=float)
    full = _full_spectrum(lam, int(N or lam.size), trace)
    tau = np.expm1(2.0 * np.asarray(t, dtype=float))
    if np.any(tau <= 0):
        raise InputError("t must be > 0")
    out = 0.5 * np.sum(np.log1p(full / tau[..., None]), axis=-1)
    return scalar_or_array(out)
