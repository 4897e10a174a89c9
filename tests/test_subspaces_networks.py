"""subspaces-networks: the table's structure (one row per P, block, score and rule), the ordering
verdicts, and the GPU preset on CUDA (skipped without a device)."""

import pytest

from compare import get_experiment

SMALL = dict(dims="2,3", std="1,0.1", P="40,120", width="16", train_steps=300, batch_size=64, times=6, points=12,
             device="cpu")


def test_table_holds_every_score_block_rule_and_the_order_verdicts():
    spec = get_experiment("subspaces-networks")
    result = spec.run(spec.preset(**SMALL))
    table = result.table
    blocks = table[table["subspace"] != "all (largest weight > 1/2)"]
    assert len(blocks) == 2 * 2 * 2 * 3  # P x blocks x scores (empirical, one width) x rules
    assert set(blocks["score"]) == {"empirical", "MLP width 16"}
    assert set(result.theory["order"]) == {f"{s}, P = {P}" for s in ("empirical", "MLP width 16") for P in (40, 120)}
    assert set(result.theory["order"].values()) <= {"ordered", "ordered (overlapping)", "not ordered", "incomplete"}
    # the empirical score memorises these small sets: every block is lost on the grid
    emp = blocks[blocks["score"] == "empirical"]
    assert emp["measured"].notna().all()


@pytest.mark.gpu
def test_gpu_preset_runs_on_cuda(tmp_path):
    spec = get_experiment("subspaces-networks")
    preset = spec.preset(dims="10,40,150", std="1,0.3,0.01", P="1000,10000", width="512", train_steps=2000,
                         batch_size=1024, points=64, times=12, device="cuda")
    result = spec.run(preset, tmp_path)
    assert (tmp_path / "table.csv").exists() and len(result.table) > 0


def test_dimension_loss_time_interpolates_below_the_peak():
    import math

    from compare.experiments.image_dimension import dimension_loss_time

    t = [1.0, 0.1, 0.01, 0.001]
    assert dimension_loss_time(t, [0.0, 3.0, 1.0, 0.0]) == pytest.approx(math.exp(math.log(0.01) + 0.5 * math.log(0.1)))
    assert math.isnan(dimension_loss_time(t, [0.0, 3.0, 2.0, 1.0]))  # never falls below 1/2
    assert math.isnan(dimension_loss_time(t, [0.0, 0.2, 0.1, 0.0]))  # never above it
