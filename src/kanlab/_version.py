"""kanlab's version, from the installed package's metadata (``"0.0.0"`` in a source tree that
is not installed). ``kanlab.__version__`` and ``kanlab --version`` both read it here."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kanlab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
