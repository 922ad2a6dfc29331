"""``POST /translate_file`` and ``GET /download_file/<name>`` through the coordinator.

A file is validated here as a node validates it, its API key checked and counted (a byte of file
as a character), and sent, without the key, to a node serving the pair. The node keeps the
translated file; the coordinator's ``translatedFileUrl`` names that node in the file's name
(``<node id>~<node's name>``), so any coordinator sharing the registry can fetch it from there.
"""

from __future__ import annotations

import json
import re

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..config import Settings
from ..errors import InvalidField, NotFound, UpstreamFailed
from ..language_codes import serving_pair
from ..protocol.disconnect import unless_client_leaves
from ..protocol.files import FileRequest, check_download_name, parse_translate_file
from .client_key import presented_key
from .service import Coordinator

# "~" is in no node id (records.NodeId) and in no download name, and URLs carry it as it is.
SEPARATOR = "~"
_NODE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def add_file_routes(app: FastAPI, coordinator: Coordinator, settings: Settings) -> None:
    max_bytes = settings.serving.file_max_bytes

    @app.post("/translate_file")
    async def translate_file(request: Request) -> Response:
        """LibreTranslate's /translate_file, translated by a node serving the pair."""
        req = await parse_translate_file(request, max_bytes)
        form = await request.form()  # parsed once already; Starlette keeps it
        # Where LibreTranslate looks for the key: the form, else the query string.
        await coordinator.admit(presented_key(request, {**request.query_params, **form}), len(req.data))
        body, content_type = _node_form(req)
        headers = {**request.headers, "content-type": content_type}
        # A regional tag or alias goes to the node serving its language, as for /translate.
        pair = serving_pair(req.source, req.target, coordinator.live_pairs()) or req.pair
        relayed = coordinator.relay("/translate_file", pair, body, headers)
        answer = await unless_client_leaves(request, relayed)
        if answer.status != 200:
            return Response(answer.body, status_code=answer.status, media_type=answer.content_type)
        try:
            node_link = json.loads(answer.body)["translatedFileUrl"]
            name = check_download_name(str(node_link).rsplit("/", 1)[-1])
        except (ValueError, KeyError, TypeError, InvalidField):
            raise UpstreamFailed(
                f"node {answer.node_id} answered /translate_file without a usable link"
            ) from None
        link = request.url_for("download_file", name=f"{answer.node_id}{SEPARATOR}{name}")
        return JSONResponse({"translatedFileUrl": str(link)})

    @app.get("/download_file/{name}")
    async def download_file(name: str) -> Response:
        """The translated file, fetched from the node that holds it."""
        node_id, _, node_name = name.partition(SEPARATOR)
        if not _NODE_ID.fullmatch(node_id):
            raise InvalidField(
                f"invalid file name {name[:100]!r}: use the translatedFileUrl /translate_file gave"
            )
        check_download_name(node_name)
        node = next((n for n in coordinator.registry.live_nodes() if n.id == node_id), None)
        if node is None:
            raise NotFound(f"no translated file {name!r}: node {node_id} that holds it is not registered now")
        answer = await coordinator.fetch(node, "/download_file/" + node_name)
        headers = {k: v for k in ("content-disposition",) if (v := answer.headers.get(k))}
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
            headers=headers,
        )


def _node_form(req: FileRequest) -> tuple[bytes, str]:
    """The multipart form a node receives: the file, source and target, and no API key."""
    built = httpx.Request(
        "POST",
        "http://node/translate_file",
        data={"source": req.source, "target": req.target},
        files={"file": (req.filename, req.data)},
    )
    return built.read(), built.headers["content-type"]
