"""``udn keys create|list|revoke``: manage API keys through a running coordinator's admin API.

Going through the coordinator (rather than writing Redis or the state file directly) keeps one
path for every change in every mode: with Redis, every replica sees the change at once; on the
state file alone, the coordinator writes the file before it answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from ..config import Settings


def run_keys_command(args: argparse.Namespace, settings: Settings) -> int:
    config = settings.coordinator
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::") else config.host
    base = (args.url or f"http://{host}:{config.port}").rstrip("/")
    token = args.token or settings.admin.token
    if not token:
        print("udn keys: an admin token is needed: set UDN_ADMIN_TOKEN or pass --token", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if args.keys_command == "create":
            body = {
                "name": args.name,
                "requests_per_minute": args.requests_per_minute,
                "characters_per_minute": args.characters_per_minute,
            }
            data = _call("POST", f"{base}/admin/keys", headers, body)
            print(data["key"])
            print(
                f"created key {data['id']} ({data['name'] or 'no name'}); it is shown only this once",
                file=sys.stderr,
            )
        elif args.keys_command == "list":
            keys = _call("GET", f"{base}/admin/keys", headers)["keys"]
            if args.json:
                print(json.dumps(keys, indent=2))
            else:
                _print_keys(keys)
        else:
            data = _call("DELETE", f"{base}/admin/keys/{args.key_id}", headers)
            print(f"revoked key {data['id']} ({data['name'] or 'no name'})")
    except _Failed as exc:
        print(f"udn keys: {exc}", file=sys.stderr)
        return 1
    return 0


class _Failed(Exception):
    pass


def _call(method: str, url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    try:
        response = httpx.request(method, url, headers=headers, json=body, timeout=10)
    except httpx.HTTPError as exc:
        raise _Failed(f"cannot reach the coordinator at {url}: {exc}") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        raise _Failed(f"{method} {url}: HTTP {response.status_code}: {message}")
    return response.json()


def _print_keys(keys: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(keys)} API keys")
    # The id is what 'udn keys revoke' needs: it is never wrapped or cut; the other columns give way.
    table.add_column("id", no_wrap=True, min_width=max((len(k["id"]) for k in keys), default=2))
    for column in ("name", "prefix", "created", "revoked", "requests/min", "characters/min"):
        table.add_column(column, overflow="fold")
    for key in keys:
        table.add_row(
            key["id"],
            key["name"],
            key["prefix"] + "…",
            _when(key["created_at"]),
            _when(key["revoked_at"]) if key["revoked"] else "no",
            _limit(key["requests_per_minute"]),
            _limit(key["characters_per_minute"]),
        )
    Console().print(table)


def _when(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _limit(value: int | None) -> str:
    return "default" if value is None else ("none" if value == 0 else str(value))
