"""The KAN paper's unsupervised mode (§4.2): find a group of dependent features without labels.

Features ``x`` ``(N, d)`` become a contrastive classification problem. Positives are the real
samples (label 1); negatives (label 0) are the same samples with *each column permuted
independently* across the rows, which keeps every feature's marginal distribution and destroys
any dependence between features. A KAN ``[d, 1, 1]`` whose last activation is fixed to the
Gaussian ``exp(-h²)`` (trainable affine ``c·exp(-(a·h + b)²) + d``) outputs about 1 only where
the hidden node ``h(x) = Σ_i φ_i(x_i)`` sits near one value, so to separate positives from
negatives it has to find a relation ``Σ_i φ_i(x_i) ≈ const`` that the data satisfy and shuffled
rows do not. Under sparsity regularisation only the features of one such relation keep
first-layer edges: :func:`dependent_features` reads them off.

Recipe (``experiments/unsupervised_toy.py``; on the §4.2 toy it found a correct group in 18
of 20 seeds, against 8 of 20 for pykan's tutorial settings on raw features)::

    >>> x = make_unsupervised_toy(1000, generator=torch.Generator().manual_seed(0))
    >>> x = (x - x.mean(0)) / x.std(0)  # standardise: a feature far off [-1, 1] stalls training
    >>> model = unsupervised_model(6, grid_size=3, seed=0, dtype=torch.float64)
    >>> common = {"lamb_entropy": 10.0}
    >>> fit_unsupervised(model, x, generator=torch.Generator().manual_seed(0), steps=50,
    ...                  lamb=0.002, **common)  # doctest: +SKIP
    >>> fit_unsupervised(model, x, generator=torch.Generator().manual_seed(0), steps=30,
    ...                  lamb=0.01, update_grid=False, **common)  # sparsify  # doctest: +SKIP
    >>> dependent_features(model)  # e.g. [0, 1, 2] or [3, 4]  # doctest: +SKIP

The same generator seed in both calls gives the same split and negatives. Which group a run
finds depends on the seed, as in the paper. Check the result: a contrastive accuracy
(:func:`contrastive_accuracy`) near 0.5 means that no relation was found and the "group" is
noise; :func:`feature_scores` shows a second relation kept at a lower level (the sum of two
relations is a relation too). With ``hidden > 1`` each hidden node has its own Gaussian and can
be read alone (``node=``); that training was not studied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kanlab._modes import evaluating
from kanlab._validation import check_finite, check_positive_int
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.nn.ensemble import Ensemble
from kanlab.nn.model import KAN
from kanlab.training.ensemble_fit import EnsembleHistory
from kanlab.training.loop import History, fit

__all__ = [
    "contrastive_accuracy",
    "contrastive_dataset",
    "dependent_features",
    "feature_scores",
    "fit_unsupervised",
    "make_unsupervised_toy",
    "relation_groups",
    "unsupervised_ensemble",
    "unsupervised_model",
]

MIN_SAMPLES = 2  # per split: a permutation of one row cannot break anything


def _check_features(x: object, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of shape (N, n_features); "
                         f"got {type(x).__name__}")
    if x.dim() != 2:
        raise InputError(f"{name} must be 2-D (N samples, n_features); got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    if x.shape[1] < 2:
        raise InputError(
            f"{name} has {x.shape[1]} feature(s); a dependence needs at least 2 features"
        )
    check_finite(name, x)
    return x


def _split_sizes(n: int, n_test: float) -> tuple[int, int]:
    if isinstance(n_test, bool) or not isinstance(n_test, (int, float)) or not (
        0 <= n_test < 1
    ):
        raise InputError(f"n_test must be a fraction in [0, 1); got {n_test!r}")
    n_te = int(round(n * n_test))
    if n_test > 0:
        n_te = max(n_te, MIN_SAMPLES)
    n_tr = n - n_te
    if n_tr < MIN_SAMPLES:
        need = MIN_SAMPLES + (MIN_SAMPLES if n_test > 0 else 0)
        raise InputError(
            f"x has {n} samples; with n_test={n_test} the contrastive dataset needs at least "
            f"{need} ({MIN_SAMPLES} per split, so that shuffling the columns can break the "
            "dependence)"
        )
    return n_tr, n_te


def _shuffle_columns(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Each column permuted independently across the rows (one ``randperm`` per column)."""
    n, d = x.shape
    index = torch.stack([torch.randperm(n, generator=generator) for _ in range(d)], dim=1)
    return torch.gather(x, 0, index.to(x.device))


def _contrastive(x: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Positives and their column-shuffled negatives, rows shuffled; labels ``(2n, 1)``."""
    n = x.shape[0]
    inputs = torch.cat([x, _shuffle_columns(x, generator)])
    labels = torch.cat([x.new_ones(n, 1), x.new_zeros(n, 1)])
    order = torch.randperm(2 * n, generator=generator).to(x.device)
    return inputs[order], labels[order]


def contrastive_dataset(
    x: torch.Tensor, *, n_test: float = 0.2, generator: torch.Generator | None = None
) -> Dataset:
    """The paper's contrastive problem built from unlabeled features.

    The samples are first split at random into train and test rows; each split then gets its
    own negatives (its rows with every column permuted independently), so that no test
    negative is made of training rows and each split is balanced. Rows are shuffled.

    Args:
        x: features ``(N, d)``, floating point, finite, ``d ≥ 2``.
        n_test: fraction of the samples held out for the test set (``0``: no test set). Each
            split needs at least 2 samples.
        generator: local ``torch.Generator`` for the split and the permutations; None uses
            ``torch.Generator()`` (torch's fixed default seed, so the result is reproducible).
            The global RNG is never used.

    Returns:
        A :class:`~kanlab.data.Dataset`: positives labelled 1, negatives 0, labels ``(·, 1)``
        in ``x``'s dtype; ``2·n_train`` training rows and ``2·n_test`` test rows.
    """
    x = _check_features(x)
    n_tr, n_te = _split_sizes(x.shape[0], n_test)
    gen = generator if generator is not None else torch.Generator()
    rows = torch.randperm(x.shape[0], generator=gen).to(x.device)
    train = _contrastive(x[rows[:n_tr]], gen)
    test = _contrastive(x[rows[n_tr:]], gen) if n_te else (None, None)
    return Dataset(*train, *test)


def unsupervised_model(
    n_features: int, *, hidden: int = 1, seed: int | None = None,
    dtype: torch.dtype | None = None, train_gaussian: bool = True, **kan_options,
) -> KAN:
    """A KAN ``[n_features, hidden, 1]`` whose last-layer edges are the Gaussian ``exp(-x²)``.

    The Gaussian edges are symbolic with ``(a, b, c, d) = (1, 0, 1, 0)`` (``fit_params=False``);
    their affine parameters stay trainable (unless ``train_gaussian=False``), so training can
    widen, narrow or shift the bump.
    The first layer is an ordinary spline layer.

    Args:
        n_features: number of input features (at least 2).
        hidden: hidden nodes (the paper's 1), each with its own Gaussian edge to the output.
        seed: initialisation seed (a local generator; see :class:`~kanlab.nn.model.KAN`).
        dtype: parameter dtype.
        train_gaussian: keep the Gaussians' affine parameters trainable (default, as pykan).
            False freezes them at ``exp(-h²)``: the first layer then has to give ``h`` a spread
            of order 1 on negatives, so the sparsity penalty cannot be dodged by shrinking the
            first layer and sharpening the Gaussian. On the §4.2 toy (20 seeds,
            ``experiments/unsupervised_toy.py``) both were right 18 times; frozen runs never
            stalled at chance accuracy but twice kept both relations, which the accuracy does
            not reveal, while trainable runs failed by stalling, which it does.
        **kan_options: other :class:`~kanlab.nn.model.KAN` options (``grid_size``, ...).
    """
    check_positive_int("n_features", n_features)
    check_positive_int("hidden", hidden)
    if n_features < 2:
        raise InputError(f"n_features must be at least 2 to find a dependence; got {n_features}")
    if "widths" in kan_options:
        raise InputError("unsupervised_model sets the widths itself: use n_features and hidden")
    model = KAN([n_features, hidden, 1], seed=seed, dtype=dtype, **kan_options)
    for j in range(hidden):
        model.fix_symbolic(1, j, 0, "gaussian", fit_params=False)
    if not train_gaussian:
        model.layers[1].symbolic.affine.requires_grad_(False)
    return model


def _check_model(model: object, n_features: int | None = None) -> KAN | Ensemble:
    if not isinstance(model, (KAN, Ensemble)):
        raise InputError(f"model must be a kanlab.KAN or Ensemble; got {type(model).__name__}")
    if model.widths[-1] != 1 or len(model.widths) < 3:
        raise InputError(
            f"model has widths {model.widths}; the unsupervised mode needs [d, hidden, 1] "
            "(see unsupervised_model)"
        )
    if n_features is not None and model.widths[0] != n_features:
        raise InputError(
            f"x has {n_features} features but the model takes {model.widths[0]} inputs"
        )
    return model


def fit_unsupervised(
    model: KAN | Ensemble, x: torch.Tensor, *, n_test: float = 0.2,
    generator: torch.Generator | None = None, **fit_options,
) -> History | EnsembleHistory:
    """Train ``model`` on the contrastive problem of ``x`` (see :func:`contrastive_dataset`).

    The dataset is ``contrastive_dataset(x, n_test=n_test, generator=generator)``: pass a
    generator seeded the same way to rebuild it (e.g. to measure accuracy). After training,
    ``model.recorded_inputs`` holds the real samples ``x`` (not the contrastive rows), the
    default samples of :func:`dependent_features`, pruning and plots.

    Args:
        model: a KAN ``[d, hidden, 1]``, usually from :func:`unsupervised_model`; or an
            :class:`~kanlab.nn.ensemble.Ensemble` of them (:func:`unsupervised_ensemble`:
            many seeds at once, ``lamb`` one per member if you like; read the groups with
            :func:`relation_groups`).
        x: features ``(N, d)``.
        n_test: held-out fraction.
        generator: local generator of the split and the negatives.
        **fit_options: passed to :func:`kanlab.fit` (``steps``, ``lamb``, ``lamb_entropy``,
            ``update_grid``, ...); ``progress`` defaults to False here.

    Returns:
        The :class:`~kanlab.training.loop.History` (its RMSEs are those of the 0/1 labels).
    """
    x = _check_features(x)
    _check_model(model, x.shape[1])
    data = contrastive_dataset(x, n_test=n_test, generator=generator)
    fit_options.setdefault("progress", False)
    history = fit(model, data, **fit_options)
    if isinstance(model, KAN):
        model.record(x)
    return history


def unsupervised_ensemble(n_features: int, seeds: Sequence[int], **options) -> Ensemble:
    """One :func:`unsupervised_model` per seed, stacked: trained together by
    :func:`fit_unsupervised` (each member as it would be alone)."""
    return Ensemble.stack([unsupervised_model(n_features, seed=s, **options) for s in seeds])


def relation_groups(ensemble: Ensemble, x: torch.Tensor, *, threshold: float = 0.1,
                    data: Dataset | None = None) -> list[tuple[tuple[int, ...], list[int]]]:
    """The dependent-feature groups the members found: ``(group, members)`` for each
    distinct group (:func:`dependent_features` of each member on the real samples ``x``), the
    most common first. With ``data`` (the contrastive dataset the members were trained on),
    members whose test accuracy is not above 0.6 -- no relation found -- are left out."""
    found: dict[tuple[int, ...], list[int]] = {}
    for e in range(ensemble.members):
        member = ensemble.member(e)
        member.record(x)
        if data is not None and contrastive_accuracy(member, data.test_input,
                                                     data.test_label) <= 0.6:
            continue
        group = tuple(dependent_features(member, x, threshold=threshold))
        found.setdefault(group, []).append(e)
    return sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))


@torch.no_grad()
def contrastive_accuracy(
    model: KAN, inputs: torch.Tensor, labels: torch.Tensor, *, threshold: float = 0.5
) -> float:
    """Fraction of rows classified right: output ``> threshold`` means "real sample" (label 1).

    Args:
        model: the contrastive classifier.
        inputs, labels: e.g. ``data.test_input``, ``data.test_label`` of
            :func:`contrastive_dataset` (labels 0/1, ``(N, 1)`` or ``(N,)``).
        threshold: decision level (0.5: halfway between the labels).
    """
    _check_model(model)
    x = _check_features(inputs, "inputs")
    if not isinstance(labels, torch.Tensor) or labels.numel() != x.shape[0]:
        raise InputError(f"labels must be a tensor with one 0/1 label per row of inputs "
                         f"({x.shape[0]}); got {getattr(labels, 'shape', type(labels).__name__)}")
    with evaluating(model):
        pred = model(x.to(model.dtype)).reshape(-1) > threshold
    return float((pred == (labels.reshape(-1) > 0.5)).double().mean())


def feature_scores(
    model: KAN, x: torch.Tensor | None = None, *, node: int | None = None
) -> torch.Tensor:
    """How much each input feature takes part in the learned relation, relative to the top.

    Scores are :func:`kanlab.interpret.importance.importance`'s ``"attribution"``. A first-layer
    edge gets ``std(φ_ji(x_i)) · S_j / std(h_j)``, where ``S_j`` (how much hidden node ``j`` moves
    the output) is common to all edges into ``j``; for ``[d, 1, 1]`` the ranking is that of the
    spreads ``std(φ_i(x_i))``. The spread, not the ``"l1"`` mean ``|φ|``, is the right measure:
    a constant edge adds the same to ``h`` for every sample, is absorbed by the Gaussian's
    shift and says nothing about a relation, yet its ``|φ|₁`` can be large.

    The scores are taken on the real samples *plus* a column-shuffled copy of them (a fixed
    local generator). The copy leaves the edge spreads as they are on the real samples (each
    column keeps its values) but gives the node weights a meaning: on the real samples alone
    ``h`` is, by design, nearly constant, so the output's and the hidden node's spreads are
    both about 0 and ``S_j / std(h_j)`` would be noise (exactly 0 for an exact relation).

    Args:
        model: a trained model (see :func:`fit_unsupervised`).
        x: real samples ``(N, d)``; default ``model.recorded_inputs``.
        node: the hidden node whose incoming edges are scored; ``None`` scores every input
            node (its edges' scores summed over the hidden nodes; the same for ``hidden=1``).

    Returns:
        ``(d,)`` scores in ``[0, 1]``, the largest 1 (all 0 if no edge moves at all).
    """
    _check_model(model)
    if node is not None and (
        isinstance(node, bool) or not isinstance(node, int) or not 0 <= node < model.widths[1]
    ):
        raise InputError(f"node must be a hidden node index in [0, {model.widths[1]}); "
                         f"got {node!r}")
    x = _check_features(model.samples(x, "the feature scores (real samples; "
                                       "fit_unsupervised records them)"))
    _check_model(model, x.shape[1])
    if x.shape[0] < MIN_SAMPLES:
        raise InputError(f"x has {x.shape[0]} sample(s); scores need at least {MIN_SAMPLES}")
    x = x.to(device=model.device, dtype=model.dtype)
    rows = torch.cat([x, _shuffle_columns(x, torch.Generator().manual_seed(0))])
    scores = model.importance(rows, method="attribution")
    s = scores.nodes[0] if node is None else scores.edges[0][node]
    top = float(s.max())
    if not math.isfinite(top) or top <= 0:
        return torch.zeros_like(s)
    return s / top


def dependent_features(
    model: KAN, x: torch.Tensor | None = None, *, threshold: float = 0.1,
    node: int | None = None,
) -> list[int]:
    """The input features whose first-layer edges carry the learned relation.

    Those whose :func:`feature_scores` (attribution, relative to the largest) reach
    ``threshold``. On the §4.2 toy the features of the found relation scored 0.3–1 and the
    others below 0.05; a run that kept two relations at once showed the second at 0.1–0.9,
    so both came out as one group (look at the scores; and at the contrastive accuracy: near
    0.5 nothing was found and the group means nothing).

    Args:
        model: a trained model (see :func:`fit_unsupervised`).
        x: real samples ``(N, d)``; default ``model.recorded_inputs``.
        threshold: relative score in ``(0, 1]``.
        node: a hidden node to read (``None``: all; see :func:`feature_scores`).

    Returns:
        Sorted 0-based feature indices; empty only if no first-layer edge varies at all.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not (
        0 < threshold <= 1
    ):
        raise InputError(f"threshold must be a relative score in (0, 1]; got {threshold!r}")
    s = feature_scores(model, x, node=node)
    if not bool((s > 0).any()):
        return []
    return sorted(int(i) for i in torch.nonzero(s >= threshold).flatten())


def make_unsupervised_toy(
    n: int = 1000, *, generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The §4.2 toy: six features, two dependent groups and one independent feature.

    ``x1, x2, x4, x6 ~ U(-1, 1)`` independent, ``x3 = exp(sin(π x1) + x2²)``,
    ``x5 = x4³`` (1-based; the paper's text and pykan's tutorial, except that the tutorial's
    code writes ``x4 = x5³`` -- the same groups). Returns ``(n, 6)``; the dependent groups are
    columns ``{0, 1, 2}`` and ``{3, 4}``, column 5 is independent.

    Args:
        n: samples.
        generator: local generator; None uses ``torch.Generator()`` (torch's fixed default
            seed). The global RNG is never used.
        dtype: output dtype (default ``torch.get_default_dtype()``); drawn in float64.
    """
    check_positive_int("n", n)
    gen = generator if generator is not None else torch.Generator()
    x = 2 * torch.rand(n, 6, generator=gen, dtype=torch.float64) - 1
    x[:, 2] = torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)
    x[:, 4] = x[:, 3] ** 3
    return x.to(dtype or torch.get_default_dtype())
