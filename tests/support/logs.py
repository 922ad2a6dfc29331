"""Reading the log lines a node or coordinator process wrote (``logging.format: json``)."""

from __future__ import annotations

import json
from typing import Any

JSON_LOGS = {"UDN_LOGGING__FORMAT": "json"}


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as a JSON object; fails on the first line that is not one."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}\n{text}") from None
        assert isinstance(record, dict), f"line {number} is not a JSON object: {line!r}"
        records.append(record)
    return records


def access_lines(records: list[dict[str, Any]], **fields: Any) -> list[dict[str, Any]]:
    """The access lines among ``records`` whose fields equal ``fields``."""
    return [
        r
        for r in records
        if r.get("logger") == "universal_decoder_node.access"
        and "status" in r
        and all(r.get(k) == v for k, v in fields.items())
    ]


def messages(records: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("message", "")) for r in records]
