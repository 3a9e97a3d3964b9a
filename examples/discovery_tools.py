"""The smaller discovery tools: attribution from any node, checkpoints and rewind, the loss
Hessian, node swaps for a cleaner plot, and sparse initialisation (pykan's Interp 4, 10, 10A/B
and 11).

A ``[3, 5, 1]`` KAN with a sparse start (``sparse_init``: each node joined to its nearest
neighbours) learns ``f = sin(x1) + x2²`` (``x3`` is noise). ``attribute`` scores the inputs
from the output and from one hidden node; a ``Checkpoints`` history keeps the trained model and
two pruned ones, and ``rewind`` brings the trained one back. The loss Hessian in the
output layer's coefficients shows the flat directions the data leaves free; ``auto_swap``
reorders the hidden nodes of a dense model so its plot has fewer crossing edges, with the same
function.

Run ``python examples/discovery_tools.py [--quick] [--out FOLDER]``.
"""

import argparse
from pathlib import Path

import torch

import kanlab
from kanlab.interpret.swap import auto_swap, crossings
from kanlab.nn.checkpoints import Checkpoints
from kanlab.training.landscape import loss_hessian


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer LBFGS steps")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    steps = 15 if args.quick else 50

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(600, 3, generator=gen, dtype=torch.float64) * 2 - 1
    y = (torch.sin(x[:, 0]) + x[:, 1] ** 2)[:, None]
    data = {"train_input": x, "train_label": y}
    model = kanlab.KAN([3, 5, 1], sparse_init=True, seed=0, dtype=torch.float64)
    print(f"sparse start: {int(model.layers[0].mask.sum())} of 15 first-layer edges")
    kanlab.fit(model, data, steps=steps, lamb=1e-3, progress=False)

    inputs = model.attribute(2, 0, x).nodes[0]  # from the output (layer 2, node 0)
    print("input scores from the output:", inputs.numpy().round(3))
    hidden = int(model.importance(x).nodes[1].argmax())
    print(f"input scores from hidden node {hidden}:",
          model.attribute(1, hidden, x).nodes[0].numpy().round(3))

    history = Checkpoints()
    history.checkpoint(model, "trained", note=f"{steps} LBFGS steps, lamb 1e-3")
    history.checkpoint(model.prune(x), "pruned")
    history.checkpoint(model.prune(x, node_threshold=0.5), "over-pruned")
    for name in history.names:
        m = history.rewind(name)
        rmse = float((m(x).detach() - y).square().mean().sqrt())
        print(f"checkpoint {name!r}: widths {m.widths}, train RMSE {rmse:.2e}")
    model = history.rewind("trained")

    for p in model.parameters():
        p.requires_grad_(False)
    model.layers[1].coef.requires_grad_(True)
    hessian, _ = loss_hessian(model, x, y)
    curvatures = torch.linalg.eigvalsh(hessian)
    flat = int((curvatures < 1e-8 * curvatures.max()).sum())
    print(f"loss Hessian in the output layer's {len(curvatures)} coefficients: {flat} flat "
          f"directions, curvatures {curvatures.min():.1e} .. {curvatures.max():.1e}")
    for p in model.parameters():
        p.requires_grad_(True)

    dense = kanlab.KAN([3, 5, 1], seed=1, dtype=torch.float64)  # all edges: crossings
    kanlab.fit(dense, data, steps=steps, lamb=1e-3, progress=False)
    tidy = auto_swap(dense, x)
    print(f"dense model, crossings (importance-weighted): "
          f"{crossings(dense, dense.importance(x).edges):.3f} -> "
          f"{crossings(tidy, tidy.importance(x).edges):.3f} after auto_swap; same function: "
          f"{bool(torch.allclose(tidy(x), dense(x)))}")
    tidy.plot(x, path=args.out / "swapped.png")


if __name__ == "__main__":
    main()
