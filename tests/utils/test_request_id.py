"""Which ``X-Request-ID`` values a request keeps, and which are replaced."""

from __future__ import annotations

import re

import pytest

from universal_decoder_node.utils.request_id import MAX_LENGTH, accept


@pytest.mark.parametrize("value", ["abc", "4bf92f35-77b3-4da6", "node-a:17@1.2", "x" * MAX_LENGTH])
def test_a_safe_id_is_kept(value: str) -> None:
    assert accept(value) == value


@pytest.mark.parametrize("value", [None, "", "x" * (MAX_LENGTH + 1), "two words", "a\nb", "<b>", "é"])
def test_anything_else_is_replaced_by_a_new_id(value: str | None) -> None:
    new = accept(value)
    assert re.fullmatch(r"[0-9a-f]{32}", new)
    assert accept(None) != new
