"""An MLP baseline with the KAN's interface, for side-by-side runs (the KAN paper's §3).

``MLP([2, 20, 20, 1])`` trains with the same :func:`kanlab.fit` (LBFGS or Adam, the same
history); grid options of ``fit`` simply do not apply to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kanlab._validation import check_choice, check_widths
from kanlab.errors import InputError

__all__ = ["ACTIVATIONS", "MLP", "n_parameters"]

ACTIVATIONS = {"silu": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class MLP(nn.Module):
    """Fully connected layers of the given widths with an activation between them.

    Args:
        widths: node counts from inputs to outputs, e.g. ``[2, 20, 20, 1]``.
        activation: ``"silu"`` (the paper's MLPs), ``"tanh"``, ``"relu"`` or ``"gelu"``.
        seed: seeds a local generator for the initialisation (PyTorch's ``nn.Linear`` one);
            the global RNG is not touched. None draws from the global RNG.
        dtype, device: where the parameters live.

    Shape:
        ``(..., widths[0]) -> (..., widths[-1])``.
    """

    def __init__(self, widths: Sequence[int], *, activation: str = "silu",
                 seed: int | None = None, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        widths = check_widths(widths)
        check_choice("activation", activation, ACTIVATIONS)
        self.widths, self.activation = widths, activation
        layers: list[nn.Module] = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            linear = nn.utils.skip_init(nn.Linear, n_in, n_out, dtype=dtype)  # no RNG use yet
            layers += [linear, ACTIVATIONS[activation]()]
        self.net = nn.Sequential(*layers[:-1])
        if seed is None:
            for layer in self.net:
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()
        else:
            self._reset(torch.Generator().manual_seed(seed))
        if device is not None:
            self.to(device)

    @torch.no_grad()
    def _reset(self, generator: torch.Generator) -> None:
        """``nn.Linear``'s initialisation, U(±1/√fan_in), drawn from ``generator``."""
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                bound = layer.in_features ** -0.5
                for p in (layer.weight, layer.bias):
                    draw = torch.empty(p.shape, dtype=p.dtype).uniform_(-bound, bound,
                                                                       generator=generator)
                    p.copy_(draw)

    def extra_repr(self) -> str:
        return f"widths={self.widths}, activation={self.activation!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 0 or x.shape[-1] != self.widths[0]:
            raise InputError(f"x has shape {tuple(x.shape)}; expected (..., {self.widths[0]})")
        return self.net(x)


def n_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (what the paper's scaling plots count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
