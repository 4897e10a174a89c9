"""The empirical score with the training set sharded across processes (one per GPU, or CPU
processes with the gloo backend).

Every rank holds a contiguous block of rows and accumulates its :class:`~simulate.scores.Partials`
with the same streaming loop as :class:`~simulate.scores.EmpiricalScore`; the partials are combined
by :func:`~simulate.scores.merge_partials` with ``all_reduce`` as its reductions (MAX of the
maxima, SUM of the rescaled sums, MAX of the best-logit-tagged index). The result equals the
unsharded evaluation up to the order of the floating-point sums: every rank forms its logits in the
frame centred on the mean of the whole set, the candidates of float32 shards (the largest logits,
recomputed exactly) are gathered from all ranks, and the rows the accuracy guard cannot vouch for
are recomputed with float64 logits on every rank. Query points ``x`` must be the
same on every rank (broadcast them first), and so must ``exclude`` and any random draws an
observable makes (seed the generators identically on every rank).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from theory.validation import InputError, require_int

from .scores import (EmpiricalEvaluation, EmpiricalScore, EmpiricalScoreBase, Partials, _check_need, _evaluate_guarded,
                     merge_partials)

__all__ = ["shard_bounds", "ShardedEmpiricalScore"]


def shard_bounds(P: int, world_size: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of rank ``rank``: contiguous blocks whose sizes differ by at most one."""
    P, world_size = require_int("P", P, 1), require_int("world_size", world_size, 1)
    if not 0 <= rank < world_size:
        raise InputError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
    if P < world_size:
        raise InputError(f"P must be >= world_size so that no shard is empty, got P={P}, world_size={world_size}")
    base, extra = divmod(P, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedEmpiricalScore(EmpiricalScoreBase):
    """Empirical score of the union of the shards held by the ranks of ``group``.

    Parameters
    ----------
    shard : Tensor (P_rank, N)
        This rank's rows of the training set (at least one).
    start : int
        Global index of the first row of ``shard``.
    group : ProcessGroup, optional
        Default: the world group (``torch.distributed`` must be initialised).
    **score_kwargs
        Passed to the local :class:`~simulate.scores.EmpiricalScore` (``memory_budget_bytes``,
        ``chunk_size``).
    """

    def __init__(self, shard: torch.Tensor, start: int = 0, *, group=None, **score_kwargs):
        if not dist.is_available() or not dist.is_initialized():
            raise InputError("torch.distributed must be initialised (dist.init_process_group) before sharding")
        self.start = require_int("start", start, 0)
        self.group = group
        if "origin" in score_kwargs:
            raise InputError("origin is set by the sharded score (the mean of the whole training set)")
        if not isinstance(shard, torch.Tensor) or shard.ndim != 2 or shard.shape[0] < 1:
            raise InputError("shard must be a torch.Tensor of shape (P_rank, N) with P_rank >= 1")
        p = torch.tensor([shard.shape[0]], dtype=torch.long, device=shard.device)
        self._all_reduce(p, dist.ReduceOp.SUM)
        self._P = int(p.item())
        total = shard.double().sum(dim=0)
        self._all_reduce(total, dist.ReduceOp.SUM)
        self.local = EmpiricalScore(shard, origin=total / self._P, **score_kwargs)
        self.guard, self.finish_dtype = self.local.guard, None
        self.memory_budget_bytes = self.local.memory_budget_bytes

    def _all_reduce(self, tensor: torch.Tensor, op) -> torch.Tensor:
        dist.all_reduce(tensor, op=op, group=self.group)
        return tensor

    @property
    def P(self) -> int:
        """Total number of training points over all ranks."""
        return self._P

    @property
    def N(self) -> int:
        """Dimension."""
        return self.local.N

    @property
    def dtype(self) -> torch.dtype:
        """dtype of the training points."""
        return self.local.dtype

    @property
    def device(self) -> torch.device:
        """Device of this rank's shard."""
        return self.local.device

    def _merged(self, part: Partials) -> Partials:
        merged = merge_partials(part, reduce_max=lambda v: self._all_reduce(v.clone(), dist.ReduceOp.MAX),
                                reduce_sum=lambda v: self._all_reduce(v.clone(), dist.ReduceOp.SUM))
        # the candidates: every rank's list gathered, the best K kept (ranks agree on whether there are any)
        have = torch.tensor([0 if part.cand_index is None else part.cand_index.shape[1]], device=self.device)
        self._all_reduce(have, dist.ReduceOp.MIN)
        K = int(have.item())
        if K:
            world = dist.get_world_size(self.group)
            logits = [torch.empty_like(part.cand_logit[:, :K]) for _ in range(world)]
            index = [torch.empty_like(part.cand_index[:, :K]) for _ in range(world)]
            dist.all_gather(logits, part.cand_logit[:, :K].contiguous(), group=self.group)
            dist.all_gather(index, part.cand_index[:, :K].contiguous(), group=self.group)
            logit, idx = torch.cat(logits, dim=1), torch.cat(index, dim=1)
            keep = torch.topk(logit, K, dim=1).indices
            merged.cand_logit, merged.cand_index = logit.gather(1, keep), idx.gather(1, keep)
        return merged

    def _whole(self, x, t, need: frozenset, exclude, *, promote: bool = False) -> Partials:
        """Partials of the whole training set: this rank's, merged over the group."""
        return self._merged(self.local._accumulate(x, t, need, exclude, self.start, promote=promote))

    @torch.no_grad()
    def partials(self, x: torch.Tensor, t: float, *, need=("score",), exclude=None, index_offset: int = 0) -> Partials:
        """The partials of the whole training set (this rank's, merged over the group)."""
        return self._merged(self.local.partials(x, t, need=need, exclude=exclude,
                                                index_offset=self.start + index_offset))

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, t: float, *, need=("score",), exclude=None) -> EmpiricalEvaluation:
        """Score, log-density, nearest index and largest weight over all shards (every rank gets them)."""
        x = self.local._query(x)  # validated once here, not again by the local pass
        exclude = self._check_exclude(exclude, x.shape[0])
        return _evaluate_guarded(self, x, t, _check_need(need), exclude)

    @torch.no_grad()
    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """Training points by global index: each rank fills the rows it holds, then a SUM."""
        index = torch.as_tensor(index, device=self.device)
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.P):
            raise InputError(f"index must lie in [0, {self.P})")
        out = torch.zeros(*index.shape, self.N, dtype=self.dtype, device=self.device)
        local = index - self.start
        mine = (local >= 0) & (local < self.local.P)
        out[mine] = self.local.data[local[mine]]
        return self._all_reduce(out, dist.ReduceOp.SUM)
