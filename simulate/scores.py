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

from theory.validation import InputError, require_int, require_real

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
    t = require_real("t", t)
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
    unresolved: torch.Tensor | None = None  # rows the owner recomputes with float64 logits (internal)


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
    origin: torch.Tensor | None = None

    def finish(self, x: torch.Tensor, t: float, P: int, *, rows: Callable | None = None,
               dtype: torch.dtype | None = None, memory_budget_bytes: int = 2 ** 28,
               guard: "AccuracyGuard | None" = None) -> EmpiricalEvaluation:
        """Score, log-density, nearest index, largest weight (and covariance) of the full set of
        ``P`` points, returned in ``x``'s dtype.

        ``dtype``: the precision of the final assembly (default: that of the partials). With
        candidates and ``rows`` (training points by index), the candidates' approximate
        contributions are replaced by exact float64 ones, and ``guard`` (default: float32 GEMM
        logits, :class:`AccuracyGuard`) marks the rows whose remainder it cannot vouch for in
        ``unresolved``.
        """
        c, var = ou_coefficients(t)
        frame = x.double() if self.origin is None else x.double() - c * self.origin
        if self.cand_index is not None and self.cand_index.shape[1] and rows is not None and self.second is None:
            origin = self.origin
            rows_frame = (lambda i: rows(i).double()) if origin is None else (lambda i: rows(i).double() - origin)
            return _finish_with_candidates(self, x, frame, t, P, rows_frame, memory_budget_bytes,
                                           guard or AccuracyGuard())
        work = dtype or self.sum.dtype
        xw = frame.to(work)
        mx, total = self.max.to(work), self.sum.to(work)
        lse = mx + torch.log(total)
        row_const = -(frame * frame).sum(dim=1) / (2.0 * var)  # float64: it can be far larger than the rest
        log_density = lse.double() + row_const - math.log(P) - 0.5 * x.shape[1] * math.log(2.0 * math.pi * var)
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


@dataclass(frozen=True)
class AccuracyGuard:
    """When the candidates' exact recomputation can be trusted, and when a row must be recomputed
    with float64 logits.

    The GEMM logits ``(2 c x.a - c^2 |a|^2)/(2 Delta)`` (in the frame centred on the training
    mean) carry an absolute error of at most ``E = kappa u (2 c |x| A + c^2 A^2) / (2 Delta)``,
    ``u`` the GEMM's unit roundoff and ``A`` the largest centred training norm (``kappa = 8``:
    the largest ratio measured over N = 8..784, norms 1..1e3, t = 1e-5..1 was 6.8). Per row:

    * if the points outside the candidates cannot carry more than ``1e-3 tolerance`` of the
      weight, even with every logit off by ``E``, the candidates alone give the exact result;
    * otherwise the approximate remainder is used when ``E <= max_logit_error``, or when even its
      worst case moves the total by less than ``tolerance``; and when the rounding of the
      accumulated weighted sum stays below ``tolerance`` relative to the score;
    * otherwise the row is *unresolved* and its owner recomputes it with float64 logits (and the
      same candidates, under :meth:`float64`).
    """

    unit_roundoff: float = 2.0 ** -24
    max_logit_error: float = 2e-3
    tolerance: float = 1e-5
    max_norm: float = math.inf
    kappa: float = 8.0
    final: bool = False  # a float64 pass: nothing to promote to, no row is marked

    def float64(self) -> "AccuracyGuard":
        """The guard of a float64 pass: nothing above it to promote to."""
        return AccuracyGuard(unit_roundoff=2.0 ** -53, tolerance=1e-8, max_norm=self.max_norm, kappa=self.kappa,
                             final=True)

    def plain_is_accurate(self, frame: torch.Tensor, t: float) -> bool:
        """Whether the GEMM logits alone are accurate enough that no candidate needs recomputing:
        ``E <= 5 tolerance`` (the log-density is off by about ``E / kappa``) and the final
        ``c E_w[a'] - x'`` loses at most ``u c A / sqrt(N Delta)`` <= ``tolerance / 10`` to cancellation
        (``sqrt(N Delta)``: the typical distance of a query to its nearest scaled point)."""
        c, var = ou_coefficients(t)
        if not math.isfinite(self.max_norm):
            return False
        cancellation = self.unit_roundoff * c * self.max_norm / math.sqrt(frame.shape[1] * var)
        return cancellation <= 0.1 * self.tolerance and float(self.logit_error(frame, c, var).max()) <= 5 * self.tolerance

    def logit_error(self, frame: torch.Tensor, c: float, var: float) -> torch.Tensor:
        """The bound ``E`` per query row (``frame``: queries in the centred frame, float64)."""
        A = self.max_norm
        if not math.isfinite(A):
            return torch.full(frame.shape[:1], math.inf, dtype=torch.float64, device=frame.device)
        X = frame.norm(dim=1)
        return self.kappa * self.unit_roundoff * (2 * c * X * A + c * c * A * A) / (2 * var)


def _finish_with_candidates(part: Partials, x_in, frame, t, P, rows_frame, memory_budget_bytes,
                            guard: AccuracyGuard) -> EmpiricalEvaluation:
    """Replace the candidates' approximate contributions by exact float64 ones, in row blocks that
    keep the float64 (rows, K, N) candidate tensors within the memory budget."""
    c, var = ou_coefficients(t)
    B, N = frame.shape
    K = part.cand_index.shape[1]
    E = guard.logit_error(frame, c, var)
    block = max(1, memory_budget_bytes // (3 * 8 * K * N))
    pieces = []
    for i in range(0, B, block):
        sl = slice(i, i + block)
        pieces.append(_exact_block(frame[sl], c, var, part.max[sl], part.sum[sl],
                                   None if part.weighted is None else part.weighted[sl], part.cand_logit[sl],
                                   part.cand_index[sl], rows_frame, P, E[sl], guard))
    score = torch.cat([p[0] for p in pieces]) if part.weighted is not None else None
    log_density, nearest, max_weight, unresolved = (torch.cat([p[k] for p in pieces]) for k in (1, 2, 3, 4))
    out = lambda v: None if v is None else v.to(x_in.dtype)
    return EmpiricalEvaluation(out(score), out(log_density), nearest, out(max_weight), unresolved=unresolved)


def _exact_block(x, c, var, run_max, run_sum, acc, cand_logit, cand_index, rows_frame, P, E, guard):
    """Exact float64 contributions of one block of rows' candidates, the approximate remainder
    anchored on the *exact* weight of the approximately largest candidate (never on its approximate
    logit, whose error can be larger than the exponent range), and the rows the guard cannot vouch for."""
    cand = rows_frame(cand_index)                                   # (rows, K, N), centred frame
    valid = torch.isfinite(cand_logit)                              # excluded points are never candidates
    diff = c * cand - x[:, None, :]                                 # exact differences
    exact = torch.where(valid, -(diff * diff).sum(dim=2) / (2 * var), -math.inf)  # distance logits, float64
    m = exact.max(dim=1).values
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    w_exact = torch.exp(exact - m[:, None])
    log_anchor = exact[:, 0] - m  # candidate lists are sorted: column 0 holds the approximate maximum
    log_anchor = torch.where(torch.isfinite(log_anchor), log_anchor, torch.full_like(log_anchor, -math.inf))
    anchor = torch.exp(log_anchor)
    top = run_max.double()
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    rho = torch.where(valid, torch.exp(cand_logit.double() - top[:, None]), torch.zeros_like(anchor)[:, None])
    approx_rest = (run_sum.double() - rho.sum(dim=1)).clamp_(min=0.0)  # in units of the top's approximate weight
    total_cand = w_exact.sum(dim=1)
    # The true weight outside the candidates (relative to m): the approximate remainder, its
    # rounding and the weights dropped below e^drop, each off by at most e^{2E}. (A point hidden
    # behind a larger one of its group can be far above the last candidate, so the remainder,
    # not the last candidate's logit, bounds it.)
    n_rest = (P - valid.sum(dim=1)).clamp_(min=0).double()
    # (in logarithms: the approximate maximum's exact weight can underflow while e^{2E} overflows)
    noise = 8 * (torch.finfo(run_sum.dtype).eps / 2) * run_sum.double()
    base = approx_rest + noise + n_rest * math.exp(_drop_exponent(run_sum.dtype))
    log_upper = torch.log(base) + log_anchor + 2 * E
    upper = torch.exp(log_upper.clamp(max=700.0))
    lower = (approx_rest - noise).clamp(min=0.0) * torch.exp(log_anchor - 2 * E)
    negligible = (n_rest == 0) | (log_upper <= math.log(1e-3 * guard.tolerance) + torch.log(total_cand))
    remainder = torch.where(negligible, torch.zeros_like(approx_rest), approx_rest * anchor)
    total = total_cand + remainder
    log_density = m + torch.log(total) - math.log(P) - 0.5 * x.shape[1] * math.log(2 * math.pi * var)
    nearest = cand_index.gather(1, exact.argmax(dim=1)[:, None])[:, 0]
    max_weight = w_exact.max(dim=1).values / total
    # below max_logit_error the approximate remainder is trusted (its errors average out over the
    # many points that carry it); above, only if even its worst case changes the total by < tolerance
    if guard.final:  # a float64 pass: nothing to promote to
        unresolved = torch.zeros_like(negligible)
    else:
        unresolved = ~negligible & (E > guard.max_logit_error) & ((upper - lower) > guard.tolerance * total)
    score = None
    if acc is not None:
        rem_acc = (acc.double() - torch.bmm(rho[:, None, :], cand)[:, 0]) * anchor[:, None]
        rem_acc = torch.where(negligible[:, None], torch.zeros_like(rem_acc), rem_acc)
        numer = torch.bmm(w_exact[:, None, :], diff)[:, 0] + c * rem_acc - remainder[:, None] * x
        score = numer / (total[:, None] * var)
        if not guard.final:
            # the accumulated sum's rounding (its dtype's unit roundoff times sum of w |a|), as a score error
            u_acc = torch.finfo(acc.dtype).eps / 2
            acc_error = c * u_acc * guard.max_norm * run_sum.double() * anchor / (var * total)
            unresolved |= ~negligible & (acc_error > guard.tolerance * score.norm(dim=1))
    return score, log_density, nearest, max_weight, unresolved


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
    return Partials(global_max, total, reduce_max(proposal), weighted, second, part.centre, origin=part.origin)


def combine_partials(parts: list[Partials]) -> Partials:
    """Exact combination of the partials of disjoint shards held in this process; candidate lists
    are merged by their approximate logits."""
    parts = list(parts)
    if not parts:
        raise InputError("parts must contain at least one Partials")
    frames = [p.origin for p in parts]
    if any((f is None) != (frames[0] is None) or (f is not None and not torch.equal(f, frames[0])) for f in frames):
        raise InputError("parts must share one frame: build every shard's score with the same origin= "
                         "(the mean of the whole training set)")
    stack = lambda name: None if any(getattr(p, name) is None for p in parts) else torch.stack(
        [getattr(p, name) for p in parts])
    # every shard saw the same queries, hence the same centre
    stacked = Partials(stack("max"), stack("sum"), stack("argmax"), stack("weighted"), stack("second"),
                       parts[0].centre, origin=parts[0].origin)
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


def _group_max(logits: torch.Tensor) -> torch.Tensor:
    """Per-row maxima over groups of :data:`GROUP` columns (the last group may be ragged). The
    candidate screen takes a top-k over these ``C/GROUP`` values instead of ``C``; two large logits
    in one group keep only the larger as a candidate (the other stays in the approximate remainder).
    (A 1-D max pool without indices: on CPU 5x faster than a max over a (B, G, GROUP) view.)"""
    return torch.nn.functional.max_pool1d(logits[:, None, :], GROUP, ceil_mode=True)[:, 0]


def _argmax_in_groups(logits: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Column index of the largest logit in each of the selected groups (B, K) of :func:`_group_max`."""
    B, C = logits.shape
    cols = (groups[:, :, None] * GROUP + torch.arange(GROUP, device=logits.device)).clamp_(max=C - 1)
    values = logits.gather(1, cols.view(B, -1)).view(cols.shape)  # a ragged group repeats its last column
    return cols.gather(2, values.argmax(dim=2, keepdim=True))[..., 0]


def _evaluate_guarded(score, x, t, need: frozenset, exclude) -> EmpiricalEvaluation:
    """Evaluate with the score's fast logits, then recompute with float64 logits the rows whose
    result its :class:`AccuracyGuard` cannot vouch for (``score._whole`` gives the partials of the
    whole training set; for a sharded score every rank finds the same rows)."""
    finish = lambda part, xs, guard: part.finish(xs, t, score.P, rows=score.rows, dtype=score.finish_dtype,
                                                 memory_budget_bytes=score.memory_budget_bytes, guard=guard)
    ev = finish(score._whole(x, t, need, exclude), x, score.guard)
    bad, ev.unresolved = ev.unresolved, None
    if bad is not None and bool(bad.any()):
        rows = bad.nonzero()[:, 0]
        redo = finish(score._whole(x[rows], t, need, None if exclude is None else exclude[rows], promote=True),
                      x[rows], score.guard.float64())
        for name in ("score", "log_density", "nearest_index", "max_weight"):
            value = getattr(ev, name)
            if value is not None:
                value[rows] = getattr(redo, name)
    return ev


def _drop_exponent(dtype: torch.dtype) -> float:
    """Half the dtype's exponent range (see :meth:`StreamedTrainingSet._init_data`)."""
    return 0.5 * math.log(torch.finfo(dtype).tiny)


class StreamedTrainingSet(EmpiricalScoreBase):
    """A training set held in this process and streamed in chunks: the one streaming loop
    (:meth:`stream`) and the accumulation of :class:`Partials` over it (:meth:`partials`).

    Subclasses choose how a chunk's logits are formed (:meth:`_logits`), which queries they accept
    (:meth:`_work_query`), how many candidates are screened (``candidates``), the precision of the
    final assembly (``finish_dtype``) and the :class:`AccuracyGuard` of their GEMM (``guard``).

    Every logit is formed in a frame centred on ``origin`` (default: the training mean, in
    float64): ``|x - c a|^2 = |x' - c a'|^2`` with ``a' = a - origin``, ``x' = x - c origin``.
    Data far from the origin (raw pixels, norms of 1e4) then lose nothing to cancellation in the
    dot-product logits; the training points themselves are kept as given.
    """

    data: torch.Tensor
    norms2: torch.Tensor
    origin: torch.Tensor
    memory_budget_bytes: int
    fixed_chunk_size: int | None = None
    candidates: int = 0
    finish_dtype: torch.dtype | None = None
    guard: AccuracyGuard | None = None

    def _init_data(self, data, memory_budget_bytes, *, work_dtype=None, origin=None) -> None:
        data = check_points("data", data)  # at least one row (P >= 1)
        self.memory_budget_bytes = require_int("memory_budget_bytes", memory_budget_bytes, 1)
        self.data = data if work_dtype is None else data.to(work_dtype)
        blocks = self.data.split(2 ** 18)  # float64 sums a block at a time (no float64 copy of float32 data)
        if origin is None:
            origin = sum(blk.double().sum(dim=0) for blk in blocks) / self.P
            spread2 = sum(((blk.double() - origin) ** 2).sum() for blk in blocks) / self.P
            if float((origin ** 2).sum()) <= 0.01 * float(spread2):
                # a mean within a tenth of the spread costs at most a factor 1.2 in the logit error
                # bound: not worth a subtraction per chunk
                origin = torch.zeros_like(origin)
        else:
            origin = check_points("origin", torch.as_tensor(origin).reshape(1, -1).to(self.data.device), dim=self.N)[0]
        # held exactly in the data's dtype: the float32 chunks a - origin and the float64 candidate
        # rows a - origin must be centred on the same point
        self.origin = origin.to(self.data.dtype).double()
        self._origin_is_zero = not bool(self.origin.any())
        self.norms2 = torch.cat([((blk.double() - self.origin) ** 2).sum(dim=1) for blk in blocks])
        self.max_norm = math.sqrt(float(self.norms2.max()))
        # Weights below e^drop (relative to the running maximum, which has weight 1) are set to 0:
        # drop is half the dtype's exponent range, so exp() never returns a subnormal and neither do
        # the products weight * a^mu inside the GEMM (subnormal operands make MKL's sgemm ~80x
        # slower: late in the backward process nearly every weight is that small). The dropped mass
        # is below P e^drop (float32: P * 1e-19) relative to the total.
        self._drop_exponent = _drop_exponent(self.data.dtype)

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
        """Check that the queries suit this score (exact scores: the data's dtype, required)."""
        if x.dtype != self.data.dtype:
            raise InputError(f"x must have the training data's dtype and device ({self.data.dtype}, "
                             f"{self.data.device}), got ({x.dtype}, {x.device})")
        return x

    def frame(self, x: torch.Tensor, t: float, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Queries in the centred frame, ``x - e^{-t} origin`` (computed in float64, returned in ``dtype``,
        default the data's)."""
        dtype = dtype or self.data.dtype
        if self._origin_is_zero:
            return x.to(dtype)
        return (x.double() - ou_coefficients(t)[0] * self.origin).to(dtype)

    def _logits(self, x, a, norms2, scale_xa, scale_aa) -> torch.Tensor:
        """``(2 c x.a - c^2 |a|^2)/(2 Delta)`` for one chunk (the row constant left out)."""
        return torch.addmm(norms2.mul(-scale_aa).expand(x.shape[0], -1), x, a.T, alpha=scale_xa)

    def stream(self, x: torch.Tensor, t: float, chunk: int, *, exclude: torch.Tensor | None = None,
               index_offset: int = 0, candidates: int = 0, framed: bool = False) -> Iterator[StreamChunk]:
        """The running log-sum-exp shared by every streamed quantity: one :class:`StreamChunk` per
        ``chunk`` training points (``points``: centred on ``origin``). A consumer multiplies what it
        has accumulated by ``rescale`` and adds its sums over ``weights``.

        ``x``: the queries (``framed=True``: already in the centred frame, in the dtype the loop
        runs in). ``exclude`` (B,): one global training index per row to leave out (this set holds
        the indices ``[index_offset, index_offset + P)``). ``candidates``: screen the best
        approximate logits of each chunk (groups of :data:`GROUP` columns) for an exact recomputation.
        """
        c, var = ou_coefficients(t)
        if not framed:
            x = self.frame(x, t)
        work = x.dtype
        origin = None if self._origin_is_zero else self.origin.to(work)
        drop = _drop_exponent(work)
        drop_weight = math.exp(drop + 0.01)
        B = x.shape[0]
        rows = torch.arange(B, device=x.device)
        run_max = torch.full((B,), -math.inf, dtype=x.dtype, device=x.device)
        scale_xa, scale_aa = c / var, 0.5 * c * c / var
        for start in range(0, self.P, chunk):
            a = self.data[start:start + chunk].to(work)
            if origin is not None:
                a = a - origin
            logits = self._logits(x, a, self.norms2[start:start + chunk].to(work), scale_xa, scale_aa)
            hit = None
            if exclude is not None:
                local = exclude - (index_offset + start)
                hit = (local >= 0) & (local < a.shape[0])
                logits[rows[hit], local[hit]] = -math.inf
            top_logit = top_index = None
            # the group maxima give the chunk maximum too (no second full pass over the logits)
            gmax = _group_max(logits)
            if candidates:
                top_logit, pos = torch.topk(gmax, min(candidates, gmax.shape[1]), dim=1)  # sorted
                cols = _argmax_in_groups(logits, pos)
                chunk_max, chunk_arg = top_logit[:, 0], cols[:, 0]
                top_index = cols + (index_offset + start)
            else:
                chunk_max, where = gmax.max(dim=1)
                chunk_arg = _argmax_in_groups(logits, where[:, None])[:, 0]
            new_max = torch.maximum(run_max, chunk_max)
            finite_max = torch.where(torch.isfinite(new_max), new_max, torch.zeros_like(new_max))
            rescale = torch.exp(run_max - finite_max)
            weights = torch.exp(logits.sub_(finite_max[:, None]).clamp_(min=drop))
            torch.nn.functional.threshold_(weights, drop_weight, 0.0)  # the clamped ones -> exactly 0
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

    def _accumulate(self, x, t, need: frozenset, exclude, index_offset: int, *, promote: bool = False) -> Partials:
        """One pass; ``promote``: float64 logits and sums (rows the guard could not vouch for). The
        posterior covariance is always accumulated in float64: its centred second moment cancels."""
        self._work_query(x)
        covariance = "covariance" in need
        x = self.frame(x, t, torch.float64 if (promote or covariance) else self.data.dtype)
        B, N = x.shape
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
        guard = self.guard.float64() if (promote and self.guard is not None) else self.guard
        if K and guard is not None and guard.plain_is_accurate(x.double(), t):
            K = 0
        cand_logit = torch.empty(B, 0, dtype=x.dtype, device=x.device) if K else None
        cand_index = torch.empty(B, 0, dtype=torch.long, device=x.device) if K else None
        for ch in self.stream(x, t, chunk, exclude=exclude, index_offset=index_offset, candidates=K, framed=True):
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
        return Partials(run_max, run_sum, run_arg, weighted, second, centre, cand_logit, cand_index, self.origin)

    def _whole(self, x, t, need: frozenset, exclude, *, promote: bool = False) -> Partials:
        """Partials of the whole training set (this process holds all of it)."""
        return self._accumulate(x, t, need, exclude, 0, promote=promote)

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
        return _evaluate_guarded(self, x, t, _check_need(need), exclude)


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
    origin : Tensor (N,), optional
        Centre of the frame the logits are formed in (default: the training mean). Shards of one
        training set combined with :func:`combine_partials` must share it.

    Notes
    -----
    Logits ``l_mu = -|x - c a^mu|^2 / (2 Delta)``, ``c = e^{-t}``, are formed as
    ``(2 c x'.a'^mu - c^2 |a'^mu|^2) / (2 Delta)`` in the centred frame
    (:class:`StreamedTrainingSet`) with the row constant ``-|x'|^2/(2 Delta)`` added (in float64)
    only to the log-density. Per chunk the running maximum ``m``, the sum ``s`` of
    ``exp(l - m)`` and the weighted sum of ``a'^mu`` are rescaled by ``exp(m_old - m_new)``.

    float32 data: these dot-product logits lose ``|x'| |a'| / Delta`` times the unit roundoff,
    which at small ``t`` or large norms exceeds the gaps between logits, and the final
    ``c E_w[a'] - x'`` cancels. The 8 largest logits per query are therefore recomputed from
    direct float64 differences (as in :class:`~simulate.engine.ScoreEngine`), and a row whose
    remainder the :class:`AccuracyGuard` cannot vouch for is recomputed with float64 logits:
    float32 results agree with float64 ones to 1e-5 relative (score) for norms up to 1e4 and
    ``t`` down to 1e-6 (tests/test_scores.py).
    """

    def __init__(self, data: torch.Tensor, *, memory_budget_bytes: int = 64 * 2**20, chunk_size: int | None = None,
                 origin: torch.Tensor | None = None):
        self._init_data(data, memory_budget_bytes, origin=origin)
        self.fixed_chunk_size = None if chunk_size is None else require_int("chunk_size", chunk_size, 1)
        # the best 8 logits recomputed exactly in float64 where the GEMM's are not accurate enough
        # (Notes); float64 has nothing to promote to, so its guard never marks a row
        self.candidates = 8
        if self.data.dtype == torch.float32:
            self.guard = AccuracyGuard(unit_roundoff=2.0 ** -24, max_norm=self.max_norm)
        else:
            self.guard = AccuracyGuard(max_norm=self.max_norm).float64()


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
        sigma = require_real("sigma", sigma)
        if not (sigma > 0 and math.isfinite(sigma)):
            raise InputError(f"sigma must be > 0, got {sigma!r}")
        self.mean = mean
        self.sigma = float(sigma)

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """The score at ``(x, t)``."""
        c, var = ou_coefficients(t)
        x = check_points("x", x, dim=self.mean.shape[0])
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
        x = check_points("x", x, dim=self.variances.shape[0])
        return -x / (self.variances * c * c + var)

