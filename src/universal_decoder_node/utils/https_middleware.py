"""HTTPS enforcement and security headers, as one pure ASGI middleware.

A plain-HTTP request is redirected with 308 (so a POST stays a POST) to the same path and
query on ``https://host[:https_port]``; exempt paths (health checks, metrics scrapes) are
never redirected. Behind a TLS-terminating proxy, ``X-Forwarded-Proto: https`` marks the
request as secure, but only when it comes from a trusted proxy address, so a client cannot
spoof it and a load balancer causes no redirect loop. The ``Host`` header must match the
allowed hosts, so a redirect never points at a foreign host: pass ``allowed_hosts`` whenever
HTTPS is enforced, since the default ``("*",)`` lets any Host header choose the redirect's
target (``udn serve`` and ``udn coordinator`` refuse to start that way).

Every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy`` and ``X-XSS-Protection: 0``; HTTPS responses also carry
``Strict-Transport-Security`` (browsers ignore it over plain HTTP). ``X-XSS-Protection`` is
set to ``0`` on purpose: the browser "XSS auditor" it used to switch on has been removed
from every current browser, and where it still exists it can be abused to leak page
content, so current guidance (OWASP, MDN) is to disable it explicitly.

``add_https_middleware`` installs the middleware around the application's whole stack,
outside Starlette's ``ServerErrorMiddleware``, so the 500 that answers an unhandled
exception carries the headers too.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ENFORCE_HTTPS_ENV = "ENFORCE_HTTPS"
DEFAULT_EXEMPT_PATHS = ("/health", "/metrics")
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")
DEFAULT_HSTS_MAX_AGE = 31_536_000
DEFAULT_REFERRER_POLICY = "no-referrer"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

log = logging.getLogger(__name__)


def security_headers(
    *,
    secure: bool,
    hsts_max_age: int = DEFAULT_HSTS_MAX_AGE,
    hsts_include_subdomains: bool = True,
    referrer_policy: str = DEFAULT_REFERRER_POLICY,
) -> list[tuple[str, str]]:
    """The headers every response carries; ``secure``: the request came over HTTPS (adds HSTS)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", referrer_policy),
        ("X-XSS-Protection", "0"),
    ]
    if secure:
        hsts = f"max-age={int(hsts_max_age)}"
        if hsts_include_subdomains:
            hsts += "; includeSubDomains"
        headers.append(("Strict-Transport-Security", hsts))
    return headers


def parse_bool_env(name: str, default: bool = False) -> bool:
    """Read a true/false environment variable; raises ValueError naming it when unreadable."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean; use true or false")


def _networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted proxy {entry!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


def split_host(host_header: str) -> str:
    """The host part of a Host header, lower-cased: ``example.com:8443`` -> ``example.com``."""
    host = host_header.strip().lower()
    if host.startswith("["):  # IPv6 literal, [::1]:8000
        end = host.find("]")
        return host[: end + 1] if end != -1 else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """Whether ``host`` matches one of ``patterns``: ``*``, an exact name, or ``*.domain``/``.domain``."""
    if not host or any(c in host for c in "/\\@ ?#"):
        return False
    for pattern in patterns:
        p = pattern.strip().lower()
        if p == "*" or p == host:
            return True
        if p.startswith("*."):
            p = p[1:]
        if p.startswith(".") and (host == p[1:] or host.endswith(p)):
            return True
    return False


class HTTPSEnforcementMiddleware:
    """Redirects plain HTTP to HTTPS (when enforcing), checks Host, adds security headers."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        enforce_https: bool = True,
        https_port: int = 443,
        exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS,
        trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES,
        allowed_hosts: Iterable[str] = ("*",),
        hsts_max_age: int = DEFAULT_HSTS_MAX_AGE,
        hsts_include_subdomains: bool = True,
        referrer_policy: str = DEFAULT_REFERRER_POLICY,
    ) -> None:
        if not 1 <= int(https_port) <= 65535:
            raise ValueError(f"https_port must be 1-65535, not {https_port!r}")
        self.app = app
        self.enforce_https = enforce_https
        self.https_port = int(https_port)
        self.exempt_paths = frozenset(exempt_paths)
        self.trusted_proxies = _networks(trusted_proxies)
        self.allowed_hosts = tuple(allowed_hosts)
        self.plain_headers, self.secure_headers = (
            security_headers(
                secure=secure,
                hsts_max_age=hsts_max_age,
                hsts_include_subdomains=hsts_include_subdomains,
                referrer_policy=referrer_policy,
            )
            for secure in (False, True)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        secure = self._is_https(scope, headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in self.secure_headers if secure else self.plain_headers:
                    out.setdefault(name, value)
            await send(message)

        if scope.get("path", "") not in self.exempt_paths:
            host = split_host(headers.get("host", ""))
            if not host_allowed(host, self.allowed_hosts):
                response: Response = JSONResponse(
                    {"error": f"host {host or '(none)'!r} is not served here; check the Host header"},
                    status_code=400,
                )
                await response(scope, receive, send_with_headers)
                return
            if self.enforce_https and not secure:
                response = Response(status_code=308, headers={"Location": self._https_url(scope, host)})
                await response(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)

    def _is_https(self, scope: Scope, headers: Headers) -> bool:
        if scope.get("scheme") == "https":
            return True
        forwarded = headers.get("x-forwarded-proto")
        if forwarded is None or not self._from_trusted_proxy(scope):
            return False
        # A proxy that appends sets the right-most value: the one the trusted hop saw.
        return forwarded.split(",")[-1].strip().lower() == "https"

    def _from_trusted_proxy(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.trusted_proxies)

    def _https_url(self, scope: Scope, host: str) -> str:
        port = "" if self.https_port == 443 else f":{self.https_port}"
        path = scope.get("raw_path") or scope.get("path", "/").encode()
        query = scope.get("query_string", b"")
        url = f"https://{host}{port}{path.decode('latin-1')}"
        if query:
            url += "?" + query.decode("latin-1")
        return url


def add_https_middleware(
    app: Any,
    enforce_https: bool | None = None,
    https_port: int = 443,
    *,
    exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS,
    trusted_proxies: Iterable[str] = DEFAULT_TRUSTED_PROXIES,
    allowed_hosts: Iterable[str] = ("*",),
    hsts_max_age: int = DEFAULT_HSTS_MAX_AGE,
    referrer_policy: str = DEFAULT_REFERRER_POLICY,
) -> None:
    """Install ``HTTPSEnforcementMiddleware`` around the whole of a Starlette or FastAPI ``app``.

    ``enforce_https`` defaults to the ``ENFORCE_HTTPS`` environment variable (true/false,
    false when unset); security headers are added either way. When enforcing, pass
    ``allowed_hosts``, the host names ``app`` is served under: with the default ``("*",)`` a
    forged Host header chooses where the redirect points (a warning says so). Raises
    ValueError for an unreadable ``ENFORCE_HTTPS``, a bad port or a malformed trusted proxy,
    and RuntimeError once ``app`` has served a request.
    """
    enforce = parse_bool_env(ENFORCE_HTTPS_ENV) if enforce_https is None else bool(enforce_https)
    options: dict[str, Any] = {
        "enforce_https": enforce,
        "https_port": https_port,
        "exempt_paths": tuple(exempt_paths),
        "trusted_proxies": tuple(trusted_proxies),
        "allowed_hosts": tuple(allowed_hosts),
        "hsts_max_age": hsts_max_age,
        "referrer_policy": referrer_policy,
    }
    # Validate now, not at the first request.
    HTTPSEnforcementMiddleware(_noop_app, **options)
    if enforce and "*" in (host.strip() for host in options["allowed_hosts"]):
        log.warning(
            "HTTPS is enforced with allowed_hosts '*': any Host header chooses where the redirect "
            "points; pass allowed_hosts (the host names this app is served under)"
        )
    wrap_whole_app(app, HTTPSEnforcementMiddleware, options)


def wrap_whole_app(app: Any, middleware: Callable[..., ASGIApp], options: dict[str, Any]) -> None:
    """Make ``middleware`` the outermost layer of ``app``, outside ``ServerErrorMiddleware``.

    Starlette puts ``ServerErrorMiddleware`` outside every middleware added with
    ``add_middleware``, so the 500 it sends for an unhandled exception would bypass them.
    The stack is built at the first request, so middleware added later still goes inside.
    (LitServe serves shallow copies of its app; they share this builder and what it reads.)
    """
    if getattr(app, "middleware_stack", None) is not None:
        raise RuntimeError("Cannot add middleware after an application has started")
    build_stack = app.build_middleware_stack

    def build_wrapped_stack() -> ASGIApp:
        return middleware(build_stack(), **options)

    app.build_middleware_stack = build_wrapped_stack


async def _noop_app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    return None


__all__ = ["HTTPSEnforcementMiddleware", "add_https_middleware", "security_headers"]
