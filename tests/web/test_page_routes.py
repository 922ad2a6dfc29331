"""``GET /`` and ``/static/<name>`` on a real node and a real coordinator: headers, assets, bad names."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import CoordinatorProcess, NodeProcess, translate
from universal_decoder_node.web import CONTENT_SECURITY_POLICY

ASSETS = {"app.js": "text/javascript", "style.css": "text/css", "favicon.svg": "image/svg+xml"}


@pytest.fixture(params=["node", "coordinator"])
def server(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("page_node" if request.param == "node" else "keyed_coordinator").url)


def test_the_page_and_its_assets_come_from_the_server_alone(server: str) -> None:
    page = httpx.get(server + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-frame-options"] == "DENY"
    # Every source the policy names is this server; nothing inline.
    for directive in CONTENT_SECURITY_POLICY.split("; "):
        assert set(directive.split()[1:]) <= {"'self'", "'none'"}, directive
    linked = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert linked and all(link.startswith("/") and not link.startswith("//") for link in linked), linked
    assert "<script>" not in page.text and "style=" not in page.text
    for name, media in ASSETS.items():
        asset = httpx.get(f"{server}/static/{name}", timeout=10)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media)
        outside = asset.text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a fetch
        assert "http://" not in outside and "https://" not in outside, name
    assert httpx.head(server + "/", timeout=10).status_code == 200


def test_only_the_coordinator_links_its_dashboard(
    page_node: NodeProcess, keyed_coordinator: CoordinatorProcess
) -> None:
    assert 'href="/dashboard"' not in httpx.get(page_node.url + "/", timeout=10).text
    assert 'href="/dashboard"' in httpx.get(keyed_coordinator.url + "/", timeout=10).text
    assert httpx.get(keyed_coordinator.url + "/dashboard", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/nope.js",
        "/static/index.html",
        "/static/..%2Fpage.py",
        "/static/%2e%2e/page.py",
        "/static/app.js%00",
    ],
)
def test_other_names_are_not_found(server: str, path: str) -> None:
    response = httpx.get(server + path, timeout=10)
    assert response.status_code == 404, response.text
    if response.headers["content-type"] == "application/json":
        assert "error" in response.json()
    assert httpx.post(server + "/", timeout=10).status_code == 405


def test_the_node_translates_alongside_the_page(page_node: NodeProcess) -> None:
    for path in ("/static/../../etc/passwd", "/static/app.js/x", "/static/"):
        assert httpx.get(page_node.url + path, timeout=10).status_code == 404
    translate(page_node.url, "The page is served.", expect=200)
