"""Translated files waiting to be downloaded: one folder, random names, deleted once they expire."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from pathlib import Path

from ..documents import extension_of
from ..errors import NotFound
from ..protocol.files import check_download_name, download_name
from ..utils.atomic_write import write_atomic

log = logging.getLogger(__name__)


class TranslatedFiles:
    """The folder of translated files (``serving.files_dir``); each expires ``ttl`` seconds after writing.

    Every API server process of a node reads and sweeps the same folder, so a file written by
    one can be downloaded from any.
    """

    def __init__(self, folder: Path, ttl: float) -> None:
        self.folder = folder.resolve()
        self.ttl = ttl

    def save(self, filename: str, data: bytes) -> str:
        """Store a translated file; returns its download name (random, ending in ``filename`` made safe)."""
        name = download_name(uuid.uuid4().hex, filename, extension_of(filename))
        write_atomic(self.folder / name, data, mode=0o600)
        return name

    def read(self, name: str) -> bytes:
        """The file stored as ``name``; raises InvalidField for a name no file could have, NotFound
        for a file that does not exist or has expired (and is deleted now)."""
        path = self.folder / check_download_name(name)
        try:
            age = time.time() - path.stat().st_mtime
            if age <= self.ttl:
                return path.read_bytes()
            path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        raise NotFound(
            f"no translated file {name!r}: it never existed or it expired "
            f"(translated files are kept {self.ttl:g}s, serving.file_ttl_seconds)"
        )

    def sweep(self) -> int:
        """Delete every file older than ``ttl`` (leftover temporary files too); returns how many."""
        removed = 0
        cutoff = time.time() - self.ttl
        try:
            entries = list(self.folder.iterdir())
        except FileNotFoundError:
            return 0
        for path in entries:
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    async def run_sweeper(self) -> None:
        """Sweep now and then, forever: at least once a minute, and twice per ``ttl`` when that is shorter."""
        interval = min(60.0, max(self.ttl / 2, 0.25))
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except OSError as exc:  # an unreadable folder must not end the loop
                log.warning("could not sweep expired translated files in %s: %s", self.folder, exc)
            await asyncio.sleep(interval)
