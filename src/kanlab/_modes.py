"""Training/evaluation mode for the span of a block, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["evaluating"]


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` (and its children) in evaluation mode for the block, then restore each
    submodule's own flag (a child left in training mode inside an eval parent stays so).

    Example::

        >>> with evaluating(model):
        ...     pred = model(x)   # running statistics used, never updated
    """
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.training = training
