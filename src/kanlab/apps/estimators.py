"""scikit-learn estimators: :class:`KANRegressor` and :class:`KANClassifier`.

Both run the one pipeline of :mod:`kanlab.apps.pipeline` (the one ``kanlab fit`` and the demos
run): standardise, a :class:`~kanlab.nn.model.KAN` trained by :func:`~kanlab.training.loop.fit`
with a grid schedule, optionally pruned (:mod:`kanlab.interpret.prune`) and snapped to symbolic
functions (:mod:`kanlab.interpret.symbolic_model`). They follow PySR's ``PySRRegressor``
conventions: ``__init__`` only stores its arguments, ``fit`` validates and returns ``self``,
fitted attributes end in ``_``, and ``sympy()`` / ``latex()`` return the formulas of a
``symbolic=True`` fit. NumPy goes in and NumPy (float64) comes out.

Needs scikit-learn (``pip install 'kanlab[sklearn]'``); ``kanlab.KANRegressor`` imports this
module on first access, so ``import kanlab`` never imports sklearn. Symbolic formulas also need
sympy (``pip install 'kanlab[symbolic]'``).

Example::

    >>> est = KANRegressor(random_state=0).fit(X, y)   # the model chosen from the data
    >>> est.selection_["chosen"]
    >>> est.predict(X_new)                  # (n,) for 1-D y, (n, k) for 2-D y
    >>> KANRegressor(width=(), symbolic=True).fit(X, y).sympy()   # in X's and y's units
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from kanlab._validation import check_sizes
from kanlab.apps.auto import MIN_ROWS_FOR_VALIDATION, choose
from kanlab.apps.pipeline import PipelineOptions, rmse_r2, run_pipeline
from kanlab.data import Dataset
from kanlab.errors import InputError
from kanlab.nn.product_nodes import check_hidden_spec
from kanlab.symbolic.formula import formula_in_units, sympy_module
from kanlab.training.loop import History

__all__ = ["KANClassifier", "KANRegressor"]

_DTYPES = ("float32", "float64")
#: the grid schedule of an explicit ``width`` when ``grids="auto"``
DEFAULT_GRIDS = (3, 5, 10)
# log of the smallest positive normal float64: the floor of predict_log_proba, so that
# predict_proba (its exp) never underflows to 0 where the log is finite
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))


class _KANEstimator(BaseEstimator):
    """What both estimators share: parameters, the training pipeline, formulas."""

    _loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def __init__(
        self,
        *,
        width: Sequence[int] | str = "auto",
        grids: Sequence[int] | str = "auto",
        steps: int = 200,
        validation_fraction: float | None = 0.2,
        fast: bool = False,
        opt: str = "lbfgs",
        lr: float | None = None,
        batch_size: int | None = None,
        spline_order: int = 3,
        grid: str = "quantile",
        lamb: float = 0.0,
        prune: bool = False,
        symbolic: bool = False,
        random_state: int | np.random.RandomState | None = None,
        dtype: str = "float64",
        progress: bool = False,
        standardize: bool = True,
        n_members: int = 1,
    ) -> None:
        self.width = width
        self.grids = grids
        self.steps = steps
        self.validation_fraction = validation_fraction
        self.fast = fast
        self.opt = opt
        self.lr = lr
        self.batch_size = batch_size
        self.spline_order = spline_order
        self.grid = grid
        self.lamb = lamb
        self.prune = prune
        self.symbolic = symbolic
        self.random_state = random_state
        self.dtype = dtype
        self.progress = progress
        self.standardize = standardize
        self.n_members = n_members

    # ------------------------------------------------------------ validation
    def _np_dtype(self) -> type:
        if self.dtype not in _DTYPES:
            raise InputError(f"dtype must be one of {list(_DTYPES)}; got {self.dtype!r}")
        return np.float32 if self.dtype == "float32" else np.float64

    def _auto(self) -> bool:
        """Whether the model is chosen by the search (``width="auto"``)."""
        if isinstance(self.width, str):
            if self.width != "auto":
                raise InputError(f"width must be 'auto' or a sequence of hidden widths; got "
                                 f"{self.width!r}")
            if not (isinstance(self.grids, str) and self.grids == "auto"):
                raise InputError(f"grids={self.grids!r} needs an explicit width: with "
                                 "width='auto' the search chooses the grids")
            return True
        return False

    def _check_params(self) -> tuple[tuple[Any, ...], tuple[int, ...]]:
        width = check_hidden_spec("width", self.width)
        if isinstance(self.grids, str):
            if self.grids != "auto":
                raise InputError(f"grids must be 'auto' or a sequence of grid sizes; got "
                                 f"{self.grids!r}")
            grids = DEFAULT_GRIDS
        else:
            grids = check_sizes("grids", self.grids)
        fraction = self.validation_fraction
        if fraction is not None and not (isinstance(fraction, (float, int))
                                         and not isinstance(fraction, bool) and 0 < fraction < 1):
            raise InputError(f"validation_fraction must be None or a number in (0, 1); got "
                             f"{fraction!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, (int, np.integer)) or (
            self.steps < len(grids)
        ):
            raise InputError(
                f"steps must be an integer of at least len(grids) = {len(grids)} (one step per "
                f"grid size at the least); got {self.steps!r}"
            )
        self._np_dtype()
        return width, grids

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        # torch.tensor copies: read-only (memmapped) inputs are fine and never aliased
        return torch.tensor(np.ascontiguousarray(a), dtype=getattr(torch, self.dtype))

    # -------------------------------------------------------------- training
    def _fit_kan(self, X: np.ndarray, target: torch.Tensor, n_out: int, *,
                 standardize_target: bool) -> None:
        """Run the pipeline (:func:`~kanlab.apps.pipeline.run_pipeline`) on validated ``X``
        and the training target: standardise, choose or build, train, then prune and snap to
        symbols as asked. Sets ``model_``, ``history_``, ``selection_`` and the
        standardisation's fitted attributes."""
        auto = self._auto()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        fit_options = {"opt": self.opt, "lr": self.lr, "batch_size": self.batch_size,
                       "loss_fn": self._loss_fn, "progress": self.progress, "seed": seed}
        common = dict(lamb=self.lamb, prune=self.prune, symbolic=self.symbolic,
                      standardize_inputs=self.standardize, standardize_target=standardize_target,
                      grid=self.grid, spline_order=self.spline_order, seed=seed,
                      dtype=getattr(torch, self.dtype))
        self._np_dtype()
        data = Dataset(self._tensor(X), target)
        if self._members() > 1:
            if auto:
                raise InputError("n_members > 1 trains several KANs of one explicit width; "
                                 "pass width=(...) (the search of width='auto' picks one model)")
            self._fit_members(data, self._explicit_options(X.shape, n_out, fit_options, common))
            return
        self.ensemble_ = None
        if auto:
            options = PipelineOptions(widths=(X.shape[1], n_out), retrain_steps=25,
                                      fit_options=fit_options, **common)
            run, selection = choose(data, options, fast=self.fast)
        else:
            options = self._explicit_options(X.shape, n_out, fit_options, common)
            run, selection = run_pipeline(data, options), None
        self.model_ = run.model
        self.history_: History = run.histories["train"]
        self.selection_ = None if selection is None else selection.as_dict()
        self._keep_scaling(run.scaling)

    def _members(self) -> int:
        n = self.n_members
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"n_members must be an integer >= 1; got {n!r}")
        return int(n)

    def _explicit_options(self, shape: tuple[int, int], n_out: int, fit_options: dict[str, Any],
                          common: dict[str, Any]) -> PipelineOptions:
        """The pipeline's options for the explicit ``width`` on ``X`` of ``shape``."""
        width, grids = self._check_params()
        steps = int(self.steps)
        held_out = self.validation_fraction is not None and shape[0] >= MIN_ROWS_FOR_VALIDATION
        return PipelineOptions(
            widths=(shape[1], *width, n_out), grids=grids, steps=steps,
            retrain_steps=max(steps // 4, 1), fit_options=fit_options,
            validation_fraction=float(self.validation_fraction) if held_out else None, **common)

    def _fit_members(self, data: Dataset, options: PipelineOptions) -> None:
        """``n_members`` KANs trained together (``run_ensemble``); ``model_``: the best."""
        from kanlab.apps.ensemble_runs import run_ensemble

        run = run_ensemble(data, options, self._members())
        self.ensemble_, self.best_member_ = run.ensemble, run.best_member
        self.member_val_loss_ = run.val_losses
        self.model_ = run.ensemble.member(run.best_member)
        self.history_, self.selection_ = run.history[run.best_member], None
        self._keep_scaling(run.scaling)

    def _keep_scaling(self, scaling: Any) -> None:
        self.x_mean_, self.x_scale_ = scaling.x_mean.numpy(), scaling.x_scale.numpy()
        if scaling.y_mean is not None:
            self.y_mean_, self.y_scale_ = scaling.y_mean.numpy(), scaling.y_scale.numpy()

    @torch.no_grad()
    def _member_outputs(self, X: np.ndarray) -> np.ndarray:
        """Every member's outputs ``(E, n, n_out)`` on validated, unstandardised ``X``
        (``E = 1`` for one KAN)."""
        Z = self._tensor((X - self.x_mean_) / self.x_scale_)
        model = self.ensemble_ if getattr(self, "ensemble_", None) is not None else self.model_
        model.eval()
        out = model(Z).double().numpy()
        return out if out.ndim == 3 else out[None]

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        """The KAN's outputs ``(n, n_out)`` on validated, unstandardised ``X`` (the members'
        mean with ``n_members > 1``)."""
        return self._member_outputs(X).mean(0)

    def _validate_x(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=self._np_dtype())

    # -------------------------------------------------------------- formulas
    def _variables(self, sp) -> list[Any]:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return [sp.Symbol(str(v)) for v in names]

    def _raw_formulas(self) -> list[Any]:
        """The KAN's outputs as sympy expressions of the original (unstandardised) inputs."""
        return formula_in_units(self.model_, self._variables(sympy_module()), self.x_mean_,
                                self.x_scale_)

    def _formula_rows(self, exprs: list[Any], labels: list[Any], scores: list[float]) -> None:
        sp = sympy_module()
        self.formulas_ = [
            {"output": label, "equation": str(e), "sympy": e, "latex": sp.latex(e),
             "train_score": float(score)}
            for label, e, score in zip(labels, exprs, scores)
        ]

    def _evaluate(self, exprs: list[Any], X: np.ndarray) -> np.ndarray:
        from kanlab.symbolic.formula import formula_function

        return formula_function(exprs, self._variables(sympy_module()))(np.asarray(X, np.float64))

    def _checked_formulas(self) -> list[dict[str, Any]]:
        check_is_fitted(self)
        if not hasattr(self, "formulas_"):
            raise InputError(
                f"{type(self).__name__} was fitted with symbolic=False, so it has no formulas; "
                "refit with symbolic=True"
            )
        return self.formulas_

    def _pick(self, values: list[Any], index: int | None) -> Any:
        if index is not None:
            return values[index]
        return values[0] if len(values) == 1 and self._single_formula() else values

    def _single_formula(self) -> bool:
        return False

    def sympy(self, index: int | None = None) -> Any:
        """The fitted formula as a sympy expression, in the original units of ``X`` (and ``y``).

        Inputs are named after ``feature_names_in_`` when ``X`` had column names, else
        ``x0, x1, ...`` (column indices). A regressor with 1-D ``y`` gives one expression;
        otherwise (2-D ``y``, a classifier's logits) a list, one per output; ``index`` picks one.

        Raises:
            NotFittedError: before ``fit``.
            InputError: the estimator was fitted with ``symbolic=False``.
        """
        return self._pick([row["sympy"] for row in self._checked_formulas()], index)

    def latex(self, index: int | None = None, precision: int | None = 3) -> Any:
        """LaTeX of :meth:`sympy` (same shape), numbers rounded to ``precision`` significant
        digits for reading (``None``: full precision, as in ``formulas_``)."""
        from kanlab.symbolic.formula import tidy

        sp = sympy_module()
        exprs = [row["sympy"] for row in self._checked_formulas()]
        if precision is not None:
            exprs = [tidy(e, digits=precision) for e in exprs]
        return self._pick([sp.latex(e) for e in exprs], index)


class KANRegressor(RegressorMixin, _KANEstimator):
    """A KAN regressor with the scikit-learn API.

    Args:
        width: ``"auto"`` (the default): the model is chosen from the data by a small search
            (:func:`kanlab.apps.auto.choose`: additive KANs under a smoothness and ridge
            penalty of searched weights, and a ``[n, 5, out]`` network with grid extension,
            scored by 3-fold cross-validation (20% held out above 1,000 rows), the network only
            if it beats the additive ones by more than a standard error, the winner
            trained again on every row; see ``selection_``). Or hidden-layer widths (``()``:
            one KAN layer, a sum of univariate functions): that model; the input and output
            widths come from the data. A hidden row ``(n_sum, n_product)`` adds product nodes
            of two factors (``width=((3, 2),)``; :mod:`kanlab.nn.product_nodes`).
        grids: with an explicit ``width``, the grid-extension schedule (``"auto"``:
            ``(3, 5, 10)``); ``steps`` are split evenly over them. Must be ``"auto"`` with
            ``width="auto"``.
        steps: with an explicit ``width``, the most optimiser steps (at least ``len(grids)``).
        validation_fraction: with an explicit ``width``, the share of the rows held out to
            stop training early and keep its best state (``None``: train every step on every
            row; tables under 20 rows hold nothing out).
        fast: with ``width="auto"``, skip the search: one additive model, early stopped.
        opt, lr, batch_size: the optimiser (``"lbfgs"`` or ``"adam"``), its learning rate
            (``None``: 1 for LBFGS, 1e-2 for Adam) and the batch size (``None``: full batch).
        spline_order: ``k`` of the B-splines.
        grid: grid strategy of the KAN (a name of :data:`kanlab.grids.GRID_STRATEGIES`).
            Grids adapt to the training inputs unless a batch has fewer samples than the
            largest grid needs (``max(grids) + 1``); then they stay uniform on ``[-1, 1]``.
            A constant column of ``X`` keeps its grid and gives a
            :class:`~kanlab.errors.GridWarning` at the grid updates.
        lamb: sparsity regularisation ``λ`` (paper eq. 2.20).
        prune: after training, prune the KAN (nodes, then edges) and train ``steps // 4`` more
            steps.
        symbolic: after training (and pruning), snap every edge to its best symbolic function
            (:func:`~kanlab.interpret.symbolic_model.auto_symbolic`), train the functions' affine
            parameters ``steps // 4`` more steps, and record the formulas in ``formulas_``.
        random_state: seeds the initialisation and batch shuffling (``None``: numpy's global
            RNG draws the seed).
        dtype: ``"float64"`` or ``"float32"`` (the KAN's parameters).
        progress: show a progress bar while training (tqdm if installed, else logging).
        standardize: train on standardised ``X`` and ``y`` (zero mean, unit variance per
            column; constant columns are only centred). Predictions and formulas are always
            in the original units.
        n_members: with an explicit ``width``, train this many KANs of it side by side (one
            :class:`~kanlab.nn.ensemble.Ensemble`, seeds drawn from ``random_state``): each
            stops early as one KAN would, the held-out rows rank them (``best_member_``), and
            ``predict`` gives their mean (``return_std=True``: and their spread). Not with
            ``prune`` or ``symbolic``.

    Attributes:
        model_: the trained :class:`~kanlab.nn.model.KAN` (on standardised units).
        history_: the :class:`~kanlab.training.loop.History` of the main training run.
        selection_: with ``width="auto"``, what the search tried and chose
            (:meth:`kanlab.apps.auto.Selection.as_dict`: every candidate's validation loss);
            None for an explicit ``width``.
        n_features_in_, feature_names_in_: the inputs seen by ``fit``.
        x_mean_, x_scale_, y_mean_, y_scale_: the standardisation (``z = (x - mean) / scale``).
        ensemble_, best_member_, member_val_loss_: with ``n_members > 1``, the trained
            :class:`~kanlab.nn.ensemble.Ensemble` (``model_`` is its best member), the best
            member's index and every member's validation loss (``nan`` without held-out rows;
            then the lowest training loss picks the best).
        formulas_: with ``symbolic=True``, one dict per output: ``output`` (index),
            ``equation`` (str), ``sympy``, ``latex`` (full precision), ``train_score`` (R² of
            the formula on the training data; score held-out data with :meth:`score`).

    Example::

        >>> est = KANRegressor(width=(), grids=(5,), steps=20, symbolic=True).fit(X, y)
        >>> est.predict(X[:3]), est.sympy()
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> KANRegressor:
        """Train on ``X`` ``(n, n_features)`` and ``y`` ``(n,)`` or ``(n, n_outputs)``.

        Returns:
            ``self``.

        Raises:
            ValueError: NaN/inf, complex or non-numeric data, mismatched lengths, bad
                parameters (an :class:`~kanlab.errors.InputError`).
        """
        dtype = self._np_dtype()
        X, y = validate_data(self, X, y, dtype=dtype, multi_output=True, y_numeric=True)
        self._y_ndim = y.ndim
        Y = y.reshape(len(y), -1).astype(dtype)
        if not self.standardize:
            self.y_mean_, self.y_scale_ = np.zeros(Y.shape[1], dtype), np.ones(Y.shape[1], dtype)
        self._fit_kan(X, self._tensor(Y), Y.shape[1], standardize_target=self.standardize)
        if self.symbolic:
            exprs = formula_in_units(self.model_, self._variables(sympy_module()), self.x_mean_,
                                     self.x_scale_, self.y_mean_, self.y_scale_)
            pred = torch.from_numpy(self._evaluate(exprs, X))
            Yt = torch.from_numpy(Y)
            scores = [rmse_r2(Yt[:, k], pred[:, k])[1] for k in range(Y.shape[1])]
            self._formula_rows(exprs, list(range(Y.shape[1])), scores)
        return self

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Predictions ``(n,)`` for a 1-D ``y`` in ``fit``, else ``(n, n_outputs)``; float64.
        With ``n_members > 1``: the members' mean, and with ``return_std`` also their standard
        deviation (the spread of the ensemble, a predictive uncertainty), of the same shape.

        Raises:
            InputError: ``return_std`` for an estimator of one member.
        """
        X = self._validate_x(X)
        members = self._member_outputs(X) * self.y_scale_.astype(np.float64) + self.y_mean_
        if return_std and members.shape[0] < 2:
            raise InputError("return_std needs an ensemble: fit with n_members >= 2 (one "
                             "KAN has no spread)")
        out, std = members.mean(0), members.std(0)
        if self._y_ndim == 1:
            out, std = out[:, 0], std[:, 0]
        return (out, std) if return_std else out

    def _single_formula(self) -> bool:
        return self._y_ndim == 1


class KANClassifier(ClassifierMixin, _KANEstimator):
    """A KAN classifier with the scikit-learn API: one KAN output (logit) per class, trained
    with cross-entropy; ``predict_proba`` is their softmax (two columns for two classes),
    floored at the smallest positive normal float64 so that it never underflows to 0 and
    ``predict_log_proba`` is its log everywhere.

    Takes the arguments of :class:`KANRegressor`; ``standardize`` standardises ``X`` only.

    Attributes:
        classes_: the class labels (sorted), in the order of the outputs.
        model_, history_, selection_, n_features_in_, feature_names_in_, x_mean_, x_scale_: as in
            :class:`KANRegressor`.
        formulas_: with ``symbolic=True``, one dict per class with the formula of its logit
            (``output`` is the class label); ``train_score`` is the training accuracy of the
            formulas' argmax (the same in every row).
    """

    _loss_fn = staticmethod(torch.nn.functional.cross_entropy)

    def fit(self, X: Any, y: Any) -> KANClassifier:
        """Train on ``X`` ``(n, n_features)`` and labels ``y`` ``(n,)`` (any hashable labels).

        Returns:
            ``self``.

        Raises:
            ValueError: as :meth:`KANRegressor.fit`, a continuous ``y``, or a single class.
        """
        X, y = validate_data(self, X, y, dtype=self._np_dtype())
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise InputError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})"
            )
        target = torch.as_tensor(encoder.transform(y), dtype=torch.long)
        self._fit_kan(X, target, len(self.classes_), standardize_target=False)
        if self.symbolic:
            exprs = self._raw_formulas()
            pred = self.classes_[self._evaluate(exprs, X).argmax(1)]
            accuracy = float(np.mean(pred == y))
            self._formula_rows(exprs, list(self.classes_), [accuracy] * len(exprs))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, float64, columns in the order of ``classes_``:
        ``exp(predict_log_proba(X))``.

        A probability is never exactly 0 (the logits are finite): one below the smallest
        positive normal float64 (``np.finfo(np.float64).tiny``, about 2.2e-308) is reported as
        that number, so ``log(predict_proba(X))`` equals :meth:`predict_log_proba` everywhere.
        """
        return np.exp(self._log_proba(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``, computed stably from the logits (a log-softmax), float64.

        Log-probabilities below ``log(np.finfo(np.float64).tiny)`` (about −708.4) are raised to
        it, where :meth:`predict_proba` stops underflowing; the two methods agree on every entry.
        """
        return self._log_proba(X)

    def _log_proba(self, X: Any) -> np.ndarray:  # the members' mean probabilities, logged
        logits = torch.from_numpy(self._member_outputs(self._validate_x(X)))  # (E, n, classes)
        log_p = torch.logsumexp(torch.log_softmax(logits, dim=2), dim=0) - math.log(
            logits.shape[0])
        return np.maximum(log_p.numpy(), _LOG_TINY)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row ``(n,)``."""
        best = self._log_proba(X).argmax(1)  # checks fitted before classes_
        return self.classes_[best]
