"""Training on two processes (gloo on loopback): identical ranks, and the single-process run.

One pair of processes is started for the whole module (``torch.multiprocessing``); each rank
runs every case on its shard of a fixed dataset and saves its results, which the tests compare
with each other and with one process fitting the whole data.
"""

import datetime
import os
import socket
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.functional import mse_loss

import kanlab
from kanlab import InputError
from kanlab.data import Dataset, make_toy_dataset
from kanlab.grids import DKANGrid
from kanlab.grids.schedules import EveryNSteps, OnRefine
from kanlab.training.distributed import (
    combine_moments,
    gather_samples,
    global_moments,
    synced_statistics,
)
from kanlab.training.parallel import Distributed

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)

D = torch.float64
WORLD = 2
N_TRAIN, N_TEST = 200, 100
TRAIN_SPLIT, TEST_SPLIT = 110, 40  # unequal shards: rank 0 gets the first rows
# float64. The ranks sum losses, gradients and statistics in another order than one process (a
# partial sum per rank, then their sum), so the runs differ by rounding (~1e-16 relative per
# operation). LBFGS's line searches amplify such differences over its iterations: with its
# default 20 iterations per step, 6 steps end ~5e-3 apart in the parameters -- as far apart as
# two single-process runs whose training rows are merely permuted. With 5 iterations per step
# (30 in all) the differences stay ~1e-13 (Adam's ~1e-15), so 1e-10 leaves a wide margin and
# still catches any real discrepancy (a wrong weighting or a statistic of one shard is ~1e-2).
TOL = 1e-10


def _data():
    return make_toy_dataset("exp_sin_sq", n_train=N_TRAIN, n_test=N_TEST, seed=0, dtype=D)


def _shard(data, rank, split_train=TRAIN_SPLIT, split_test=TEST_SPLIT):
    def part(t, split):
        return t[:split] if rank == 0 else t[split:]

    return Dataset(part(data.train_input, split_train), part(data.train_label, split_train),
                   part(data.test_input, split_test), part(data.test_label, split_test))


def _case(name):
    """(model, fit options, whether a single process on all data gives the same run)."""
    lbfgs = dict(opt="lbfgs", optimizer_options={"max_iter": 5})
    if name == "lbfgs_quantile":  # grid updates at 0 and 2, update + extension 5 -> 8 at 3
        model = kanlab.KAN([2, 3, 1], grid_size=5, seed=0, dtype=D)
        opts = dict(**lbfgs, steps=6, grid_schedule={3: 8},
                    update_grid=[EveryNSteps(every=2, until=None), OnRefine(at_start=False)])
        return model, opts, True
    if name == "adam_dkan":  # batch statistics (SignorinoY/DKAN), refinement 5 -> 8 at 3
        model = kanlab.KAN([2, 3, 1], grid="dkan", grid_size=5, seed=0, dtype=D)
        return model, dict(opt="adam", steps=6, grid_schedule={3: 8}), True
    if name == "lbfgs_dkan_paper":  # running statistics (DKAN's paper)
        model = kanlab.KAN([2, 3, 1], grid=DKANGrid(variant="paper"), grid_size=5, seed=0,
                           dtype=D)
        return model, dict(**lbfgs, steps=3), True
    if name == "lbfgs_reg_edge_std":  # pooled edge scores (pykan's form), grid update at 0
        model = kanlab.KAN([2, 3, 1], grid_size=5, seed=0, dtype=D)
        return model, dict(**lbfgs, steps=3, lamb=1e-2, reg_metric="edge_std"), True
    if name == "adam_reg_dkan":  # pooled edge scores (paper's form) through DKAN's trace
        model = kanlab.KAN([2, 3, 1], grid="dkan", grid_size=5, seed=0, dtype=D)
        return model, dict(opt="adam", steps=4, lamb=1e-2, lamb_coef=1.0), True
    if name == "adam_batches":  # each rank shuffles its shard: no single-process twin
        model = kanlab.KAN([2, 3, 1], grid_size=5, seed=0, dtype=D)
        return model, dict(opt="adam", steps=6, batch_size=40, grid_update_every=2), False
    raise KeyError(name)


FIT_CASES = ("lbfgs_quantile", "adam_dkan", "lbfgs_dkan_paper", "lbfgs_reg_edge_std",
             "adam_reg_dkan", "adam_batches")
DDP_CASES = ("ddp_quantile", "ddp_dkan")


def _ddp_recipe(name, x, y, ddp: bool):
    """The plain-loop recipe of kanlab.training.distributed: DDP, synced statistics, gathered
    knots."""
    grid = "dkan" if name == "ddp_dkan" else "quantile"
    model = kanlab.KAN([2, 3, 1], grid=grid, grid_size=5, seed=0, dtype=D)
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    with synced_statistics(model) if ddp else _nothing():
        for step in range(5):
            if grid == "quantile" and step % 2 == 0:
                model.update_grid(gather_samples(x) if ddp else x)
            opt.zero_grad()
            mse_loss(net(x), y).backward()  # DDP averages over ranks: equal shards here
            opt.step()
    return model


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=60))
    try:
        results = {}
        # collectives on their own: unequal shards, pooled moments
        x = torch.arange(6.0 * (3 + 2 * rank), dtype=D).reshape(-1, 2, 3) + 100 * rank
        results["gathered"] = gather_samples(x)
        results["moments"] = global_moments(x)
        data = _data()
        for name in FIT_CASES:
            model, opts, _ = _case(name)
            if rank == 1:  # another initialisation: fit broadcasts rank 0's model
                model = kanlab.KAN([2, 3, 1], grid=model.grid_strategy, grid_size=5, seed=1,
                                   dtype=D)
            # the processes object itself once, True (which builds it) everywhere else
            how = Distributed() if name == "adam_batches" else True
            hist = kanlab.fit(model, _shard(data, rank), progress=False, distributed=how,
                              **opts)
            results[name] = {"state": model.state_dict(), "history": hist.as_dict(),
                             "recorded": model.recorded_inputs}
        half = _shard(data, rank, N_TRAIN // 2)
        for name in DDP_CASES:
            model = _ddp_recipe(name, half.train_input, half.train_label, ddp=True)
            results[name] = {"state": model.state_dict()}
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    ctx = mp.start_processes(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=False,
                             start_method="spawn")
    deadline = time.monotonic() + 240
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("the two training processes did not finish in time")
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def _single_process(name):
    model, opts, _ = _case(name)
    hist = kanlab.fit(model, _data(), progress=False, **opts)
    return model, hist


def _assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert a[key].shape == b[key].shape and torch.equal(a[key], b[key]), key
        else:  # extra state (symbolic edges' names)
            assert a[key] == b[key], key


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return {k: float((a[k].double() - b[k].double()).abs().max()) for k in a
            if isinstance(a[k], torch.Tensor) and a[k].numel()}


def test_gather_samples_concatenates_unequal_shards_in_rank_order(ranks):
    expected = torch.cat([torch.arange(6.0 * (3 + 2 * r), dtype=D).reshape(-1, 2, 3) + 100 * r
                          for r in range(WORLD)])
    for res in ranks:
        assert torch.equal(res["gathered"], expected)
        mean, var, n = res["moments"]
        assert n == expected.shape[0]
        torch.testing.assert_close(mean, expected.mean(0), rtol=1e-14, atol=0)
        torch.testing.assert_close(var, expected.var(0, unbiased=False), rtol=1e-13, atol=0)


def test_combine_moments_pools_unequal_parts_exactly():
    gen = torch.Generator().manual_seed(0)
    x = 1e3 + torch.randn(40, 3, generator=gen, dtype=D)  # an offset that naive sums would lose
    parts = [x[:7], x[7:8], x[8:8], x[8:]]  # one sample, no sample, the rest
    counts = torch.tensor([len(p) for p in parts])
    means = torch.stack([p.sum(0) / max(len(p), 1) for p in parts])
    m2 = torch.stack([((p - m) ** 2).sum(0) for p, m in zip(parts, means)])
    n, mean, var = combine_moments(counts, means, m2)
    assert int(n) == 40
    torch.testing.assert_close(mean, x.mean(0), rtol=1e-15, atol=0)
    torch.testing.assert_close(var, x.var(0, unbiased=False), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", FIT_CASES + DDP_CASES)
def test_the_ranks_end_with_bit_identical_models(ranks, name):
    a, b = ranks[0][name], ranks[1][name]
    _assert_identical(a["state"], b["state"])  # parameters, knots, running statistics
    if "history" in a:
        for field in ("loss", "reg", "train_rmse", "test_rmse", "grid_size", "events"):
            assert a["history"][field] == b["history"][field], field
        assert torch.equal(a["recorded"], _data().train_input)  # all ranks' inputs


@pytest.mark.parametrize("name", [n for n in FIT_CASES if _case(n)[2]])
def test_distributed_fit_matches_one_process_on_all_data(ranks, name):
    model, hist = _single_process(name)
    got = ranks[0][name]
    diffs = _max_diff(got["state"], model.state_dict())
    assert max(diffs.values()) < TOL, diffs
    assert got["history"]["grid_size"] == hist.grid_size
    assert got["history"]["events"] == hist.events
    for field in ("loss", "train_rmse", "test_rmse"):
        torch.testing.assert_close(torch.tensor(got["history"][field]),
                                   torch.tensor(getattr(hist, field)), rtol=TOL, atol=0)
    if name == "lbfgs_quantile":  # the grids did move, and refine to 8
        assert [e for _, e in hist.events] == ["update grid"] * 3 + ["refine to G=8"]
    if name in ("adam_dkan", "lbfgs_dkan_paper"):  # the statistics moved (those of all data)
        assert int(got["state"]["layers.1.standardize.num_batches_tracked"]) > 0
        assert not torch.equal(got["state"]["layers.1.standardize.running_var"],
                               torch.ones(3, dtype=D))
    if "reg" in name:
        assert min(got["history"]["reg"]) > 0


@pytest.mark.parametrize("name", DDP_CASES)
def test_ddp_recipe_matches_one_process_on_all_data(ranks, name):
    data = _data()
    model = _ddp_recipe(name, data.train_input, data.train_label, ddp=False)
    diffs = _max_diff(ranks[0][name]["state"], model.state_dict())
    assert max(diffs.values()) < TOL, diffs


def test_distributed_fit_without_a_process_group_says_how_to_start_one():
    model = kanlab.KAN([2, 3, 1], grid_size=5, seed=0, dtype=D)
    with pytest.raises(InputError, match="init_process_group"):
        kanlab.fit(model, _data(), steps=1, progress=False, distributed=True)
