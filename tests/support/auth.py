"""The tokens tests configure nodes and coordinators with, and the header that carries the admin one."""

from __future__ import annotations

NODE_TOKEN = "test-node-token"
ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
