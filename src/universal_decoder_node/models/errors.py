"""What can go wrong getting a pair's model: all are ModelLoadErrors, so a request sees a 503.

Each message may reach clients and names no local path and no URL; ``detail`` holds those for
the operator (the node's log, ``udn models``).
"""

from __future__ import annotations

from ..engine.base import ModelLoadError


class HubDownloadError(ModelLoadError):
    """A pair's repository could not be fetched or failed verification; the message names both."""


class NotInStoreError(HubDownloadError):
    """Offline, and the repository is in neither the model store nor huggingface_hub's cache."""


class UnsafePathError(HubDownloadError):
    """A name from outside (the Hub, a mirror, huggingface_hub's cache) would lead out of where it belongs.

    Raised before anything is written: a commit id that is not 40 hexadecimal characters, a file
    name that is absolute or climbs with '..', a cached file that links outside the cache's blobs.
    """


class ModelStoreError(ModelLoadError):
    """The model store (``adapters.dir``) cannot be created, read or written."""


class ArgosPackageError(ModelLoadError):
    """An Argos Translate package that cannot be installed or served; the message names the file
    (the archive, or the package folder) and what is wrong with it."""
