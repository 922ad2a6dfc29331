"""Merge rules: an older copy never wins over a newer one, and revocation is final."""

from __future__ import annotations

from tests.support.records import key, node
from universal_decoder_node.coordinator.records import merge_keys, newer_node


def test_newer_node_copy_wins_either_way_round() -> None:
    old, new = node(seen_at=10), node(seen_at=20)
    assert newer_node(old, new) is new
    assert newer_node(new, old) is new


def test_newer_key_copy_wins() -> None:
    old, new = key(updated_at=1), key(updated_at=2)
    assert merge_keys(old, new) is new
    assert merge_keys(new, old) is new


def test_revocation_wins_over_a_newer_unrevoked_copy() -> None:
    revoked = key(updated_at=1, revoked_at=1)
    newer_but_live = key(updated_at=50)
    assert merge_keys(revoked, newer_but_live) is revoked
    assert merge_keys(newer_but_live, revoked) is revoked


def test_the_earliest_revocation_is_kept() -> None:
    first, second = key(updated_at=5, revoked_at=5), key(updated_at=9, revoked_at=9)
    assert merge_keys(first, second) is first
    assert merge_keys(second, first) is first
