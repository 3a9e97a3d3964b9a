"""scikit-learn estimators: the estimator checks, learning, pipelines, formulas, errors."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")
pytest.importorskip("sympy")

from sklearn.datasets import make_moons  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import kanlab  # noqa: E402
from kanlab.apps.estimators import KANClassifier, KANRegressor  # noqa: E402

SMALL = {"width": (2,), "grids": (3,), "steps": 3}


# Every check runs and passes; none is expected to fail. The one that is skipped skips itself:
# check_array_api_input raises SkipTest unless SCIPY_ARRAY_API is set (the estimators take
# NumPy only, so there is no array-API path to check).
@parametrize_with_checks([KANRegressor(**SMALL), KANClassifier(**SMALL),
                          KANRegressor(**SMALL, n_members=2), KANClassifier(**SMALL, n_members=2)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# The same checks on the estimators as a user gets them: the model chosen by the search
# (width="auto"), early stopping on held-out rows, only random_state set for reproducibility.
@parametrize_with_checks([KANRegressor(random_state=0), KANClassifier(random_state=0)])
def test_sklearn_estimator_checks_with_the_real_defaults(estimator, check):
    check(estimator)


def _sin_sq(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2


def test_regressor_learns_sin_plus_square(capsys):
    X, y = _sin_sq(300, 0)
    X_test, y_test = _sin_sq(300, 1)
    est = KANRegressor(width=(5,), grids=(3, 5), steps=20, random_state=0)
    assert est.fit(X, y) is est
    pred = est.predict(X_test)
    assert pred.shape == (300,) and pred.dtype == np.float64
    assert est.score(X_test, y_test) > 0.99
    assert est.n_features_in_ == 2 and isinstance(est.model_, kanlab.KAN)
    assert est.model_.widths == [2, 5, 1]
    assert len(est.history_.step) > 0
    assert capsys.readouterr() == ("", "")  # no prints


def test_regressor_multioutput_shapes():
    X, y = _sin_sq(60, 0)
    Y = np.stack([y, 2 * y], 1)
    est = KANRegressor(width=(), grids=(5,), steps=5, random_state=0).fit(X, Y)
    assert est.predict(X[:7]).shape == (7, 2)
    assert est.model_.widths == [2, 2]
    column = KANRegressor(width=(), grids=(5,), steps=5, random_state=0).fit(X, y[:, None])
    assert column.predict(X[:7]).shape == (7, 1)


def test_random_state_makes_fits_reproducible():
    X, y = _sin_sq(50, 0)
    a = KANRegressor(**SMALL, random_state=3).fit(X, y).predict(X)
    b = KANRegressor(**SMALL, random_state=3).fit(X, y).predict(X)
    c = KANRegressor(**SMALL, random_state=4).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("n", [1, 3])
def test_tiny_datasets_fit_without_grid_updates(n):
    # fewer samples than a grid of 10 needs (11): the grids stay uniform instead of raising
    X, y = _sin_sq(n, 0)
    est = KANRegressor(width=(2,), grids=(3, 10), steps=4, random_state=0).fit(X, y)
    assert not any("update grid" in text for _, text in est.history_.events)
    assert np.all(np.isfinite(est.predict(X)))


def test_grid_updates_run_when_there_are_enough_samples():
    X, y = _sin_sq(40, 0)
    est = KANRegressor(**SMALL, random_state=0).fit(X, y)
    assert any("update grid" in text for _, text in est.history_.events)


def test_float32_predicts_float64():
    X, y = _sin_sq(40, 0)
    est = KANRegressor(**SMALL, dtype="float32", random_state=0).fit(X, y)
    assert est.model_.dtype.is_floating_point and str(est.model_.dtype) == "torch.float32"
    assert est.predict(X).dtype == np.float64


def test_classifier_moons_with_string_labels(capsys):
    X, y = make_moons(400, noise=0.1, random_state=0)
    labels = np.array(["lower", "upper"])[y]
    est = KANClassifier(width=(3,), grids=(5,), steps=10, random_state=0)
    est.fit(X[:200], labels[:200])
    assert list(est.classes_) == ["lower", "upper"]
    pred = est.predict(X[200:])
    assert set(pred) <= {"lower", "upper"}
    assert est.score(X[200:], labels[200:]) > 0.9
    proba = est.predict_proba(X[200:])
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.classes_[proba.argmax(1)], pred)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X[200:])), proba, rtol=1e-10)
    assert capsys.readouterr() == ("", "")


class _FixedLogits(torch.nn.Module):
    """Stands in for a trained KAN whose logits are ``logits`` (one row per input row), as
    a classifier trained far into separable data gives them."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.tensor(logits, dtype=torch.float64)

    def forward(self, x):
        return self.logits[: len(x)]


def test_predict_proba_and_predict_log_proba_agree_on_extreme_logits():
    # the issue: a probability underflowed to exactly 0 where predict_log_proba was -1266,
    # so log(predict_proba) was -inf against a finite log (sklearn's check_classifiers_train)
    logits = [[0.0, -1266.0, 3.0], [0.0, -700.0, 0.0], [-5.0, 5.0, 0.0], [1e5, -1e5, 0.0]]
    X = np.random.default_rng(0).normal(size=(30, 2))
    est = KANClassifier(**SMALL, random_state=0).fit(X, np.arange(30) % 3)
    est.model_ = _FixedLogits(logits)
    proba, log_proba = est.predict_proba(X[:4]), est.predict_log_proba(X[:4])
    floor = np.log(np.finfo(np.float64).tiny)  # about -708.4
    assert proba.dtype == log_proba.dtype == np.float64
    assert np.all(proba > 0), "a probability underflowed to 0"
    assert np.all(np.isfinite(log_proba)) and log_proba.min() == pytest.approx(floor)
    with np.errstate(divide="raise"):
        np.testing.assert_allclose(np.log(proba), log_proba, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-12)
    np.testing.assert_array_equal(np.argsort(log_proba), np.argsort(proba))
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(X[:4]), proba.argmax(1))
    # above the floor: the exact log-softmax
    exact = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), 1).numpy()
    above = exact > floor
    np.testing.assert_allclose(log_proba[above], exact[above], rtol=1e-12)
    assert log_proba[1, 1] == pytest.approx(-700 - np.log(2), rel=1e-12)


def test_check_classifiers_train_passes_with_many_steps():
    # 120 steps drive the logits on sklearn's separable blobs to differences of hundreds (the
    # failure of check_estimator on the defaults, in ~8 s); grid and width pinned
    from sklearn.utils.estimator_checks import check_classifiers_train

    est = KANClassifier(width=(5,), grids=(3, 5, 10), steps=120, random_state=0)
    check_classifiers_train("KANClassifier", est)


def test_pipeline_with_scaler():
    X, y = _sin_sq(200, 0)
    X = X * [10.0, 0.01] + [5.0, -3.0]  # units far from the KAN's grid range
    pipe = make_pipeline(StandardScaler(), KANRegressor(width=(), grids=(5,), steps=10,
                                                        random_state=0))
    pipe.fit(X, y)
    X_test, y_test = _sin_sq(200, 1)
    assert pipe.score(X_test * [10.0, 0.01] + [5.0, -3.0], y_test) > 0.99


def test_grid_search_over_width():
    X, y = _sin_sq(80, 0)
    search = GridSearchCV(KANRegressor(steps=10, grids=(3,)), {"width": [(2,), (3,)]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["width"] in [(2,), (3,)]
    assert search.best_estimator_.model_.widths[1] == search.best_params_["width"][0]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def _linear_sin(n, seed):
    rng = np.random.default_rng(seed)
    # inputs in units far from the standardised ones, so that the mapping back is exercised
    X = np.stack([rng.uniform(3, 7, n), rng.uniform(-2, 2, n)], 1)
    return X, 2 * X[:, 0] + np.sin(X[:, 1]) + 10


@pytest.mark.parametrize("standardize", [True, False])
def test_symbolic_formula_matches_predict_in_original_units(standardize, capsys):
    sympy = pytest.importorskip("sympy")
    X, y = _linear_sin(200, 0)
    est = KANRegressor(width=(), grids=(5,), steps=10, symbolic=True, random_state=0,
                       standardize=standardize).fit(X, y)
    expr = est.sympy()
    assert isinstance(expr, sympy.Expr)
    assert {s.name for s in expr.free_symbols} == {"x0", "x1"}
    f = sympy.lambdify(sympy.symbols("x0 x1"), expr, "numpy")
    X_new, y_new = _linear_sin(100, 1)
    from_formula = f(X_new[:, 0], X_new[:, 1])
    # the formula is the model (every edge symbolic), mapped back to X's and y's units:
    # equal up to round-off
    np.testing.assert_allclose(from_formula, est.predict(X_new), rtol=1e-10, atol=1e-10)
    # and it is the law the data came from
    np.testing.assert_allclose(from_formula, y_new, rtol=1e-6, atol=1e-6)
    (row,) = est.formulas_
    assert row["output"] == 0 and row["equation"] == str(expr) and row["train_score"] > 0.999999
    assert row["latex"] == sympy.latex(expr)
    assert isinstance(est.latex(), str) and "sin" in est.latex()
    assert est.latex(precision=None) == row["latex"]
    assert capsys.readouterr() == ("", "")


def test_symbolic_formulas_use_dataframe_column_names():
    pd = pytest.importorskip("pandas")
    X, y = _linear_sin(100, 0)
    frame = pd.DataFrame(X, columns=["mass", "angle"])
    est = KANRegressor(width=(), grids=(5,), steps=10, symbolic=True, random_state=0)
    est.fit(frame, y)
    assert list(est.feature_names_in_) == ["mass", "angle"]
    assert {s.name for s in est.sympy().free_symbols} == {"mass", "angle"}


def test_symbolic_classifier_gives_one_logit_formula_per_class():
    X, y = make_moons(200, noise=0.1, random_state=0)
    est = KANClassifier(width=(), grids=(5,), steps=5, symbolic=True, random_state=0).fit(X, y)
    exprs = est.sympy()
    assert len(exprs) == 2 and est.sympy(1) == exprs[1]
    assert [row["output"] for row in est.formulas_] == [0, 1]
    assert est.formulas_[0]["train_score"] == pytest.approx(est.score(X, y))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fitted_standardisation_is_the_pipeline_one(dtype):
    from kanlab.apps.pipeline import PipelineOptions, center_scale, run_pipeline
    from kanlab.data import Dataset

    X, y = _linear_sin(60, 0)
    est = KANRegressor(**SMALL, dtype=dtype, random_state=0).fit(X, y)
    np_dtype = np.dtype(dtype)
    X_t = torch.tensor(X.astype(np_dtype))
    y_t = torch.tensor(y.astype(np_dtype)[:, None])
    for got, want in zip((est.x_mean_, est.x_scale_, est.y_mean_, est.y_scale_),
                         (*center_scale(X_t), *center_scale(y_t))):
        assert got.dtype == np_dtype
        np.testing.assert_array_equal(got, want.numpy())
    # the estimator is the pipeline with the estimator's options
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    run = run_pipeline(Dataset(X_t, y_t), PipelineOptions(
        widths=(2, 2, 1), grids=(3,), steps=3, retrain_steps=1, standardize_inputs=True,
        standardize_target=True, seed=seed, dtype=getattr(torch, dtype),
        validation_fraction=0.2, patience=10,  # the estimator's validation_fraction default
        fit_options={"opt": "lbfgs", "lr": None, "batch_size": None, "loss_fn": None,
                     "progress": False, "seed": seed}))
    for key, value in run.model.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(est.model_.state_dict()[key], value), key
    unscaled = KANRegressor(**SMALL, dtype=dtype, standardize=False, random_state=0).fit(X, y)
    assert unscaled.x_mean_.dtype == unscaled.y_scale_.dtype == np_dtype
    assert not unscaled.x_mean_.any() and (unscaled.x_scale_ == 1).all()


def test_prune_gives_a_smaller_or_equal_model():
    X, y = _sin_sq(100, 0)
    est = KANRegressor(width=(5,), grids=(5,), steps=8, lamb=0.01, prune=True,
                       random_state=0).fit(X, y)
    assert est.model_.widths[1] <= 5
    assert np.all(np.isfinite(est.predict(X)))


def test_clear_errors():
    X, y = _sin_sq(30, 0)
    with pytest.raises(NotFittedError):
        KANRegressor().predict(X)
    with pytest.raises(NotFittedError):
        KANRegressor().sympy()
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KANRegressor(**SMALL).fit(bad, y)
    bad_y = y.copy()
    bad_y[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KANRegressor(**SMALL).fit(X, bad_y)
    est = KANRegressor(**SMALL, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but KANRegressor is expecting 2"):
        est.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="symbolic=False"):
        est.sympy()
    with pytest.raises(ValueError, match="symbolic=False"):
        est.latex()
    with pytest.raises(ValueError, match="width must be a sequence of hidden widths"):
        KANRegressor(width=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="grids must be a non-empty tuple"):
        KANRegressor(width=(2,), grids=()).fit(X, y)
    with pytest.raises(ValueError, match="steps must be an integer of at least len"):
        KANRegressor(width=(2,), grids=(3, 5), steps=1).fit(X, y)
    with pytest.raises(ValueError, match=r"grids=\(3, 5\) needs an explicit width: with "
                                         "width='auto' the search chooses the grids"):
        KANRegressor(grids=(3, 5)).fit(X, y)
    with pytest.raises(ValueError, match="width must be 'auto' or a sequence of hidden widths; "
                                         "got 'big'"):
        KANRegressor(width="big").fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction must be None or a number in "
                                         r"\(0, 1\); got 1.5"):
        KANRegressor(**SMALL, validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="dtype must be one of"):
        KANRegressor(dtype="float16").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes in y; got 1 class"):
        KANClassifier(**SMALL).fit(X, np.zeros(30, int))
    with pytest.raises(ValueError, match="Unknown label type"):
        KANClassifier(**SMALL).fit(X, y)


def test_import_kanlab_does_not_import_sklearn_and_names_the_extra():
    code = (
        "import sys, kanlab\n"
        "assert 'sklearn' not in sys.modules, 'import kanlab imported sklearn'\n"
        "assert {'KANRegressor', 'KANClassifier'} <= set(kanlab.__all__)\n"
        "try:\n"
        "    kanlab.not_a_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
        "sys.modules['sklearn'] = None  # as if scikit-learn were not installed\n"
        "try:\n"
        "    kanlab.KANRegressor\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert "pip install 'kanlab[sklearn]'" in out.stdout


def test_lazy_attributes_are_the_estimator_classes():
    assert kanlab.KANRegressor is KANRegressor
    assert kanlab.KANClassifier is KANClassifier


def _noisy_table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=n)


def test_an_ensemble_of_members_predicts_their_mean_and_spread():
    X, y = _noisy_table()
    est = KANRegressor(width=(3,), grids=(3, 5), steps=10, n_members=3, random_state=0).fit(X, y)
    mean, std = est.predict(X[:20], return_std=True)
    assert mean.shape == std.shape == (20,)
    Z = torch.tensor((X[:20] - est.x_mean_) / est.x_scale_)
    with torch.no_grad():
        members = np.stack([est.ensemble_.member(e)(Z).numpy()[:, 0] for e in range(3)])
    members = members * est.y_scale_ + est.y_mean_
    np.testing.assert_allclose(mean, members.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std, members.std(0), rtol=1e-10, atol=1e-12)
    assert est.best_member_ == int(np.argmin(est.member_val_loss_))
    with torch.no_grad():
        np.testing.assert_allclose(est.model_(Z).numpy()[:, 0] * est.y_scale_ + est.y_mean_,
                                   members[est.best_member_], rtol=1e-12)
    far = np.random.default_rng(1).uniform(3, 4, (20, 2))  # outside the training inputs
    assert est.predict(far, return_std=True)[1].mean() > 10 * std.mean()
    assert est.score(X, y) > 0.9


def test_an_ensemble_classifier_averages_the_members_probabilities():
    X, y = make_moons(200, noise=0.1, random_state=0)
    est = KANClassifier(width=(3,), grids=(3,), steps=10, n_members=3, random_state=0).fit(X, y)
    Z = torch.tensor((X - est.x_mean_) / est.x_scale_)
    with torch.no_grad():
        probs = [torch.softmax(est.ensemble_.member(e)(Z), 1).numpy() for e in range(3)]
    np.testing.assert_allclose(est.predict_proba(X), np.mean(probs, 0), rtol=1e-10,
                               atol=1e-300)
    assert est.score(X, y) > 0.9


def test_ensemble_estimator_errors_are_clear():
    X, y = _noisy_table(60)
    with pytest.raises(ValueError, match="return_std needs an ensemble"):
        KANRegressor(width=(2,), grids=(3,), steps=2).fit(X, y).predict(X, return_std=True)
    with pytest.raises(ValueError, match="explicit width"):
        KANRegressor(n_members=2).fit(X, y)
    with pytest.raises(ValueError, match="n_members must be an integer >= 1"):
        KANRegressor(width=(2,), n_members=0).fit(X, y)
    with pytest.raises(ValueError, match="prune"):
        KANRegressor(width=(2,), grids=(3,), steps=2, n_members=2, prune=True).fit(X, y)
