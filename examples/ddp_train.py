"""Train a KAN on several processes with the same grids on every rank.

Run with::

    torchrun --nproc_per_node=2 examples/ddp_train.py                  # kanlab.fit, quantile grids
    torchrun --nproc_per_node=2 examples/ddp_train.py --grid dkan      # DKAN: synced statistics
    torchrun --nproc_per_node=2 examples/ddp_train.py --recipe ddp     # plain loop under DDP

On CPUs the processes talk over gloo; with one GPU per process (``--backend nccl``, the default
when CUDA is available) over NCCL. Every rank makes the same dataset, keeps its own shard
(rows ``rank::world``), and trains; the script then checks that all ranks hold bit-identical
models (knots and DKAN running statistics included) and rank 0 prints the history.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist

import kanlab
from kanlab.data import Dataset, make_toy_dataset
from kanlab.training.distributed import gather_samples, synced_statistics


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", choices=("fit", "ddp"), default="fit",
                        help="kanlab.fit(distributed=True), or a plain loop under DDP")
    parser.add_argument("--grid", choices=("quantile", "dkan"), default="quantile")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--backend", choices=("gloo", "nccl"),
                        default="nccl" if torch.cuda.is_available() else "gloo")
    return parser.parse_args()


def shard_of(data: Dataset, rank: int, world: int) -> Dataset:
    """This rank's rows of the training and test sets (every ``world``-th from ``rank``)."""
    return Dataset(data.train_input[rank::world], data.train_label[rank::world],
                   data.test_input[rank::world], data.test_label[rank::world])


def train_with_fit(model: kanlab.KAN, shard: Dataset, steps: int) -> kanlab.History:
    """kanlab's loop: each rank passes its shard; fit keeps the ranks in step."""
    return kanlab.fit(model, shard, steps=steps, grid_update_every=5, grid_update_until=30,
                      grid_schedule={steps // 2: 10}, distributed=True, progress=False)


def train_with_ddp(model: kanlab.KAN, shard: Dataset, steps: int) -> list[float]:
    """The plain PyTorch loop: DDP averages the gradients; kanlab.training.distributed keeps the
    knots (gathered samples) and the DKAN statistics (pooled over ranks) identical."""
    ddp = torch.nn.parallel.DistributedDataParallel(model)  # broadcasts rank 0's state
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-2)
    x, y = shard.train_input, shard.train_label
    losses = []
    with synced_statistics(model):
        for step in range(steps):
            if model.grid_strategy.adaptive and step % 5 == 0 and step < 30:
                model.update_grid(gather_samples(x))  # same samples -> same knots everywhere
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(ddp(x), y)  # shards of equal size: DDP's
            loss.backward()  # average of the ranks' gradients is that of the whole batch
            opt.step()
            losses.append(float(loss.detach()))
    return losses


def check_identical(model: torch.nn.Module) -> bool:
    """Whether every rank holds exactly the same tensors (compared to rank 0's)."""
    same = True
    for tensor in model.state_dict().values():
        if isinstance(tensor, torch.Tensor):
            ref = tensor.clone()
            dist.broadcast(ref, src=0)
            same &= bool(torch.equal(ref, tensor))
    flag = torch.tensor(int(same), device=next(model.parameters()).device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag)


def main() -> None:
    args = parse_args()
    dist.init_process_group(args.backend)  # rank, world size and address from torchrun
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cpu")
    if args.backend == "nccl":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    try:
        data = make_toy_dataset("exp_sin_sq", n_train=1000, n_test=1000, seed=0,
                                dtype=torch.float64)
        shard = shard_of(data, rank, world).to(device=device)
        model = kanlab.KAN([2, 5, 1], grid=args.grid, grid_size=5, seed=0,
                           dtype=torch.float64, device=device)
        if args.recipe == "fit":
            hist = train_with_fit(model, shard, args.steps)
            summary = (f"train RMSE {hist.train_rmse[-1]:.3e}, test RMSE "
                       f"{hist.test_rmse[-1]:.3e}, grid {model.grid_size}, events {hist.events}")
        else:
            losses = train_with_ddp(model, shard, args.steps)
            summary = f"loss of rank 0's shard {losses[0]:.3e} -> {losses[-1]:.3e}"
        identical = check_identical(model)
        if rank == 0:
            print(f"{world} ranks, {args.recipe}, {args.grid} grid: {summary}")
            print(f"models bit-identical on every rank: {identical}")
        if not identical:
            raise SystemExit(1)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
