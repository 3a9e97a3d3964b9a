"""``python -m kanlab.splines.native [--verbose]``: build the optional compiled kernel."""

import argparse
import sys
import time

from kanlab.splines.native import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build kanlab's optional compiled kernel.")
    parser.add_argument("--verbose", action="store_true", help="show the compiler's output")
    parser.add_argument("--optional", action="store_true",
                        help="exit 0 when the build fails (no compiler): the library then "
                             "uses its pure-PyTorch path")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        path = build(verbose=args.verbose)
    except Exception as err:  # noqa: BLE001 - any compiler or toolchain failure
        print(f"kanlab: the compiled kernel was not built ({type(err).__name__}: {err}); "
              "the pure-PyTorch path will be used", file=sys.stderr)
        return 0 if args.optional else 1
    print(f"kanlab: compiled kernel built in {path} ({time.perf_counter() - start:.0f} s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
