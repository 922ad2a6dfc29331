"""How the coordinator's request paths become bounded ``endpoint`` label values."""

from __future__ import annotations

# Paths that become label values as they are; /nodes/<id> and /admin/... are folded, anything else
# is "other", so a scanner cannot blow up the series count.
ENDPOINTS = frozenset(
    {
        "/",
        "/translate",
        "/decode",
        "/languages",
        "/health",
        "/ready",
        "/status",
        "/metrics",
        "/dashboard",
        "/history",
        "/detect",
    }
)
PREFIXES = ("/nodes/", "/admin/")


def endpoint_label(path: str) -> str:
    if path in ENDPOINTS:
        return path
    for prefix in PREFIXES:
        if path.startswith(prefix):
            return prefix.rstrip("/")
    return "other"
