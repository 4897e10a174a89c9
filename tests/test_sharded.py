"""Sharded empirical score: partials of disjoint shards combine exactly, in one process and across
two gloo processes."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from simulate.observables import excess_entropy_estimate
from simulate.scores import EmpiricalScore, combine_partials
from simulate.sharded import ShardedEmpiricalScore, shard_bounds


def _data(P=1001, N=12, B=7):
    g = torch.Generator().manual_seed(3)
    data = torch.randn(P, N, generator=g, dtype=torch.float64)
    x = 0.9 * data[:B] + 0.1 * torch.randn(B, N, generator=g, dtype=torch.float64)
    return data, x


def test_shard_bounds_cover_everything():
    for P, W in [(10, 3), (7, 7), (1000, 4)]:
        spans = [shard_bounds(P, W, r) for r in range(W)]
        assert spans[0][0] == 0 and spans[-1][1] == P
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        assert max(b - a for a, b in spans) - min(b - a for a, b in spans) <= 1
    with pytest.raises(ValueError, match="P must be >= world_size"):
        shard_bounds(2, 3, 0)


def test_combined_partials_equal_the_unsharded_score():
    data, x = _data()
    full = EmpiricalScore(data)
    for t in [0.05, 0.5, 2.0]:
        ref = full.evaluate(x, t)
        parts = []
        for r in range(3):
            a, b = shard_bounds(data.shape[0], 3, r)
            parts.append(EmpiricalScore(data[a:b], origin=data.mean(dim=0)).partials(x, t, index_offset=a))
        got = combine_partials(parts).finish(x, t, data.shape[0])
        assert torch.allclose(got.score, ref.score, rtol=1e-12, atol=0)
        assert torch.allclose(got.log_density, ref.log_density, rtol=1e-13)
        assert torch.equal(got.nearest_index, ref.nearest_index)
    far = data + 5.0  # far from the origin: each shard would centre on its own mean
    own = [EmpiricalScore(far[a:b]).partials(x + 5.0, 0.5, index_offset=a) for a, b in [(0, 500), (500, 1001)]]
    with pytest.raises(ValueError, match="parts must share one frame"):
        combine_partials(own)


def _worker(rank, world, init_file, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        data, x = _data()
        a, b = shard_bounds(data.shape[0], world, rank)
        score = ShardedEmpiricalScore(data[a:b], a)
        res = {t: score.evaluate(x, t) for t in (0.05, 0.5, 2.0)}
        exclude = torch.arange(x.shape[0]) * 97 % data.shape[0]  # indices held by either rank
        left_out = score.evaluate(x, 0.5, exclude=exclude).log_density
        rows = score.rows(torch.tensor([0, 500, 1000]))
        # an observable on two ranks: the same generator seed on both, so the same draws
        est = excess_entropy_estimate(score, [0.3, 1.0], 200, generator=torch.Generator().manual_seed(2), disable=True)
        if rank == 0:
            torch.save({"evaluations": {t: (r.score, r.log_density, r.nearest_index, score.P) for t, r in res.items()},
                        "left_out": left_out, "rows": rows, "f_rest": torch.as_tensor(est.f_rest)}, out_file)
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_two_gloo_processes_equal_the_unsharded_score(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    saved = torch.load(out)
    data, x = _data()
    full = EmpiricalScore(data)
    exclude = torch.arange(x.shape[0]) * 97 % data.shape[0]
    assert torch.allclose(saved["left_out"], full.evaluate(x, 0.5, exclude=exclude).log_density, rtol=1e-13)
    assert torch.equal(saved["rows"], data[[0, 500, 1000]])
    est = excess_entropy_estimate(full, [0.3, 1.0], 200, generator=torch.Generator().manual_seed(2), disable=True)
    np.testing.assert_allclose(saved["f_rest"].numpy(), est.f_rest, rtol=1e-12)
    for t, (score, logd, nearest, P) in saved["evaluations"].items():
        ref = full.evaluate(x, t)
        assert P == data.shape[0]
        assert torch.allclose(score, ref.score, rtol=1e-12, atol=0)
        assert torch.allclose(logd, ref.log_density, rtol=1e-13)
        assert torch.equal(nearest, ref.nearest_index)


def test_needs_an_initialised_group():
    data, _ = _data(P=10)
    if dist.is_initialized():
        pytest.skip("a process group is already initialised")
    with pytest.raises(ValueError, match="must be initialised"):
        ShardedEmpiricalScore(data)
