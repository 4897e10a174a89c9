"""The empirical score with the training set sharded across processes (one per GPU, or CPU
processes with the gloo backend).

Every rank holds a contiguous block of rows and streams it with :meth:`EmpiricalScore.partials`;
the per-shard partials (maximum logit, sum of exponentials, weighted sum, best index) are combined
with three collectives: ``all_reduce(MAX)`` of the maxima, then ``all_reduce(SUM)`` of the sums and
weighted sums after rescaling each to the global maximum, and ``all_reduce(MAX)`` of the
best-logit-tagged index. The result equals the unsharded evaluation up to the order of the
floating-point sums. Query points ``x`` must be the same on every rank (broadcast them first).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .scores import EmpiricalAccessors, EmpiricalEvaluation, EmpiricalScore, Partials, ou_coefficients

__all__ = ["shard_bounds", "ShardedEmpiricalScore"]


def shard_bounds(P: int, world_size: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of rank ``rank``: contiguous blocks whose sizes differ by at most one."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank}, world_size={world_size}")
    if P < world_size:
        raise ValueError(f"P must be >= world_size so that no shard is empty, got P={P}, world_size={world_size}")
    base, extra = divmod(P, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedEmpiricalScore(EmpiricalAccessors):
    """Empirical score of the union of the shards held by the ranks of ``group``.

    Parameters
    ----------
    shard : Tensor (P_rank, N)
        This rank's rows of the training set.
    start : int
        Global index of the first row of ``shard`` (for ``nearest_index``).
    group : ProcessGroup, optional
        Default: the world group (``torch.distributed`` must be initialised).
    """

    def __init__(self, shard: torch.Tensor, start: int = 0, *, group=None, **score_kwargs):
        if not dist.is_available() or not dist.is_initialized():
            raise ValueError("torch.distributed must be initialised (dist.init_process_group) before sharding")
        self.local = EmpiricalScore(shard, **score_kwargs) if shard.shape[0] >= 2 else None
        self._shard = shard
        self.start = int(start)
        self.group = group
        p = torch.tensor([shard.shape[0]], dtype=torch.long, device=shard.device)
        dist.all_reduce(p, op=dist.ReduceOp.SUM, group=group)
        self.P = int(p.item())

    def _local_partials(self, x, t, need_score) -> Partials:
        if self.local is not None:
            return self.local.partials(x, t, need_score=need_score, index_offset=self.start)
        # a one-row shard: EmpiricalScore needs P >= 2, so form its partial directly
        c, var = ou_coefficients(t)
        a = self._shard[0]
        logit = (2 * c * x @ a - c * c * (a @ a)) / (2 * var)
        ones = torch.ones_like(logit)
        weighted = a.expand_as(x).clone() if need_score else None
        return Partials(logit, ones, weighted, torch.full_like(logit, self.start, dtype=torch.long))

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, t: float, *, need_score: bool = True) -> EmpiricalEvaluation:
        part = self._local_partials(x, t, need_score)
        global_max = part.max.clone()
        dist.all_reduce(global_max, op=dist.ReduceOp.MAX, group=self.group)
        finite = torch.where(torch.isfinite(global_max), global_max, torch.zeros_like(global_max))
        scale = torch.exp(part.max - finite)
        total = part.sum * scale
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=self.group)
        weighted = None
        if need_score:
            weighted = part.weighted * scale[:, None]
            dist.all_reduce(weighted, op=dist.ReduceOp.SUM, group=self.group)
        # the best index: only the rank(s) holding the global maximum propose their index
        proposal = torch.where(part.max >= global_max, part.argmax, torch.full_like(part.argmax, -1))
        dist.all_reduce(proposal, op=dist.ReduceOp.MAX, group=self.group)
        return Partials(global_max, total, weighted, proposal).finish(x, t, self.P)
