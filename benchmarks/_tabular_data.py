"""The real tables of ``bench_tabular.py``: scikit-learn's and statsmodels' bundled data sets.

Every loader reads files shipped inside the installed package (no download). Each returns a
:class:`Table`; its ``source`` says where the rows come from, what the target is and what was
changed, and is printed with the results.

scikit-learn (every bundled regression and classification set):

* ``diabetes``: 442 rows, 10 features (already centred and scaled by scikit-learn), target the
  disease progression one year later (regression).
* ``breast_cancer`` (569 rows, 30 features, 2 classes), ``wine`` (178, 13, 3 classes),
  ``iris`` (150, 4, 3 classes), ``digits`` (1,797 rows, 64 pixel features 0-16, 10 classes).

statsmodels (real survey and census tables):

* ``star98``: 303 California school districts, target the share of students above the national
  median in maths, ``NABOVE / (NABOVE + NBELOW)`` (regression); features the 12 district
  covariates. The 8 product columns statsmodels adds for its GLM example (``PERMINTE_AVYRSEXP``,
  ...) are left out: they are functions of the 12.
* ``engel``: Engel's 235 Belgian working-class households, food expenditure from income
  (regression, one feature; a heteroscedastic table).
* ``anes96``: 944 respondents of the 1996 American National Election Study, target the vote
  (1 = Dole, 0 = Clinton; classification); features TV news days, self and perceived candidate
  left-right placements, party identification, age, education, income and log population
  (``popul`` itself left out: ``logpopul`` is its logarithm).
* ``fair``: the 1974 Redbook survey on extramarital affairs, target ``affairs > 0``
  (classification, as in statsmodels' logit example); features the 8 other columns. The table
  has 6,366 rows; a fixed 1,000 are used, drawn without replacement by
  ``numpy.random.default_rng(0)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REGRESSION = "regression"
CLASSIFICATION = "classification"
#: the rows kept of statsmodels' ``fair`` table, and the seed that draws them
FAIR_ROWS, FAIR_SEED = 1000, 0


@dataclass(frozen=True)
class Table:
    """One data set.

    Attributes:
        name: the name ``--datasets`` takes.
        task: ``"regression"`` or ``"classification"``.
        X: the features, ``(N, F)`` float64.
        y: the target, ``(N,)``: float64 (regression) or integer class labels.
        features: the ``F`` column names (plain identifiers, fit for a CSV header).
        target: the target's column name (not among ``features``).
        source: where the rows come from, the target, and any transformation.
    """

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    features: list[str]
    target: str
    source: str

    def subsample(self, n_rows: int, seed: int) -> Table:
        """The same table with ``min(n_rows, N)`` rows drawn without replacement (file order
        kept) by ``numpy.random.default_rng(seed)``."""
        if n_rows >= len(self.y):
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.y), n_rows, replace=False))
        return Table(self.name, self.task, self.X[keep], self.y[keep], self.features,
                     self.target, self.source + f"; subsampled to {n_rows} rows (seed {seed})")


def _sklearn(name: str, task: str, target: str, source: str) -> Callable[[], Table]:
    def load() -> Table:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")()
        features = [_identifier(f) for f in getattr(bunch, "feature_names", [])]
        X = np.asarray(bunch.data, dtype=np.float64)
        if len(features) != X.shape[1]:
            features = [f"x{i}" for i in range(X.shape[1])]
        y = np.asarray(bunch.target, dtype=np.float64 if task == REGRESSION else np.int64)
        return Table(name, task, X, y, features, target, source)

    return load


def _identifier(name: str) -> str:
    """``"mean radius"`` -> ``"mean_radius"``; ``"sepal length (cm)"`` -> ``"sepal_length_cm"``."""
    return re.sub(r"\W+", "_", str(name)).strip("_")


def _frame(X, y, name: str, task: str, target: str, source: str) -> Table:
    dtype = np.float64 if task == REGRESSION else np.int64
    return Table(name, task, X.to_numpy(dtype=np.float64), np.asarray(y, dtype=dtype),
                 [str(c) for c in X.columns], target, source)


def load_star98() -> Table:
    """statsmodels ``star98``: share of students above the median in maths (regression)."""
    from statsmodels.datasets import star98

    data = star98.load_pandas().data
    covariates = ["LOWINC", "PERASIAN", "PERBLACK", "PERHISP", "PERMINTE", "AVYRSEXP",
                  "AVSALK", "PERSPENK", "PTRATIO", "PCTAF", "PCTCHRT", "PCTYRRND"]
    share = data["NABOVE"] / (data["NABOVE"] + data["NBELOW"])
    return _frame(data[covariates], share, "star98", REGRESSION, "share_above",
                  "statsmodels star98: target NABOVE / (NABOVE + NBELOW); the 12 covariates, "
                  "without the 8 product columns")


def load_engel() -> Table:
    """statsmodels ``engel``: food expenditure from income (regression, one feature)."""
    from statsmodels.datasets import engel

    data = engel.load_pandas().data
    return _frame(data[["income"]], data["foodexp"], "engel", REGRESSION, "foodexp",
                  "statsmodels engel: target foodexp, feature income")


def load_anes96() -> Table:
    """statsmodels ``anes96``: the 1996 vote, Dole (1) or Clinton (0) (classification)."""
    from statsmodels.datasets import anes96

    data = anes96.load_pandas().data
    features = ["TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income",
                "logpopul"]
    return _frame(data[features], data["vote"], "anes96", CLASSIFICATION, "vote",
                  "statsmodels anes96: target vote (1 = Dole); 9 features, popul left out "
                  "(logpopul is its log)")


def load_fair() -> Table:
    """statsmodels ``fair``: any affair (classification); a fixed 1,000 of its 6,366 rows."""
    from statsmodels.datasets import fair

    data = fair.load_pandas().data
    keep = np.sort(np.random.default_rng(FAIR_SEED).choice(len(data), FAIR_ROWS, replace=False))
    data = data.iloc[keep]
    features = [c for c in data.columns if c != "affairs"]
    return _frame(data[features], (data["affairs"] > 0).astype(int), "fair", CLASSIFICATION,
                  "any_affair",
                  f"statsmodels fair: target affairs > 0; 8 features; {FAIR_ROWS} of "
                  f"{len(fair.load_pandas().data)} rows drawn by "
                  f"numpy.random.default_rng({FAIR_SEED})")


#: every data set by name, in the order of the tables
LOADERS: dict[str, Callable[[], Table]] = {
    "diabetes": _sklearn("diabetes", REGRESSION, "progression",
                         "scikit-learn load_diabetes (features as shipped: centred, scaled)"),
    "star98": load_star98,
    "engel": load_engel,
    "breast_cancer": _sklearn("breast_cancer", CLASSIFICATION, "diagnosis",
                              "scikit-learn load_breast_cancer"),
    "wine": _sklearn("wine", CLASSIFICATION, "cultivar", "scikit-learn load_wine"),
    "iris": _sklearn("iris", CLASSIFICATION, "species", "scikit-learn load_iris"),
    "digits": _sklearn("digits", CLASSIFICATION, "digit", "scikit-learn load_digits (8x8)"),
    "anes96": load_anes96,
    "fair": load_fair,
}
