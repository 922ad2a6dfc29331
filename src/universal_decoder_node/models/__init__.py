"""Where each language pair's model comes from: bundled with the engine, a directory, or the Hub."""

from .errors import HubDownloadError, ModelStoreError, NotInStoreError, UnsafePathError
from .hub import HubModel, HubOptions, fetch
from .sources import (
    DirectorySource,
    HubSource,
    check_local_pairs,
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
    "ModelStoreError",
    "NotInStoreError",
    "RepoRef",
    "Snapshot",
    "UnsafePathError",
    "check_local_pairs",
    "fetch",
    "model_store",
    "pair_sources",
    "startup_pairs",
]
