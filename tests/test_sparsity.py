"""Sparsity regularisation: the paper's L1 + entropy and pykan 0.2.8's form, and fit(lamb=...)."""

import math

import pytest
import torch

import kanlab
from kanlab.data import make_toy_dataset
from kanlab.training.regularization import coefficient_penalty, edge_scales, sparsity_penalty

D = torch.float64


def test_paper_penalty_by_hand():
    v = torch.tensor([[0.1, 0.3], [0.0, 0.6]], dtype=D)  # |φ|₁ of 4 edges, one dead
    p = v.flatten() / v.sum()
    entropy = -sum(float(q) * math.log(float(q)) for q in p if q > 0)
    got = sparsity_penalty([v], l1=1.5, entropy=0.5)
    assert float(got) == pytest.approx(1.5 * 1.0 + 0.5 * entropy, rel=1e-12)
    # finite gradient with a dead edge
    w = v.clone().requires_grad_()
    sparsity_penalty([w]).backward()
    assert torch.isfinite(w.grad).all()


def test_pykan_penalty_by_hand():
    v = torch.tensor([[0.2, 0.4]], dtype=D)
    rows = v / (v.sum(1, keepdim=True) + 1)
    cols = v / (v.sum(0, keepdim=True) + 1)
    h_row = -(rows * torch.log2(rows + 1e-4)).sum(1).mean()
    h_col = -(cols * torch.log2(cols + 1e-4)).sum(0).mean()
    got = sparsity_penalty([v], l1=1.0, entropy=2.0, metric="edge_std")
    assert float(got) == pytest.approx(float(v.sum() + 2 * (h_row + h_col)), rel=1e-12)


def test_edge_scales():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=D)
    acts = torch.tensor([[[1.0, -2.0]], [[-3.0, 2.0]]], dtype=D)  # (B=2, out=1, in=2)
    torch.testing.assert_close(edge_scales(x, acts), torch.tensor([[2.0, 2.0]], dtype=D))
    mask = torch.tensor([[1.0, 0.0]], dtype=D)
    want = acts.std(0) * mask / (x.std(0) + 0.1)
    torch.testing.assert_close(edge_scales(x, acts, "edge_std", mask), want)


def test_coefficient_penalty():
    c = torch.tensor([[[1.0, -2.0, 4.0]], [[3.0, 0.0, 0.0]]], dtype=D)  # (out=2, in=1, nb=3)
    mag = c.abs().mean(0).sum()
    smooth = c.diff(dim=-1).abs().mean(0).sum()
    got = coefficient_penalty([c], magnitude=0.5, smoothness=2.0)
    assert float(got) == pytest.approx(float(0.5 * mag + 2 * smooth))


def test_fit_with_lamb_reports_the_penalty_and_sparsifies():
    data = make_toy_dataset("exp_sin_sq", seed=0, n_train=200, n_test=50)
    dense = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    sparse = kanlab.KAN([2, 3, 1], seed=0, dtype=D)
    h0 = kanlab.fit(dense, data, steps=15, progress=False)
    h1 = kanlab.fit(sparse, data, steps=15, lamb=0.05, progress=False)
    assert h0.reg == [0.0] * len(h0.reg)
    assert h1.reg[-1] > 0 and h1.reg[-1] < h1.reg[0]
    x = data.train_input.to(D)
    with torch.no_grad():
        l1_dense = sum(t.activations.abs().mean(0).sum() for t in dense.trace(x))
        l1_sparse = sum(t.activations.abs().mean(0).sum() for t in sparse.trace(x))
    assert float(l1_sparse) < float(l1_dense)


def test_fit_rejects_bad_regularisation_settings():
    data = make_toy_dataset("exp_sin_sq", seed=0, n_train=20, n_test=5)
    model = kanlab.KAN([2, 1], seed=0)
    with pytest.raises(ValueError, match="lamb"):
        kanlab.fit(model, data, steps=1, lamb=-1.0, progress=False)
    with pytest.raises(ValueError, match="reg_metric"):
        kanlab.fit(model, data, steps=1, lamb=0.1, reg_metric="nope", progress=False)
