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

from ._torch import check_points
from .scores import EmpiricalEvaluation, Partials, StreamedTrainingSet, ou_coefficients

__all__ = ["ScoreEngine", "round_to_tf32", "MODES", "GEMMS"]

MODES = ("exact", "fast")
GROUP = 16  # columns per group in the candidate screen
GEMMS = ("fp32", "tf32", "tf32x3", "fp64")


def round_to_tf32(x: torch.Tensor) -> torch.Tensor:
    """Round float32 values to TF32 (10-bit mantissa, round to nearest even); exact in float32."""
    if x.dtype != torch.float32:
        raise ValueError(f"x must be float32, got {x.dtype}")
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


class ScoreEngine(StreamedTrainingSet):
    """Empirical score and log-density of ``data`` (P, N) with a chosen accuracy/speed trade-off.

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
    """

    def __init__(self, data: torch.Tensor, *, mode: str = "exact", gemm: str | None = None,
                 candidates: int | None = None, memory_budget_bytes: int = 256 * 2 ** 20):
        data = check_points("data", data)
        if data.shape[0] < 2:
            raise ValueError(f"data must have P >= 2 rows, got {data.shape[0]}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        plan = _DEFAULTS[(mode, "cuda" if data.is_cuda else "cpu")]
        gemm = gemm or plan.gemm
        if gemm not in GEMMS:
            raise ValueError(f"gemm must be one of {GEMMS}, got {gemm!r}")
        candidates = plan.candidates if candidates is None else candidates
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 0:
            raise ValueError(f"candidates must be an integer >= 0, got {candidates!r}")
        self.check_budget(memory_budget_bytes)
        self.mode, self.gemm, self.candidates = mode, gemm, min(candidates, data.shape[0])
        work = torch.float64 if gemm == "fp64" else torch.float32
        self.data = data.to(work)
        # squared norms accumulated in float64, a block at a time (no float64 copy of the data)
        self.norms2 = torch.cat([(blk.double() ** 2).sum(dim=1) for blk in self.data.split(2 ** 18)]).to(work)
        self.memory_budget_bytes = memory_budget_bytes
        self._min_exponent = math.log(torch.finfo(work).tiny) + 1.0


    # -------------------------------------------------------------------------------- GEMMs
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

    @staticmethod
    def _group_max(logits: torch.Tensor):
        """Per-row maxima over groups of :data:`GROUP` columns and their column indices. The
        candidate screen takes a top-k over these ``C/GROUP`` values instead of ``C``; two large
        logits in one group keep only the larger as a candidate (the other stays in the
        approximate remainder)."""
        B, C = logits.shape
        full = (C // GROUP) * GROUP
        parts_v, parts_i = [], []
        if full:
            gmax, garg = logits[:, :full].view(B, full // GROUP, GROUP).max(dim=2)
            parts_v.append(gmax)
            parts_i.append(garg + torch.arange(0, full, GROUP, device=logits.device))
        if full < C:  # the ragged tail is its own group
            tmax, targ = logits[:, full:].max(dim=1, keepdim=True)
            parts_v.append(tmax)
            parts_i.append(targ + full)
        return torch.cat(parts_v, 1), torch.cat(parts_i, 1)

    def _logits(self, x, a, norms2, scale_xa, scale_aa):
        """``(2 c x.a - c^2 |a|^2)/(2 Delta)`` for one chunk, with the GEMM at the engine's precision."""
        if self.gemm in ("fp32", "fp64"):
            with _tf32(False) if x.is_cuda else contextlib.nullcontext():
                return torch.addmm(norms2.mul(-scale_aa).expand(x.shape[0], -1), x, a.T, alpha=scale_xa)
        return self._dot(x, a).mul_(scale_xa).sub_(norms2 * scale_aa)

    # -------------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, t: float, *, need_score: bool = True) -> EmpiricalEvaluation:
        """Score (B, N), ``ln P^e_t(x)`` (B,), nearest scaled training point and largest weight,
        returned in ``x``'s dtype."""
        x_in = check_points("x", x, dim=self.N)
        if x_in.device != self.data.device:
            raise ValueError(f"x must be on the training data's device ({self.data.device}), got {x_in.device}")
        c, var = ou_coefficients(t)
        x = x_in.to(self.data.dtype)
        B = x.shape[0]
        K = self.candidates
        run_max = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
        run_sum = torch.zeros(B, dtype=x.dtype, device=x.device)
        acc = torch.zeros_like(x) if need_score else None
        top_val = torch.empty(B, 0, dtype=x.dtype, device=x.device)
        top_idx = torch.empty(B, 0, dtype=torch.long, device=x.device)
        run_arg = torch.zeros(B, dtype=torch.long, device=x.device)
        scale_xa, scale_aa = c / var, 0.5 * c * c / var
        chunk = self.chunk_size(B)
        for start in range(0, self.P, chunk):
            a = self.data[start:start + chunk]
            logits = self._logits(x, a, self.norms2[start:start + chunk], scale_xa, scale_aa)
            if K:
                # the group maxima give the chunk maximum for free (no second pass over the logits)
                gmax, gidx = self._group_max(logits)
                chunk_max, where = gmax.max(dim=1)
                chunk_arg = gidx.gather(1, where[:, None])[:, 0]
                vals, pos = torch.topk(gmax, min(K, gmax.shape[1]), dim=1)
                merged_v = torch.cat([top_val, vals], dim=1)
                merged_i = torch.cat([top_idx, gidx.gather(1, pos) + start], dim=1)
                keep = torch.topk(merged_v, min(K, merged_v.shape[1]), dim=1).indices
                top_val, top_idx = merged_v.gather(1, keep), merged_i.gather(1, keep)
            else:
                chunk_max, chunk_arg = logits.max(dim=1)
            run_arg = torch.where(chunk_max > run_max, chunk_arg + start, run_arg)
            new_max = torch.maximum(run_max, chunk_max)
            rescale = torch.exp(run_max - new_max)
            weights = torch.exp(logits.sub_(new_max[:, None]).clamp_(min=self._min_exponent))
            run_sum = run_sum * rescale + weights.sum(dim=1)
            if need_score:
                acc = acc * rescale[:, None] + weights @ a
            run_max = new_max
        return self._finish(x_in, t, c, var, run_max, run_sum, acc, top_val, top_idx, run_arg, need_score)

    def _finish(self, x_in, t, c, var, run_max, run_sum, acc, top_val, top_idx, run_arg, need_score):
        """Replace the candidates' approximate contributions by exact float64 ones."""
        x = x_in.double()
        half_norm = (x * x).sum(dim=1) / (2 * var)  # the row constant, in float64
        if top_idx.shape[1] == 0:  # no candidates: the plain streamed result, finished in float64
            ev = Partials(run_max.double(), run_sum.double(), None if acc is None else acc.double(),
                          run_arg).finish(x, t, self.P)
            return EmpiricalEvaluation(_cast(ev.score, x_in), ev.log_density.to(x_in.dtype), run_arg,
                                       ev.max_weight.to(x_in.dtype))
        # row blocks keep the float64 (rows, K, N) candidate tensors within the memory budget
        K = top_idx.shape[1]
        rows = max(1, self.memory_budget_bytes // (3 * 8 * K * self.N))
        parts = [self._exact_block(x[i:i + rows], c, var, half_norm[i:i + rows], run_max[i:i + rows],
                                   run_sum[i:i + rows], None if acc is None else acc[i:i + rows],
                                   top_val[i:i + rows], top_idx[i:i + rows], need_score)
                 for i in range(0, x.shape[0], rows)]
        score = torch.cat([p[0] for p in parts]) if need_score else None
        log_density, nearest, max_weight = (torch.cat([p[k] for p in parts]) for k in (1, 2, 3))
        return EmpiricalEvaluation(_cast(score, x_in), log_density.to(x_in.dtype), nearest, max_weight.to(x_in.dtype))

    def _exact_block(self, x, c, var, half_norm, run_max, run_sum, acc, top_val, top_idx, need_score):
        cand = self.data[top_idx].double()                              # (rows, K, N)
        diff = c * cand - x[:, None, :]                                 # exact differences
        exact = -(diff * diff).sum(dim=2) / (2 * var)                   # distance logits, float64
        m = exact.max(dim=1).values                                     # reference (distance units)
        w_exact = torch.exp(exact - m[:, None])
        # approximate quantities, moved to the same reference: l = d + |x|^2/(2 Delta)
        shift = run_max.double() - (m + half_norm)
        approx_total = run_sum.double() * torch.exp(shift)
        w_approx_cand = torch.exp(top_val.double() - (m + half_norm)[:, None])
        remainder = (approx_total - w_approx_cand.sum(dim=1)).clamp_(min=0.0)
        total = w_exact.sum(dim=1) + remainder
        log_density = m + torch.log(total) - math.log(self.P) - 0.5 * self.N * math.log(2 * math.pi * var)
        nearest = top_idx.gather(1, exact.argmax(dim=1)[:, None])[:, 0]
        max_weight = w_exact.max(dim=1).values / total
        score = None
        if need_score:
            rem_acc = acc.double() * torch.exp(shift)[:, None] - torch.bmm(w_approx_cand[:, None, :], cand)[:, 0]
            numer = torch.bmm(w_exact[:, None, :], diff)[:, 0] + c * rem_acc - remainder[:, None] * x
            score = numer / (total[:, None] * var)
        return score, log_density, nearest, max_weight


def _cast(score, like):
    return None if score is None else score.to(like.dtype)
