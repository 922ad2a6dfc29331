"""Coordinator records with plausible values, for tests of the state file, merging and limits."""

from __future__ import annotations

from universal_decoder_node.coordinator.records import KeyRecord, NodeRecord


def node(node_id: str = "n1", seen_at: float = 100.0) -> NodeRecord:
    return NodeRecord(
        id=node_id,
        url="http://127.0.0.1:8000",
        pairs_loaded=["en-pt"],
        pairs_available=["en-pt", "pt-en"],
        capacity=2,
        registered_at=50.0,
        seen_at=seen_at,
    )


def key(digest: str = "a" * 64, updated_at: float = 10.0, revoked_at: float | None = None) -> KeyRecord:
    return KeyRecord(
        id="k_0123456789ab",
        name="ci",
        digest=digest,
        prefix="udn_abcd",
        created_at=1.0,
        updated_at=updated_at,
        revoked_at=revoked_at,
    )
