"""Empirical-score engine with two modes: ``exact`` and ``fast``.

Both stream the training set in chunks with a running log-sum-exp (memory ``O(P N + B N + B chunk)``,
never a full ``B x P`` buffer) and form the logits with one GEMM per chunk,
``l = (2 c x.a - c^2 |a|^2)/(2 Delta)`` (the row constant is left out). That dot-product form
cancels catastrophically when ``c/Delta`` is large (small ``t``): its absolute logit error is about
``eps c |x| |a| / Delta``. The engine therefore

1. keeps, per query row, the ``candidates`` largest approximate logits (a running top-k), and
2. recomputes those candidates exactly from direct differences ``|x - c a|^2`` in float64, then
   replaces their approximate contribution: ``total = exact(candidates) + (approx(all) - approx(candidates))``.

The candidates carry essentially all the weight below the collapse time, where the cancellation is
worst; above it ``c/Delta`` is small and the GEMM logits are accurate. The score is assembled as
``sum_mu w_mu (c a^mu - x)/Delta`` with the candidate differences taken directly, so the final
subtraction does not cancel either.

GEMM precision (``gemm=``): ``"fp32"`` (IEEE float32), ``"tf32"`` (tensor cores: inputs rounded to a
10-bit mantissa, float32 accumulation), ``"tf32x3"`` (compensated split ``a = a_hi + a_lo`` in TF32:
``hi.hi + hi.lo + lo.hi``, close to float32 accuracy at tensor-core speed), ``"fp64"``.
On CUDA TF32 runs on the tensor cores; on CPU it is *emulated* (inputs rounded, float32 GEMM), so
that the CPU suite checks the numerics of the CUDA path (its CPU twin).

Modes: ``exact`` = ``tf32x3`` with 32 candidates on CUDA, ``fp32`` with 16 on CPU; ``fast`` =
``tf32`` on CUDA / ``fp32`` on CPU, with 8 candidates.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from theory.validation import InputError, require_int

from ._torch import check_points
from .scores import AccuracyGuard, StreamedTrainingSet

__all__ = ["ScoreEngine", "round_to_tf32", "MODES", "GEMMS"]

MODES = ("exact", "fast")
GEMMS = ("fp32", "tf32", "tf32x3", "fp64")


def round_to_tf32(x: torch.Tensor) -> torch.Tensor:
    """Round float32 values to TF32 (10-bit mantissa, round to nearest even); exact in float32."""
    if x.dtype != torch.float32:
        raise InputError(f"x must be float32, got {x.dtype}")
    bits = x.contiguous().view(torch.int32)
    bias = 0xFFF + ((bits >> 13) & 1)
    return ((bits + bias) & ~0x1FFF).view(torch.float32)


@contextlib.contextmanager
def _tf32(enabled: bool):
    """Allow TF32 tensor cores for float32 matmuls inside the block (CUDA), restoring the setting."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        old = matmul.fp32_precision
        matmul.fp32_precision = "tf32" if enabled else "ieee"
        try:
            yield
        finally:
            matmul.fp32_precision = old
    else:  # pragma: no cover - torch < 2.9
        old = matmul.allow_tf32
        matmul.allow_tf32 = enabled
        try:
            yield
        finally:
            matmul.allow_tf32 = old


@dataclass(frozen=True)
class _Plan:
    gemm: str
    candidates: int


# CPU: the float64 candidate pass costs ~1 ms per 1e6 B*K*N, so fewer candidates keep the CPU path at
# the plain version's speed (measured: K = 32 adds 25% at N = 784, K = 8 adds 5%)
_DEFAULTS = {("exact", "cuda"): _Plan("tf32x3", 32), ("exact", "cpu"): _Plan("fp32", 16),
             ("fast", "cuda"): _Plan("tf32", 8), ("fast", "cpu"): _Plan("fp32", 8)}
#: Unit roundoff of each GEMM: float32, TF32 (10-bit mantissa), the 3-term TF32 split (its dropped
#: lo.lo term and the lo parts' own TF32 rounding, ~2^-21 measured), float64.
UNIT_ROUNDOFF = {"fp32": 2.0 ** -24, "tf32": 2.0 ** -11, "tf32x3": 2.0 ** -21, "fp64": 2.0 ** -53}
#: What the guard holds each mode to (:class:`~simulate.scores.AccuracyGuard`): ``exact`` to float32
#: accuracy, ``fast`` only against gross failure (logits off by more than one nat, a remainder lost
#: to rounding at the 1e-3 level).
_GUARDS = {"exact": dict(max_logit_error=2e-3, tolerance=1e-5), "fast": dict(max_logit_error=1.0, tolerance=1e-3)}


class ScoreEngine(StreamedTrainingSet):
    """Empirical score and log-density of ``data`` (P, N) with a chosen accuracy/speed trade-off.

    A drop-in for :class:`~simulate.scores.EmpiricalScore`: the same protocol (``evaluate``,
    ``partials``, ``rows``, ``exclude=``, ``need=``) and the same streaming loop, with the chunk
    logits formed by a GEMM at the engine's precision and, per query row, ``candidates`` logits
    recomputed exactly in float64 (module docstring). Queries may come in any float dtype; results
    are returned in it. The posterior covariance (``need=("covariance",)``) is accumulated at the
    GEMM precision, without candidates.

    Parameters
    ----------
    data : Tensor (P, N), float32 or float64
        Training points; the GEMMs run in float32 (float64 data is converted once, unless
        ``gemm="fp64"``).
    mode : {"exact", "fast"}
        Default GEMM precision and number of exactly recomputed candidates (module docstring).
    gemm : str, optional
        Override the GEMM precision: one of :data:`GEMMS`.
    candidates : int, optional
        Override the number of candidates (0 disables the exact recomputation).
    memory_budget_bytes : int
        Bound on the per-chunk ``B x chunk`` buffers.
    origin : Tensor (N,), optional
        Centre of the frame the logits are formed in (default: the training mean).

    Notes
    -----
    Rows whose result the :class:`~simulate.scores.AccuracyGuard` cannot vouch for (large norms
    at small ``t`` with weight outside the candidates) are recomputed with float64 logits, so the
    engine never returns NaN and never a silently wrong row (tests/test_engine.py).
    """

    finish_dtype = torch.float64

    def __init__(self, data: torch.Tensor, *, mode: str = "exact", gemm: str | None = None,
                 candidates: int | None = None, memory_budget_bytes: int = 256 * 2 ** 20, origin=None):
        data = check_points("data", data)
        if mode not in MODES:
            raise InputError(f"mode must be one of {MODES}, got {mode!r}")
        plan = _DEFAULTS[(mode, "cuda" if data.is_cuda else "cpu")]
        gemm = gemm or plan.gemm
        if gemm not in GEMMS:
            raise InputError(f"gemm must be one of {GEMMS}, got {gemm!r}")
        candidates = require_int("candidates", plan.candidates if candidates is None else candidates, 0)
        self._init_data(data, memory_budget_bytes, work_dtype=torch.float64 if gemm == "fp64" else torch.float32,
                        origin=origin)
        self.mode, self.gemm, self.candidates = mode, gemm, min(candidates, self.P)
        self.guard = AccuracyGuard(unit_roundoff=UNIT_ROUNDOFF[gemm], max_norm=self.max_norm, **_GUARDS[mode])
        if gemm == "fp64":  # nothing above it to promote to
            self.guard = self.guard.float64()

    def _work_query(self, x: torch.Tensor) -> torch.Tensor:
        """Queries of any float dtype are accepted (cast to the GEMM's dtype in the centred frame;
        results come back in ``x``'s dtype)."""
        return x

    def _dot(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``x @ a.T`` at the engine's GEMM precision."""
        if self.gemm in ("fp32", "fp64"):
            with _tf32(False) if x.is_cuda else contextlib.nullcontext():
                return x @ a.T
        if x.is_cuda:
            with _tf32(True):
                if self.gemm == "tf32":
                    return x @ a.T
                x_hi, a_hi = round_to_tf32(x), round_to_tf32(a)
                x_lo, a_lo = x - x_hi, a - a_hi
                return x_hi @ a_hi.T + (x_hi @ a_lo.T + x_lo @ a_hi.T)
        # CPU twin: TF32 emulated by rounding the inputs, float32 accumulation
        x_hi, a_hi = round_to_tf32(x), round_to_tf32(a)
        if self.gemm == "tf32":
            return x_hi @ a_hi.T
        x_lo, a_lo = round_to_tf32(x - x_hi), round_to_tf32(a - a_hi)
        return x_hi @ a_hi.T + (x_hi @ a_lo.T + x_lo @ a_hi.T)

    def _logits(self, x, a, norms2, scale_xa, scale_aa):
        """``(2 c x.a - c^2 |a|^2)/(2 Delta)`` for one chunk, with the GEMM at the engine's precision
        (float64 queries: a pass the guard promoted, a plain float64 GEMM)."""
        if self.gemm in ("fp32", "fp64") or x.dtype == torch.float64:
            with _tf32(False) if x.is_cuda else contextlib.nullcontext():
                return torch.addmm(norms2.mul(-scale_aa).expand(x.shape[0], -1), x, a.T, alpha=scale_xa)
        return self._dot(x, a).mul_(scale_xa).sub_(norms2 * scale_aa)
