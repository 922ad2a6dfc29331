"""Where each language pair's model comes from: bundled with the engine, a directory, an Argos
Translate package, or the Hub."""

from .argos import ArgosPackage
from .errors import ArgosPackageError, HubDownloadError, ModelStoreError, NotInStoreError, UnsafePathError
from .hub import HubModel, HubOptions, fetch
from .pivots import pivot_sources
from .sources import (
    ArgosSource,
    DirectorySource,
    HubSource,
    MultilingualHubSource,
    MultilingualSource,
    argos_packages,
    check_local_pairs,
    language_names,
    model_store,
    pair_sources,
    startup_pairs,
)
from .store import ModelStore, RepoRef, Snapshot

__all__ = [
    "ArgosPackage",
    "ArgosPackageError",
    "ArgosSource",
    "DirectorySource",
    "HubDownloadError",
    "HubModel",
    "HubOptions",
    "HubSource",
    "ModelStore",
    "ModelStoreError",
    "MultilingualHubSource",
    "MultilingualSource",
    "NotInStoreError",
    "RepoRef",
    "Snapshot",
    "UnsafePathError",
    "argos_packages",
    "check_local_pairs",
    "fetch",
    "language_names",
    "model_store",
    "pair_sources",
    "pivot_sources",
    "startup_pairs",
]
