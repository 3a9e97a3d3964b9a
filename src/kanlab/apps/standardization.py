"""The pipeline's first stage: centre and scale a dataset's columns with its training rows'
mean and standard deviation (a constant column is only centred), and undo it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kanlab.data import Dataset

__all__ = ["Standardization", "center_scale"]


def center_scale(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column means and standard deviations ``(n_cols,)`` of ``a`` ``(N, n_cols)``; a (nearly)
    constant column gets scale 1."""
    mean = a.mean(0)
    scale = a.std(0, unbiased=False)
    eps = torch.finfo(a.dtype).eps
    constant = ~(scale > 10 * eps * mean.abs().clamp_min(1.0))
    return mean, torch.where(constant, torch.ones_like(scale), scale)



@dataclass(frozen=True)
class Standardization:
    """Per-column centring and scaling: ``z = (x - x_mean) / x_scale`` for the inputs and,
    when the target is standardised, ``(y - y_mean) / y_scale`` for it.

    Attributes:
        x_mean, x_scale: ``(n_in,)``; zeros and ones when the inputs are not standardised.
        y_mean, y_scale: ``(n_out,)``, or None when the target is not standardised.
    """

    x_mean: torch.Tensor
    x_scale: torch.Tensor
    y_mean: torch.Tensor | None = None
    y_scale: torch.Tensor | None = None

    @classmethod
    def fit(cls, data: Dataset, *, inputs: bool = True, target: bool = True) -> Standardization:
        """The standardisation of ``data``'s training rows (:func:`center_scale`).

        Args:
            data: training inputs ``(N, n_in)`` and, with ``target``, labels ``(N, n_out)``.
            inputs: standardise the inputs; otherwise ``x_mean = 0``, ``x_scale = 1``.
            target: standardise the labels too.
        """
        x = data.train_input
        if inputs:
            x_mean, x_scale = center_scale(x)
        else:
            x_mean = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
            x_scale = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
        if not target:
            return cls(x_mean, x_scale)
        return cls(x_mean, x_scale, *center_scale(data.train_label))

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised inputs ``(N, n_in)``."""
        return (x - self.x_mean) / self.x_scale

    def target(self, y: torch.Tensor) -> torch.Tensor:
        """Standardised labels ``(N, n_out)``; ``y`` itself when the target is not scaled."""
        return y if self.y_mean is None else (y - self.y_mean) / self.y_scale

    def dataset(self, data: Dataset) -> Dataset:
        """``data`` with inputs and labels standardised (train and test)."""
        def xs(x):
            return None if x is None else self.inputs(x)

        def ys(y):
            return None if y is None else self.target(y)

        return Dataset(xs(data.train_input), ys(data.train_label), xs(data.test_input),
                       ys(data.test_label))
