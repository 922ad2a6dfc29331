"""HTTPS enforcement middleware: redirects, exemptions, proxies, hosts and security headers."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.testclient import TestClient

from universal_decoder_node.utils.https_middleware import add_https_middleware

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-xss-protection": "0",
}


def make_app(**options: object) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse("udn_up 1\n")

    @app.api_route("/translate", methods=["GET", "POST"])
    def translate() -> dict[str, str]:
        return {"translatedText": "olá"}

    @app.get("/framed")
    def framed() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    add_https_middleware(app, **options)  # type: ignore[arg-type]
    return app


def client(app: FastAPI, *, https: bool = False, ip: str = "203.0.113.7") -> TestClient:
    base = "https://testserver" if https else "http://testserver"
    return TestClient(
        app, base_url=base, client=(ip, 50000), follow_redirects=False, raise_server_exceptions=False
    )


def assert_security_headers(response: object, *, hsts: bool) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    assert ("strict-transport-security" in headers) is hsts


def test_plain_http_is_redirected_with_308_keeping_path_and_query() -> None:
    c = client(make_app(enforce_https=True, https_port=443))
    r = c.get("/translate?q=hello%20world&source=en")
    assert r.status_code == 308
    assert r.headers["location"] == "https://testserver/translate?q=hello%20world&source=en"
    assert_security_headers(r, hsts=False)
    post = c.post("/translate", json={"q": "x"})
    assert post.status_code == 308  # 308, not 301/302: a POST stays a POST with its body
    assert post.headers["location"] == "https://testserver/translate"


def test_non_default_port_is_kept_and_host_port_dropped() -> None:
    app = make_app(enforce_https=True, https_port=8443)
    r = client(app).get("/translate", headers={"host": "node.example.com:8000"})
    assert r.headers["location"] == "https://node.example.com:8443/translate"
    r6 = client(app).get("/translate", headers={"host": "[2001:db8::1]:8000"})
    assert r6.headers["location"] == "https://[2001:db8::1]:8443/translate"


def test_exempt_paths_are_never_redirected() -> None:
    c = client(make_app(enforce_https=True))
    assert c.get("/health").status_code == 200
    assert c.get("/metrics").status_code == 200
    assert_security_headers(c.get("/health"), hsts=False)
    custom = client(make_app(enforce_https=True, exempt_paths=["/translate"]))
    assert custom.get("/translate").status_code == 200
    assert custom.get("/health").status_code == 308


def test_https_requests_pass_and_get_hsts() -> None:
    r = client(make_app(enforce_https=True), https=True).get("/translate")
    assert r.status_code == 200
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert_security_headers(r, hsts=True)


def test_forwarded_proto_is_honoured_only_from_trusted_proxies() -> None:
    app = make_app(enforce_https=True, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    behind_lb = client(app, ip="10.1.2.3").get("/translate", headers={"x-forwarded-proto": "https"})
    assert behind_lb.status_code == 200  # no redirect loop behind a TLS-terminating balancer
    assert_security_headers(behind_lb, hsts=True)
    loopback = client(app, ip="127.0.0.1").get("/translate", headers={"x-forwarded-proto": "https"})
    assert loopback.status_code == 200
    spoofed = client(app, ip="203.0.113.7").get("/translate", headers={"x-forwarded-proto": "https"})
    assert spoofed.status_code == 308
    assert_security_headers(spoofed, hsts=False)
    plain_via_lb = client(app, ip="10.1.2.3").get("/translate", headers={"x-forwarded-proto": "http"})
    assert plain_via_lb.status_code == 308
    # A proxy that appends: the right-most value is what the trusted hop saw.
    appended = client(app, ip="10.1.2.3").get("/translate", headers={"x-forwarded-proto": "https, http"})
    assert appended.status_code == 308


def test_default_trusted_proxies_are_loopback_only() -> None:
    app = make_app(enforce_https=True)
    assert client(app, ip="::1").get("/translate", headers={"x-forwarded-proto": "https"}).status_code == 200
    assert (
        client(app, ip="10.0.0.1").get("/translate", headers={"x-forwarded-proto": "https"}).status_code
        == 308
    )


def test_host_must_be_allowed_so_a_redirect_never_points_elsewhere() -> None:
    app = make_app(enforce_https=True, allowed_hosts=["node.example.com", "*.internal.example"])
    ok = client(app).get("/translate", headers={"host": "node.example.com"})
    assert ok.status_code == 308
    assert ok.headers["location"] == "https://node.example.com/translate"
    sub = client(app).get("/translate", headers={"host": "a.internal.example"})
    assert sub.headers["location"] == "https://a.internal.example/translate"
    evil = client(app).get("/translate", headers={"host": "evil.example"})
    assert evil.status_code == 400
    assert "location" not in evil.headers
    assert evil.json() == {"error": "host 'evil.example' is not served here; check the Host header"}
    assert_security_headers(evil, hsts=False)
    # Checked when not enforcing too, and health checks by IP still work.
    relaxed = make_app(enforce_https=False, allowed_hosts=["node.example.com"])
    assert client(relaxed).get("/translate", headers={"host": "evil.example"}).status_code == 400
    assert client(relaxed).get("/health", headers={"host": "10.0.0.5:8000"}).status_code == 200


def test_headers_on_every_response_without_overriding_the_app() -> None:
    c = client(make_app(enforce_https=False))
    ok = c.get("/translate")
    assert ok.status_code == 200
    assert_security_headers(ok, hsts=False)
    missing = c.get("/nowhere")
    assert missing.status_code == 404
    assert_security_headers(missing, hsts=False)
    assert c.get("/framed").headers["x-frame-options"] == "SAMEORIGIN"


def test_the_500_for_an_unhandled_exception_has_the_headers_too() -> None:
    # Starlette's ServerErrorMiddleware answers it from outside every add_middleware layer.
    app = make_app(enforce_https=False)

    @app.exception_handler(Exception)
    async def unexpected(_: object, __: Exception) -> PlainTextResponse:
        return PlainTextResponse("internal error", status_code=500)

    for https in (False, True):
        r = client(app, https=https).get("/boom")
        assert r.status_code == 500
        assert r.text == "internal error"
        assert_security_headers(r, hsts=https)
    plain = client(make_app(enforce_https=False), https=True).get("/boom")  # Starlette's own 500
    assert plain.status_code == 500
    assert_security_headers(plain, hsts=True)


def test_middleware_added_afterwards_runs_inside() -> None:
    app = make_app(enforce_https=True)
    seen: list[str] = []

    class Recorder:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        async def __call__(self, scope: dict[str, object], receive: object, send: object) -> None:
            seen.append(str(scope.get("path")))
            await self.inner(scope, receive, send)  # type: ignore[operator]

    app.add_middleware(Recorder)
    assert client(app).get("/translate").status_code == 308  # redirected before reaching it
    assert client(app, https=True).get("/translate").status_code == 200
    assert seen == ["/translate"]


def test_enforcing_for_every_host_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        make_app(enforce_https=True)
    assert "pass allowed_hosts" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(enforce_https=True, allowed_hosts=["node.example.com"])
        make_app(enforce_https=False)
    assert not caplog.text


@pytest.mark.parametrize(
    ("value", "redirected"), [("true", True), ("1", True), ("false", False), ("0", False)]
)
def test_enforce_https_env_decides_when_not_given(
    monkeypatch: pytest.MonkeyPatch, value: str, redirected: bool
) -> None:
    monkeypatch.setenv("ENFORCE_HTTPS", value)
    r = client(make_app()).get("/translate")
    assert (r.status_code == 308) is redirected
    monkeypatch.setenv("ENFORCE_HTTPS", "false")
    assert client(make_app(enforce_https=True)).get("/translate").status_code == 308  # explicit wins


def test_enforcement_is_off_without_env_or_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENFORCE_HTTPS", raising=False)
    assert client(make_app()).get("/translate").status_code == 200


def test_bad_settings_fail_at_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENFORCE_HTTPS", "maybe")
    with pytest.raises(ValueError, match="ENFORCE_HTTPS='maybe' is not a boolean"):
        make_app()
    with pytest.raises(ValueError, match=r"trusted proxy 'lb\.example'"):
        make_app(enforce_https=True, trusted_proxies=["lb.example"])
    with pytest.raises(ValueError, match="https_port"):
        make_app(enforce_https=True, https_port=0)
