"""The records the coordinator keeps: registered nodes and API keys, and how two copies merge.

Both are stored as JSON (in Redis hashes and in the snapshot file). When two copies of one
record disagree, for example a snapshot taken while Redis was away and the Redis copy, the
merge rules below decide which wins, so an older copy never overwrites a newer one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

NodeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
PairName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,8}-[a-z_]{2,8}$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,8}$")]


class NodeReport(BaseModel):
    """What a node sends on registration and with every heartbeat."""

    model_config = ConfigDict(extra="ignore")

    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(:\d+)?/?$", max_length=512)]
    pairs_loaded: list[PairName] = Field(default_factory=list, max_length=1024)
    pairs_available: list[PairName] = Field(default_factory=list, max_length=1024)
    language_names: dict[LanguageCode, Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=dict, max_length=1024
    )
    capacity: int = Field(1, ge=1, le=1_000_000, description="Requests the node works on in parallel.")
    queued: int = Field(0, ge=0)
    in_flight: int = Field(0, ge=0)
    latency_ms: float | None = Field(None, ge=0, allow_inf_nan=False)
    memory_percent: float | None = Field(
        None, ge=0, le=100, allow_inf_nan=False, description="The host's (or cgroup's) memory in use."
    )
    memory_rss_bytes: int | None = Field(
        None, ge=0, description="The node's own process tree's resident memory."
    )
    version: Annotated[str, StringConstraints(max_length=64)] = "unknown"
    ready: bool = True


class NodeRecord(NodeReport):
    """A registered node: its last report, and when a coordinator last heard from it (epoch seconds)."""

    model_config = ConfigDict(extra="ignore")

    id: NodeId
    registered_at: float
    seen_at: float


class KeyRecord(BaseModel):
    """An API key. Only its SHA-256 digest is kept; the key itself is shown once, at creation."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, StringConstraints(pattern=r"^k_[0-9a-f]{8,32}$")]
    name: Annotated[str, StringConstraints(max_length=128)] = ""
    digest: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    prefix: Annotated[str, StringConstraints(max_length=16)] = ""
    created_at: float
    updated_at: float
    revoked_at: float | None = None
    requests_per_minute: int | None = Field(None, ge=0, description="None: the configured default.")
    characters_per_minute: int | None = Field(None, ge=0, description="None: the configured default.")

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def newer_node(a: NodeRecord, b: NodeRecord) -> NodeRecord:
    """The copy heard from most recently; ``b`` on a tie."""
    return a if a.seen_at > b.seen_at else b


def merge_keys(a: KeyRecord, b: KeyRecord) -> KeyRecord:
    """Revocation is final: a revoked copy always wins (the earliest revocation); else the newer copy."""
    if a.revoked and b.revoked:
        assert a.revoked_at is not None and b.revoked_at is not None
        return a if a.revoked_at < b.revoked_at else b
    if a.revoked != b.revoked:
        return a if a.revoked else b
    return a if a.updated_at > b.updated_at else b
