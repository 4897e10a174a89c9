"""Score functions ``S(x, t) = grad log P_t(x)`` in OU time, and the one protocol every empirical
score implements.

The empirical density of a training set ``{a^mu}`` is
``P^e_t(x) = (1/P) sum_mu N(x; e^{-t} a^mu, Delta_t I)`` (docs/conventions.md). Its score is an
attention-like softmax over the training set, evaluated in **one streaming loop**
(:meth:`StreamedTrainingSet.stream`): chunks of training points, a running log-sum-exp, never a
full ``B x P`` buffer.

The empirical-score protocol (:class:`EmpiricalScoreBase`), implemented by :class:`EmpiricalScore`
(streamed, exact in its dtype), :class:`~simulate.engine.ScoreEngine` (GEMM precision and exactly
recomputed candidates, inside the same loop) and :class:`~simulate.sharded.ShardedEmpiricalScore`
(training set split across processes):

* ``P``, ``N``, ``dtype``, ``device``;
* ``partials(x, t, *, need=("score",), exclude=None)`` -> :class:`Partials`: the streamed sums,
  which combine exactly across disjoint shards (:func:`merge_partials`);
* ``evaluate(x, t, *, need=("score",), exclude=None)`` -> :class:`EmpiricalEvaluation`: score,
  ``ln P^e_t``, nearest scaled training point and largest softmax weight from one pass, plus the
  posterior covariance ``Cov_w(a)`` when ``"covariance"`` is in ``need``;
* ``rows(index)``: training points by (global) index;
* ``score(x, t)``, ``log_density``, ``nearest_index``, ``posterior_covariance``: accessors.

Every observable in :mod:`simulate` takes any of them. :class:`MixtureScore` and
:class:`GaussianScore` are exact scores of model densities (plain callables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch

from theory.validation import InputError, require_int

from ._torch import check_points

__all__ = ["ou_coefficients", "NEEDS", "StreamChunk", "EmpiricalEvaluation", "Partials", "merge_partials",
           "combine_partials", "EmpiricalScoreBase", "StreamedTrainingSet", "EmpiricalScore", "as_empirical_score",
           "MixtureScore", "GaussianScore"]

#: What ``evaluate`` / ``partials`` can be asked for beyond the log-density, nearest index and
#: largest weight (which every pass yields for free).
NEEDS = ("score", "covariance")
#: Columns per group in the candidate screen of :class:`~simulate.engine.ScoreEngine`.
GROUP = 16


def ou_coefficients(t: float) -> tuple[float, float]:
    """``(e^{-t}, Delta_t)`` for a scalar OU time ``t > 0``."""
    t = float(t)
    if not (t > 0 and math.isfinite(t)):
        raise InputError(f"t must be a finite time > 0, got {t!r}")
    return math.exp(-t), -math.expm1(-2.0 * t)


def _check_need(need) -> frozenset:
    need = frozenset([need] if isinstance(need, str) else need)
    unknown = need - set(NEEDS)
    if unknown:
        raise InputError(f"need must be a subset of {NEEDS}, got {sorted(unknown)}")
    return need


@dataclass
class StreamChunk:
    """One chunk of :meth:`StreamedTrainingSet.stream`: training ``points`` from index ``start``,
    their ``weights`` ``exp(logit - new_max)`` relative to the running maximum ``new_max``, the
    factor ``rescale`` for sums accumulated before, the chunk's own maximum logit and its index,
    and (when candidates are screened) the chunk's best approximate logits and their indices."""

    start: int
    points: torch.Tensor
    weights: torch.Tensor
    rescale: torch.Tensor
    chunk_max: torch.Tensor
    chunk_arg: torch.Tensor
    new_max: torch.Tensor
    top_logit: torch.Tensor | None = None
    top_index: torch.Tensor | None = None


@dataclass
class EmpiricalEvaluation:
    """Everything one streamed pass over the training set yields at ``(x, t)``.

    ``score`` (B, N) or None; ``log_density`` (B,) = ``ln P^e_t(x)``; ``nearest_index`` (B,) =
    argmin over ``mu`` of ``|x - e^{-t} a^mu|``; ``max_weight`` (B,) = the largest softmax weight;
    ``covariance`` (B, N, N) = ``Cov_w(a)`` under the softmax weights, or None.
    """

    score: torch.Tensor | None
    log_density: torch.Tensor
    nearest_index: torch.Tensor
    max_weight: torch.Tensor
    covariance: torch.Tensor | None = None


@dataclass
class Partials:
    """Streamed sums over (part of) a training set, per query row.

    ``max``: largest logit (without the row constant); ``sum``: sum of ``exp(logit - max)``;
    ``argmax``: global index of the largest logit; ``weighted``: sum of ``w (a - centre)`` and
    ``second``: sum of ``w (a - centre)(a - centre)^T`` with the same weights (None when not
    needed; ``centre`` is None for the origin, ``x e^t`` for the covariance pass, which keeps
    ``E[dd] - E[d]E[d]`` well conditioned when the weights condense); ``cand_logit`` /
    ``cand_index``: the engine's candidates (approximate logits and indices) or None.

    Partials of disjoint shards combine exactly (:func:`merge_partials`, :func:`combine_partials`).
    """

    max: torch.Tensor
    sum: torch.Tensor
    argmax: torch.Tensor
    weighted: torch.Tensor | None = None
    second: torch.Tensor | None = None
    centre: torch.Tensor | None = None
    cand_logit: torch.Tensor | None = None
    cand_index: torch.Tensor | None = None

    def finish(self, x: torch.Tensor, t: float, P: int, *, rows: Callable | None = None,
               dtype: torch.dtype | None = None, memory_budget_bytes: int = 2 ** 28) -> EmpiricalEvaluation:
        """Score, log-density, nearest index, largest weight (and covariance) of the full set of
        ``P`` points, returned in ``x``'s dtype.

        ``dtype``: the precision of the final assembly (default: that of the partials). With
        candidates and ``rows`` (training points by index), the candidates' approximate
        contributions are replaced by exact float64 ones (:class:`~simulate.engine.ScoreEngine`).
        """
        if self.cand_index is not None and self.cand_index.shape[1] and rows is not None and self.second is None:
            return _finish_with_candidates(self, x, t, P, rows, memory_budget_bytes)
        c, var = ou_coefficients(t)
        work = dtype or self.sum.dtype
        xw = x.to(work)
        mx, total = self.max.to(work), self.sum.to(work)
        lse = mx + torch.log(total)
        row_const = -(xw * xw).sum(dim=1) / (2.0 * var)
        log_density = lse + row_const - math.log(P) - 0.5 * x.shape[1] * math.log(2.0 * math.pi * var)
        score = covariance = None
        if self.weighted is not None:
            weighted = self.weighted.to(work)
            if self.centre is None:
                score = (c * weighted / total[:, None] - xw) / var
            else:  # c * centre = x: the score is c E_w[a - centre] / Delta
                score = c * weighted / (total[:, None] * var)
        if self.second is not None:
            mean = self.weighted.to(work) / total[:, None]
            cov = self.second.to(work) / total[:, None, None] - mean[:, :, None] * mean[:, None, :]
            covariance = (0.5 * (cov + cov.transpose(1, 2))).to(x.dtype)
        out = lambda v: None if v is None else v.to(x.dtype)
        return EmpiricalEvaluation(out(score), out(log_density), self.argmax, out(1.0 / total), covariance)


def _finish_with_candidates(part: Partials, x_in, t, P, rows, memory_budget_bytes) -> EmpiricalEvaluation:
    """Replace the candidates' approximate contributions by exact float64 ones, in row blocks that
    keep the float64 (rows, K, N) candidate tensors within the memory budget."""
    c, var = ou_coefficients(t)
    x = x_in.double()
    B, N = x.shape
    K = part.cand_index.shape[1]
    half_norm = (x * x).sum(dim=1) / (2 * var)  # the row constant, in float64
    block = max(1, memory_budget_bytes // (3 * 8 * K * N))
    pieces = []
    for i in range(0, B, block):
        sl = slice(i, i + block)
        pieces.append(_exact_block(x[sl], c, var, half_norm[sl], part.max[sl], part.sum[sl],
                                   None if part.weighted is None else part.weighted[sl], part.cand_logit[sl],
                                   part.cand_index[sl], rows, P))
    score = torch.cat([p[0] for p in pieces]) if part.weighted is not None else None
    log_density, nearest, max_weight = (torch.cat([p[k] for p in pieces]) for k in (1, 2, 3))
    out = lambda v: None if v is None else v.to(x_in.dtype)
    return EmpiricalEvaluation(out(score), out(log_density), nearest, out(max_weight))


def _exact_block(x, c, var, half_norm, run_max, run_sum, acc, cand_logit, cand_index, rows, P):
    cand = rows(cand_index).double()                                # (rows, K, N)
    valid = torch.isfinite(cand_logit)                              # excluded points are never candidates
    diff = c * cand - x[:, None, :]                                 # exact differences
    exact = torch.where(valid, -(diff * diff).sum(dim=2) / (2 * var), -math.inf)  # distance logits, float64
    m = exact.max(dim=1).values
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    w_exact = torch.exp(exact - m[:, None])
    # the approximate quantities, moved to the same reference: l = d + |x|^2/(2 Delta)
    shift = run_max.double() - (m + half_norm)
    approx_total = run_sum.double() * torch.exp(shift)
    w_approx_cand = torch.exp(cand_logit.double() - (m + half_norm)[:, None])
    remainder = (approx_total - w_approx_cand.sum(dim=1)).clamp_(min=0.0)
    total = w_exact.sum(dim=1) + remainder
    log_density = m + torch.log(total) - math.log(P) - 0.5 * x.shape[1] * math.log(2 * math.pi * var)
    nearest = cand_index.gather(1, exact.argmax(dim=1)[:, None])[:, 0]
    max_weight = w_exact.max(dim=1).values / total
    score = None
    if acc is not None:
        rem_acc = acc.double() * torch.exp(shift)[:, None] - torch.bmm(w_approx_cand[:, None, :], cand)[:, 0]
        numer = torch.bmm(w_exact[:, None, :], diff)[:, 0] + c * rem_acc - remainder[:, None] * x
        score = numer / (total[:, None] * var)
    return score, log_density, nearest, max_weight


def merge_partials(part: Partials, *, reduce_max: Callable, reduce_sum: Callable) -> Partials:
    """Combine partials over disjoint shards with two reductions: rescale every shard's sums to the
    global maximum logit and add them; the best index is proposed by the shard(s) holding the
    maximum. ``reduce_max`` / ``reduce_sum`` are ``all_reduce`` for processes
    (:class:`~simulate.sharded.ShardedEmpiricalScore`) or reductions over a stacked leading axis
    (:func:`combine_partials`)."""
    global_max = reduce_max(part.max)
    finite = torch.where(torch.isfinite(global_max), global_max, torch.zeros_like(global_max))
    scale = torch.exp(part.max - finite)
    total = reduce_sum(part.sum * scale)
    weighted = None if part.weighted is None else reduce_sum(part.weighted * scale[..., None])
    second = None if part.second is None else reduce_sum(part.second * scale[..., None, None])
    proposal = torch.where(part.max >= global_max, part.argmax, torch.full_like(part.argmax, -1))
    return Partials(global_max, total, reduce_max(proposal), weighted, second, part.centre)


def combine_partials(parts: list[Partials]) -> Partials:
    """Exact combination of the partials of disjoint shards held in this process; candidate lists
    are merged by their approximate logits."""
    parts = list(parts)
    if not parts:
        raise InputError("parts must contain at least one Partials")
    stack = lambda name: None if any(getattr(p, name) is None for p in parts) else torch.stack(
        [getattr(p, name) for p in parts])
    # every shard saw the same queries, hence the same centre
    stacked = Partials(stack("max"), stack("sum"), stack("argmax"), stack("weighted"), stack("second"),
                       parts[0].centre)
    merged = merge_partials(stacked, reduce_max=lambda v: v.max(dim=0).values, reduce_sum=lambda v: v.sum(dim=0))
    if all(p.cand_index is not None for p in parts):
        logit = torch.cat([p.cand_logit for p in parts], dim=1)
        index = torch.cat([p.cand_index for p in parts], dim=1)
        keep = torch.topk(logit, max(p.cand_index.shape[1] for p in parts), dim=1).indices
        merged.cand_logit, merged.cand_index = logit.gather(1, keep), index.gather(1, keep)
    return merged


class EmpiricalScoreBase:
    """The empirical-score protocol (module docstring). Subclasses provide ``P``, ``N``, ``dtype``,
    ``device``, :meth:`partials`, :meth:`evaluate` and :meth:`rows`; the accessors below follow."""

    P: int
    N: int

    def partials(self, x: torch.Tensor, t: float, *, need=("score",), exclude=None, index_offset: int = 0) -> Partials:
        """Streamed sums at ``(x, t)`` (see :class:`Partials`)."""
        raise NotImplementedError

    def evaluate(self, x: torch.Tensor, t: float, *, need=("score",), exclude=None) -> EmpiricalEvaluation:
        """One pass over the training set (see :class:`EmpiricalEvaluation`)."""
        raise NotImplementedError

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Training points ``a^mu`` for a tensor of (global) indices, shape ``index.shape + (N,)``."""
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The score ``S(x, t)`` (B, N)."""
        return self.evaluate(x, t).score

    def log_density(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``ln P^e_t(x)`` (B,)."""
        return self.evaluate(x, t, need=()).log_density

    def nearest_index(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """Index of the training point whose scaled copy ``e^{-t} a^mu`` is nearest to each row."""
        return self.evaluate(x, t, need=()).nearest_index

    def posterior_covariance(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``Cov_w(a)`` (B, N, N) under the softmax weights at ``(x, t)``."""
        return self.evaluate(x, t, need=("covariance",)).covariance

    def _check_exclude(self, exclude, B: int, *, global_indices: bool = True):
        """``exclude``: None, or one training index per row (a LongTensor (B,)), in ``[0, P)`` when
        ``global_indices`` (a shard's partials get the global indices of the whole set)."""
        if exclude is None:
            return None
        if not isinstance(exclude, torch.Tensor) or exclude.shape != (B,) or exclude.dtype != torch.long:
            raise InputError(f"exclude must be a LongTensor of shape ({B},)")
        if global_indices and B and (int(exclude.min()) < 0 or int(exclude.max()) >= self.P):
            raise InputError(f"exclude must hold training indices in [0, {self.P}), got values in "
                             f"[{int(exclude.min())}, {int(exclude.max())}]")
        return exclude


def _group_max(logits: torch.Tensor):
    """Per-row maxima over groups of :data:`GROUP` columns and their column indices. The candidate
    screen takes a top-k over these ``C/GROUP`` values instead of ``C``; two large logits in one
    group keep only the larger as a candidate (the other stays in the approximate remainder)."""
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


class StreamedTrainingSet(EmpiricalScoreBase):
    """A training set held in this process and streamed in chunks: the one streaming loop
    (:meth:`stream`) and the accumulation of :class:`Partials` over it (:meth:`partials`).

    Subclasses choose how a chunk's logits are formed (:meth:`_logits`), how queries are cast
    (:meth:`_work_query`), how many candidates are screened (``candidates``) and the precision of
    the final assembly (``finish_dtype``).
    """

    data: torch.Tensor
    norms2: torch.Tensor
    memory_budget_bytes: int
    fixed_chunk_size: int | None = None
    candidates: int = 0
    finish_dtype: torch.dtype | None = None

    def _init_data(self, data, memory_budget_bytes, *, work_dtype=None) -> None:
        data = check_points("data", data)
        if data.shape[0] < 1:
            raise InputError("data must have P >= 1 rows")
        self.memory_budget_bytes = require_int("memory_budget_bytes", memory_budget_bytes, 1)
        self.data = data if work_dtype is None else data.to(work_dtype)
        # squared norms accumulated in float64 a block at a time (no float64 copy of float32 data)
        self.norms2 = torch.cat([(blk.double() ** 2).sum(dim=1) for blk in self.data.split(2 ** 18)]).to(self.data.dtype)
        # Weights below e^drop (relative to the running maximum, which has weight 1) are set to 0:
        # drop is half the dtype's exponent range, so exp() never returns a subnormal and neither do
        # the products weight * a^mu inside the GEMM (subnormal operands make MKL's sgemm ~80x
        # slower: late in the backward process nearly every weight is that small). The dropped mass
        # is below P e^drop (float32: P * 1e-19) relative to the total.
        self._drop_exponent = 0.5 * math.log(torch.finfo(self.data.dtype).tiny)
        self._drop_weight = math.exp(self._drop_exponent + 0.01)

    @property
    def P(self) -> int:
        """Number of training points."""
        return int(self.data.shape[0])

    @property
    def N(self) -> int:
        """Dimension."""
        return int(self.data.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        """dtype of the training points (and of the queries observables build)."""
        return self.data.dtype

    @property
    def device(self) -> torch.device:
        """Device of the training points."""
        return self.data.device

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Training points ``a^mu`` for a tensor of indices."""
        return self.data[index]

    def chunk_size(self, batch: int) -> int:
        """Chunk over ``P`` used for a batch of ``batch`` query points: the ``B x chunk`` logits and
        weights stay within ``memory_budget_bytes``."""
        if self.fixed_chunk_size is not None:
            return min(self.fixed_chunk_size, self.P)
        per_column = 2 * max(batch, 1) * self.data.element_size()
        return max(1, min(self.P, self.memory_budget_bytes // per_column))

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        """Validate a batch of queries (B, N) on the training set's device."""
        x = check_points("x", x, dim=self.N)
        if x.device != self.data.device:
            raise InputError(f"x must be on the training data's device ({self.data.device}), got {x.device}")
        return x

    def _work_query(self, x: torch.Tensor) -> torch.Tensor:
        """Queries in the dtype the loop runs in (exact scores: the data's dtype, required)."""
        if x.dtype != self.data.dtype:
            raise InputError(f"x must have the training data's dtype and device ({self.data.dtype}, "
                             f"{self.data.device}), got ({x.dtype}, {x.device})")
        return x

    def _logits(self, x, a, norms2, scale_xa, scale_aa) -> torch.Tensor:
        """``(2 c x.a - c^2 |a|^2)/(2 Delta)`` for one chunk (the row constant left out)."""
        return torch.addmm(norms2.mul(-scale_aa).expand(x.shape[0], -1), x, a.T, alpha=scale_xa)

    def stream(self, x: torch.Tensor, t: float, chunk: int, *, exclude: torch.Tensor | None = None,
               index_offset: int = 0, candidates: int = 0) -> Iterator[StreamChunk]:
        """The running log-sum-exp shared by every streamed quantity: one :class:`StreamChunk` per
        ``chunk`` training points. A consumer multiplies what it has accumulated by ``rescale`` and
        adds its sums over ``weights``.

        ``exclude`` (B,): one global training index per row to leave out (this set holds the
        indices ``[index_offset, index_offset + P)``). ``candidates``: screen the best approximate
        logits of each chunk (groups of :data:`GROUP` columns) for an exact recomputation.
        """
        c, var = ou_coefficients(t)
        B = x.shape[0]
        rows = torch.arange(B, device=x.device)
        run_max = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
        scale_xa, scale_aa = c / var, 0.5 * c * c / var
        for start in range(0, self.P, chunk):
            a = self.data[start:start + chunk]
            logits = self._logits(x, a, self.norms2[start:start + chunk], scale_xa, scale_aa)
            hit = None
            if exclude is not None:
                local = exclude - (index_offset + start)
                hit = (local >= 0) & (local < a.shape[0])
                logits[rows[hit], local[hit]] = -math.inf
            top_logit = top_index = None
            if candidates:
                # the group maxima give the chunk maximum for free (no second pass over the logits)
                gmax, gidx = _group_max(logits)
                chunk_max, where = gmax.max(dim=1)
                chunk_arg = gidx.gather(1, where[:, None])[:, 0]
                top_logit, pos = torch.topk(gmax, min(candidates, gmax.shape[1]), dim=1)
                top_index = gidx.gather(1, pos) + (index_offset + start)
            else:
                chunk_max, chunk_arg = logits.max(dim=1)
            new_max = torch.maximum(run_max, chunk_max)
            finite_max = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
            rescale = torch.exp(run_max - finite_max)
            weights = torch.exp(logits.sub_(finite_max[:, None]).clamp_(min=self._drop_exponent))
            torch.nn.functional.threshold_(weights, self._drop_weight, 0.0)  # the clamped ones -> exactly 0
            if hit is not None:
                weights[rows[hit], local[hit]] = 0.0
            yield StreamChunk(start, a, weights, rescale, chunk_max, chunk_arg, new_max, top_logit, top_index)
            run_max = new_max

    @torch.no_grad()
    def partials(self, x: torch.Tensor, t: float, *, need=("score",), exclude: torch.Tensor | None = None,
                 index_offset: int = 0) -> Partials:
        """Accumulate :class:`Partials` over :meth:`stream` (what a shard contributes; ``exclude``
        holds global indices, this set the indices from ``index_offset``)."""
        x = self._query(x)
        exclude = self._check_exclude(exclude, x.shape[0], global_indices=False)
        return self._accumulate(x, t, _check_need(need), exclude, index_offset)

    def _accumulate(self, x, t, need: frozenset, exclude, index_offset: int) -> Partials:
        x = self._work_query(x)
        B, N = x.shape
        covariance = "covariance" in need
        run_max = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
        run_sum = torch.zeros(B, dtype=x.dtype, device=x.device)
        run_arg = torch.zeros(B, dtype=torch.long, device=x.device)
        weighted = torch.zeros_like(x) if (covariance or "score" in need) else None
        second = torch.zeros(B, N, N, dtype=x.dtype, device=x.device) if covariance else None
        centre = None
        chunk = self.chunk_size(B)
        if covariance:
            centre = x / ou_coefficients(t)[0]
            chunk = max(1, chunk // max(N, 1))  # the (B, chunk, N) differences
        K = 0 if covariance else min(self.candidates, self.P)
        cand_logit = torch.empty(B, 0, dtype=x.dtype, device=x.device) if K else None
        cand_index = torch.empty(B, 0, dtype=torch.long, device=x.device) if K else None
        for ch in self.stream(x, t, chunk, exclude=exclude, index_offset=index_offset, candidates=K):
            run_sum = run_sum * ch.rescale + ch.weights.sum(dim=1)
            if covariance:
                d = ch.points[None, :, :] - centre[:, None, :]
                wd = ch.weights[:, :, None] * d
                weighted = weighted * ch.rescale[:, None] + wd.sum(dim=1)
                second = second * ch.rescale[:, None, None] + torch.bmm(wd.transpose(1, 2), d)
            elif weighted is not None:
                weighted = weighted * ch.rescale[:, None] + ch.weights @ ch.points
            run_arg = torch.where(ch.chunk_max > run_max, ch.chunk_arg + (ch.start + index_offset), run_arg)
            run_max = ch.new_max
            if K:
                merged_v = torch.cat([cand_logit, ch.top_logit], dim=1)
                merged_i = torch.cat([cand_index, ch.top_index], dim=1)
                keep = torch.topk(merged_v, min(K, merged_v.shape[1]), dim=1).indices
                cand_logit, cand_index = merged_v.gather(1, keep), merged_i.gather(1, keep)
        return Partials(run_max, run_sum, run_arg, weighted, second, centre, cand_logit, cand_index)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, t: float, *, need=("score",),
                 exclude: torch.Tensor | None = None) -> EmpiricalEvaluation:
        """One streamed pass: score, log-density, nearest scaled training point, largest weight
        (and the posterior covariance with ``need=("covariance",)``), in ``x``'s dtype.

        ``exclude`` (B,), optional: for each row, the index of one training point to leave out
        (leave-one-out log-density of the other ``P - 1`` points; the normalisation stays ``1/P``).
        """
        x = self._query(x)
        exclude = self._check_exclude(exclude, x.shape[0])
        part = self._accumulate(x, t, _check_need(need), exclude, 0)
        return part.finish(x, t, self.P, rows=self.rows, dtype=self.finish_dtype,
                           memory_budget_bytes=self.memory_budget_bytes)


class EmpiricalScore(StreamedTrainingSet):
    """Exact score of the empirical density of a training set, streamed over ``P``.

    Parameters
    ----------
    data : Tensor, shape (P, N)
        Training points ``a^mu`` (float32 or float64; the computation runs in this dtype and on
        this device, and queries must match it).
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
        self._init_data(data, memory_budget_bytes)
        self.fixed_chunk_size = None if chunk_size is None else require_int("chunk_size", chunk_size, 1)


def as_empirical_score(source) -> EmpiricalScoreBase:
    """``source`` if it implements the protocol, else :class:`EmpiricalScore` of the tensor ``source``."""
    if isinstance(source, EmpiricalScoreBase):
        return source
    return EmpiricalScore(source)


class MixtureScore:
    """Exact score of ``(1/2)[N(+m, sigma^2 I) + N(-m, sigma^2 I)]`` at OU time ``t``::

        S(x) = -x / Gamma_t + (m e^{-t} / Gamma_t) tanh(x.m e^{-t} / Gamma_t),
        Gamma_t = Delta_t + sigma^2 e^{-2t}.
    """

    def __init__(self, mean: torch.Tensor, sigma: float = 1.0):
        if not isinstance(mean, torch.Tensor) or mean.ndim != 1:
            raise InputError("mean must be a 1-D torch.Tensor (the class mean m)")
        if not (sigma > 0 and math.isfinite(sigma)):
            raise InputError(f"sigma must be > 0, got {sigma!r}")
        self.mean = mean
        self.sigma = float(sigma)

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The score at ``(x, t)``."""
        c, var = ou_coefficients(t)
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != self.mean.shape[0]:
            raise InputError(f"x must be a torch.Tensor of shape (B, {self.mean.shape[0]})")
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
            raise InputError("variances must be a 1-D torch.Tensor of positive values")
        self.variances = variances

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The score at ``(x, t)``."""
        c, var = ou_coefficients(t)
        if not isinstance(x, torch.Tensor) or x.shape[-1] != self.variances.shape[0]:
            raise InputError(f"x must be a torch.Tensor of shape (B, {self.variances.shape[0]})")
        return -x / (self.variances * c * c + var)

