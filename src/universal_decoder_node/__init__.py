"""universal-decoder-node: a self-hosted translation decoder service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("universal-decoder-node")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
