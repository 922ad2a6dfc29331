"""LibreTranslate's ``POST /translate_file`` and ``GET /download_file/<name>``, in each API server process.

The document is read, rewritten and written in a thread of its own (a large one must not hold
up this process's other requests); its texts go to the inference workers as ordinary work
items (``chunks``), all under the deadline of the one request. The translated file waits in
``serving.files_dir`` (``translated_files``) until it is downloaded or expires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...config import Settings
from ...documents import format_for
from ...protocol.files import original_name, parse_translate_file
from ...text.protect import translate_protected
from ..translated_files import TranslatedFiles
from .chunks import translate_in_items
from .translate import TranslationSpec

# Documents read and written at once by one API server process; more wait their turn (within
# their deadline), and never take the threads that downloads and saves use.
DOCUMENT_THREADS = 4


class FileRoutes:
    """Translates whole documents through ``spec``'s work path and serves the results for download."""

    def __init__(self, settings: Settings, spec: TranslationSpec) -> None:
        self.spec = spec
        self.max_bytes = settings.serving.file_max_bytes
        self.files = TranslatedFiles(settings.serving.files_dir, settings.serving.file_ttl_seconds)
        self.documents = ThreadPoolExecutor(DOCUMENT_THREADS, thread_name_prefix="documents")

    def add_routes(self, app: FastAPI) -> None:
        app.add_route("/translate_file", self.translate_file, methods=["POST"])
        app.add_route("/download_file/{name}", self.download_file, methods=["GET"], name="download_file")

    def lifespan(
        self, inner: Callable[[Any], AbstractAsyncContextManager[Any]]
    ) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
        """Wrap the app's lifespan so each API server process sweeps expired files while it serves."""

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[Any]:
            async with inner(app) as state:
                await asyncio.to_thread(self.files.folder.mkdir, parents=True, exist_ok=True)
                sweeper = asyncio.create_task(self.files.run_sweeper(), name="translated-files-sweeper")
                try:
                    yield state
                finally:
                    sweeper.cancel()

        return lifespan

    async def translate_file(self, request: Request) -> JSONResponse:
        """Translate the uploaded document; answers ``{"translatedFileUrl": ...}`` to download it from."""
        req = await parse_translate_file(request, self.max_bytes)
        pair = self.spec._served_pair(req.source, req.target)  # regional tags and aliases too
        deadline = time.monotonic() + self.spec.request_timeout
        pivot = pair in self.spec.limits.pivots

        async def submit(texts: list[str]) -> list[str]:
            translations, _ = await self.spec.submit(pair, texts, request, deadline=deadline)
            return translations

        async def in_items(texts: list[str]) -> list[str]:
            return await translate_in_items(texts, self.spec.limits, pivot, submit)

        async def translate(texts: list[str]) -> list[str]:
            # Emoji, URLs, placeholders... in a document come back verbatim, as in /translate.
            return await translate_protected(texts, in_items, req.source)

        loop = asyncio.get_running_loop()

        async def translate_from_thread(texts: list[str]) -> list[str]:
            # The work path lives on this loop; the document's own loop, in its thread, waits on it.
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(translate(texts), loop))

        document = req.format.translate(req.data, translate_from_thread)
        data = await loop.run_in_executor(self.documents, asyncio.run, document)
        name = await asyncio.to_thread(self.files.save, req.filename, data)
        return JSONResponse({"translatedFileUrl": str(request.url_for("download_file", name=name))})

    async def download_file(self, request: Request) -> Response:
        """The translated file, as an attachment named like the file that was uploaded."""
        name = request.path_params["name"]
        data = await asyncio.to_thread(self.files.read, name)
        return Response(
            data,
            media_type=format_for(name).media_type,
            headers={"Content-Disposition": f'attachment; filename="{original_name(name)}"'},
        )
