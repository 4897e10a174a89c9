"""Score functions ``S(x, t) = grad log P_t(x)`` in OU time.

* :class:`EmpiricalScore`: the exact score of the empirical density
  ``P^e_t = (1/P) sum_mu N(a^mu e^{-t}, Delta_t I)``, streamed over ``P`` in chunks with a
  running log-sum-exp (never a full ``B x P`` buffer).
* :class:`MixtureScore`: the exact score of the two-class Gaussian mixture.
* :class:`GaussianScore`: the exact score of ``N(0, diag(variances))`` (for tests of the
  samplers against closed-form laws).

Every score is a callable ``score(x, t) -> Tensor``; :meth:`EmpiricalScore.evaluate` also
returns the log-density, the index of the nearest scaled training point and the largest
softmax weight from the same pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._torch import check_points

__all__ = ["EmpiricalAccessors", "StreamedTrainingSet", "Partials", "combine_partials", "EmpiricalScore", "EmpiricalEvaluation", "MixtureScore", "GaussianScore", "ou_coefficients"]


def ou_coefficients(t: float) -> tuple[float, float]:
    """``(e^{-t}, Delta_t)`` for a scalar OU time ``t > 0``."""
    t = float(t)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"t must be a finite time > 0, got {t!r}")
    return math.exp(-t), -math.expm1(-2.0 * t)


@dataclass
class StreamChunk:
    """One chunk of :meth:`EmpiricalScore.stream`: training ``points`` from index ``start``,
    their ``weights`` relative to the running maximum ``new_max``, the factor ``rescale`` for
    previously accumulated sums, and the chunk's own maximum logit and its index."""

    start: int
    points: torch.Tensor
    weights: torch.Tensor
    rescale: torch.Tensor
    chunk_max: torch.Tensor
    chunk_arg: torch.Tensor
    new_max: torch.Tensor


@dataclass
class EmpiricalEvaluation:
    """Everything one streamed pass over the training set yields at ``(x, t)``.

    ``score`` (B, N); ``log_density`` (B,) = ``ln P^e_t(x)``; ``nearest_index`` (B,) = argmin over
    ``mu`` of ``|x - e^{-t} a^mu|``; ``max_weight`` (B,) = the largest softmax weight.
    """

    score: torch.Tensor
    log_density: torch.Tensor
    nearest_index: torch.Tensor
    max_weight: torch.Tensor


@dataclass
class Partials:
    """Streamed partial sums over (part of) a training set, per query row: ``max`` logit (without
    the row constant), ``sum`` of ``exp(logit - max)``, ``weighted`` sum of points with those
    weights (or None), and the global ``argmax`` index. Partials of disjoint shards combine
    exactly (:func:`combine_partials`)."""

    max: torch.Tensor
    sum: torch.Tensor
    weighted: torch.Tensor | None
    argmax: torch.Tensor

    def finish(self, x: torch.Tensor, t: float, P: int) -> EmpiricalEvaluation:
        """Score, log-density, nearest index and largest weight of the full set of ``P`` points."""
        c, var = ou_coefficients(t)
        lse = self.max + torch.log(self.sum)
        row_const = -(x * x).sum(dim=1) / (2.0 * var)
        log_density = lse + row_const - math.log(P) - 0.5 * x.shape[1] * math.log(2.0 * math.pi * var)
        score = (c * self.weighted / self.sum[:, None] - x) / var if self.weighted is not None else None
        return EmpiricalEvaluation(score, log_density, self.argmax, 1.0 / self.sum)


def combine_partials(parts: list[Partials]) -> Partials:
    """Exact combination of the partials of disjoint shards: rescale each to the common maximum."""
    maxes = torch.stack([p.max for p in parts])
    new_max = maxes.max(dim=0).values
    finite = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
    scales = torch.exp(maxes - finite)
    total = sum(s * p.sum for s, p in zip(scales, parts))
    weighted = None
    if all(p.weighted is not None for p in parts):
        weighted = sum(s[:, None] * p.weighted for s, p in zip(scales, parts))
    argmax = torch.stack([p.argmax for p in parts]).gather(0, maxes.argmax(dim=0, keepdim=True))[0]
    return Partials(new_max, total, weighted, argmax)


class EmpiricalAccessors:
    """Score, log-density and nearest index from one ``evaluate(x, t, need_score=...)`` returning an
    :class:`EmpiricalEvaluation`: shared by every empirical-score implementation."""

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        return self.evaluate(x, t).score

    def log_density(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``ln P^e_t(x)`` (B,)."""
        return self.evaluate(x, t, need_score=False).log_density

    def nearest_index(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """Index of the training point whose scaled copy ``e^{-t} a^mu`` is nearest to each row."""
        return self.evaluate(x, t, need_score=False).nearest_index


class StreamedTrainingSet(EmpiricalAccessors):
    """What every streamed score shares: the training set ``data`` (P, N) and the chunk over ``P``
    that keeps the ``B x chunk`` logits and weights within ``memory_budget_bytes``."""

    data: torch.Tensor
    memory_budget_bytes: int
    fixed_chunk_size: int | None = None

    @staticmethod
    def check_budget(memory_budget_bytes) -> int:
        if isinstance(memory_budget_bytes, bool) or not isinstance(memory_budget_bytes, int) or memory_budget_bytes < 1:
            raise ValueError(f"memory_budget_bytes must be an integer >= 1, got {memory_budget_bytes!r}")
        return memory_budget_bytes

    @property
    def P(self) -> int:
        return int(self.data.shape[0])

    @property
    def N(self) -> int:
        return int(self.data.shape[1])

    def chunk_size(self, batch: int) -> int:
        """Chunk over ``P`` used for a batch of ``batch`` query points."""
        if self.fixed_chunk_size is not None:
            return min(self.fixed_chunk_size, self.P)
        per_column = 2 * max(batch, 1) * self.data.element_size()  # logits and weights
        return max(1, min(self.P, self.memory_budget_bytes // per_column))


class EmpiricalScore(StreamedTrainingSet):
    """Exact score of the empirical density of a training set, streamed over ``P``.

    Parameters
    ----------
    data : Tensor, shape (P, N)
        Training points ``a^mu`` (float32 or float64; the computation runs in this dtype and on
        this device).
    memory_budget_bytes : int
        Upper bound on the temporary ``B x chunk`` buffers; the chunk size over ``P`` is
        ``budget // (2 B itemsize)`` (at least 1, at most ``P``).
    chunk_size : int, optional
        Fix the chunk size instead (overrides the budget).

    Notes
    -----
    Logits ``l_mu = -|x - c a^mu|^2 / (2 Delta)``, ``c = e^{-t}``, are formed as
    ``(2 c x.a^mu - c^2 |a^mu|^2) / (2 Delta)`` with the row constant ``-|x|^2/(2 Delta)`` added
    only to the log-density. Per chunk the running maximum ``m``, the sum ``s`` of
    ``exp(l - m)`` and the weighted sum of ``a^mu`` are rescaled by ``exp(m_old - m_new)``.
    """

    def __init__(self, data: torch.Tensor, *, memory_budget_bytes: int = 64 * 2**20, chunk_size: int | None = None):
        data = check_points("data", data)
        if data.shape[0] < 2:
            raise ValueError(f"data must have P >= 2 rows, got {data.shape[0]}")
        self.check_budget(memory_budget_bytes)
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
        self.data = data
        self.norms2 = (data * data).sum(dim=1)
        self.memory_budget_bytes = memory_budget_bytes
        self._min_exponent = math.log(torch.finfo(data.dtype).tiny) + 1.0
        self.fixed_chunk_size = chunk_size


    def _check_query(self, x: torch.Tensor) -> torch.Tensor:
        x = check_points("x", x, dim=self.N)
        if x.dtype != self.data.dtype or x.device != self.data.device:
            raise ValueError(
                f"x must have the training data's dtype and device ({self.data.dtype}, {self.data.device}), "
                f"got ({x.dtype}, {x.device})"
            )
        return x

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, t: float, *, need_score: bool = True,
                 exclude: torch.Tensor | None = None) -> EmpiricalEvaluation:
        """One streamed pass: score, log-density, nearest scaled training point, largest weight.

        ``exclude`` (B,), optional: for each row, the index of one training point to leave out
        (leave-one-out log-density of the other ``P - 1`` points; the normalisation stays
        ``1/P``).
        """
        x = self._check_query(x)
        return self.partials(x, t, need_score=need_score, exclude=exclude).finish(x, t, self.P)

    @torch.no_grad()
    def partials(self, x: torch.Tensor, t: float, *, need_score: bool = True,
                 exclude: torch.Tensor | None = None, index_offset: int = 0) -> "Partials":
        """Per-row running maximum, sum of ``exp(logit - max)``, weighted sum of training points
        and best logit over this training set: what a shard contributes (see :func:`combine_partials`)."""
        x = self._check_query(x)
        B = x.shape[0]
        run_max = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
        run_sum = torch.zeros(B, dtype=x.dtype, device=x.device)
        run_arg = torch.zeros(B, dtype=torch.long, device=x.device)
        acc = torch.zeros_like(x) if need_score else None
        for chunk in self.stream(x, t, self.chunk_size(B), exclude=exclude):
            run_sum = run_sum * chunk.rescale + chunk.weights.sum(dim=1)
            if need_score:
                acc = acc * chunk.rescale[:, None] + chunk.weights @ chunk.points
            run_arg = torch.where(chunk.chunk_max > run_max, chunk.chunk_arg + chunk.start, run_arg)
            run_max = chunk.new_max
        return Partials(run_max, run_sum, acc, run_arg + index_offset)

    def stream(self, x: torch.Tensor, t: float, chunk: int, *, exclude: torch.Tensor | None = None):
        """The running log-sum-exp shared by every streamed quantity: yields one :class:`StreamChunk`
        per ``chunk`` training points. A consumer multiplies what it has accumulated by
        ``rescale`` and adds its sums over ``weights`` (``exp(logits - new_max)``).

        Logits ``l_mu = -|x - c a^mu|^2 / (2 Delta)`` are formed as
        ``(2 c x.a^mu - c^2 |a^mu|^2) / (2 Delta)`` (the row constant ``-|x|^2/(2 Delta)`` is left out).
        ``exclude`` (B,), optional: one training index per row to leave out.
        """
        c, var = ou_coefficients(t)
        B = x.shape[0]
        rows = torch.arange(B, device=x.device)
        if exclude is not None and (exclude.shape != (B,) or exclude.dtype != torch.long):
            raise ValueError("exclude must be a LongTensor of shape (B,)")
        run_max = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
        scale_xa, scale_aa = c / var, 0.5 * c * c / var
        for start in range(0, self.P, chunk):
            a = self.data[start:start + chunk]
            logits = torch.addmm(self.norms2[start:start + chunk].mul(-scale_aa).expand(B, -1), x, a.T, alpha=scale_xa)
            hit = None
            if exclude is not None:
                hit = (exclude >= start) & (exclude < start + a.shape[0])
                logits[rows[hit], exclude[hit] - start] = -math.inf
            chunk_max, chunk_arg = logits.max(dim=1)
            new_max = torch.maximum(run_max, chunk_max)
            finite_max = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
            rescale = torch.exp(run_max - finite_max)
            # Clamp at the smallest exponent with a normal result: subnormal exp() outputs are
            # ~10x slower on x86, and weights below e^-87 (float32) change nothing.
            weights = torch.exp(logits.sub_(finite_max[:, None]).clamp_(min=self._min_exponent))
            if hit is not None:
                weights[rows[hit], exclude[hit] - start] = 0.0
            yield StreamChunk(start, a, weights, rescale, chunk_max, chunk_arg, new_max)
            run_max = new_max


class MixtureScore:
    """Exact score of ``(1/2)[N(+m, sigma^2 I) + N(-m, sigma^2 I)]`` at OU time ``t``::

        S(x) = -x / Gamma_t + (m e^{-t} / Gamma_t) tanh(x.m e^{-t} / Gamma_t),
        Gamma_t = Delta_t + sigma^2 e^{-2t}.
    """

    def __init__(self, mean: torch.Tensor, sigma: float = 1.0):
        if not isinstance(mean, torch.Tensor) or mean.ndim != 1:
            raise ValueError("mean must be a 1-D torch.Tensor (the class mean m)")
        if not (sigma > 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        self.mean = mean
        self.sigma = float(sigma)

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        c, var = ou_coefficients(t)
        gamma = var + self.sigma**2 * c * c
        direction = self.mean.to(dtype=x.dtype) * (c / gamma)
        return torch.addr(x, torch.tanh(x @ direction), direction, beta=-1.0 / gamma)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class of each row: 0 if ``x.m > 0`` (the ``+m`` class), else 1 (same as the data labels)."""
        return (x @ self.mean.to(dtype=x.dtype) <= 0).long()


class GaussianScore:
    """Exact score of ``N(0, diag(variances))`` data: ``S_i(x) = -x_i / (v_i e^{-2t} + Delta_t)``."""

    def __init__(self, variances: torch.Tensor):
        if not isinstance(variances, torch.Tensor) or variances.ndim != 1 or not bool((variances > 0).all()):
            raise ValueError("variances must be a 1-D torch.Tensor of positive values")
        self.variances = variances

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        c, var = ou_coefficients(t)
        return -x / (self.variances * c * c + var)
