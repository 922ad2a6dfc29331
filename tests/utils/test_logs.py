"""The log set-up's pieces: the ``logging`` settings, the text line, and redaction of secrets."""

from __future__ import annotations

import json
import logging

import pytest

from universal_decoder_node.config import ConfigError, load_settings
from universal_decoder_node.utils.logs import REDACTED, Redactor, TextFormatter, formatter

KEY = "udn_" + "Ab3-_" * 8 + "xyz"  # the shape of an API key: udn_ and 43 URL-safe characters


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_the_format_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_LOGGING__FORMAT", "JSON")
    monkeypatch.setenv("UDN_LOGGING__LEVEL", "debug")
    options = load_settings().logging
    assert (options.format, options.level, options.access_log) == ("json", "debug", True)


def test_an_unknown_format_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_LOGGING__FORMAT", "xml")
    with pytest.raises(ConfigError, match=r"logging\.format"):
        load_settings()


def test_a_text_line_ends_with_its_request_id() -> None:
    text = TextFormatter("%(levelname)s %(message)s")
    assert text.format(record("hello %s", "there", request_id="r-1")) == "INFO hello there request_id=r-1"
    assert text.format(record("no request")) == "INFO no request"


def test_known_secrets_and_secret_shapes_are_redacted() -> None:
    redactor = Redactor(logging.Formatter("%(message)s"), ["s3cret-admin-token", 'odd"token'])
    line = redactor.format(
        record(
            "token %s, key %s, header %s, query %s",
            "s3cret-admin-token",
            KEY,
            "Authorization: Bearer abc.def",
            "/translate?api_key=whatever&q=1",
        )
    )
    assert line == (
        f"token {REDACTED}, key {REDACTED}, header Authorization: Bearer {REDACTED}, "
        f"query /translate?api_key={REDACTED}&q=1"
    )
    # Metric names share the key's prefix but not its length.
    assert redactor.format(record("udn_requests_total")) == "udn_requests_total"


def test_a_json_line_stays_json_when_redacted() -> None:
    options = load_settings(logging={"format": "json"}).logging
    redactor = Redactor(formatter(options), ['odd"token'])
    line = redactor.format(record("token %s and %s", 'odd"token', KEY, request_id="r-2"))
    parsed = json.loads(line)
    assert parsed["message"] == f"token {REDACTED} and {REDACTED}"
    assert parsed["request_id"] == "r-2" and parsed["level"] == "INFO"
