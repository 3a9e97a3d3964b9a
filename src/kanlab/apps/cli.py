"""The ``kanlab`` command line: ``demo``, ``fit`` and ``predict``; ``kanlab --version``.

Exit status: 0 on success; 1 when the input is wrong (a CSV file with a missing column or a
non-numeric, empty or non-finite cell, a missing file, a directory that ``kanlab fit`` did not
write, a damaged model file, too few rows to train on) or training failed; 2 when the command
line is wrong (an unknown flag, a bad value, a missing argument). Every error is one line on
stderr, ``kanlab COMMAND: error: ...``.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from kanlab._validation import (
    check_fraction,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    check_sizes,
)
from kanlab._version import __version__
from kanlab.apps.tabular import FIT_GRIDS
from kanlab.errors import InputError, KanlabError
from kanlab.grids import GRID_STRATEGIES
from kanlab.nn.product_nodes import check_hidden_spec

__all__ = ["main"]

DEMO_GRIDS = (3, 5, 10, 20, 50)

EXIT_STATUS = """exit status:
  0  success
  1  bad input: a missing file or column, a non-numeric, empty or non-finite cell (the
     message names the file, line and column), too few rows, a damaged model file, or
     training failed
  2  bad command line: an unknown flag, a bad value, a missing argument"""

FIT_EPILOG = f"""examples:
  kanlab fit data.csv --target y --out run1
      choose a KAN for the table and train it on every column but y; open run1/report.html
  kanlab fit data.csv --target y --prune --symbolic --out run2
      also prune it (while held-out rows allow) and read off a formula in the columns'
      names and units, scored on held-out rows next to the model
  kanlab fit data.csv --target y --width 5,1 --grids 3,5,10 --steps-per-grid 100 \\
      --lamb 1e-3 --prune --symbolic --out run3
      one given [n_features, 5, 1] KAN (the paper's workflow on clean data)

the model: without --width, a small search chooses it by 3-fold cross-validation on the
training rows (20% held out above 1,000 rows): additive KANs (one smooth function per input,
summed) under smoothness and ridge penalties of several strengths, and an [n_features, 5, 1]
KAN with grid extension, which must beat every additive one by more than a standard error;
the winner is trained again on every training row (with --prune or --symbolic, on all but
20%, which then judge the pruning and the formula). --fast trains one additive model
instead. With --width (or --grids), that model is trained, stopping early on
--validation-fraction of the training rows held out.

the CSV file needs a header row naming the columns and numeric cells (blank lines are
skipped); it is UTF-8 (a byte-order mark, as Excel writes, is fine) and its separator is
found from the file: , ; tab or |. The training rows must be at least G + 1 for the first
grid size G; a test set under 10 rows is a warning (one row: no R^2). Inputs and target
are standardised with the training rows' mean and standard deviation; predictions, metrics
and the formula are in the original units. The rows are shuffled (--seed) and
--test-fraction of them held out for the test metrics.

files written into --out (all at once: a run that fails leaves --out as it was):
  model/            the KAN (kanlab.KAN.load("DIR/model"); on standardised units)
  pipeline.json     feature and target names and the standardisation, for kanlab predict
  metrics.json      train/test RMSE and R^2, n_params, widths, grid sizes, seconds, settings
  predictions.csv   the fitted model's prediction of every CSV row, in file order
  formula.txt/.tex  with --symbolic: the formula (6 significant digits)
  network.png       the network and its learned activations
  training.png      train/test RMSE per step
  report.html       all of the above in one self-contained page

{EXIT_STATUS}"""

PREDICT_EPILOG = f"""examples:
  kanlab predict run1 new.csv                      # CSV on stdout
  kanlab predict run1 new.csv --out predictions.csv

the feature columns are read by name (other columns, such as the target, are ignored) and
the output has one column, <target>_pred, one row per data row of the input, in order. With
--out and a target column in the input, the RMSE and R^2 are printed.

{EXIT_STATUS}"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (and exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see '{self.prog} --help')\n")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _checked(parse: Callable[[str], Any], check: Callable[[Any], Any],
             expected: str) -> Callable[[str], Any]:
    """An argparse ``type``: ``check(parse(text))``, the check one of :mod:`kanlab._validation`;
    either failing is the usage error ``expected <expected>; got '<text>'``."""
    def convert(text: str) -> Any:
        try:
            return check(parse(text))
        except ValueError:  # a parse error, or the check's InputError
            raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}") from None

    return convert


def _integers(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


_sizes = _checked(_integers, lambda v: list(check_sizes("sizes", v)),
                  "comma-separated positive integers such as 5,1")
_positive_int = _checked(int, lambda v: check_positive_int("N", v), "a positive integer")
_lamb = _checked(float, lambda v: check_nonnegative("lamb", v), "a number >= 0")
_fraction = _checked(float, lambda v: check_fraction("F", v), "a number in [0, 1)")
_threads = _checked(int, lambda v: check_nonnegative_int("N", v), "an integer >= 0")

#: torch threads of a command unless --threads says otherwise. Small KANs spend their time in
#: many small tensor operations, which a second thread slows down: `kanlab demo` took 97 s on
#: one thread and 122 s on torch's default two, on a quiet 2-core machine (and 33 s against
#: 156 s next to one busy process, issue 16).
DEFAULT_THREADS = 1


def _width_entry(token: str) -> int | list[int]:
    """``5`` (sum nodes) or ``5:2`` (5 sum nodes and 2 product nodes)."""
    parts = token.strip().split(":")
    if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated widths such as 5,1 or 3:2,1 (3 sum and 2 product "
            f"nodes); got {token!r}")
    return int(parts[0]) if len(parts) == 1 else [int(parts[0]), int(parts[1])]


def _widths(text: str) -> list[Any]:
    try:
        widths = list(check_hidden_spec("widths", [_width_entry(t) for t in text.split(",")]))
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if widths[-1] != 1:
        raise argparse.ArgumentTypeError(
            f"the last width is the output and must be 1 (one target column); got {text!r}"
        )
    return widths


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names; got {text!r}")
    return names


def _fit(args: argparse.Namespace) -> int:
    import matplotlib  # noqa: F401 - fail before training, not after it

    from kanlab.apps.report import write_outputs
    from kanlab.apps.tabular import FitOptions, fit_csv

    if args.symbolic:
        import sympy  # noqa: F401 - the same

    options = FitOptions(
        widths=args.width, grids=args.grids, steps_per_grid=args.steps_per_grid,
        fast=args.fast, validation_fraction=args.validation_fraction or None,
        lamb=args.lamb, prune=args.prune, symbolic=args.symbolic, grid=args.grid_strategy,
        test_fraction=args.test_fraction, seed=args.seed, progress=not args.no_progress,
    )
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise KanlabError(f"--out {args.out}: exists and is not a directory")
    print(f"kanlab fit: {args.csv} -> {args.out}, target {args.target!r}")
    result = fit_csv(args.csv, args.target, args.features, options)
    m = result.metrics
    files = write_outputs(result, args.out, _command(args))
    print(f"features: {', '.join(m['features'])}; rows: {m['n_train']} train, "
          f"{m['n_test']} test")
    if m["model_choice"] is not None:
        print(f"model: {m['model_choice']['chosen']} ({m['model_choice']['reason']})")
    print(f"widths {m['widths']}, grid {m['grid']}, {m['n_edges']} edges, {m['n_params']} "
          f"parameters, {m['seconds']:.1f} s")
    test = "" if m["test_rmse"] is None else (
        f", test RMSE {m['test_rmse']:.4g} (R^2 "
        + ("undefined: one row" if m["test_r2"] is None else f"{m['test_r2']:.4f}") + ")")
    held_out = "" if m["validation_r2"] is None else f", validation R^2 {m['validation_r2']:.4f}"
    print(f"train RMSE {m['train_rmse']:.4g} (R^2 {m['train_r2']:.4f}){held_out}{test}")
    if m["formula"] is not None:
        _print_formula(m, files[0].parent / "formula.txt")
    for warning in m["warnings"]:
        print(f"kanlab fit: warning: {warning}", file=sys.stderr)
    print(f"wrote {len(files)} files into {args.out}/: "
          + ", ".join(p.name + ("/" if p.is_dir() else "") for p in files))
    return 0


def _print_formula(m: dict, path: Path) -> None:
    """The formula, or -- when it fits the held-out rows much worse than the model -- that no
    short formula was found (the formula is still in the files, for reading)."""
    score = ("" if m["formula_validation_r2"] is None
             else f" (validation R^2 {m['formula_validation_r2']:.4f})")
    if m["formula_ok"] is False:
        print(f"no short formula fits as well as the model{score}: see the warnings; the "
              f"best one found is in {path.name}, for reading only")
        return
    print(path.read_text().rstrip() + score)


def _predict(args: argparse.Namespace) -> int:
    from kanlab.apps.pipeline import rmse_r2
    from kanlab.apps.report import write_predictions
    from kanlab.apps.tabular import TabularModel
    from kanlab.data.csv import read_csv

    tabular = TabularModel.load(args.model_dir)
    table = read_csv(args.csv)
    pred = tabular.predict(table.columns(tabular.features))
    if args.out is None:
        write_predictions(sys.stdout, tabular.prediction_name, pred)
        return 0
    with open(args.out, "w", newline="") as fh:
        write_predictions(fh, tabular.prediction_name, pred)
    summary = ""
    if tabular.target in table.header:
        try:
            y = table.columns([tabular.target])[:, 0]
        except KanlabError as err:
            summary = f" (no RMSE: {_one_line(err)})"
        else:
            rmse, r2 = rmse_r2(y, pred)
            summary = f"; RMSE {rmse:.4g}, R^2 {r2:.4f} against column {tabular.target!r}"
    print(f"wrote {len(pred)} predictions ({tabular.prediction_name}) to {args.out}{summary}")
    return 0


def _command(args: argparse.Namespace) -> str:
    return shlex.join(["kanlab", *args.argv])


def _demo(args: argparse.Namespace) -> int:
    if args.story == "symbolic":
        return _demo_symbolic(args)
    from kanlab.apps.demos import grid_extension

    grids = tuple(args.grids)
    print("kanlab demo: f(x, y) = exp(sin(pi x) + y^2), 1000 train / 1000 test points")
    print(
        f"LBFGS, float64, grid extension G = {', '.join(map(str, grids))} every "
        f"{args.steps_per_grid} steps (the KAN paper's Figure 2.3)\n"
    )
    start = time.perf_counter()
    results = grid_extension(grids, args.steps_per_grid, seed=args.seed,
                             progress=not args.no_progress)
    total = time.perf_counter() - start

    names = list(results)
    header = "| G | " + " | ".join(f"{n} train RMSE | {n} test RMSE" for n in names) + " |"
    print(header)
    print("|" + "---|" * (1 + 2 * len(names)))
    for g in grids:
        cells = []
        for n in names:
            r = results[n][0].get(g, {"train_rmse": float("nan"), "test_rmse": float("nan")})
            cells += [f"{r['train_rmse']:.3e}", f"{r['test_rmse']:.3e}"]
        print(f"| {g} | " + " | ".join(cells) + " |")
    print()
    for n in names:
        print(f"{n}: {results[n][1]:.1f} s")
    print(f"total: {total:.1f} s")
    return 0


def _demo_symbolic(args: argparse.Namespace) -> int:
    import sympy  # noqa: F401 - imported before the clock starts (start-up, not the story)

    from kanlab.apps.demos import STORY_LIBRARY, symbolic_stories, symbolic_story

    out = Path(args.out)
    print("kanlab demo symbolic: the KAN paper's §2.5.2 story on exp(sin(pi x) + y^2)")
    print("[2, 5, 1] KAN, float64, 50 LBFGS steps of up to 10 iterations per stage: sparsify "
          "(lamb 0.03), prune, retrain, auto-symbolic on "
          f"{{{', '.join(STORY_LIBRARY)}}}, fit the affine parameters, read the formula; "
          + ("the seeds one after the other\n" if args.separate else
             "the seeds' sparsified training and retraining side by side (an ensemble)\n"))
    start = time.perf_counter()
    if args.separate:
        results = [symbolic_story(seed, plot_dir=out if seed == 0 else None,
                                  report=print if seed == 0 else None)
                   for seed in range(args.seeds)]
    else:
        results = symbolic_stories(range(args.seeds), plot_dir=out, report=print)
    total = time.perf_counter() - start
    for r in results:
        formula = "no formula" if r.formula is None else _rounded(r.formula)
        print(f"seed {r.seed}: {r.pruned_widths} -> {r.widths}, formula test RMSE "
              f"{r.formula_test_rmse:.2e} ({'recovered' if r.recovered else 'NOT recovered'}), "
              f"{r.seconds:.1f} s: {formula}")
    n_ok = sum(r.recovered for r in results)
    times = [r.seconds for r in results]
    print(f"\nrecovered exactly (formula test RMSE < 1e-6): {n_ok} of {len(results)} seeds")
    print(f"seconds per seed: min {min(times):.1f}, median {sorted(times)[len(times) // 2]:.1f}, "
          f"max {max(times):.1f}")
    print(f"plots of seed 0 (trained, symbolic): {out}/")
    print(f"the whole story: {total:.1f} s")
    return 0


def _rounded(expr) -> str:
    from kanlab.symbolic.formula import tidy

    return str(tidy(expr))


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``kanlab``: the commands ``demo``, ``fit`` and ``predict``."""
    parser = _Parser(
        prog="kanlab", description="Kolmogorov-Arnold Networks on PyTorch.",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kanlab {__version__}",
                        help="print the version and exit")
    parser.add_argument("--threads", type=_threads, default=DEFAULT_THREADS, metavar="N",
                        help=f"torch threads for the command (default {DEFAULT_THREADS}: small "
                        "KANs run fastest on one thread; 0: torch's default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(sub)
    _add_fit(sub)
    _add_predict(sub)
    return parser


def _add_demo(sub) -> None:
    demo = sub.add_parser(
        "demo", help="fit exp(sin(pi x) + y^2) with grid extension and print the RMSE table; "
        "'demo symbolic': sparsify, prune and recover the formula"
    )
    demo.add_argument("story", nargs="?", choices=("fit", "symbolic"), default="fit",
                      help="fit (grid extension, the default) or symbolic (formula recovery)")
    demo.add_argument("--seeds", type=int, default=10, help="symbolic: model seeds 0..n-1")
    demo.add_argument("--separate", action="store_true",
                      help="symbolic: train the seeds one after the other, not as an ensemble")
    demo.add_argument("--out", default="kanlab_demo_symbolic",
                      help="symbolic: directory for the plots of seed 0")
    demo.add_argument("--steps-per-grid", type=int, default=200, help="LBFGS steps per grid")
    demo.add_argument("--grids", type=int, nargs="+", default=list(DEMO_GRIDS),
                      help="grid sizes, in order")
    demo.add_argument("--seed", type=int, default=0, help="model seed")
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.set_defaults(func=_demo)


def _add_fit(sub) -> None:
    fit = sub.add_parser(
        "fit", help="train a KAN on a CSV file; write the model, metrics, plots and an HTML report",
        description="Train a KAN on the columns of a CSV file to predict --target (float64,\n"
        "LBFGS, grid extension over --grids with --steps-per-grid steps each).",
        epilog=FIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("csv", help="the CSV file (header row, numeric cells)")
    fit.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    fit.add_argument("--features", type=_names, metavar="A,B,...",
                     help="the input columns, in order (default: every column but --target)")
    fit.add_argument("--out", required=True, metavar="DIR",
                     help="directory for the model and the report (created)")
    fit.add_argument("--width", type=_widths, default=None, metavar="W,...,1",
                     help="widths after the inputs: hidden layers, then the output 1 "
                     "(e.g. 5,1: a [n_features, 5, 1] KAN; 1 alone: no hidden layer; 3:2,1: "
                     "3 sum and 2 product nodes of two factors); default: chosen from the "
                     "data (see below)")
    fit.add_argument("--grids", type=_sizes, default=None, metavar="G,G,...",
                     help="grid sizes in order: the grid-extension schedule of a given model "
                     f"(default {','.join(map(str, FIT_GRIDS))}; without --width, the model is "
                     "[n_features, 5, 1])")
    fit.add_argument("--steps-per-grid", type=_positive_int, default=50, metavar="N",
                     help="with --width, the most LBFGS steps at each grid size, and of each "
                     "retraining after --prune and --symbolic (default 50)")
    fit.add_argument("--validation-fraction", type=_fraction, default=0.2, metavar="F",
                     help="with --width, share of the training rows held out to stop early "
                     "and judge pruning (default 0.2; 0: none)")
    fit.add_argument("--fast", action="store_true",
                     help="without --width: one quick additive model, no search")
    fit.add_argument("--lamb", type=_lamb, default=0.0, metavar="L",
                     help="sparsity regularisation lambda, e.g. 1e-3 before --prune "
                     "(default 0: off)")
    fit.add_argument("--prune", action="store_true",
                     help="after training, remove unimportant nodes and edges and retrain")
    fit.add_argument("--symbolic", action="store_true",
                     help="snap every edge to a symbolic function (sin, exp, x^2, ...), train "
                     "their affine parameters and write the formula")
    fit.add_argument("--grid-strategy", default="quantile", choices=sorted(GRID_STRATEGIES),
                     metavar="NAME", help="how grids adapt to the data: "
                     f"{', '.join(sorted(GRID_STRATEGIES))} (default quantile)")
    fit.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                     help="share of the rows held out for the test metrics, in [0, 1) "
                     "(default 0.2)")
    fit.add_argument("--seed", type=int, default=0,
                     help="seed of the train/test split and the initialisation (default 0)")
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    fit.set_defaults(func=_fit)


def _add_predict(sub) -> None:
    predict = sub.add_parser(
        "predict", help="predict with a model that 'kanlab fit' wrote",
        description="Predict the target of every row of a CSV file with the model in DIR\n"
        "(the --out directory of kanlab fit).",
        epilog=PREDICT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("model_dir", metavar="DIR", help="the --out directory of kanlab fit")
    predict.add_argument("csv", help="the CSV file with the feature columns (by name)")
    predict.add_argument("--out", metavar="FILE",
                         help="write the predictions to FILE (default: stdout)")
    predict.set_defaults(func=_predict)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a bad command line (2)
        return 0 if stop.code is None else int(stop.code)
    if args.command is None:
        parser.print_help()
        return 2
    args.argv = argv
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return args.func(args)
    except (KanlabError, csv.Error, UnicodeDecodeError, ImportError, FloatingPointError) as err:
        message = _one_line(err)
    except BrokenPipeError:  # `kanlab predict ... | head`: the reader stopped; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 1
    except OSError as err:
        message = _one_line(f"{err.filename}: {err.strerror}" if err.filename else err)
    except KeyboardInterrupt:
        message = "interrupted"
    finally:
        torch.set_num_threads(threads)  # an in-process caller keeps its own setting
    print(f"kanlab {args.command}: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
