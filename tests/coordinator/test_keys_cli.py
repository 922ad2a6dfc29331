"""``udn keys``, run as an operator would against a real coordinator."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.support import UDN, start_coordinator
from tests.support.auth import ADMIN_TOKEN


def keys(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDN_")}
    env["COLUMNS"] = str(columns)
    return subprocess.run([*UDN, "keys", *args], capture_output=True, text=True, timeout=60, env=env)


def test_url_and_token_go_before_or_after_the_key_command(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path)
    try:
        after = keys("create", "--name", "after", "--url", coordinator.url, "--token", ADMIN_TOKEN)
        assert after.returncode == 0, after.stderr
        before = keys("--url", coordinator.url, "--token", ADMIN_TOKEN, "create", "--name", "before")
        assert before.returncode == 0, before.stderr
        listed = keys("list", "--json", "--token", ADMIN_TOKEN, "--url", coordinator.url)
        assert listed.returncode == 0, listed.stderr
        assert sorted(k["name"] for k in json.loads(listed.stdout)) == ["after", "before"]
        # A value after the key command wins over one before it.
        wrong = keys("--url", "http://127.0.0.1:9", "list", "--url", coordinator.url, "--token", ADMIN_TOKEN)
        assert wrong.returncode == 0, wrong.stderr
    finally:
        coordinator.stop()


def test_list_never_cuts_the_id_revoke_needs(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path)
    try:
        for i in range(3):
            coordinator.create_key(name=f"a rather long name for key number {i}", requests_per_minute=60)
        reach = ("--url", coordinator.url, "--token", ADMIN_TOKEN)
        ids = sorted(k["id"] for k in json.loads(keys("list", "--json", *reach).stdout))
        for columns in (50, 80):
            table = keys("list", *reach, columns=columns)
            assert table.returncode == 0, table.stderr
            shown = sorted(re.findall(r"\bk_[0-9a-f]+\b", table.stdout))
            assert shown == ids, table.stdout
        revoked = keys("revoke", shown[0], *reach)
        assert revoked.returncode == 0, revoked.stderr
        assert f"revoked key {shown[0]}" in revoked.stdout
    finally:
        coordinator.stop()
