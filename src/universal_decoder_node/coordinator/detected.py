"""``source: "auto"`` through the coordinator: each text detected on its own, sent to a node serving its pair.

The texts of one request may be in several languages: each group of texts with the same
detected language goes to a node serving its pair (all groups at once), and the answers are put
back in the order of the request. Texts detected in the target language come back unchanged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response

from ..errors import NoNodeAvailable, UpstreamFailed
from ..protocol.detection import plan_auto
from ..protocol.requests import TranslateRequest
from .client_key import JSON, encode_json
from .proxy import NodeAnswer
from .service import Coordinator


async def relay_detected(
    coordinator: Coordinator, req: TranslateRequest, fields: Mapping[str, Any], headers: Mapping[str, str]
) -> Response:
    """Translate ``req`` (source "auto") through the nodes; a node's error answer is passed on as it came.

    ``fields`` are the client's parameters, less its credentials; each group is sent with its own
    ``q`` (a list) and its detected ``source``.
    """
    if not any(node.ready for node in coordinator.registry.live_nodes()):
        # As for any other request: the nodes are away (503), not the language (400).
        raise NoNodeAvailable(
            "no decoder node is registered and ready", coordinator.config.heartbeat_interval
        )
    plan = plan_auto(req.texts, req.target, coordinator.live_pairs())
    sent = {**headers, "content-type": JSON}
    groups = list(plan.groups.items())
    answers = await asyncio.gather(
        *(
            coordinator.relay(
                "/translate",
                pair,
                encode_json(
                    {**fields, "q": [req.texts[i] for i in indices], "source": pair.partition("-")[0]}
                ),
                sent,
            )
            for pair, indices in groups
        )
    )
    translations: list[str] = list(req.texts)
    alternatives: list[list[str]] = [[] for _ in req.texts]
    for (_, indices), answer in zip(groups, answers, strict=True):
        if answer.status != 200:
            return Response(answer.body, status_code=answer.status, media_type=answer.content_type)
        done, others = _translations(answer, len(indices))
        for i, text, more in zip(indices, done, others, strict=True):
            translations[i], alternatives[i] = text, more
    found = [d.as_json() for d in plan.detections]
    body: dict[str, Any] = {"translatedText": translations[0] if req.single else translations}
    if req.alternatives > 0:
        body["alternatives"] = alternatives[0] if req.single else alternatives
    body["detectedLanguage"] = found[0] if req.single else found
    return JSONResponse(body)


def _translations(answer: NodeAnswer, count: int) -> tuple[list[str], list[list[str]]]:
    """A node's answer to a list of ``count`` texts; raises UpstreamFailed when it is not one."""
    try:
        data = json.loads(answer.body)
        texts = data["translatedText"]
        others = data.get("alternatives") or [[] for _ in range(count)]
    except (ValueError, TypeError, KeyError):
        raise UpstreamFailed(
            f"node {answer.node_id} answered /translate with a body that is not its JSON"
        ) from None
    if not (
        isinstance(texts, list) and len(texts) == count and isinstance(others, list) and len(others) == count
    ):
        raise UpstreamFailed(f"node {answer.node_id} answered {count} texts with a different number")
    return texts, others
